//! Pools paused, resumed and resized at run time, on one node and on two.

use std::time::{Duration, Instant};

use a1c_jobs::job::{JobStatus, NewJob};
use a1c_jobs::store::pool_control::{self, ControlChange};
use a1c_jobs::store::{job as jobs, Db};
use a1c_jobs::{Config, Service};
use chrono::Utc;

use crate::common::{
    audit_log, count_status, start, wait_until, work, Exec, Recorder, TestDb, TEST_WORK,
};

const WAIT: Duration = Duration::from_secs(20);

/// Long enough for several poll ticks of the test config (100 ms).
const QUIET: Duration = Duration::from_millis(700);

async fn control(db: &Db, change: ControlChange) {
    pool_control::apply(db, TEST_WORK, change, "ops-test", Utc::now())
        .await
        .expect("apply pool control");
}

async fn wait_paused(service: &Service, paused: bool) {
    wait_until(WAIT, "pool applies the pause", || async {
        service
            .pool_state(TEST_WORK)
            .await
            .is_some_and(|s| s.paused == paused)
    })
    .await;
}

async fn insert(db: &Db, jobs_: Vec<NewJob>) {
    jobs::insert_many(db, &jobs_, Utc::now())
        .await
        .expect("insert jobs");
}

/// The most runs among `runs` that overlapped in time.
fn max_overlap(runs: &[Exec]) -> usize {
    let end = |r: &Exec| r.ended.unwrap_or_else(Instant::now);
    runs.iter()
        .map(|r| {
            runs.iter()
                .filter(|o| o.started <= r.started && end(o) > r.started)
                .count()
        })
        .max()
        .unwrap_or(0)
}

async fn a_paused_pool_claims_nothing_until_resumed(t: &TestDb) {
    let db = t.open();
    let recorder = Recorder::default();
    let service = start(t.config(""), &recorder).await;
    insert(&db, vec![work(600, "ok", "running")]).await;
    wait_until(WAIT, "first job runs", || async {
        !recorder.runs().is_empty()
    })
    .await;

    control(&db, ControlChange::Pause).await;
    wait_paused(&service, true).await;
    insert(&db, (0..5).map(|i| work(0, "ok", &i.to_string())).collect()).await;
    tokio::time::sleep(QUIET).await;
    wait_until(WAIT, "the job running when paused finishes", || async {
        count_status(&db, JobStatus::Completed).await == 1
    })
    .await;

    assert_eq!(recorder.runs().len(), 1, "a paused pool claimed a job");
    assert_eq!(count_status(&db, JobStatus::Pending).await, 5);

    control(&db, ControlChange::Resume).await;
    wait_until(WAIT, "all six completed", || async {
        count_status(&db, JobStatus::Completed).await == 6
    })
    .await;
    let state = service.pool_state(TEST_WORK).await.expect("pool runs");
    let log = audit_log(&db, None).await;
    service.shutdown().await;
    db.close().await;

    assert!(!state.paused);
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["pool.resume", "pool.pause"]);
    assert!(log
        .iter()
        .all(|e| e.actor == "ops-test" && e.job_type.as_deref() == Some(TEST_WORK)));
}

async fn concurrency_changes_at_run_time_without_stopping_running_jobs(t: &TestDb) {
    let db = t.open();
    let recorder = Recorder::default();
    let service = start(t.config(""), &recorder).await;
    insert(&db, (0..3).map(|_| work(700, "ok", "before")).collect()).await;
    wait_until(WAIT, "three running", || async {
        recorder.current.load(std::sync::atomic::Ordering::SeqCst) == 3
    })
    .await;

    control(&db, ControlChange::Concurrency(Some(1))).await;
    wait_until(WAIT, "pool applies concurrency 1", || async {
        service
            .pool_state(TEST_WORK)
            .await
            .is_some_and(|s| s.concurrency == 1)
    })
    .await;
    insert(&db, (0..4).map(|_| work(50, "ok", "after")).collect()).await;
    wait_until(WAIT, "all seven completed", || async {
        count_status(&db, JobStatus::Completed).await == 7
    })
    .await;

    let runs = recorder.runs();
    let after: Vec<Exec> = runs.iter().filter(|r| r.tag == "after").cloned().collect();
    assert_eq!(runs.len(), 7, "no job was stopped and run again");
    assert!(runs.iter().all(|r| r.attempt == 1));
    assert_eq!(max_overlap(&after), 1, "more than one job at concurrency 1");

    control(&db, ControlChange::Concurrency(None)).await;
    wait_until(WAIT, "pool back at its configured concurrency", || async {
        service
            .pool_state(TEST_WORK)
            .await
            .is_some_and(|s| s.concurrency == 4)
    })
    .await;
    let shown = pool_control::get(&db, TEST_WORK)
        .await
        .expect("get control");
    service.shutdown().await;
    db.close().await;
    assert_eq!(shown.map(|c| c.concurrency), Some(None));
}

async fn a_concurrency_out_of_range_is_refused(t: &TestDb) {
    let db = t.open();

    let zero = pool_control::apply(
        &db,
        TEST_WORK,
        ControlChange::Concurrency(Some(0)),
        "x",
        Utc::now(),
    )
    .await;
    let control = pool_control::get(&db, TEST_WORK)
        .await
        .expect("get control");
    let log = audit_log(&db, None).await;
    db.close().await;

    assert!(zero.is_err_and(|e| e.to_string().contains("concurrency must be 1 to")));
    assert_eq!(control, None);
    assert!(log.is_empty());
}

crate::on_both_backends!(
    a_paused_pool_claims_nothing_until_resumed,
    concurrency_changes_at_run_time_without_stopping_running_jobs,
    a_concurrency_out_of_range_is_refused,
);

fn node(t: &TestDb, name: &str) -> Config {
    let mut config = t.config("");
    config.node.name = name.to_owned();
    config
}

/// Two nodes on one PostgreSQL database both obey a pause, a node started while the pool is
/// paused stays paused, and both claim again after the resume.
#[actix_rt::test]
async fn two_nodes_obey_a_pause_and_a_resume() {
    let t = TestDb::new(crate::common::Backend::Postgres).await;
    let db = t.open();
    let recorder = Recorder::default();
    let a = start(node(&t, "node-a"), &recorder).await;

    control(&db, ControlChange::Pause).await;
    wait_paused(&a, true).await;
    let b = start(node(&t, "node-b"), &recorder).await;
    wait_paused(&b, true).await;
    insert(
        &db,
        (0..40).map(|i| work(20, "ok", &i.to_string())).collect(),
    )
    .await;
    tokio::time::sleep(QUIET).await;
    let ran_while_paused = recorder.runs().len();

    control(&db, ControlChange::Resume).await;
    wait_until(WAIT, "all forty completed", || async {
        count_status(&db, JobStatus::Completed).await == 40
    })
    .await;
    let nodes: std::collections::BTreeSet<String> =
        recorder.runs().into_iter().map(|r| r.node).collect();
    a.shutdown().await;
    b.shutdown().await;
    db.close().await;
    t.cleanup().await;

    assert_eq!(ran_while_paused, 0, "a paused node claimed a job");
    assert_eq!(
        nodes.len(),
        2,
        "both nodes claim after the resume: {nodes:?}"
    );
}
