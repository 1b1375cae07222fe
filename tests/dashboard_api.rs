//! What the dashboard reads, on both backends: node heartbeats from maintenance, jobs ended per
//! minute, and the schedules' next fire times.

mod common;

use std::time::Duration;

use a1c_jobs::job::JobStatus;
use a1c_jobs::store::{job as jobs, node, throughput, Db};
use chrono::{DateTime, TimeDelta, Utc};
use common::{start, status_of, wait_until, work, Recorder, TestDb};

/// The nodes seen within a minute of `at`, alive when seen within 5 s.
async fn nodes_at(store: &Db, at: DateTime<Utc>, forget_after: u64) -> Vec<node::Node> {
    let (alive, forget) = (Duration::from_secs(5), Duration::from_secs(forget_after));
    node::list(store, at, alive, forget)
        .await
        .expect("list nodes")
}

async fn maintenance_records_a_heartbeat_per_node(db: &TestDb) {
    let store = db.open();
    let service = start(db.config("[node]\nname = \"node-a\""), &Recorder::default()).await;

    wait_until(Duration::from_secs(10), "a heartbeat", || async {
        let nodes = nodes_at(&store, Utc::now(), 60).await;
        nodes.iter().any(|n| n.name == "node-a" && n.alive)
    })
    .await;
    let first = nodes_at(&store, Utc::now(), 60).await;
    wait_until(Duration::from_secs(10), "a later heartbeat", || async {
        nodes_at(&store, Utc::now(), 60).await[0].last_seen_at > first[0].last_seen_at
    })
    .await;
    service.shutdown().await;

    let later = Utc::now() + TimeDelta::seconds(30);
    let nodes = nodes_at(&store, later, 60).await;
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].name, "node-a");
    assert!(!nodes[0].alive, "a node silent for 30 s is not alive");
    assert!(nodes[0].started_at <= nodes[0].last_seen_at);
    let forgotten = nodes_at(&store, later, 10).await;
    assert!(
        forgotten.is_empty(),
        "nodes silent past forget_after are left out"
    );
}

async fn throughput_counts_jobs_ended_in_each_minute(db: &TestDb) {
    let store = db.open();
    let recorder = Recorder::default();
    let now = Utc::now();
    let mut ids = Vec::new();
    for job in [
        work(0, "ok", "a"),
        work(0, "ok", "b"),
        work(0, "ok", "c"),
        work(0, "fail", "d"),
        work(0, "retry", "e").max_attempts(1),
    ] {
        ids.push(jobs::insert(&store, &job, now).await.expect("insert"));
    }
    let service = start(db.config(""), &recorder).await;
    wait_until(Duration::from_secs(20), "every job ended", || async {
        let mut ended = 0;
        for id in &ids {
            let status = status_of(&store, *id).await;
            ended += usize::from(status != JobStatus::Pending && status != JobStatus::Processing);
        }
        ended == ids.len()
    })
    .await;
    service.shutdown().await;
    assert_eq!(status_of(&store, ids[4]).await, JobStatus::DeadLetter);

    let minutes = throughput::per_minute(&store, Utc::now(), 60)
        .await
        .expect("throughput");
    assert_eq!(minutes.len(), 60);
    let completed: i64 = minutes.iter().map(|m| m.completed).sum();
    let failed: i64 = minutes.iter().map(|m| m.failed).sum();
    assert_eq!(
        (completed, failed),
        (3, 2),
        "FAILED and DEAD_LETTER count as failed"
    );
    let last = minutes.last().expect("a last minute");
    assert!(last.minute <= Utc::now() && Utc::now() - last.minute < TimeDelta::minutes(1));
    assert!(minutes
        .windows(2)
        .all(|w| w[1].minute - w[0].minute == TimeDelta::minutes(1)));

    let hours_later = Utc::now() + TimeDelta::hours(2);
    let later = throughput::per_minute(&store, hours_later, 60)
        .await
        .expect("throughput");
    assert!(
        later.iter().all(|m| m.completed == 0 && m.failed == 0),
        "{later:?}"
    );
}

on_both_backends!(
    maintenance_records_a_heartbeat_per_node,
    throughput_counts_jobs_ended_in_each_minute,
);
