//! Three nodes on one PostgreSQL database: no attempt runs twice, every job ends COMPLETED and
//! the work spreads over the three; a schedule firing every second fires exactly once per
//! second although one node is killed and restarted in the middle.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{TimeDelta, Timelike, Utc};
use serde_json::json;

use crate::audit::{doubles, ends, runs, StuckWatch};
use crate::common::{wait_until, Backend};
use crate::node::Node;
use crate::setup::{enqueue, now_epoch, report, rows, size, statuses, unfinished, Settings, World};

async fn three_nodes(world: &World) -> Vec<Node> {
    let mut nodes = Vec::new();
    for name in ["node-a", "node-b", "node-c"] {
        nodes.push(world.started(name).await);
    }
    nodes
}

pub async fn three_nodes_share_without_double_runs(backend: Backend) {
    let n = size(3_000, 100_000);
    let settings = Settings::default();
    let lease = settings.lease_ttl.as_secs_f64();
    let world = World::new(backend, settings).await;
    let db = &world.handle;
    let nodes = three_nodes(&world).await;

    let watch = StuckWatch::start(db);
    enqueue(db, n, 5, 3).await;
    wait_until(
        Duration::from_secs(size(180, 1800)),
        "every job finished",
        || async { unfinished(db).await == Some(0) },
    )
    .await;
    let worst_stuck = watch.finish().await;

    let ends = ends(db).await;
    let runs = runs(db).await;
    let completed = ends.iter().filter(|e| e.status == "COMPLETED").count();
    let doubles = doubles(&runs, &[], 0.0);
    let mut per_node: BTreeMap<&str, usize> = BTreeMap::new();
    for run in &runs {
        *per_node.entry(&run.node).or_default() += 1;
    }
    report(
        "three nodes",
        backend,
        json!({
            "jobs": n, "completed": completed, "lost": n - completed, "runs": runs.len(),
            "double_runs": doubles.rerun_jobs, "attempts_run_twice": doubles.repeated_attempts,
            "runs_per_node": per_node, "worst_processing_s": worst_stuck,
        }),
    );
    assert_eq!(completed, n, "not all COMPLETED: {:?}", statuses(db).await);
    assert_eq!(runs.len(), n, "a job ran more than once");
    assert_eq!(doubles.repeated_attempts, 0, "an attempt ran twice");
    assert!(
        worst_stuck <= lease + 5.0,
        "PROCESSING for {worst_stuck:.1}s"
    );
    assert_eq!(
        per_node.len(),
        3,
        "the work did not reach every node: {per_node:?}"
    );
    drop(nodes);
    world.finish().await;
}

pub async fn cron_fires_once_per_second_across_a_kill(backend: Backend) {
    let seconds = size(12, 50);
    let settings = Settings {
        extra: "[schedules.every_second]\ncron = \"* * * * * *\"\n\
                job_type = \"FAULT_PROBE\"\npayload = { tag = \"${fire_at}\" }\n\
                catch_up = \"latest\"\n"
            .to_owned(),
        ..Settings::default()
    };
    let world = World::new(backend, settings).await;
    let db = &world.handle;
    let mut nodes = three_nodes(&world).await;
    let watch = StuckWatch::start(db);

    // The window: whole seconds starting after every node runs.
    let now = Utc::now();
    let from = now.with_nanosecond(0).unwrap_or(now) + TimeDelta::seconds(2);
    let to = from + TimeDelta::seconds(seconds);
    let half = (to - Utc::now()).to_std().unwrap_or_default() / 2;
    tokio::time::sleep(half).await;
    let killed = now_epoch();
    nodes[1].kill();
    nodes[1].start();
    let rest = (to - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(rest + Duration::from_secs(2)).await;
    wait_until(Duration::from_secs(30), "fired jobs finished", || async {
        unfinished(db).await == Some(0)
    })
    .await;

    let sql = format!(
        "SELECT count(*), count(DISTINCT fire_at) FROM schedule_runs
         WHERE schedule = 'every_second' AND fire_at >= '{}' AND fire_at < '{}'",
        from.to_rfc3339(),
        to.to_rfc3339()
    );
    let worst_stuck = watch.finish().await;
    let counted: Vec<(i64, i64)> = rows(db, &sql).await.expect("count fires");
    let (fires, distinct) = counted[0];
    let runs = runs(db).await;
    let doubles = doubles(&runs, &[killed], 2.0);
    let fired_jobs = ends(db).await.len();
    report(
        "cron across a kill",
        backend,
        json!({
            "seconds": seconds, "nodes": 3, "kills": 1, "fires_expected": seconds,
            "fires_seen": fires, "distinct_fire_times": distinct, "jobs_fired_in_all": fired_jobs,
            "runs": runs.len(), "double_runs_outside_kills": doubles.unexplained,
            "worst_processing_s": worst_stuck,
        }),
    );
    assert_eq!(fires, seconds, "fires in {seconds} s");
    assert_eq!(distinct, seconds);
    assert_eq!(doubles.unexplained, 0, "a fired job ran twice");
    drop(nodes);
    world.finish().await;
}
