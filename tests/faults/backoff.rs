//! Backoff at its extremes: attempt numbers up to 1,000 and a cap of millions of years never
//! put `run_at` in the past, never overflow, and never make a retry run early.

use std::time::Duration;

use a1c_jobs::store::Db;
use serde_json::json;
use uuid::Uuid;

use crate::audit::runs;
use crate::common::{wait_until, Backend};
use crate::setup::{execute, report, rows, text, Settings, World};

/// A job about to fail its attempt number `attempt` of `attempt + 1`.
async fn insert_late_attempt(db: &Db, attempt: i32) -> Uuid {
    let id = Uuid::new_v4();
    let sql = format!(
        "INSERT INTO job_queue (id, job_type, payload, status, attempts, max_attempts)
         VALUES ('{id}', 'FAULT_PROBE', '{{\"mode\": \"panic\"}}', 'RETRY', {}, {})",
        attempt - 1,
        attempt + 1
    );
    execute(db, &sql).await.expect("insert late attempt");
    id
}

pub async fn extreme_backoff_never_runs_early(backend: Backend) {
    // A cap of about 2.7 million years and no jitter: every retry lands at the cap.
    let settings = Settings {
        backoff: "{ base = \"1s\", max = \"1000000000d\", jitter = 0.0 }".to_owned(),
        ..Settings::default()
    };
    let world = World::new(backend, settings).await;
    let db = &world.handle;
    // From attempt 40 on, base * 2^(attempt - 1) is past 10,000 years: every one hits the cap.
    let attempts = [40, 63, 64, 65, 500, 999, 1000];
    let mut ids = Vec::new();
    for attempt in attempts {
        ids.push(insert_late_attempt(db, attempt).await);
    }
    let node = world.started("backoff-node").await;
    let statuses = format!(
        "SELECT count(*) FROM job_queue WHERE status = 'RETRY' AND attempts > 0
           AND run_at > {}",
        match db {
            Db::Postgres(_) => "now() + interval '100 years'".to_owned(),
            Db::Sqlite(_) => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+100 years')".to_owned(),
        }
    );
    wait_until(
        Duration::from_secs(30),
        "every job retried far ahead",
        || async {
            let counted: Vec<(i64,)> = rows(db, &statuses).await.unwrap_or_default();
            counted
                .first()
                .is_some_and(|c| c.0 == attempts.len() as i64)
        },
    )
    .await;
    // Several claim cycles later, none ran again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let runs = runs(db).await;
    let sql = format!("SELECT {}, error FROM job_queue", text(db, "run_at"));
    let run_at: Vec<(String, Option<String>)> = rows(db, &sql).await.unwrap();
    report(
        "backoff extremes",
        backend,
        json!({
            "attempts": attempts, "runs": runs.len(),
            "run_at": run_at.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        }),
    );
    assert_eq!(runs.len(), attempts.len(), "a retry ran before its run_at");
    drop(node);
    world.finish().await;
}
