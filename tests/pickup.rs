//! How pools learn of new jobs: LISTEN/NOTIFY on PostgreSQL, polling everywhere, and a
//! listener that comes back after its connection is killed.

mod common;

use std::time::{Duration, Instant};

use a1c_jobs::job::JobStatus;
use a1c_jobs::store::{job as jobs, Db};
use chrono::Utc;
use common::{start, status_of, wait_until, work, Backend, Recorder, TestDb, TEST_WORK};
use uuid::Uuid;

/// Polling so slow that only a notification can explain a quick pickup.
const NO_POLLING: &str = r#"[service]
poll_interval = "60s""#;

fn pg(db: &Db) -> &sqlx::PgPool {
    match db {
        Db::Postgres(pool) => pool,
        Db::Sqlite(_) => panic!("a PostgreSQL test got SQLite"),
    }
}

async fn listeners(db: &Db) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_one(pg(db))
    .await
    .expect("read pg_stat_activity")
}

/// Inserts a job the way the app does: only job_type, payload and status.
async fn insert_like_the_app(db: &Db) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO job_queue (job_type, payload, status)
         VALUES ($1, '{\"ms\": 0}', 'PENDING') RETURNING id",
    )
    .bind(TEST_WORK)
    .fetch_one(pg(db))
    .await
    .expect("app-style insert")
}

async fn wait_completed(db: &Db, id: Uuid, within: Duration) -> Duration {
    let started = Instant::now();
    wait_until(within, "job completed", || async {
        status_of(db, id).await == JobStatus::Completed
    })
    .await;
    started.elapsed()
}

#[actix_rt::test]
async fn notify_wakes_an_idle_pool_at_once() {
    let t = TestDb::new(Backend::Postgres).await;
    let service = start(t.config(NO_POLLING), &Recorder::default()).await;
    let db = t.open();
    wait_until(Duration::from_secs(5), "listener up", || async {
        listeners(&db).await == 1
    })
    .await;

    let id = insert_like_the_app(&db).await;
    let took = wait_completed(&db, id, Duration::from_secs(5)).await;

    assert!(took < Duration::from_secs(5), "picked up without polling");
    let job = jobs::get(&db, id).await.unwrap().unwrap();
    let queue = job.started_at.unwrap() - job.created_at;
    eprintln!(
        "notify pickup: insert to claim {} ms",
        queue.num_milliseconds()
    );
    service.shutdown().await;
    db.close().await;
    t.cleanup().await;
}

#[actix_rt::test]
async fn listener_comes_back_after_its_connection_is_killed_and_wakes_pools() {
    let t = TestDb::new(Backend::Postgres).await;
    let service = start(t.config(NO_POLLING), &Recorder::default()).await;
    let db = t.open();
    wait_until(Duration::from_secs(5), "listener up", || async {
        listeners(&db).await == 1
    })
    .await;

    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(pg(&db))
    .await
    .unwrap();
    assert_eq!(killed, vec![true]);
    wait_until(Duration::from_secs(10), "listener back", || async {
        listeners(&db).await == 1
    })
    .await;
    let id = insert_like_the_app(&db).await;

    wait_completed(&db, id, Duration::from_secs(5)).await;
    service.shutdown().await;
    db.close().await;
    t.cleanup().await;
}

async fn polling_picks_up_jobs_when_no_notification_arrives(t: &TestDb) {
    let db = t.open();
    if let Db::Postgres(pool) = &db {
        sqlx::query("ALTER TABLE job_queue DISABLE TRIGGER job_queue_notify_insert")
            .execute(pool)
            .await
            .unwrap();
    }
    let config = t.config(
        r#"[service]
        poll_interval = "200ms""#,
    );
    let service = start(config, &Recorder::default()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let id = jobs::insert(&db, &work(0, "ok", "polled"), Utc::now())
        .await
        .unwrap();

    wait_completed(&db, id, Duration::from_secs(5)).await;
    service.shutdown().await;
    db.close().await;
}

async fn a_job_due_later_runs_when_due_not_before(t: &TestDb) {
    let db = t.open();
    let service = start(t.config(""), &Recorder::default()).await;
    let due = Utc::now() + chrono::TimeDelta::milliseconds(800);

    let id = jobs::insert(&db, &work(0, "ok", "later").run_at(due), Utc::now())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let early = status_of(&db, id).await;
    wait_completed(&db, id, Duration::from_secs(5)).await;

    assert_eq!(early, JobStatus::Pending);
    let job = jobs::get(&db, id).await.unwrap().unwrap();
    assert!(job.started_at.unwrap() >= due);
    service.shutdown().await;
    db.close().await;
}

on_both_backends!(
    polling_picks_up_jobs_when_no_notification_arrives,
    a_job_due_later_runs_when_due_not_before,
);
