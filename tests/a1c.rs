//! CALCULATE_A1C end to end on both backends: CSV import, the estimate's formulas, threshold
//! notifications, coalescing of a user's pending calculations, and rows the app inserts itself.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use a1c_jobs::cli::import_readings;
use a1c_jobs::job::{Job, JobStatus, NewJob, CALCULATE_A1C};
use a1c_jobs::store::job::{self as jobs, ListFilter};
use a1c_jobs::store::{estimate, notification, reading, user, Db};
use chrono::{DateTime, TimeDelta, Utc};
use common::{start, status_of, wait_until, Recorder, TestDb};
use serde_json::{json, Value};
use uuid::Uuid;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/dexcom_clarity_export.csv"
);

/// The number of EGV readings in [`FIXTURE`].
const FIXTURE_READINGS: usize = 2148;

/// How long a handful of calculations may take, debug build and busy machine included.
const PATIENCE: Duration = Duration::from_secs(30);

/// The glucose values of the fixture's EGV rows, read without the crate's parser.
#[track_caller]
fn fixture_values() -> Vec<f64> {
    let text = std::fs::read_to_string(FIXTURE).expect("the fixture is readable");
    text.lines()
        .map(|line| line.split(',').collect::<Vec<_>>())
        .filter(|fields| fields.get(2) == Some(&"EGV"))
        .map(|fields| fields[7].parse().expect("an EGV value is a number"))
        .collect()
}

#[track_caller]
fn mean_of(values: &[f64]) -> f64 {
    let count = u32::try_from(values.len()).expect("few values");
    values.iter().sum::<f64>() / f64::from(count)
}

#[track_caller]
fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() < 1e-9,
        "{what}: got {actual}, expected {expected}"
    );
}

#[track_caller]
fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().expect("a valid RFC 3339 time")
}

/// Writes a plain `timestamp,glucose_mg_dl` file with one reading every 5 minutes from `first`.
#[track_caller]
fn plain_csv(dir: &Path, name: &str, first: DateTime<Utc>, values: &[f64]) -> PathBuf {
    let mut text = String::from("timestamp,glucose_mg_dl\n");
    for (minutes, value) in (0..).step_by(5).zip(values) {
        let measured_at = first + TimeDelta::minutes(minutes);
        text.push_str(&format!("{},{value}\n", measured_at.to_rfc3339()));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the csv file");
    path
}

/// A CALCULATE_A1C job as the app would describe it.
fn calculation(user_id: Uuid, reading_id: Option<Uuid>, kind: &str) -> NewJob {
    let payload = json!({"user_id": user_id, "reading_id": reading_id, "calculation_type": kind});
    NewJob::new(CALCULATE_A1C, payload)
}

#[track_caller]
fn job_id_of(summary: &Value) -> Uuid {
    let id = summary["job_id"]
        .as_str()
        .expect("the summary names its job");
    id.parse().expect("the job id is a uuid")
}

fn coalesced_into(job: &Job) -> Option<Uuid> {
    let into = job.result.as_ref()?.get("coalesced_into")?.as_str()?;
    into.parse().ok()
}

/// Waits until every job in `ids` has ended and returns them, in the order of `ids`.
async fn wait_for_end(db: &Db, ids: &[Uuid]) -> Vec<Job> {
    wait_until(PATIENCE, "the jobs end", || async {
        for id in ids {
            if !status_of(db, *id).await.is_terminal() {
                return false;
            }
        }
        true
    })
    .await;

    let mut ended = Vec::new();
    for id in ids {
        ended.push(jobs::get(db, *id).await.unwrap().expect("the job exists"));
    }
    ended
}

/// Imports `file` for `user_id` and waits for the calculation it enqueued to end.
async fn import_and_calculate(db: &Db, file: &Path, user_id: Uuid) -> (Value, Job) {
    let summary = import_readings(db, file, user_id, None).await.unwrap();
    let job = wait_for_end(db, &[job_id_of(&summary)]).await.remove(0);
    assert_eq!(job.status, JobStatus::Completed, "{:?}", job.error);
    (summary, job)
}

/// The ids of a user's stored readings, oldest first.
async fn reading_ids(db: &Db, user_id: Uuid) -> Vec<Uuid> {
    let sql = "SELECT id FROM glucose_readings WHERE user_id = $1 ORDER BY measured_at";
    match db {
        Db::Postgres(pool) => sqlx::query_scalar(sql)
            .bind(user_id)
            .fetch_all(pool)
            .await
            .unwrap(),
        Db::Sqlite(pool) => {
            let ids: Vec<String> = sqlx::query_scalar(sql)
                .bind(user_id.to_string())
                .fetch_all(pool)
                .await
                .unwrap();
            ids.iter().map(|id| id.parse().unwrap()).collect()
        }
    }
}

/// Inserts a job the way the app does: job type, payload and status, the rest defaulted.
async fn insert_as_app(db: &Db, job_type: &str, payload: &Value) -> Uuid {
    let sql = "INSERT INTO job_queue (job_type, payload, status)
               VALUES ($1, $2, 'PENDING')
               RETURNING id";
    match db {
        Db::Postgres(pool) => sqlx::query_scalar(sql)
            .bind(job_type)
            .bind(payload)
            .fetch_one(pool)
            .await
            .unwrap(),
        Db::Sqlite(pool) => {
            let id: String = sqlx::query_scalar(sql)
                .bind(job_type)
                .bind(payload.to_string())
                .fetch_one(pool)
                .await
                .unwrap();
            id.parse().expect("the default id is a uuid")
        }
    }
}

async fn importing_the_dexcom_export_yields_the_formula_estimate(t: &TestDb) {
    let service = start(t.config(""), &Recorder::default()).await;
    let db = service.db().clone();
    let user_id = Uuid::new_v4();

    let (summary, _) = import_and_calculate(&db, Path::new(FIXTURE), user_id).await;

    let values = fixture_values();
    assert_eq!(values.len(), FIXTURE_READINGS);
    let mean = mean_of(&values);
    assert!(
        (mean - 111.8966).abs() < 1e-4,
        "the fixture's mean is {mean}"
    );
    assert_eq!(summary["inserted"], json!(FIXTURE_READINGS));
    let estimates = estimate::list_for_user(&db, user_id).await.unwrap();
    assert_eq!(estimates.len(), 1);
    let e = &estimates[0];
    assert_eq!(e.reading_count, 2148);
    assert_close(e.mean_glucose_mg_dl, mean, "mean");
    assert_close(e.gmi_percent, 3.31 + 0.02392 * mean, "GMI");
    assert_close(e.estimated_a1c_percent, (mean + 46.7) / 28.7, "eA1C");
    assert!(!e.is_sufficient, "8 days of data are not enough");
    assert_eq!(e.window_end, at("2016-11-01T09:19:02Z"));
    service.shutdown().await;
}

async fn importing_twice_stores_each_reading_once_and_one_estimate(t: &TestDb) {
    let service = start(t.config(""), &Recorder::default()).await;
    let db = service.db().clone();
    let user_id = Uuid::new_v4();
    let file = Path::new(FIXTURE);

    let first = import_readings(&db, file, user_id, None).await.unwrap();
    let second = import_readings(&db, file, user_id, None).await.unwrap();
    let ended = wait_for_end(&db, &[job_id_of(&first), job_id_of(&second)]).await;

    assert_eq!(first["inserted"], json!(FIXTURE_READINGS));
    assert_eq!(second["inserted"], json!(0));
    assert_eq!(second["skipped_duplicates"], json!(FIXTURE_READINGS));
    for job in &ended {
        assert_eq!(job.status, JobStatus::Completed, "{:?}", job.error);
    }
    let estimates = estimate::list_for_user(&db, user_id).await.unwrap();
    assert_eq!(estimates.len(), 1);
    assert_eq!(estimates[0].reading_count, 2148);
    let stored = reading::all_of_user(&db, user_id).await.unwrap();
    assert_eq!(stored.len(), FIXTURE_READINGS);
    service.shutdown().await;
}

async fn a_broken_file_names_its_line_and_imports_nothing(t: &TestDb) {
    let db = t.open();
    let user_id = Uuid::new_v4();
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(FIXTURE).unwrap();
    let mut lines: Vec<String> = original.split('\n').map(str::to_owned).collect();
    let mut fields: Vec<&str> = lines[99].split(',').collect();
    assert_eq!(fields[2], "EGV", "line 100 must be a reading");
    fields[7] = "abc";
    lines[99] = fields.join(",");
    let broken = dir.path().join("broken.csv");
    std::fs::write(&broken, lines.join("\n")).unwrap();

    let err = import_readings(&db, &broken, user_id, None)
        .await
        .unwrap_err();

    let message = format!("{err:#}");
    assert!(message.contains("line 100:"), "{message}");
    assert!(message.contains("\"abc\""), "{message}");
    assert!(reading::all_of_user(&db, user_id).await.unwrap().is_empty());
    let filter = ListFilter {
        limit: 10,
        ..ListFilter::default()
    };
    assert!(jobs::list(&db, &filter).await.unwrap().is_empty());
    assert!(user::get(&db, user_id).await.unwrap().is_none());
    db.close().await;
}

async fn crossing_a_threshold_notifies_once(t: &TestDb) {
    let service = start(t.config(""), &Recorder::default()).await;
    let db = service.db().clone();
    let user_id = Uuid::new_v4();
    let dir = tempfile::tempdir().unwrap();
    let first = at("2024-03-01T08:00:00Z");
    // 100 mg/dL alone gives 5.11 %; with as many later readings of 200 the mean is 150 (6.85 %).
    let low = plain_csv(dir.path(), "low.csv", first, &[100.0; 6]);
    let high = plain_csv(
        dir.path(),
        "high.csv",
        first + TimeDelta::days(1),
        &[200.0; 6],
    );

    import_and_calculate(&db, &low, user_id).await;
    let before = notification::list_for_user(&db, user_id).await.unwrap();
    import_and_calculate(&db, &high, user_id).await;
    let after_rise = notification::list_for_user(&db, user_id).await.unwrap();
    let rerun = jobs::insert(&db, &calculation(user_id, None, "batch"), Utc::now()).await;
    let rerun = wait_for_end(&db, &[rerun.unwrap()]).await.remove(0);

    assert!(
        before.is_empty(),
        "a first estimate has nothing to cross from"
    );
    assert_eq!(after_rise.len(), 1);
    let estimates = estimate::list_for_user(&db, user_id).await.unwrap();
    assert_eq!(estimates.len(), 2);
    assert!(estimates[0].estimated_a1c_percent > 6.5);
    assert!(estimates[1].estimated_a1c_percent < 5.7);
    let notes = notification::list_for_user(&db, user_id).await.unwrap();
    assert_eq!(notes.len(), 1, "re-running must not notify again");
    assert_eq!(notes[0].kind, "a1c_threshold");
    assert_eq!(notes[0].channel, "in_app");
    assert_eq!(notes[0].status, "SENT");
    assert!(notes[0].title.contains("6.5"), "{}", notes[0].title);
    assert_eq!(rerun.status, JobStatus::Completed, "{:?}", rerun.error);
    assert_eq!(rerun.result.unwrap()["notified"], json!(false));
    service.shutdown().await;
}

async fn pending_calculations_for_one_user_are_coalesced(t: &TestDb) {
    let db = t.open();
    let user_id = Uuid::new_v4();
    let dir = tempfile::tempdir().unwrap();
    let values = [110.0, 120.0, 130.0, 140.0, 150.0];
    let file = plain_csv(dir.path(), "five.csv", at("2024-03-01T08:00:00Z"), &values);
    let summary = import_readings(&db, &file, user_id, None).await.unwrap();
    let readings = reading_ids(&db, user_id).await;
    assert_eq!(readings.len(), 5);
    let immediate: Vec<NewJob> = readings
        .iter()
        .map(|id| calculation(user_id, Some(*id), "immediate"))
        .collect();
    let mut ids = jobs::insert_many(&db, &immediate, Utc::now())
        .await
        .unwrap();
    ids.push(job_id_of(&summary));
    let config = t.config(
        "[pools.CALCULATE_A1C]
        concurrency = 1
        reserved = 0
        batch_size = 1",
    );

    let service = start(config, &Recorder::default()).await;
    let ended = wait_for_end(&db, &ids).await;

    for job in &ended {
        assert_eq!(job.status, JobStatus::Completed, "{:?}", job.error);
    }
    let targets: Vec<Uuid> = ended.iter().filter_map(coalesced_into).collect();
    assert!(targets.len() >= 4, "only {} coalesced", targets.len());
    for target in &targets {
        let ran = ended
            .iter()
            .find(|j| j.id == *target)
            .expect("into one of them");
        assert_eq!(
            coalesced_into(ran),
            None,
            "a job is coalesced into one that ran"
        );
    }
    let estimates = estimate::list_for_user(&db, user_id).await.unwrap();
    assert_eq!(estimates.len(), 1);
    assert_eq!(estimates[0].reading_count, 5);
    assert_close(estimates[0].mean_glucose_mg_dl, 130.0, "mean");
    service.shutdown().await;
    db.close().await;
}

async fn unknown_user_and_unknown_reading_fail_with_clear_errors(t: &TestDb) {
    let service = start(t.config(""), &Recorder::default()).await;
    let db = service.db().clone();
    let (stranger, known, missing_reading) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    user::ensure(&db, known, "UTC").await.unwrap();
    let now = Utc::now();

    let for_stranger = jobs::insert(&db, &calculation(stranger, None, "immediate"), now).await;
    let lost = calculation(known, Some(missing_reading), "immediate");
    let for_lost_reading = jobs::insert(&db, &lost, now).await;
    let ids = [for_stranger.unwrap(), for_lost_reading.unwrap()];
    let ended = wait_for_end(&db, &ids).await;

    let expected = [
        format!("unknown user {stranger}"),
        format!("unknown reading {missing_reading}"),
    ];
    for (job, expected) in ended.iter().zip(expected) {
        assert_eq!(job.status, JobStatus::Failed);
        assert_eq!(job.attempts, 1, "a missing row is not worth a retry");
        let error = job.error.as_deref().unwrap_or_default();
        assert!(error.contains(&expected), "{error}");
    }
    service.shutdown().await;
}

async fn the_app_insert_is_picked_up(t: &TestDb) {
    let service = start(t.config(""), &Recorder::default()).await;
    let db = service.db().clone();
    let user_id = Uuid::new_v4();
    let dir = tempfile::tempdir().unwrap();
    let file = plain_csv(
        dir.path(),
        "few.csv",
        at("2024-03-01T08:00:00Z"),
        &[120.0; 3],
    );
    import_and_calculate(&db, &file, user_id).await;
    let payload = json!({"user_id": user_id, "reading_id": null, "calculation_type": "immediate"});

    let id = insert_as_app(&db, CALCULATE_A1C, &payload).await;
    let job = wait_for_end(&db, &[id]).await.remove(0);

    assert_eq!(job.status, JobStatus::Completed, "{:?}", job.error);
    assert!(job.processed_at.is_some());
    assert_eq!(job.error, None);
    assert_eq!(job.priority, 3, "an immediate calculation is urgent");
    assert_eq!(coalesced_into(&job), None);
    let estimates = estimate::list_for_user(&db, user_id).await.unwrap();
    assert_eq!(estimates.len(), 1);
    assert_eq!(
        estimates[0].job_id,
        Some(id),
        "the app's job wrote the estimate"
    );
    service.shutdown().await;
}

on_both_backends!(
    importing_the_dexcom_export_yields_the_formula_estimate,
    importing_twice_stores_each_reading_once_and_one_estimate,
    a_broken_file_names_its_line_and_imports_nothing,
    crossing_a_threshold_notifies_once,
    pending_calculations_for_one_user_are_coalesced,
    unknown_user_and_unknown_reading_fail_with_clear_errors,
    the_app_insert_is_picked_up,
);

mod coalescing_limits {
    use super::*;

    async fn future_and_malformed_calculations_are_not_coalesced(t: &TestDb) {
        let db = t.open();
        let user = Uuid::new_v4();
        a1c_jobs::store::user::ensure(&db, user, "UTC")
            .await
            .unwrap();
        let later = Utc::now() + chrono::TimeDelta::days(365);
        let future = NewJob::new(
            CALCULATE_A1C,
            json!({"user_id": user, "calculation_type": "immediate"}),
        )
        .run_at(later);
        let weekly = NewJob::new(
            CALCULATE_A1C,
            json!({"user_id": user, "calculation_type": "weekly"}),
        );
        let valid = NewJob::new(
            CALCULATE_A1C,
            json!({"user_id": user, "calculation_type": "batch"}),
        );
        let ids = jobs::insert_many(&db, &[future, weekly, valid], Utc::now())
            .await
            .unwrap();
        let service = common::start(t.config(""), &common::Recorder::default()).await;

        common::wait_until(Duration::from_secs(5), "both due jobs ended", || async {
            let weekly = common::status_of(&db, ids[1]).await;
            let valid = common::status_of(&db, ids[2]).await;
            weekly.is_terminal() && valid.is_terminal()
        })
        .await;

        assert_eq!(common::status_of(&db, ids[0]).await, JobStatus::Pending);
        let weekly = jobs::get(&db, ids[1]).await.unwrap().unwrap();
        assert_eq!(weekly.status, JobStatus::Failed);
        assert!(weekly.error.unwrap().contains("calculation_type"));
        service.shutdown().await;
        db.close().await;
    }

    on_both_backends!(future_and_malformed_calculations_are_not_coalesced);
}
