//! kill -9 under load: every job ends COMPLETED, none is lost, a job runs again only when it
//! was in flight at a kill, and nothing stays PROCESSING past its lease plus 5 s.

use std::time::Duration;

use rand::Rng;
use serde_json::json;

use crate::audit::{doubles, ends, runs, StuckWatch};
use crate::common::{wait_until, Backend};
use crate::setup::{enqueue, now_epoch, report, size, statuses, unfinished, Settings, World};

pub async fn kill_nine_loses_nothing(backend: Backend) {
    let (n, job_ms, kills) = (size(400, 2000), 200, size(4, 20));
    let settings = Settings {
        concurrency: 20,
        ..Settings::default()
    };
    let lease = settings.lease_ttl.as_secs_f64();
    let world = World::new(backend, settings).await;
    let db = &world.handle;
    // Ten runs allowed: an attempt in flight at a kill is spent, and no job should run out.
    enqueue(db, n, job_ms, 10).await;
    let watch = StuckWatch::start(db);

    let mut node = world.started("kill-node").await;
    let mut stops = Vec::new();
    let mut mid_load = 0;
    for _ in 0..kills {
        let pause = rand::rng().random_range(500..1500);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        if unfinished(db).await.unwrap_or(0) > 0 {
            mid_load += 1;
        }
        stops.push(now_epoch());
        node.kill();
        node.start();
    }
    let limit = Duration::from_secs(size(120, 600));
    wait_until(limit, "every job finished", || async {
        unfinished(db).await == Some(0)
    })
    .await;
    let worst_stuck = watch.finish().await;

    let ends = ends(db).await;
    let runs = runs(db).await;
    let completed = ends.iter().filter(|e| e.status == "COMPLETED").count();
    let doubles = doubles(&runs, &stops, 2.0);
    report(
        "kill -9",
        backend,
        json!({
            "jobs": n, "job_ms": job_ms, "kills": kills, "kills_mid_load": mid_load,
            "restarts": node.starts - 1, "completed": completed, "lost": n - completed,
            "runs": runs.len(), "reruns_at_kills": doubles.explained,
            "double_runs_outside_kills": doubles.unexplained,
            "attempts_run_twice": doubles.repeated_attempts,
            "worst_processing_s": worst_stuck, "lease_ttl_s": lease,
        }),
    );
    assert_eq!(ends.len(), n, "jobs lost from the table");
    assert_eq!(completed, n, "not all COMPLETED: {:?}", statuses(db).await);
    assert_eq!(doubles.unexplained, 0, "a job ran again without a kill");
    assert_eq!(doubles.repeated_attempts, 0, "an attempt ran twice");
    let bound = job_ms as f64 / 1000.0 + lease + 5.0;
    assert!(
        worst_stuck <= bound,
        "PROCESSING for {worst_stuck:.1}s, bound {bound:.1}s"
    );
    drop(node);
    world.finish().await;
}
