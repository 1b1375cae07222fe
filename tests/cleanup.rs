//! CLEANUP_DATA on both backends: archive and delete take exactly the rows older than the
//! threshold (terminal jobs by their status's retention), live jobs stay, batches smaller than
//! the work still finish it, a second run moves nothing, and bad payloads change nothing.

mod common;
// Under tests/cleanup/: a plain tests/*.rs file would become a test target of its own.
#[path = "cleanup/fixtures.rs"]
mod fixtures;

use std::collections::BTreeSet;
use std::time::Duration;

use a1c_jobs::handlers::Handlers;
use a1c_jobs::job::payload::{self, CleanupTable, CleanupType};
use a1c_jobs::job::{JobStatus, NewJob, CLEANUP_DATA};
use a1c_jobs::store::cleanup::{self, Cutoff};
use a1c_jobs::store::{job as jobs, user, Db};
use a1c_jobs::{Config, Service};
use chrono::{DateTime, TimeDelta, Utc};
use common::{status_of, wait_until, TestDb};
use fixtures::{
    cleanup_payload, completed, count_of, days_ago, exec, failed, field, ids, insert_job,
    insert_reading, logged_counts, run_cleanup, snapshot, texts, Arg, Fixture, ALL_TABLES,
    DEFAULT_RETENTION, JOB_AGES,
};
use serde_json::Value;
use uuid::Uuid;

async fn archive_moves_exactly_the_rows_older_than_the_threshold(t: &TestDb) {
    let db = t.open();
    let fixture = Fixture::insert(&db, Utc::now()).await;
    let settings = t.config("").cleanup;

    let result =
        completed(run_cleanup(&db, &settings, cleanup_payload("archive", 10, &ALL_TABLES)).await);

    for table in ALL_TABLES {
        let taken = fixture.taken(table, 10, &DEFAULT_RETENTION);
        let kept: BTreeSet<Uuid> = fixture.all(table).difference(&taken).copied().collect();
        assert!(
            !taken.is_empty() && !kept.is_empty(),
            "{table}: fixture tests both"
        );
        assert_eq!(ids(&db, table).await, kept, "{table}: what stays");
        let archive = format!("{table}_archive");
        assert_eq!(ids(&db, &archive).await, taken, "{table}: what is archived");
        assert_eq!(count_of(&result, table), taken.len(), "{table}: count");
    }
    assert_eq!(result["cleanup_type"], "archive");
    assert!(result["duration_ms"].is_u64(), "{result}");
    assert_eq!(result["optimized"], true, "{result}");
    db.close().await;
}

async fn archived_rows_keep_their_values_and_get_archived_at(t: &TestDb) {
    let db = t.open();
    let now = Utc::now();
    let user_id = Uuid::new_v4();
    user::ensure(&db, user_id, "UTC").await.unwrap();
    let reading = insert_reading(&db, user_id, days_ago(now, 40), 123.5).await;
    let job = insert_job(&db, JobStatus::DeadLetter, days_ago(now, 400)).await;
    let job_before = field(&db, "job_queue", job, "payload").await.unwrap();
    let settings = t.config("").cleanup;

    let payload = cleanup_payload("archive", 30, &["glucose_readings", "job_queue"]);
    completed(run_cleanup(&db, &settings, payload).await);

    let value = field(&db, "glucose_readings_archive", reading, "value_mg_dl").await;
    assert_eq!(value.unwrap().parse::<f64>().unwrap(), 123.5);
    let user = field(&db, "glucose_readings_archive", reading, "user_id").await;
    assert_eq!(user.unwrap(), user_id.to_string());
    let status = field(&db, "job_queue_archive", job, "status").await;
    assert_eq!(status.unwrap(), "DEAD_LETTER");
    let job_after = field(&db, "job_queue_archive", job, "payload")
        .await
        .unwrap();
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap();
    assert_eq!(parse(&job_after), parse(&job_before));
    for (archive, id) in [
        ("glucose_readings_archive", reading),
        ("job_queue_archive", job),
    ] {
        let archived_at = field(&db, archive, id, "archived_at").await;
        assert!(archived_at.is_some_and(|at| !at.is_empty()), "{archive}");
    }
    db.close().await;
}

async fn delete_removes_exactly_the_rows_older_than_the_threshold(t: &TestDb) {
    let db = t.open();
    let fixture = Fixture::insert(&db, Utc::now()).await;
    let settings = t.config("").cleanup;

    let result =
        completed(run_cleanup(&db, &settings, cleanup_payload("delete", 10, &ALL_TABLES)).await);

    for table in ALL_TABLES {
        let taken = fixture.taken(table, 10, &DEFAULT_RETENTION);
        let kept: BTreeSet<Uuid> = fixture.all(table).difference(&taken).copied().collect();
        assert_eq!(ids(&db, table).await, kept, "{table}: what stays");
        let archive = format!("{table}_archive");
        assert!(
            ids(&db, &archive).await.is_empty(),
            "{table}: delete archives nothing"
        );
        assert_eq!(count_of(&result, table), taken.len(), "{table}: count");
    }
    assert_eq!(result["cleanup_type"], "delete");
    db.close().await;
}

async fn only_the_named_tables_are_cleaned(t: &TestDb) {
    let db = t.open();
    let fixture = Fixture::insert(&db, Utc::now()).await;
    let settings = t.config("").cleanup;

    let payload = cleanup_payload("delete", 10, &["notifications"]);
    let result = completed(run_cleanup(&db, &settings, payload).await);

    assert_eq!(
        ids(&db, "glucose_readings").await,
        fixture.all("glucose_readings")
    );
    assert_eq!(ids(&db, "job_queue").await, fixture.all("job_queue"));
    let counts = result["counts"].as_object().unwrap();
    assert_eq!(counts.keys().collect::<Vec<_>>(), vec!["notifications"]);
    db.close().await;
}

async fn live_jobs_stay_however_old_they_are(t: &TestDb) {
    let db = t.open();
    let fixture = Fixture::insert(&db, Utc::now()).await;
    let zero = "[cleanup.job_queue_retention]
                COMPLETED = \"0s\"\nCANCELLED = \"0s\"\nFAILED = \"0s\"\nDEAD_LETTER = \"0s\"";
    let settings = t.config(zero).cleanup;

    for kind in ["archive", "delete"] {
        let payload = cleanup_payload(kind, 1, &["job_queue"]);
        completed(run_cleanup(&db, &settings, payload).await);
    }

    let no_retention = DEFAULT_RETENTION.map(|(status, _)| (status, 0));
    let taken = fixture.taken("job_queue", 1, &no_retention);
    let left = ids(&db, "job_queue").await;
    let live = fixture.live_jobs();
    assert_eq!(live.len(), 3 * JOB_AGES.len());
    for (id, status) in live {
        assert!(left.contains(&id), "{status} job {id} was taken");
        assert_eq!(status_of(&db, id).await, status);
    }
    let expected_left: BTreeSet<Uuid> = fixture
        .all("job_queue")
        .difference(&taken)
        .copied()
        .collect();
    assert_eq!(left, expected_left);
    db.close().await;
}

async fn job_retention_per_status_comes_from_the_config(t: &TestDb) {
    let db = t.open();
    let fixture = Fixture::insert(&db, Utc::now()).await;
    let settings = t
        .config("[cleanup.job_queue_retention]\nCOMPLETED = \"2d\"\nFAILED = \"400d\"")
        .cleanup;
    let retention = [
        (JobStatus::Completed, 2),
        (JobStatus::Cancelled, 30),
        (JobStatus::Failed, 400),
        (JobStatus::DeadLetter, 90),
    ];

    let payload = cleanup_payload("archive", 1, &["job_queue"]);
    completed(run_cleanup(&db, &settings, payload).await);

    let taken = fixture.taken("job_queue", 1, &retention);
    assert_eq!(ids(&db, "job_queue_archive").await, taken);
    let status_of_taken = |status: JobStatus| {
        let ages: Vec<i64> = fixture
            .jobs
            .iter()
            .filter(|j| j.1 == status && taken.contains(&j.0))
            .map(|j| j.2)
            .collect();
        ages
    };
    assert_eq!(
        status_of_taken(JobStatus::Completed),
        vec![1000, 60, 20, 12, 8]
    );
    assert_eq!(status_of_taken(JobStatus::Failed), vec![1000]);
    assert_eq!(status_of_taken(JobStatus::Cancelled), vec![1000, 60]);
    db.close().await;
}

async fn batches_smaller_than_the_work_still_move_everything(t: &TestDb) {
    let db = t.open();
    let fixture = Fixture::insert(&db, Utc::now()).await;
    let settings = t.config("[cleanup]\nbatch_size = 3").cleanup;
    assert_eq!(settings.batch_size, 3);

    let result =
        completed(run_cleanup(&db, &settings, cleanup_payload("archive", 1, &ALL_TABLES)).await);

    for table in ALL_TABLES {
        let taken = fixture.taken(table, 1, &DEFAULT_RETENTION);
        assert!(taken.len() > 3, "{table}: more rows than one batch");
        let archive = format!("{table}_archive");
        assert_eq!(ids(&db, &archive).await, taken, "{table}");
        assert_eq!(count_of(&result, table), taken.len(), "{table}");
    }
    db.close().await;
}

async fn a_batch_moves_at_most_its_size_oldest_first(t: &TestDb) {
    let db = t.open();
    let now = Utc::now();
    let user_id = Uuid::new_v4();
    user::ensure(&db, user_id, "UTC").await.unwrap();
    let mut old = Vec::new();
    for age in [20, 19, 18, 17, 16, 15, 14] {
        old.push(insert_reading(&db, user_id, days_ago(now, age), 100.0).await);
    }
    insert_reading(&db, user_id, days_ago(now, 1), 100.0).await;
    let cutoff = Cutoff {
        before: days_ago(now, 10),
        completed_before: days_ago(now, 10),
        cancelled_before: days_ago(now, 10),
        failed_before: days_ago(now, 10),
        dead_letter_before: days_ago(now, 10),
    };
    let table = CleanupTable::GlucoseReadings;

    let first = cleanup::archive_batch(&db, table, &cutoff, 3, now)
        .await
        .unwrap();
    let after_first = ids(&db, "glucose_readings_archive").await;
    let second = cleanup::delete_batch(&db, table, &cutoff, 3).await.unwrap();
    let third = cleanup::archive_batch(&db, table, &cutoff, 3, now)
        .await
        .unwrap();
    let fourth = cleanup::archive_batch(&db, table, &cutoff, 3, now)
        .await
        .unwrap();

    assert_eq!((first, second, third, fourth), (3, 3, 1, 0));
    assert_eq!(after_first, old[..3].iter().copied().collect());
    let archived: BTreeSet<Uuid> = old[..3].iter().chain(&old[6..]).copied().collect();
    assert_eq!(ids(&db, "glucose_readings_archive").await, archived);
    assert_eq!(ids(&db, "glucose_readings").await.len(), 1);
    db.close().await;
}

async fn a_second_run_moves_nothing_and_logs_each_run(t: &TestDb) {
    let db = t.open();
    Fixture::insert(&db, Utc::now()).await;
    let settings = t.config("").cleanup;
    let payload = cleanup_payload("archive", 10, &ALL_TABLES);

    let first = completed(run_cleanup(&db, &settings, payload.clone()).await);
    let after_first = snapshot(&db).await;
    let second = completed(run_cleanup(&db, &settings, payload).await);

    assert_eq!(snapshot(&db).await, after_first);
    for table in ALL_TABLES {
        assert!(count_of(&first, table) > 0, "{table}");
        assert_eq!(count_of(&second, table), 0, "{table}");
    }
    let logged = logged_counts(&db).await;
    assert_eq!(
        logged,
        vec![first["counts"].clone(), second["counts"].clone()]
    );
    db.close().await;
}

async fn a_row_already_archived_is_not_archived_twice(t: &TestDb) {
    let db = t.open();
    let now = Utc::now();
    let user_id = Uuid::new_v4();
    user::ensure(&db, user_id, "UTC").await.unwrap();
    let id = insert_reading(&db, user_id, days_ago(now, 40), 150.0).await;
    let sql = "INSERT INTO glucose_readings_archive (id, value_mg_dl, archived_at)
               VALUES ($1, 150.0, $2)";
    exec(&db, sql, vec![Arg::Id(id), Arg::At(days_ago(now, 1))]).await;
    let settings = t.config("").cleanup;

    let payload = cleanup_payload("archive", 30, &["glucose_readings"]);
    let result = completed(run_cleanup(&db, &settings, payload).await);

    assert_eq!(count_of(&result, "glucose_readings"), 1);
    assert!(ids(&db, "glucose_readings").await.is_empty());
    let archived = texts(&db, "SELECT CAST(id AS TEXT) FROM glucose_readings_archive").await;
    assert_eq!(archived, vec![id.to_string()]);
    db.close().await;
}

async fn refused_payloads_fail_for_good_and_change_nothing(t: &TestDb) {
    let db = t.open();
    Fixture::insert(&db, Utc::now()).await;
    let before = snapshot(&db).await;
    let settings = t.config("").cleanup;
    let cases = [
        (
            cleanup_payload("archive", 10, &["glucose_readings", "users"]),
            "\"users\"",
        ),
        (
            cleanup_payload("delete", 10, &["job_queue; DELETE FROM job_queue"]),
            "DELETE FROM",
        ),
        (
            cleanup_payload("delete", 0, &["job_queue"]),
            "older_than_days",
        ),
        (cleanup_payload("shred", 10, &["job_queue"]), "cleanup_type"),
    ];

    for (payload, named) in cases {
        let error = failed(run_cleanup(&db, &settings, payload.clone()).await);
        assert!(error.contains(named), "{payload}: {error}");
    }

    assert_eq!(snapshot(&db).await, before);
    assert!(logged_counts(&db).await.is_empty());
    db.close().await;
}

async fn start_service(config: Config) -> Service {
    let handlers = Handlers::from_config(&config);
    Service::start(config, handlers)
        .await
        .expect("service starts")
}

async fn wait_for_end(db: &Db, id: Uuid) -> JobStatus {
    wait_until(Duration::from_secs(15), "cleanup job ends", || async {
        status_of(db, id).await.is_terminal()
    })
    .await;
    status_of(db, id).await
}

async fn service_runs_cleanup_with_its_configured_batches(t: &TestDb) {
    let now = Utc::now();
    let db = t.open();
    let user_id = Uuid::new_v4();
    user::ensure(&db, user_id, "UTC").await.unwrap();
    let mut old = BTreeSet::new();
    for age in 31..=40 {
        old.insert(insert_reading(&db, user_id, days_ago(now, age), 120.0).await);
    }
    let fresh = insert_reading(&db, user_id, days_ago(now, 2), 120.0).await;
    let config = t.config("[cleanup]\nbatch_size = 3");
    let service = start_service(config).await;

    let payload = cleanup_payload("archive", 30, &["glucose_readings"]);
    let job = NewJob::new(CLEANUP_DATA, payload);
    let id = jobs::insert(&db, &job, Utc::now()).await.unwrap();
    let status = wait_for_end(&db, id).await;
    service.shutdown().await;

    assert_eq!(status, JobStatus::Completed);
    let stored = jobs::get(&db, id).await.unwrap().unwrap();
    let result = stored.result.unwrap();
    assert_eq!(count_of(&result, "glucose_readings"), old.len());
    assert_eq!(ids(&db, "glucose_readings_archive").await, old);
    assert_eq!(ids(&db, "glucose_readings").await, BTreeSet::from([fresh]));
    assert_eq!(logged_counts(&db).await, vec![result["counts"].clone()]);
    db.close().await;
}

async fn service_fails_a_job_naming_an_unknown_table(t: &TestDb) {
    let now = Utc::now();
    let db = t.open();
    let user_id = Uuid::new_v4();
    user::ensure(&db, user_id, "UTC").await.unwrap();
    insert_reading(&db, user_id, days_ago(now, 40), 120.0).await;
    let service = start_service(t.config("")).await;
    let before = snapshot(&db).await;

    let payload = cleanup_payload("delete", 1, &["glucose_readings", "users"]);
    let job = NewJob::new(CLEANUP_DATA, payload);
    let id = jobs::insert(&db, &job, Utc::now()).await.unwrap();
    let status = wait_for_end(&db, id).await;
    service.shutdown().await;

    assert_eq!(status, JobStatus::Failed);
    let error = jobs::get(&db, id).await.unwrap().unwrap().error.unwrap();
    assert!(error.contains("\"users\""), "{error}");
    assert!(
        error.contains("allowed: glucose_readings, job_queue, notifications"),
        "{error}"
    );
    let mut after = snapshot(&db).await;
    if let Some(queue) = after.get_mut("job_queue") {
        queue.remove(&id);
    }
    assert_eq!(after, before, "the failed job changed no row");
    assert!(logged_counts(&db).await.is_empty());
    db.close().await;
}

async fn archive_tables_mirror_their_sources(t: &TestDb) {
    let db = t.open();
    let columns = |table: &str| match &db {
        Db::Postgres(_) => format!(
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = '{table}'"
        ),
        Db::Sqlite(_) => format!("SELECT name FROM pragma_table_info('{table}')"),
    };

    for table in ALL_TABLES {
        let archive = format!("{table}_archive");
        let mut source: BTreeSet<String> = texts(&db, &columns(table)).await.into_iter().collect();
        let mirrored: BTreeSet<String> = texts(&db, &columns(&archive)).await.into_iter().collect();

        source.insert("archived_at".to_owned());
        assert_eq!(
            mirrored, source,
            "{archive} must have {table}'s columns and archived_at"
        );
    }
    db.close().await;
}

on_both_backends!(
    archive_moves_exactly_the_rows_older_than_the_threshold,
    archived_rows_keep_their_values_and_get_archived_at,
    delete_removes_exactly_the_rows_older_than_the_threshold,
    only_the_named_tables_are_cleaned,
    live_jobs_stay_however_old_they_are,
    job_retention_per_status_comes_from_the_config,
    batches_smaller_than_the_work_still_move_everything,
    a_batch_moves_at_most_its_size_oldest_first,
    a_second_run_moves_nothing_and_logs_each_run,
    a_row_already_archived_is_not_archived_twice,
    refused_payloads_fail_for_good_and_change_nothing,
    service_runs_cleanup_with_its_configured_batches,
    service_fails_a_job_naming_an_unknown_table,
    archive_tables_mirror_their_sources,
);

#[test]
fn default_schedule_archives_readings_and_jobs_older_than_a_year_daily_at_three() {
    let config = Config::load_with_env(None, &[]).unwrap();
    let schedule = &config.schedules["cleanup"];
    let fire_at = DateTime::parse_from_rfc3339("2025-06-02T03:00:00Z")
        .unwrap()
        .with_timezone(&Utc);

    let rendered = a1c_jobs::actors::scheduler::render_payload(schedule, fire_at);
    let parsed = payload::parse_cleanup(&rendered).unwrap();
    let next = schedule.schedule().unwrap().next_after(fire_at).unwrap();

    assert!(schedule.enabled);
    assert_eq!(schedule.job_type, CLEANUP_DATA);
    payload::validate(CLEANUP_DATA, &rendered).unwrap();
    assert_eq!(parsed.cleanup_type, CleanupType::Archive);
    assert_eq!(parsed.older_than_days, 365);
    assert_eq!(
        parsed.tables,
        vec![CleanupTable::GlucoseReadings, CleanupTable::JobQueue]
    );
    assert_eq!(next, fire_at + TimeDelta::days(1));
    assert!(Handlers::from_config(&config).get(CLEANUP_DATA).is_some());
    assert!(Handlers::standard().get(CLEANUP_DATA).is_some());
}
