//! The job lifecycle on both backends: leases and fencing, retries and dead letters,
//! priorities, slots, shutdown, and jobs that cannot run.

mod common;

use std::time::Duration;

use a1c_jobs::job::{ClaimedJob, JobStatus, NewJob};
use a1c_jobs::store::job::{self as jobs, ClaimRequest, Settlement};
use chrono::{TimeDelta, Utc};
use common::{count_status, start, status_of, wait_until, work, Recorder, TestDb, TEST_WORK};
use serde_json::json;

fn claim_request(node: &str, limit: u32) -> ClaimRequest<'_> {
    ClaimRequest {
        job_type: TEST_WORK,
        node,
        limit,
        prefetch: 0,
        max_priority: 9,
        lease_ttl: Duration::from_secs(30),
    }
}

fn completion(job: &ClaimedJob) -> Settlement {
    Settlement {
        id: job.id,
        lease_id: job.lease_id,
        status: JobStatus::Completed,
        run_at: None,
        error: None,
        result: Some(json!({"by": "test"})),
        refund_attempt: false,
        started_at: None,
        ended_at: None,
    }
}

async fn expired_lease_is_rescued_and_late_completion_changes_nothing(t: &TestDb) {
    let db = t.open();
    let start = Utc::now();
    let id = jobs::insert(&db, &work(0, "ok", "rescue"), start)
        .await
        .unwrap();
    let first = jobs::claim(&db, &claim_request("node-a", 1), start)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);

    let later = start + TimeDelta::seconds(31);
    let rescued = jobs::rescue_expired(&db, later).await.unwrap();
    // A rescued job is due again within 2 s.
    let due = later + TimeDelta::seconds(2);
    let second = jobs::claim(&db, &claim_request("node-b", 1), due)
        .await
        .unwrap();
    let late = jobs::settle(&db, &[completion(&first[0])], later)
        .await
        .unwrap();

    assert_eq!(rescued.len(), 1);
    assert_eq!(rescued[0].status, JobStatus::Retry);
    assert_eq!(second[0].id, id);
    assert_eq!(second[0].attempt, 2);
    assert_ne!(second[0].lease_id, first[0].lease_id);
    assert!(late.is_empty(), "a superseded lease must change nothing");
    let job = jobs::get(&db, id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Processing);
    assert_eq!(job.locked_by.as_deref(), Some("node-b"));

    let current = jobs::settle(&db, &[completion(&second[0])], later)
        .await
        .unwrap();
    assert_eq!(current, vec![id]);
    assert_eq!(status_of(&db, id).await, JobStatus::Completed);
    db.close().await;
}

async fn renewal_keeps_a_lease_and_a_lost_lease_is_not_renewed(t: &TestDb) {
    let db = t.open();
    let now = Utc::now();
    jobs::insert(&db, &work(0, "ok", "renew"), now)
        .await
        .unwrap();
    let claimed = jobs::claim(&db, &claim_request("node-a", 1), now)
        .await
        .unwrap();
    let lease = [(claimed[0].id, claimed[0].lease_id)];

    let renewed = jobs::renew(&db, &lease, Duration::from_secs(60), now)
        .await
        .unwrap();
    let rescued = jobs::rescue_expired(&db, now + TimeDelta::seconds(45))
        .await
        .unwrap();
    let after = now + TimeDelta::seconds(61);
    let rescued_late = jobs::rescue_expired(&db, after).await.unwrap();
    let renewed_late = jobs::renew(&db, &lease, Duration::from_secs(60), after)
        .await
        .unwrap();

    assert_eq!(renewed, vec![claimed[0].id]);
    assert!(rescued.is_empty(), "a renewed lease must not be rescued");
    assert_eq!(rescued_late.len(), 1);
    assert!(renewed_late.is_empty());
    db.close().await;
}

async fn retries_then_dead_letters_after_exactly_max_attempts(t: &TestDb) {
    let recorder = Recorder::default();
    let service = start(t.config(""), &recorder).await;
    let job = work(0, "retry", "doomed").max_attempts(3);
    let id = jobs::insert(service.db(), &job, Utc::now()).await.unwrap();

    let db = service.db().clone();
    wait_until(Duration::from_secs(10), "dead letter", || async {
        status_of(&db, id).await == JobStatus::DeadLetter
    })
    .await;

    let stored = jobs::get(&db, id).await.unwrap().unwrap();
    let attempts: Vec<i32> = recorder.runs().iter().map(|r| r.attempt).collect();
    assert_eq!(attempts, vec![1, 2, 3]);
    assert_eq!(stored.attempts, 3);
    assert!(stored.error.unwrap().contains("attempt 3 of 3"));
    assert!(stored.processed_at.is_some());
    service.shutdown().await;
}

async fn a_failure_that_cannot_pass_is_failed_at_once(t: &TestDb) {
    let recorder = Recorder::default();
    let service = start(t.config(""), &recorder).await;
    let id = jobs::insert(service.db(), &work(0, "fail", "bad"), Utc::now())
        .await
        .unwrap();

    let db = service.db().clone();
    wait_until(Duration::from_secs(5), "failed", || async {
        status_of(&db, id).await == JobStatus::Failed
    })
    .await;

    assert_eq!(recorder.runs().len(), 1);
    service.shutdown().await;
}

async fn panics_and_timeouts_are_failed_attempts_and_the_pool_lives_on(t: &TestDb) {
    let recorder = Recorder::default();
    let config = t.config(
        r#"[pools.TEST_WORK]
        timeout = "200ms""#,
    );
    let service = start(config, &recorder).await;
    let now = Utc::now();
    let panics = jobs::insert(service.db(), &work(0, "panic", "p").max_attempts(2), now).await;
    let hangs = jobs::insert(service.db(), &work(0, "hang", "h").max_attempts(2), now).await;
    let (panics, hangs) = (panics.unwrap(), hangs.unwrap());

    let db = service.db().clone();
    wait_until(Duration::from_secs(10), "both dead-lettered", || async {
        status_of(&db, panics).await == JobStatus::DeadLetter
            && status_of(&db, hangs).await == JobStatus::DeadLetter
    })
    .await;
    let after = jobs::insert(&db, &work(0, "ok", "after"), Utc::now())
        .await
        .unwrap();
    wait_until(Duration::from_secs(5), "pool still runs jobs", || async {
        status_of(&db, after).await == JobStatus::Completed
    })
    .await;

    let panicked = jobs::get(&db, panics).await.unwrap().unwrap();
    let hung = jobs::get(&db, hangs).await.unwrap().unwrap();
    assert!(panicked
        .error
        .unwrap()
        .contains("handler panicked: asked to panic"));
    assert!(hung.error.unwrap().contains("timed out"));
    assert_eq!(service.restarts().await, 0);
    service.shutdown().await;
}

async fn claims_by_priority_then_run_at(t: &TestDb) {
    let db = t.open();
    let now = Utc::now();
    for (priority, tag) in [(5, "p5"), (1, "p1"), (9, "p9"), (3, "p3"), (1, "p1-later")] {
        let job = work(0, "ok", tag).priority(priority);
        let at = if tag == "p1-later" {
            now + TimeDelta::milliseconds(1)
        } else {
            now
        };
        jobs::insert(&db, &job.run_at(at - TimeDelta::seconds(1)), now)
            .await
            .unwrap();
    }
    let recorder = Recorder::default();
    let config = t.config(
        r#"[pools.TEST_WORK]
        concurrency = 1
        batch_size = 1"#,
    );
    let service = start(config, &recorder).await;

    wait_until(Duration::from_secs(10), "all completed", || async {
        count_status(&db, JobStatus::Completed).await == 5
    })
    .await;

    let order: Vec<String> = recorder.runs().into_iter().map(|r| r.tag).collect();
    assert_eq!(order, ["p1", "p1-later", "p3", "p5", "p9"]);
    service.shutdown().await;
    db.close().await;
}

async fn concurrency_limit_is_never_exceeded(t: &TestDb) {
    let db = t.open();
    let batch: Vec<NewJob> = (0..40).map(|i| work(30, "ok", &i.to_string())).collect();
    jobs::insert_many(&db, &batch, Utc::now()).await.unwrap();
    let recorder = Recorder::default();
    let config = t.config(
        r#"[pools.TEST_WORK]
        concurrency = 3
        batch_size = 2"#,
    );
    let service = start(config, &recorder).await;

    wait_until(Duration::from_secs(20), "all completed", || async {
        count_status(&db, JobStatus::Completed).await == 40
    })
    .await;

    assert_eq!(recorder.peak(), 3, "the limit is reached and never passed");
    let state = service.pool_state(TEST_WORK).await.unwrap();
    assert_eq!(state.peak_in_flight, 3);
    service.shutdown().await;
    db.close().await;
}

async fn reserved_slots_let_urgent_jobs_past_a_flood(t: &TestDb) {
    let db = t.open();
    let flood: Vec<NewJob> = (0..20)
        .map(|i| work(300, "ok", &format!("batch{i}")).priority(7))
        .collect();
    jobs::insert_many(&db, &flood, Utc::now()).await.unwrap();
    let recorder = Recorder::default();
    let config = t.config(
        r#"[pools.TEST_WORK]
        concurrency = 3
        reserved = 1
        reserved_priority = 2"#,
    );
    let service = start(config, &recorder).await;
    let r = recorder.clone();
    wait_until(Duration::from_secs(5), "flood running", || {
        let started = r.runs().len();
        async move { started >= 2 }
    })
    .await;

    let urgent = jobs::insert(&db, &work(0, "ok", "urgent").priority(1), Utc::now()).await;
    let urgent = urgent.unwrap();
    wait_until(Duration::from_secs(5), "urgent done", || async {
        status_of(&db, urgent).await == JobStatus::Completed
    })
    .await;

    let still_waiting = count_status(&db, JobStatus::Pending).await;
    assert!(
        still_waiting > 5,
        "urgent ran before the flood drained ({still_waiting} left)"
    );
    let runs = recorder.runs();
    let normal_at_once = max_overlap(runs.iter().filter(|r| r.tag != "urgent"));
    assert_eq!(
        normal_at_once, 2,
        "ordinary jobs never take the reserved slot"
    );
    service.shutdown().await;
    db.close().await;
}

/// The most runs that overlapped in time.
fn max_overlap<'a>(runs: impl Iterator<Item = &'a common::Exec>) -> usize {
    let mut events = Vec::new();
    for run in runs {
        events.push((run.started, 1i32));
        if let Some(end) = run.ended {
            events.push((end, -1));
        }
    }
    events.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut peak) = (0, 0);
    for (_, step) in events {
        now += step;
        peak = peak.max(now);
    }
    usize::try_from(peak).unwrap_or(0)
}

async fn shutdown_hands_unfinished_jobs_back_without_spending_an_attempt(t: &TestDb) {
    let recorder = Recorder::default();
    let service = start(t.config(""), &recorder).await;
    let db = t.open();
    let slow = vec![work(60_000, "ok", "slow"), work(60_000, "ok", "slow")];
    let ids = jobs::insert_many(&db, &slow, Utc::now()).await.unwrap();
    let quick = jobs::insert(&db, &work(10, "ok", "quick"), Utc::now())
        .await
        .unwrap();
    let r = recorder.clone();
    wait_until(Duration::from_secs(5), "all three running", || {
        let started = r.runs().len();
        async move { started == 3 }
    })
    .await;

    service.shutdown_within(Duration::from_millis(500)).await;

    for id in ids {
        let job = jobs::get(&db, id).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Pending);
        assert_eq!(job.attempts, 0, "the attempt was given back");
        assert!(job.lease_id.is_none());
    }
    assert_eq!(status_of(&db, quick).await, JobStatus::Completed);
    db.close().await;
}

async fn unknown_job_type_is_failed_with_a_clear_error(t: &TestDb) {
    let recorder = Recorder::default();
    let service = start(t.config(""), &recorder).await;
    let db = service.db().clone();
    let id = jobs::insert(&db, &NewJob::new("NO_SUCH_TYPE", json!({})), Utc::now()).await;
    let id = id.unwrap();

    wait_until(Duration::from_secs(5), "failed", || async {
        status_of(&db, id).await == JobStatus::Failed
    })
    .await;

    let error = jobs::get(&db, id).await.unwrap().unwrap().error.unwrap();
    assert!(
        error.contains("unknown job type \"NO_SUCH_TYPE\""),
        "{error}"
    );
    service.shutdown().await;
}

async fn malformed_payload_fails_naming_the_field(t: &TestDb) {
    let recorder = Recorder::default();
    let service = start(t.config(""), &recorder).await;
    let db = service.db().clone();
    let bad = NewJob::new(
        "CALCULATE_A1C",
        json!({"user_id": 42, "calculation_type": "batch"}),
    );
    let id = jobs::insert(&db, &bad, Utc::now()).await.unwrap();

    wait_until(Duration::from_secs(5), "failed", || async {
        status_of(&db, id).await == JobStatus::Failed
    })
    .await;

    let job = jobs::get(&db, id).await.unwrap().unwrap();
    assert!(
        job.error.as_deref().unwrap().contains("field `user_id`"),
        "{:?}",
        job.error
    );
    assert_eq!(job.attempts, 1);
    service.shutdown().await;
}

async fn unique_key_allows_one_live_job(t: &TestDb) {
    let db = t.open();
    let now = Utc::now();
    let first = jobs::insert(&db, &work(0, "ok", "u").unique_key("k1"), now)
        .await
        .unwrap();

    let second = jobs::insert(&db, &work(0, "ok", "u").unique_key("k1"), now).await;

    match second {
        Err(a1c_jobs::store::StoreError::UniqueKeyTaken { existing, .. }) => {
            assert_eq!(existing, first)
        }
        other => panic!("expected UniqueKeyTaken, got {other:?}"),
    }
    assert!(jobs::cancel(&db, first, now, "test").await.unwrap());
    jobs::insert(&db, &work(0, "ok", "u").unique_key("k1"), now)
        .await
        .unwrap();
    db.close().await;
}

on_both_backends!(
    expired_lease_is_rescued_and_late_completion_changes_nothing,
    renewal_keeps_a_lease_and_a_lost_lease_is_not_renewed,
    retries_then_dead_letters_after_exactly_max_attempts,
    a_failure_that_cannot_pass_is_failed_at_once,
    panics_and_timeouts_are_failed_attempts_and_the_pool_lives_on,
    claims_by_priority_then_run_at,
    concurrency_limit_is_never_exceeded,
    reserved_slots_let_urgent_jobs_past_a_flood,
    shutdown_hands_unfinished_jobs_back_without_spending_an_attempt,
    unknown_job_type_is_failed_with_a_clear_error,
    malformed_payload_fails_naming_the_field,
    unique_key_allows_one_live_job,
);

mod more {
    use super::*;

    async fn a_stopped_pool_is_restarted_and_its_jobs_are_rescued(t: &TestDb) {
        let recorder = Recorder::default();
        let config = t.config(
            r#"[pools.TEST_WORK]
            lease_ttl = "600ms""#,
        );
        let service = start(config, &recorder).await;
        let db = service.db().clone();
        let id = jobs::insert(&db, &work(60_000, "ok", "orphan"), Utc::now())
            .await
            .unwrap();
        let r = recorder.clone();
        wait_until(Duration::from_secs(5), "job running", || {
            let started = r.runs().len();
            async move { started == 1 }
        })
        .await;

        service.kill_pool(TEST_WORK);
        let after = jobs::insert(&db, &work(0, "ok", "after"), Utc::now())
            .await
            .unwrap();
        wait_until(Duration::from_secs(10), "new pool runs jobs", || async {
            status_of(&db, after).await == JobStatus::Completed
        })
        .await;
        wait_until(
            Duration::from_secs(10),
            "orphan rescued and running again",
            || async { jobs::get(&db, id).await.unwrap().unwrap().attempts == 2 },
        )
        .await;

        assert_eq!(service.restarts().await, 1);
        service.shutdown_within(Duration::from_millis(100)).await;
    }

    async fn a_long_job_with_heartbeats_outlives_its_lease(t: &TestDb) {
        let recorder = Recorder::default();
        let config = t.config(
            r#"[pools.TEST_WORK]
            lease_ttl = "1s""#,
        );
        let service = start(config, &recorder).await;
        let db = service.db().clone();

        let id = jobs::insert(&db, &work(3_500, "ok", "long"), Utc::now())
            .await
            .unwrap();
        wait_until(Duration::from_secs(10), "completed", || async {
            status_of(&db, id).await == JobStatus::Completed
        })
        .await;

        let job = jobs::get(&db, id).await.unwrap().unwrap();
        assert_eq!(job.attempts, 1, "never rescued while alive");
        assert_eq!(recorder.runs().len(), 1);
        service.shutdown().await;
    }

    async fn a_failure_outside_the_retry_window_is_dead_lettered(t: &TestDb) {
        let recorder = Recorder::default();
        let db = t.open();
        let id = jobs::insert(&db, &work(0, "retry", "old"), Utc::now())
            .await
            .unwrap();
        let two_days_ago = (Utc::now() - TimeDelta::days(2)).to_rfc3339();
        let sql = "UPDATE job_queue SET created_at = $1 WHERE id = $2";
        match &db {
            a1c_jobs::store::Db::Postgres(pool) => {
                let at = chrono::DateTime::parse_from_rfc3339(&two_days_ago).unwrap();
                sqlx::query(sql)
                    .bind(at)
                    .bind(id)
                    .execute(pool)
                    .await
                    .unwrap();
            }
            a1c_jobs::store::Db::Sqlite(pool) => {
                let at = (Utc::now() - TimeDelta::days(2))
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                sqlx::query(sql)
                    .bind(at)
                    .bind(id.to_string())
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
        let config = t.config(
            r#"[pools.TEST_WORK]
            retry_window = "24h""#,
        );
        let service = start(config, &recorder).await;

        wait_until(Duration::from_secs(5), "dead letter", || async {
            status_of(&db, id).await == JobStatus::DeadLetter
        })
        .await;

        let job = jobs::get(&db, id).await.unwrap().unwrap();
        assert_eq!(job.attempts, 1);
        assert!(job.error.unwrap().contains("not retried"));
        service.shutdown().await;
        db.close().await;
    }

    async fn rate_limit_spaces_job_starts(t: &TestDb) {
        let recorder = Recorder::default();
        let db = t.open();
        let batch: Vec<NewJob> = (0..12).map(|i| work(0, "ok", &i.to_string())).collect();
        jobs::insert_many(&db, &batch, Utc::now()).await.unwrap();
        let config = t.config(
            r#"[pools.TEST_WORK]
            rate_limit = 4.0"#,
        );

        let service = start(config, &recorder).await;
        wait_until(Duration::from_secs(10), "all completed", || async {
            count_status(&db, JobStatus::Completed).await == 12
        })
        .await;

        let runs = recorder.runs();
        let first = runs.iter().map(|r| r.started).min().unwrap();
        let last = runs.iter().map(|r| r.started).max().unwrap();
        // A full bucket of 4 starts at once; the other 8 need 8 / 4 per second.
        assert!(
            last - first >= Duration::from_millis(1_900),
            "{:?}",
            last - first
        );
        service.shutdown().await;
        db.close().await;
    }

    on_both_backends!(
        a_stopped_pool_is_restarted_and_its_jobs_are_rescued,
        a_long_job_with_heartbeats_outlives_its_lease,
        a_failure_outside_the_retry_window_is_dead_lettered,
        rate_limit_spaces_job_starts,
    );
}

mod adopted {
    use super::*;
    use a1c_jobs::store::Db;

    async fn app_times_in_sqlite_format_are_understood(t: &TestDb) {
        let db = t.open();
        let Db::Sqlite(pool) = &db else {
            panic!("a SQLite test")
        };
        let now = "INSERT INTO job_queue (job_type, payload, status, created_at, run_at)
                   VALUES ('TEST_WORK', '{\"tag\": \"now\"}', 'PENDING', datetime('now'),
                           CURRENT_TIMESTAMP)";
        sqlx::query(now).execute(pool).await.unwrap();
        let later = "INSERT INTO job_queue (job_type, payload, status, run_at)
                     VALUES ('TEST_WORK', '{\"tag\": \"later\"}', 'PENDING',
                             datetime('now', '+1 hour'))";
        sqlx::query(later).execute(pool).await.unwrap();
        // SQLite writes year -1 back as "-001-…"; it is a time all the same, and long due.
        let ancient = "INSERT INTO job_queue (job_type, payload, status, run_at)
                       VALUES ('TEST_WORK', '{\"tag\": \"ancient\"}', 'PENDING',
                               '-0001-01-01T00:00:00Z')";
        sqlx::query(ancient).execute(pool).await.unwrap();
        let garbage = "INSERT INTO job_queue (job_type, payload, status, run_at)
                       VALUES ('TEST_WORK', '{}', 'PENDING', 'soon')";
        let refused = sqlx::query(garbage)
            .execute(pool)
            .await
            .unwrap_err()
            .to_string();
        let recorder = Recorder::default();
        let service = start(t.config(""), &recorder).await;

        wait_until(Duration::from_secs(5), "the due jobs ran", || async {
            count_status(&db, JobStatus::Completed).await == 2
        })
        .await;

        assert!(refused.contains("must be times"), "{refused}");
        let mut tags: Vec<String> = recorder.runs().into_iter().map(|r| r.tag).collect();
        tags.sort();
        assert_eq!(tags, ["ancient", "now"], "the job due in an hour waits");
        assert_eq!(count_status(&db, JobStatus::Pending).await, 1);
        assert_eq!(
            jobs::list(
                &db,
                &jobs::ListFilter {
                    limit: 10,
                    ..Default::default()
                }
            )
            .await
            .unwrap()
            .len(),
            3
        );
        // A time made unreadable by hand (updates are not checked) hides only its own row.
        let spoiled = "UPDATE job_queue SET run_at = 'soon'
                       WHERE json_extract(payload, '$.tag') = 'later'";
        sqlx::query(spoiled).execute(pool).await.unwrap();
        let filter = jobs::ListFilter {
            limit: 10,
            ..Default::default()
        };
        let listed = jobs::list(&db, &filter).await.map(|l| l.len());
        assert_eq!(listed.ok(), Some(2), "the readable jobs are still listed");
        service.shutdown().await;
        db.close().await;
    }

    async fn a_processing_row_without_a_lease_is_rescued(t: &TestDb) {
        let db = t.open();
        let Db::Postgres(pool) = &db else {
            panic!("a PostgreSQL test")
        };
        // An adopted seed table may hold such rows; the constraint only judges new writes.
        sqlx::query("ALTER TABLE job_queue DROP CONSTRAINT processing_holds_lease")
            .execute(pool)
            .await
            .unwrap();
        let id: uuid::Uuid = sqlx::query_scalar(
            "INSERT INTO job_queue (job_type, payload, status)
             VALUES ('TEST_WORK', '{\"tag\": \"orphan\"}', 'PROCESSING') RETURNING id",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        let recorder = Recorder::default();
        let service = start(t.config(""), &recorder).await;

        wait_until(Duration::from_secs(5), "rescued and run", || async {
            status_of(&db, id).await == JobStatus::Completed
        })
        .await;

        assert_eq!(recorder.runs().len(), 1);
        service.shutdown().await;
        db.close().await;
    }

    #[actix_rt::test]
    async fn sqlite_app_times_in_sqlite_format_are_understood() {
        let t = TestDb::new(common::Backend::Sqlite).await;
        app_times_in_sqlite_format_are_understood(&t).await;
    }

    #[actix_rt::test]
    async fn postgres_processing_row_without_a_lease_is_rescued() {
        let t = TestDb::new(common::Backend::Postgres).await;
        a_processing_row_without_a_lease_is_rescued(&t).await;
        t.cleanup().await;
    }
}
