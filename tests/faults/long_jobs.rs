//! Long jobs: an attempt running three times its lease_ttl keeps its lease by renewal and is
//! never rescued while its node lives; when its node is killed, it is rescued within
//! lease_ttl plus 5 s.

use std::time::{Duration, Instant};

use a1c_jobs::store::job as jobs;
use chrono::Utc;
use serde_json::json;

use crate::audit::{ends, runs};
use crate::common::{wait_until, Backend};
use crate::setup::{probe, report, rows, text, Settings, World};

pub async fn long_jobs_keep_their_lease(backend: Backend) {
    let settings = Settings::default();
    let lease = settings.lease_ttl;
    let long_ms = u64::try_from(lease.as_millis() * 3).unwrap_or(u64::MAX);
    let world = World::new(backend, settings).await;
    let db = &world.handle;
    let mut node = world.started("long-a").await;

    // Alive: one run, never rescued.
    let alive = jobs::insert(db, &probe(long_ms, "ok", 3), Utc::now())
        .await
        .unwrap();
    wait_until(Duration::from_secs(60), "long job completed", || async {
        ends(db).await.iter().any(|e| e.status == "COMPLETED")
    })
    .await;
    let alive_runs = runs(db).await.len();
    let alive_end = ends(db)
        .await
        .into_iter()
        .find(|e| e.id == alive.to_string());
    let alive_end = alive_end.expect("the long job");
    assert_eq!(alive_runs, 1, "a live attempt was rescued and run again");
    assert_eq!(alive_end.attempts, 1);
    assert_eq!(alive_end.error, None, "the live attempt was rescued");

    // Killed: rescued within lease_ttl + 5 s.
    let killed = jobs::insert(db, &probe(long_ms, "ok", 3), Utc::now())
        .await
        .unwrap();
    wait_until(
        Duration::from_secs(30),
        "second long job running",
        || async { runs(db).await.len() == 2 },
    )
    .await;
    tokio::time::sleep(lease / 2).await;
    node.kill();
    let at = Instant::now();
    node.start();
    let sql = format!(
        "SELECT status, attempts FROM job_queue WHERE {} = '{killed}'",
        text(db, "id")
    );
    wait_until(
        lease + Duration::from_secs(5),
        "killed job rescued",
        || async {
            // Rescued, or rescued and claimed again already.
            let status: Vec<(String, i32)> = rows(db, &sql).await.unwrap_or_default();
            status
                .first()
                .is_some_and(|s| s.0 != "PROCESSING" || s.1 > 1)
        },
    )
    .await;
    let rescued_after = at.elapsed().as_secs_f64();
    wait_until(Duration::from_secs(60), "rescued job completed", || async {
        let status: Vec<(String, i32)> = rows(db, &sql).await.unwrap_or_default();
        status.first().is_some_and(|s| s.0 == "COMPLETED")
    })
    .await;
    let runs = runs(db).await;
    report(
        "long jobs",
        backend,
        json!({
            "lease_ttl_s": lease.as_secs_f64(), "job_s": long_ms as f64 / 1000.0,
            "runs_while_alive": alive_runs, "rescued_after_kill_s": rescued_after,
            "runs_in_all": runs.len(),
        }),
    );
    assert_eq!(
        runs.len(),
        3,
        "the killed job ran once more, the live one once"
    );
    drop(node);
    world.finish().await;
}
