//! Prefetch on both backends: jobs claimed beyond the free slots wait under a renewed lease,
//! never break the concurrency limit, and go back without spending an attempt when the pool
//! pauses or stops. A waiting job cancelled before its pool's next renewal never starts. Only
//! jobs that never failed are prefetched, and none under a rate limit. Run time counts from the
//! real start, not from the claim.

mod common;

use std::time::Duration;

use a1c_jobs::job::{ClaimedJob, JobStatus, NewJob};
use a1c_jobs::store::job::{ClaimRequest, Settlement};
use a1c_jobs::store::pool_control::{self, ControlChange};
use a1c_jobs::store::{job as jobs, Db};
use a1c_jobs::Service;
use chrono::{TimeDelta, Utc};
use common::{count_status, start, status_of, wait_until, work, Recorder, TestDb, TEST_WORK};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(20);

async fn insert(db: &Db, batch: &[NewJob]) -> Vec<Uuid> {
    jobs::insert_many(db, batch, Utc::now())
        .await
        .expect("insert jobs")
}

/// Attempts spent, lease and status of every job in `ids`.
async fn states(db: &Db, ids: &[Uuid]) -> Vec<(JobStatus, i32, bool)> {
    let mut out = Vec::new();
    for id in ids {
        let job = jobs::get(db, *id).await.unwrap().expect("job exists");
        out.push((job.status, job.attempts, job.lease_id.is_some()));
    }
    out
}

/// Starts a pool of one slot with `settings` added, and waits until a first job of 1.5 s runs.
async fn one_running(t: &TestDb, db: &Db, settings: &str) -> (Uuid, Recorder, Service) {
    let first = insert(db, &[work(1_500, "ok", "first")]).await;
    let recorder = Recorder::default();
    let pool = format!("[pools.TEST_WORK]\nconcurrency = 1\nbatch_size = 10\n{settings}");
    let service = start(t.config(&pool), &recorder).await;
    wait_until(WAIT, "first job runs", || async {
        !recorder.runs().is_empty()
    })
    .await;
    (first[0], recorder, service)
}

/// Inserts `n` jobs of `ms` each and starts a service whose pool has `settings`.
async fn start_with_jobs(
    t: &TestDb,
    db: &Db,
    (n, ms): (usize, u64),
    settings: &str,
) -> (Vec<Uuid>, Recorder, Service) {
    let batch: Vec<NewJob> = (0..n).map(|i| work(ms, "ok", &i.to_string())).collect();
    let ids = insert(db, &batch).await;
    let recorder = Recorder::default();
    let config = t.config(&format!("[pools.TEST_WORK]\n{settings}"));
    let service = start(config, &recorder).await;
    (ids, recorder, service)
}

async fn all_completed(db: &Db, n: i64) {
    wait_until(WAIT, "all completed", || async {
        count_status(db, JobStatus::Completed).await == n
    })
    .await;
}

async fn prefetched_jobs_wait_within_the_concurrency_limit(t: &TestDb) {
    let db = t.open();
    let settings = "concurrency = 3\nbatch_size = 20\nprefetch = 10";
    let (ids, recorder, service) = start_with_jobs(t, &db, (40, 30), settings).await;

    // Three running and ten waiting, all leased.
    wait_until(WAIT, "prefetched jobs leased", || async {
        count_status(&db, JobStatus::Processing).await > 3
    })
    .await;
    all_completed(&db, 40).await;
    let state = service.pool_state(TEST_WORK).await.unwrap();
    service.shutdown().await;

    assert_eq!(
        recorder.peak(),
        3,
        "waiting jobs never run beyond the limit"
    );
    assert_eq!(state.peak_in_flight, 3);
    let mut ran: Vec<Uuid> = recorder.runs().iter().map(|r| r.job_id).collect();
    ran.sort();
    ran.dedup();
    assert_eq!(ran.len(), 40, "every job ran once");
    assert_eq!(recorder.runs().len(), 40);
    let spent = states(&db, &ids).await;
    assert!(
        spent.iter().all(|s| s.1 == 1),
        "one attempt each: {spent:?}"
    );
    db.close().await;
}

async fn shutdown_hands_prefetched_jobs_back_without_spending_an_attempt(t: &TestDb) {
    let db = t.open();
    let settings = "concurrency = 1\nbatch_size = 10\nprefetch = 5";
    let (ids, recorder, service) = start_with_jobs(t, &db, (6, 60_000), settings).await;
    wait_until(WAIT, "one running, five waiting", || async {
        count_status(&db, JobStatus::Processing).await == 6 && recorder.runs().len() == 1
    })
    .await;

    service.shutdown_within(Duration::from_millis(300)).await;

    let after = states(&db, &ids).await;
    assert_eq!(
        recorder.runs().len(),
        1,
        "a waiting job started during shutdown"
    );
    assert!(
        after.iter().all(|s| *s == (JobStatus::Pending, 0, false)),
        "every job pending again with its attempt given back: {after:?}"
    );
    db.close().await;
}

async fn a_pause_hands_prefetched_jobs_back(t: &TestDb) {
    let db = t.open();
    let (running, recorder, service) = one_running(t, &db, "prefetch = 5").await;
    let waiting: Vec<NewJob> = (0..5).map(|i| work(0, "ok", &i.to_string())).collect();
    let waiting = insert(&db, &waiting).await;
    wait_until(WAIT, "five more leased", || async {
        count_status(&db, JobStatus::Processing).await == 6
    })
    .await;

    pool_control::apply(&db, TEST_WORK, ControlChange::Pause, "test", Utc::now())
        .await
        .unwrap();
    wait_until(WAIT, "waiting jobs handed back", || async {
        count_status(&db, JobStatus::Pending).await == 5
    })
    .await;
    wait_until(WAIT, "the running job finishes", || async {
        status_of(&db, running).await == JobStatus::Completed
    })
    .await;
    let after = states(&db, &waiting).await;
    let runs = recorder.runs().len();
    service.shutdown().await;

    assert_eq!(runs, 1, "a paused pool started a waiting job");
    assert!(
        after.iter().all(|s| *s == (JobStatus::Pending, 0, false)),
        "{after:?}"
    );
    db.close().await;
}

async fn a_waiting_job_cancelled_before_a_renewal_never_starts(t: &TestDb) {
    let db = t.open();
    let settings = "prefetch = 3\nlease_ttl = \"600ms\"";
    let (first, recorder, service) = one_running(t, &db, settings).await;
    let next = insert(&db, &[work(0, "ok", "cancelled"), work(0, "ok", "kept")]).await;
    wait_until(WAIT, "both leased while waiting", || async {
        count_status(&db, JobStatus::Processing).await == 3
    })
    .await;

    assert!(jobs::cancel(&db, next[0], Utc::now(), "test")
        .await
        .unwrap());
    wait_until(WAIT, "the rest completed", || async {
        count_status(&db, JobStatus::Completed).await == 2
    })
    .await;
    service.shutdown().await;

    let tags: Vec<String> = recorder.runs().iter().map(|r| r.tag.clone()).collect();
    assert_eq!(tags, ["first", "kept"], "the cancelled job started");
    assert_eq!(status_of(&db, first).await, JobStatus::Completed);
    assert_eq!(status_of(&db, next[0]).await, JobStatus::Cancelled);
    db.close().await;
}

fn claim(limit: u32, prefetch: u32) -> ClaimRequest<'static> {
    ClaimRequest {
        job_type: TEST_WORK,
        node: "node-a",
        limit,
        prefetch,
        max_priority: 9,
        lease_ttl: Duration::from_secs(30),
    }
}

fn failure(job: &ClaimedJob) -> Settlement {
    Settlement {
        id: job.id,
        lease_id: job.lease_id,
        status: JobStatus::Retry,
        run_at: Some(Utc::now() - TimeDelta::seconds(1)),
        error: Some("failed on purpose".into()),
        result: None,
        refund_attempt: false,
        started_at: None,
        ended_at: None,
    }
}

async fn only_jobs_that_never_failed_are_prefetched(t: &TestDb) {
    let db = t.open();
    let at = |claimed: Vec<ClaimedJob>| -> Vec<(Uuid, i32)> {
        claimed.iter().map(|j| (j.id, j.attempt)).collect()
    };
    // In claim order: a fresh job, one that failed once, two fresh ones.
    let failed = insert(&db, &[work(0, "ok", "failed").priority(2)]).await[0];
    let first = jobs::claim(&db, &claim(1, 0), Utc::now()).await.unwrap();
    jobs::settle(&db, &[failure(&first[0])], Utc::now())
        .await
        .unwrap();
    let fresh: Vec<NewJob> = [1, 3, 4]
        .iter()
        .map(|p| work(0, "ok", &p.to_string()).priority(*p))
        .collect();
    let fresh = insert(&db, &fresh).await;

    // Prefetch stops at the RETRY job; it waits for a free slot.
    let now = Utc::now();
    let prefetched = jobs::claim(&db, &claim(0, 5), now).await.unwrap();
    assert_eq!(at(prefetched), [(fresh[0], 1)]);
    assert!(jobs::claim(&db, &claim(0, 5), now)
        .await
        .unwrap()
        .is_empty());
    let claimed = jobs::claim(&db, &claim(1, 5), now).await.unwrap();
    assert_eq!(at(claimed), [(failed, 2), (fresh[1], 1), (fresh[2], 1)]);

    // Every attempt counts at its claim, so a process that dies spends the waiting ones too;
    // rescued, they are RETRY and run in free slots only.
    let later = now + TimeDelta::minutes(5);
    assert_eq!(jobs::rescue_expired(&db, later).await.unwrap().len(), 4);
    let ids = [fresh[0], failed, fresh[1], fresh[2]];
    let after = states(&db, &ids).await;
    let spent: Vec<(JobStatus, i32)> = after.iter().map(|s| (s.0, s.1)).collect();
    let retry = JobStatus::Retry;
    assert_eq!(spent, [(retry, 1), (retry, 2), (retry, 1), (retry, 1)]);
    let due = later + TimeDelta::seconds(3);
    assert!(jobs::claim(&db, &claim(0, 5), due)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(jobs::claim(&db, &claim(2, 5), due).await.unwrap().len(), 2);
    db.close().await;
}

async fn run_time_counts_from_the_start_not_the_claim(t: &TestDb) {
    let db = t.open();
    let settings = "concurrency = 1\nbatch_size = 10\nprefetch = 5";
    let (ids, _recorder, service) = start_with_jobs(t, &db, (6, 200), settings).await;
    all_completed(&db, 6).await;
    service.shutdown().await;

    // The last job waited about a second after its claim; its run took 200 ms.
    for id in ids {
        let job = jobs::get(&db, id).await.unwrap().expect("job exists");
        let (started, ended) = (job.started_at.unwrap(), job.processed_at.unwrap());
        let ran = (ended - started).num_milliseconds();
        assert!(
            (150..600).contains(&ran),
            "run of {ran} ms recorded for a 200 ms job"
        );
    }
    db.close().await;
}

async fn a_rate_limited_pool_prefetches_nothing(t: &TestDb) {
    let db = t.open();
    let settings = "concurrency = 1\nbatch_size = 10\nprefetch = 5\nrate_limit = 100.0";
    let (_, recorder, service) = start_with_jobs(t, &db, (4, 400), settings).await;
    wait_until(WAIT, "first job runs", || async {
        !recorder.runs().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let leased = count_status(&db, JobStatus::Processing).await;
    all_completed(&db, 4).await;
    service.shutdown().await;

    assert_eq!(
        leased, 1,
        "a rate-limited pool claimed beyond its free slot"
    );
    db.close().await;
}

on_both_backends!(
    prefetched_jobs_wait_within_the_concurrency_limit,
    shutdown_hands_prefetched_jobs_back_without_spending_an_attempt,
    a_pause_hands_prefetched_jobs_back,
    a_waiting_job_cancelled_before_a_renewal_never_starts,
    only_jobs_that_never_failed_are_prefetched,
    run_time_counts_from_the_start_not_the_claim,
    a_rate_limited_pool_prefetches_nothing,
);
