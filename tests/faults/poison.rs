//! Poison jobs: a handler that panics, one that hangs past its timeout and one that aborts
//! the whole process each end DEAD_LETTER after exactly max_attempts runs; the other jobs keep
//! flowing and the pool is never left dead.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use a1c_jobs::store::job as jobs;
use chrono::Utc;
use serde_json::json;

use crate::audit::{ends, runs};
use crate::common::{wait_until, Backend};
use crate::setup::{enqueue, probe, report, rows, size, text, unfinished, Settings, World};

const MAX_ATTEMPTS: i32 = 3;

pub async fn poison_jobs_are_dead_lettered(backend: Backend) {
    let settings = Settings {
        concurrency: 4,
        timeout: Duration::from_secs(1),
        poll_interval: Duration::from_millis(100),
        ..Settings::default()
    };
    let world = World::new(backend, settings).await;
    let db = &world.handle;
    let flowing = size_of_flow();
    // The panic and the hang first, beside a flow of ordinary jobs; the abort once they are
    // dead-lettered, beside a second flow: a process that dies takes the attempts running
    // beside it, so the aborting job is kept away from the first two.
    let first = [
        probe(0, "panic", MAX_ATTEMPTS),
        probe(0, "hang", MAX_ATTEMPTS),
    ];
    let mut ids = jobs::insert_many(db, &first, Utc::now()).await.unwrap();
    enqueue(db, flowing / 2, 50, MAX_ATTEMPTS).await;
    let dead_sql = format!(
        "SELECT count(*) FROM job_queue WHERE status = 'DEAD_LETTER' AND {} IN ('{}', '{}')",
        text(db, "id"),
        ids[0],
        ids[1]
    );

    // Restart the node whenever the aborting job took it down, as a process manager would.
    let mut node = world.started("poison-node").await;
    let mut aborts = 0;
    let deadline = Instant::now() + Duration::from_secs(size(120, 300));
    loop {
        assert!(Instant::now() < deadline, "poison scenario did not settle");
        if node.has_exited() {
            aborts += 1;
            node.start();
        }
        if ids.len() == first.len() {
            let dead: Vec<(i64,)> = rows(db, &dead_sql).await.unwrap_or_default();
            if dead.first().is_some_and(|d| d.0 == 2) {
                let abort = probe(0, "abort", MAX_ATTEMPTS);
                ids.push(jobs::insert(db, &abort, Utc::now()).await.unwrap());
                enqueue(db, flowing - flowing / 2, 50, MAX_ATTEMPTS).await;
            }
        } else if unfinished(db).await == Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The pool still works: one more job completes on the same process.
    let starts = node.starts;
    let last = jobs::insert(db, &probe(0, "ok", 1), Utc::now())
        .await
        .unwrap();
    wait_until(Duration::from_secs(30), "pool still runs jobs", || async {
        ends(db)
            .await
            .iter()
            .any(|e| e.id == last.to_string() && e.status == "COMPLETED")
    })
    .await;
    assert_eq!(node.starts, starts, "the node had to restart to run a job");

    let ends: HashMap<String, _> = ends(db)
        .await
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect();
    let runs = runs(db).await;
    let mut poison_figures = Vec::new();
    for (mode, id) in ["panic", "hang", "abort"].iter().zip(&ids) {
        let end = &ends[&id.to_string()];
        let ran = runs.iter().filter(|r| r.job_id == id.to_string()).count();
        poison_figures.push(json!({
            "mode": mode, "status": end.status, "runs": ran, "error": end.error,
        }));
        assert_eq!(end.status, "DEAD_LETTER", "{mode} job");
        assert_eq!(
            ran,
            usize::try_from(MAX_ATTEMPTS).unwrap(),
            "{mode} job runs"
        );
    }
    let completed = ends.values().filter(|e| e.status == "COMPLETED").count();
    report(
        "poison",
        backend,
        json!({
            "max_attempts": MAX_ATTEMPTS, "poison": poison_figures, "aborts": aborts,
            "other_jobs": flowing + 1, "other_completed": completed,
        }),
    );
    assert_eq!(completed, flowing + 1, "other jobs did not all complete");
    drop(node);
    world.finish().await;
}

fn size_of_flow() -> usize {
    size(100, 1000)
}
