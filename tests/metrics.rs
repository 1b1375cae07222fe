//! Metrics on both backends: the exposition parses with the `prometheus-parse` crate, the
//! counters move as jobs complete, fail, retry, are dead-lettered and rescued, the queue depth
//! matches the table, and schedule fires and actor restarts are counted.
//!
//! The registry is process-wide and tests run in parallel, so each test uses job types and a
//! schedule of its own backend and asserts on those series only.

mod common;
mod metrics {
    pub mod prometheus;
}

use std::time::Duration;

use a1c_jobs::job::{JobStatus, NewJob};
use a1c_jobs::store::job as jobs;
use a1c_jobs::store::Db;
use a1c_jobs::Service;
use chrono::{SecondsFormat, TimeDelta, Utc};
use common::{Backend, Recorder, TestDb};
use metrics::prometheus::{self, Exposition};
use serde_json::json;

/// The job types and schedule of one backend's test.
struct Names {
    work: String,
    tick: String,
    schedule: String,
}

fn names(test: &TestDb) -> Names {
    let suffix = match test.backend {
        Backend::Postgres => "PG",
        Backend::Sqlite => "SQLITE",
    };
    Names {
        work: format!("METRICS_WORK_{suffix}"),
        tick: format!("METRICS_TICK_{suffix}"),
        schedule: format!("metrics_tick_{}", suffix.to_lowercase()),
    }
}

async fn start(test: &TestDb, names: &Names, recorder: &Recorder) -> Service {
    let extra = format!(
        r#"
        [pools.{work}]
        concurrency = 3
        timeout = "10s"
        batch_size = 10
        lease_ttl = "3s"
        backoff = {{ base = "10ms", max = "20ms", jitter = 0.0 }}
        [pools.{tick}]
        concurrency = 1
        timeout = "10s"
        batch_size = 1
        lease_ttl = "3s"
        [schedules.{schedule}]
        cron = "* * * * * *"
        job_type = "{tick}"
        catch_up = "none"
        "#,
        work = names.work,
        tick = names.tick,
        schedule = names.schedule,
    );
    let mut handlers = recorder.handlers();
    handlers.register(&names.work, recorder.clone());
    handlers.register(&names.tick, recorder.clone());
    Service::start(test.config(&extra), handlers)
        .await
        .expect("service starts")
}

#[track_caller]
fn parsed(text: &str) -> Exposition {
    match prometheus::parse(text) {
        Ok(exposition) => exposition,
        Err(err) => panic!("metrics do not parse: {err}\n{text}"),
    }
}

fn job(job_type: &str, mode: &str) -> NewJob {
    NewJob::new(job_type, json!({"mode": mode}))
}

/// A job of `job_type` left PROCESSING under a lease that ended a minute ago.
async fn expired_lease_job(db: &Db, job_type: &str) {
    let id = jobs::insert(db, &job(job_type, "ok"), Utc::now() + TimeDelta::hours(1))
        .await
        .expect("insert");
    let past = (Utc::now() - TimeDelta::minutes(1)).to_rfc3339_opts(SecondsFormat::Millis, true);
    let sql = format!(
        "UPDATE job_queue
         SET status = 'PROCESSING', attempts = 1, lease_id = '{}', lease_expires_at = '{past}'
         WHERE id = '{id}'",
        uuid::Uuid::new_v4()
    );
    match db {
        Db::Postgres(pool) => sqlx::query(&sql).execute(pool).await.map(|_| ()),
        Db::Sqlite(pool) => sqlx::query(&sql).execute(pool).await.map(|_| ()),
    }
    .expect("expire the lease");
}

/// Jobs of `job_type` per status, as the table has them.
async fn table_depth(db: &Db, job_type: &str) -> Vec<(String, i64)> {
    let sql = "SELECT status, COUNT(*) FROM job_queue WHERE job_type = $1 GROUP BY status \
               ORDER BY status";
    match db {
        Db::Postgres(pool) => sqlx::query_as(sql).bind(job_type).fetch_all(pool).await,
        Db::Sqlite(pool) => sqlx::query_as(sql).bind(job_type).fetch_all(pool).await,
    }
    .expect("count by status")
}

async fn counters_follow_job_outcomes(test: &TestDb) {
    let names = names(test);
    let recorder = Recorder::default();
    let service = start(test, &names, &recorder).await;
    let db = service.db().clone();
    let work = names.work.as_str();

    let batch = [
        job(work, "ok"),
        job(work, "ok"),
        job(work, "fail"),
        job(work, "retry").max_attempts(2),
        job(work, "ok").run_at(Utc::now() + TimeDelta::hours(1)),
    ];
    jobs::insert_many(&db, &batch, Utc::now())
        .await
        .expect("enqueue");
    expired_lease_job(&db, work).await;
    let label = [("job_type", work)];
    let settled = || async {
        let m = parsed(&service.metrics_text().await);
        m.value("a1c_jobs_completed_total", &label) == Some(3.0)
            && m.value("a1c_jobs_dead_lettered_total", &label) == Some(1.0)
    };
    common::wait_until(Duration::from_secs(20), "outcomes counted", settled).await;
    let m = parsed(&service.metrics_text().await);

    assert_eq!(m.value("a1c_jobs_enqueued_total", &label), Some(6.0));
    assert_eq!(m.value("a1c_jobs_failed_total", &label), Some(1.0));
    assert_eq!(m.value("a1c_jobs_retried_total", &label), Some(1.0));
    assert_eq!(m.value("a1c_jobs_rescued_total", &label), Some(1.0));
    // Attempts: three completed (one after its rescue), one failed, two of the retried job.
    assert_eq!(m.value("a1c_jobs_run_seconds_count", &label), Some(6.0));
    assert_eq!(m.value("a1c_jobs_queue_seconds_count", &label), Some(6.0));
    assert_eq!(m.value("a1c_jobs_pool_concurrency", &label), Some(3.0));
    assert_eq!(m.value("a1c_jobs_pool_in_flight", &label), Some(0.0));
    assert_eq!(m.value("a1c_jobs_database_up", &[]), Some(1.0));
    let mut depth: Vec<(String, i64)> = m
        .samples("a1c_jobs_queue_depth")
        .into_iter()
        .filter(|s| s.labels.get("job_type").map(String::as_str) == Some(work))
        .map(|s| (s.labels["status"].clone(), s.value as i64))
        .collect();
    depth.sort();
    assert_eq!(depth, table_depth(&db, work).await);
    assert!(
        depth.contains(&(JobStatus::Pending.as_str().to_owned(), 1)),
        "{depth:?}"
    );

    service.shutdown().await;
}

async fn schedule_fires_and_restarts_are_counted(test: &TestDb) {
    let names = names(test);
    let recorder = Recorder::default();
    let service = start(test, &names, &recorder).await;
    let schedule = [("schedule", names.schedule.as_str())];
    let actor = [("actor", names.work.as_str())];

    let fired = || async {
        let m = parsed(&service.metrics_text().await);
        m.value("a1c_jobs_schedule_fires_total", &schedule)
            .is_some_and(|n| n >= 1.0)
    };
    common::wait_until(Duration::from_secs(10), "a schedule fire counted", fired).await;
    service.kill_pool(&names.work);
    let restarted = || async {
        let m = parsed(&service.metrics_text().await);
        m.value("a1c_jobs_actor_restarts_total", &actor) == Some(1.0)
    };
    common::wait_until(Duration::from_secs(10), "the restart counted", restarted).await;
    let m = parsed(&service.metrics_text().await);

    let tick = [("job_type", names.tick.as_str())];
    assert!(m
        .value("a1c_jobs_enqueued_total", &tick)
        .is_some_and(|n| n >= 1.0));
    assert_eq!(service.restarts().await, 1);

    service.shutdown().await;
}

on_both_backends!(
    counters_follow_job_outcomes,
    schedule_fires_and_restarts_are_counted
);

#[test]
fn parser_refuses_what_prometheus_refuses() {
    let head = "# HELP a1c_jobs_x X.\n# TYPE a1c_jobs_x counter\n";
    let bad = [
        "a1c_jobs_x 1\n".to_owned(),
        format!("{head}a1c_jobs_x 1\na1c_jobs_x 2\n"),
        format!("{head}a1c_jobs_x{{a=\"1\"}} one\n"),
        format!("{head}a1c_jobs_x 1"),
        format!("{head}\na1c_jobs_x 1\n"),
        format!("{head}# TYPE a1c_jobs_x gauge\n"),
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n"
            .to_owned(),
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 2\n".to_owned(),
    ];

    for text in &bad {
        assert!(prometheus::parse(text).is_err(), "accepted: {text}");
    }
    let good = format!("{head}a1c_jobs_x{{a=\"q\"}} 1.5e3\n");
    let parsed = prometheus::parse(&good).expect("parses");
    assert_eq!(parsed.value("a1c_jobs_x", &[("a", "q")]), Some(1500.0));
}
