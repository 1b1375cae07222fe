//! Every operator action on a job is in `audit_log`, written with the change.

use a1c_jobs::job::JobStatus;
use a1c_jobs::store::audit::{self, AuditAction, AuditEntry, AuditFilter, NewAuditEntry};
use a1c_jobs::store::{job as jobs, Db};
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use crate::common::{audit_log, status_of, work, TestDb};

async fn dead_letter(db: &Db, id: Uuid) {
    let sql = "UPDATE job_queue SET status = 'DEAD_LETTER', attempts = max_attempts, \
               processed_at = updated_at, error = 'gave up' WHERE id = $1";
    let changed = match db {
        Db::Postgres(pool) => sqlx::query(sql)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        Db::Sqlite(pool) => sqlx::query(sql)
            .bind(id.to_string())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
    };
    assert_eq!(changed.expect("dead-letter the job"), 1);
}

async fn create_cancel_retry_and_requeue_are_audited(t: &TestDb) {
    let db = t.open();
    let now = Utc::now();
    let id = jobs::insert_by(&db, &work(0, "ok", "a"), now, "cli:ann")
        .await
        .unwrap();
    let other = jobs::insert_by(&db, &work(0, "ok", "b"), now, "token:dash")
        .await
        .unwrap();

    assert!(jobs::cancel(&db, id, now, "cli:ann").await.unwrap());
    assert!(!jobs::cancel(&db, id, now, "cli:ann").await.unwrap());
    assert!(jobs::requeue(&db, id, now, "token:dash").await.unwrap());
    dead_letter(&db, other).await;
    let requeued = jobs::requeue_dead_letters(&db, None, now, "cli:bob")
        .await
        .unwrap();

    let of_id: Vec<(String, String)> = audit_log(&db, Some(id))
        .await
        .into_iter()
        .map(|e| (e.action, e.actor))
        .collect();
    let of_other: Vec<(String, String)> = audit_log(&db, Some(other))
        .await
        .into_iter()
        .map(|e| (e.action, e.actor))
        .collect();
    let status = status_of(&db, other).await;
    db.close().await;

    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        of_id,
        [
            pair("job.retry", "token:dash"),
            pair("job.cancel", "cli:ann"),
            pair("job.create", "cli:ann"),
        ],
        "a cancel that changed nothing is not logged"
    );
    assert_eq!(
        of_other,
        [
            pair("job.requeue_dead_letter", "cli:bob"),
            pair("job.create", "token:dash"),
        ]
    );
    assert_eq!(requeued.len(), 1);
    assert_eq!(status, JobStatus::Pending);
}

async fn a_failed_insert_writes_no_audit_entry(t: &TestDb) {
    let db = t.open();
    let now = Utc::now();
    let mut keyed = work(0, "ok", "k");
    keyed.unique_key = Some("only-one".to_owned());
    jobs::insert_by(&db, &keyed, now, "cli:ann").await.unwrap();

    let second = jobs::insert_by(&db, &keyed, now, "cli:ann").await;
    let entries = audit_log(&db, None).await;
    db.close().await;

    assert!(second.is_err());
    assert_eq!(entries.len(), 1, "only the job that was inserted is logged");
}

async fn entries_page_newest_first(t: &TestDb) {
    let db = t.open();
    let now = Utc::now();
    for i in 0..5 {
        let entry = NewAuditEntry {
            actor: "token:ci",
            action: AuditAction::PoolPause,
            job_id: None,
            job_type: Some("TEST_WORK"),
            detail: json!({"n": i}),
        };
        audit::record(&db, &[entry], now).await.unwrap();
    }

    let first = audit::list(
        &db,
        &AuditFilter {
            limit: 3,
            ..AuditFilter::default()
        },
    )
    .await
    .unwrap();
    let next = AuditFilter {
        limit: 3,
        before: first.last().map(|e| e.id),
        ..AuditFilter::default()
    };
    let second = audit::list(&db, &next).await.unwrap();
    db.close().await;

    let n = |page: &[AuditEntry]| -> Vec<i64> {
        page.iter().filter_map(|e| e.detail["n"].as_i64()).collect()
    };
    assert_eq!(n(&first), [4, 3, 2]);
    assert_eq!(n(&second), [1, 0]);
}

crate::on_both_backends!(
    create_cancel_retry_and_requeue_are_audited,
    a_failed_insert_writes_no_audit_entry,
    entries_page_newest_first,
);
