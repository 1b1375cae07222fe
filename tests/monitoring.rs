//! The seed's monitoring queries keep working.

mod common;

use a1c_jobs::job::{JobStatus, NewJob};
use a1c_jobs::store::job::{self as jobs, Settlement};
use a1c_jobs::store::stats::{self, FAILED_JOBS_PG, STATUS_SUMMARY_PG};
use a1c_jobs::store::Db;
use chrono::Utc;
use common::{work, TestDb, TEST_WORK};

async fn fail_one(db: &Db, error: &str) {
    let now = Utc::now();
    jobs::insert(db, &work(0, "ok", "f"), now).await.unwrap();
    let request = jobs::ClaimRequest {
        job_type: TEST_WORK,
        node: "n",
        limit: 1,
        prefetch: 0,
        max_priority: 9,
        lease_ttl: std::time::Duration::from_secs(30),
    };
    let job = jobs::claim(db, &request, now).await.unwrap().remove(0);
    let failed = Settlement {
        id: job.id,
        lease_id: job.lease_id,
        status: JobStatus::Failed,
        run_at: None,
        error: Some(error.to_owned()),
        result: None,
        refund_attempt: false,
        started_at: None,
        ended_at: None,
    };
    jobs::settle(db, &[failed], now).await.unwrap();
}

async fn seed_queries_summarise_statuses_and_failures(t: &TestDb) {
    let db = t.open();
    jobs::insert_many(&db, &[work(0, "ok", "a"), work(0, "ok", "b")], Utc::now())
        .await
        .unwrap();
    fail_one(&db, "boom\0with a NUL").await;
    fail_one(&db, "boom\0with a NUL").await;

    let summary = stats::status_summary(&db).await.unwrap();
    let failures = stats::failed_jobs(&db).await.unwrap();

    let count = |status: &str| summary.iter().find(|s| s.status == status).map(|s| s.count);
    assert_eq!(count("PENDING"), Some(2));
    assert_eq!(count("FAILED"), Some(2));
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].failure_count, 2);
    assert_eq!(failures[0].error.as_deref(), Some("boom\u{FFFD}with a NUL"));
    db.close().await;
}

#[actix_rt::test]
async fn seed_queries_run_word_for_word_on_postgres() {
    let t = TestDb::new(common::Backend::Postgres).await;
    let db = t.open();
    jobs::insert(
        &db,
        &NewJob::new(TEST_WORK, serde_json::json!({})),
        Utc::now(),
    )
    .await
    .unwrap();
    let Db::Postgres(pool) = &db else {
        unreachable!("a PostgreSQL database")
    };

    let summary = sqlx::query(STATUS_SUMMARY_PG)
        .fetch_all(pool)
        .await
        .unwrap();
    let failures = sqlx::query(FAILED_JOBS_PG).fetch_all(pool).await.unwrap();

    assert_eq!(summary.len(), 1);
    assert!(failures.is_empty());
    db.close().await;
    t.cleanup().await;
}

on_both_backends!(seed_queries_summarise_statuses_and_failures);
