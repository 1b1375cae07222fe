//! Bad input written straight into `job_queue`, as the app or a broken client could: payloads
//! that are null, arrays, strings, 1 MiB, deeply nested, with NUL characters or invalid UTF-8,
//! with a wrong type per field, an unknown job type, and (on SQLite, which keeps any text) a
//! start time that is not a time. Each such job ends FAILED with an error naming the problem,
//! nothing panics, and NUL characters in results and errors are stored cleaned instead of
//! blocking the job in PROCESSING.

use std::time::Duration;

use a1c_jobs::store::{job as jobs, Db};
use serde_json::json;
use uuid::Uuid;

use crate::audit::ends;
use crate::common::{wait_until, Backend};
use crate::setup::{execute, report, rows, text, unfinished, Settings, World};

/// A row to insert: job type, payload as SQL, and what its error must say; and, if set, text
/// written over its `run_at` after the insert.
struct Bad {
    job_type: &'static str,
    payload: String,
    run_at: Option<&'static str>,
    expect: &'static str,
}

fn bad(job_type: &'static str, payload: impl Into<String>, expect: &'static str) -> Bad {
    Bad {
        job_type,
        payload: payload.into(),
        run_at: None,
        expect,
    }
}

/// A well-formed job whose `run_at` is then overwritten with `text`. Inserts are checked by a
/// trigger; an update, as a careless script could run one, is not.
fn bad_time(text: &'static str) -> Bad {
    Bad {
        run_at: Some(text),
        ..bad("FAULT_PROBE", "'{\"ms\": 0}'", "unreadable run_at")
    }
}

fn nested(depth: usize) -> String {
    format!("'{}1{}'", "{\"a\":".repeat(depth), "}".repeat(depth))
}

/// The payloads every backend stores.
fn common_cases() -> Vec<Bad> {
    let mib = format!("'{{\"ms\": 0, \"blob\": \"{}\"}}'", "x".repeat(1 << 20));
    vec![
        bad("FAULT_PROBE", "'null'", "not null"),
        bad("FAULT_PROBE", "'[1, 2]'", "not an array"),
        bad("FAULT_PROBE", "'\"text\"'", "not a string"),
        bad("FAULT_PROBE", mib, "blob"),
        bad("FAULT_PROBE", nested(1000), "nested"),
        bad("FAULT_PROBE", "'{\"ms\": \"fast\"}'", "field `ms`"),
        bad("FAULT_PROBE", "'{\"ms\": -5}'", "field `ms`"),
        bad("FAULT_PROBE", "'{\"mode\": 7}'", "field `mode`"),
        bad("FAULT_PROBE", "'{\"mode\": \"explode\"}'", "field `mode`"),
        bad("FAULT_PROBE", "'{\"mode\": \"nul_result\"}'", ""),
        bad("FAULT_PROBE", "'{\"mode\": \"nul_error\"}'", "NUL"),
        bad("CALCULATE_A1C", "'null'", "not null"),
        bad("CALCULATE_A1C", "'{\"user_id\": 5}'", "field `user_id`"),
        bad("CALCULATE_A1C", "'[]'", "not an array"),
        bad(
            "SEND_REMINDER",
            "'{\"user_id\": \"nope\"}'",
            "field `user_id`",
        ),
        bad("GENERATE_REPORT", nested(1000), "nested"),
        bad("NO_SUCH_TYPE", "'{}'", "unknown job type"),
    ]
}

/// What only SQLite can hold: NUL characters and invalid UTF-8 in the payload's text, and
/// start times that sort before now but are no time (a thirteenth month, a bare year).
fn sqlite_cases() -> Vec<Bad> {
    vec![
        bad_time("1999-13-01T00:00:00.000Z"),
        bad_time("1999"),
        bad("FAULT_PROBE", "'{\"mode\": \"a\\u0000b\"}'", "field `mode`"),
        bad(
            "FAULT_PROBE",
            "CAST(X'7B226D6F6465223A22FF227D' AS TEXT)",
            "UTF-8",
        ),
        bad("CALCULATE_A1C", "CAST(X'7B22FF223A317D' AS TEXT)", "UTF-8"),
    ]
}

async fn insert(db: &Db, case: &Bad) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::new_v4();
    let sql = format!(
        "INSERT INTO job_queue (id, job_type, payload, status, max_attempts)
         VALUES ('{id}', '{}', {}, 'PENDING', 1)",
        case.job_type, case.payload
    );
    execute(db, &sql).await?;
    if let Some(run_at) = case.run_at {
        let sql = format!("UPDATE job_queue SET run_at = '{run_at}' WHERE id = '{id}'");
        execute(db, &sql).await?;
    }
    Ok(id)
}

pub async fn bad_rows_end_failed_with_a_reason(backend: Backend) {
    let settings = Settings {
        domain_pools: true,
        ..Settings::default()
    };
    let world = World::new(backend, settings).await;
    let db = &world.handle;
    let mut cases = common_cases();
    if backend == Backend::Sqlite {
        cases.extend(sqlite_cases());
    }
    let mut inserted = Vec::new();
    for case in &cases {
        let id = insert(db, case)
            .await
            .unwrap_or_else(|err| panic!("insert {} {:.60}: {err}", case.job_type, case.payload));
        inserted.push((id, case));
    }
    if backend == Backend::Postgres {
        // PostgreSQL refuses a NUL in jsonb: the app gets the error, no job is stored.
        let nul = bad("FAULT_PROBE", "'{\"mode\": \"a\\u0000b\"}'", "");
        assert!(insert(db, &nul).await.is_err(), "jsonb took a NUL");
    }
    let node = world.started("input-node").await;
    wait_until(Duration::from_secs(60), "every bad job ended", || async {
        unfinished(db).await == Some(0)
    })
    .await;

    let ends = ends(db).await;
    // Every such row, failed, still reads back as a job for the operator.
    let filter = jobs::ListFilter {
        limit: 100,
        ..jobs::ListFilter::default()
    };
    let listed = jobs::list(db, &filter).await.map(|l| l.len());
    assert!(
        listed.as_ref().is_ok_and(|n| *n == inserted.len()),
        "listing the failed jobs: {listed:?}"
    );
    let mut figures = Vec::new();
    for (id, case) in &inserted {
        let end = ends
            .iter()
            .find(|e| e.id == id.to_string())
            .expect("job kept");
        let error = end.error.clone().unwrap_or_default();
        figures.push(json!({"job_type": case.job_type, "status": end.status, "error": error}));
        let want = if case.expect.is_empty() {
            "COMPLETED"
        } else {
            "FAILED"
        };
        assert_eq!(
            end.status, want,
            "{} {:.60}: {error}",
            case.job_type, case.payload
        );
        assert!(
            error.contains(case.expect),
            "{:.60}: error {error:?}",
            case.payload
        );
        assert!(!error.contains('\0'), "NUL stored in an error");
    }
    let nul_result = inserted.iter().find(|(_, c)| c.expect.is_empty());
    let result_sql = format!(
        "SELECT {} FROM job_queue WHERE {} = '{}'",
        text(db, "result"),
        text(db, "id"),
        nul_result.expect("nul_result case").0
    );
    let result: Vec<(Option<String>,)> = rows(db, &result_sql).await.expect("read result");
    let stored = result[0].0.clone().unwrap_or_default();
    assert!(
        stored.contains("before") && !stored.contains("\\u0000"),
        "result {stored}"
    );
    assert_eq!(node.log_count("panicked"), 0, "a panic on bad input");
    report("bad input", backend, json!({"jobs": figures}));
    drop(node);
    world.finish().await;
}
