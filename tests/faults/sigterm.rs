//! SIGTERM under load: attempts in flight finish within the grace period or are handed back
//! without spending their attempt, and the process exits within the grace period plus 1 s.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use a1c_jobs::store::job as jobs;
use chrono::Utc;
use serde_json::json;

use crate::audit::{doubles, ends, runs, Run, StuckWatch};
use crate::common::{wait_until, Backend};
use crate::setup::{enqueue, now_epoch, probe, report, size, unfinished, Settings, World};

pub async fn sigterm_finishes_or_hands_back(backend: Backend) {
    let (n, job_ms, stops) = (size(300, 2000), 200, size(2, 5));
    let settings = Settings {
        concurrency: 20,
        grace: Duration::from_secs(2),
        ..Settings::default()
    };
    let (grace, lease) = (settings.grace, settings.lease_ttl);
    let world = World::new(backend, settings).await;
    let db = &world.handle;
    enqueue(db, n, job_ms, 3).await;
    // Jobs that outlast the grace period, so some are handed back at every stop.
    let long_ms = u64::try_from(grace.as_millis() * 3).unwrap_or(u64::MAX);
    let long: Vec<_> = (0..stops)
        .map(|_| probe(long_ms, "ok", 3).priority(1))
        .collect();
    jobs::insert_many(db, &long, Utc::now()).await.unwrap();

    let watch = StuckWatch::start(db);
    let mut node = world.started("term-node").await;
    let mut signals = Vec::new();
    let mut worst_exit = 0.0_f64;
    for _ in 0..stops {
        let before = runs(db).await.len();
        wait_until(Duration::from_secs(30), "jobs running", || async {
            runs(db).await.len() > before + 20
        })
        .await;
        let signalled = now_epoch();
        let at = Instant::now();
        node.terminate();
        let exited = node.wait_exit(grace + Duration::from_secs(10)).await;
        let took = at.elapsed().as_secs_f64();
        worst_exit = worst_exit.max(took);
        let status = exited.expect("node exits after SIGTERM");
        assert!(status.success(), "exit status after SIGTERM: {status}");
        assert!(
            took <= (grace + Duration::from_secs(1)).as_secs_f64(),
            "exited {took:.2}s after SIGTERM"
        );
        check_handed_back(db, signalled, grace.as_secs_f64()).await;
        signals.push(signalled);
        node.start();
    }
    wait_until(
        Duration::from_secs(size(60, 300)),
        "every job finished",
        || async { unfinished(db).await == Some(0) },
    )
    .await;

    let worst_stuck = watch.finish().await;
    let ends = ends(db).await;
    let runs = runs(db).await;
    let completed = ends.iter().filter(|e| e.status == "COMPLETED").count();
    let total = n + stops;
    let doubles = doubles(&runs, &signals, 0.0);
    let handed_back = runs.iter().filter(|r| r.ended.is_none()).count();
    report(
        "SIGTERM",
        backend,
        json!({
            "jobs": total, "sigterms": stops, "grace_s": grace.as_secs_f64(),
            "worst_exit_s": worst_exit, "handed_back": handed_back, "completed": completed,
            "lost": total - completed, "double_runs_outside_stops": doubles.unexplained,
            "worst_processing_s": worst_stuck, "lease_ttl_s": lease.as_secs_f64(),
        }),
    );
    assert_eq!(completed, total, "not all COMPLETED");
    assert_eq!(doubles.unexplained, 0, "a job ran again without a stop");
    // The longest job runs 3 times the grace period; none is held longer than it and a lease.
    let bound = long_ms as f64 / 1000.0 + lease.as_secs_f64() + 5.0;
    assert!(
        worst_stuck <= bound,
        "PROCESSING for {worst_stuck:.1}s, bound {bound:.1}s"
    );
    drop(node);
    world.finish().await;
}

/// After a stop at `signalled`: nothing is PROCESSING; every run in flight at the signal
/// either ended within the grace period or was handed back with its attempt unspent.
async fn check_handed_back(db: &a1c_jobs::store::Db, signalled: f64, grace: f64) {
    let ends: HashMap<String, _> = ends(db)
        .await
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect();
    assert!(
        ends.values().all(|e| e.status != "PROCESSING"),
        "a job was left PROCESSING by a stopped node"
    );
    let in_flight: Vec<Run> = runs(db)
        .await
        .into_iter()
        .filter(|r| r.started <= signalled && r.ended.is_none_or(|e| e >= signalled))
        .collect();
    for run in in_flight {
        let end = &ends[&run.job_id];
        match run.ended {
            Some(ended) => assert!(ended <= signalled + grace + 0.5, "ran past the grace"),
            None => {
                assert!(
                    end.status == "PENDING" || end.status == "RETRY",
                    "handed-back job is {}",
                    end.status
                );
                assert_eq!(
                    end.attempts,
                    run.attempt - 1,
                    "handing back spent the attempt"
                );
            }
        }
    }
}
