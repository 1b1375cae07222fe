//! The database goes away under load: PostgreSQL stops for a few seconds, then the service's
//! backends are terminated. The server is a private one (see [`crate::cluster`]), so the
//! outage touches nothing else. The service stays up, logs each outage once (one line however
//! many actors meet it), claims again within 5 s of the database coming back, loses nothing,
//! and listens again: with polling set to 30 s, a job inserted after the outage is still
//! picked up at once.

use std::time::{Duration, Instant};

use a1c_jobs::store::{job as jobs, Db};
use chrono::Utc;
use serde_json::json;
use sqlx::Connection;

use crate::audit::{doubles, ends, runs, StuckWatch};
use crate::cluster::Cluster;
use crate::common::{wait_until, Backend};
use crate::setup::{
    enqueue, epoch, now_epoch, probe, report, rows, size, unfinished, Settings, World,
};

/// Polling this slow means a quick pickup can only come from a notification.
const SLOW_POLL: Duration = Duration::from_secs(30);

/// What the service logs, once, when it finds the database gone.
const DOWN_LINE: &str = "database unavailable";

/// How long PostgreSQL stays stopped in the restart.
const DOWN_FOR: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy)]
enum Outage {
    Restart,
    Terminate,
}

pub async fn database_outages_are_survived(backend: Backend) {
    let n = size(300, 2000);
    let settings = Settings {
        poll_interval: SLOW_POLL,
        // A query gives up waiting for a connection after 1 s, so a restart of a few seconds
        // is an outage the service sees (and must log once), not just a slow query.
        extra: "[database]\nacquire_timeout = \"1s\"\n".to_owned(),
        lease_ttl: Duration::from_secs(20),
        ..Settings::default()
    };
    // Declared first, so it is dropped (stopped and deleted) after the node and the database.
    let cluster = Cluster::start().await;
    let world = World::on_server(backend, settings, &cluster.admin_url()).await;
    let db = &world.handle;
    let mut node = world.started("db-node").await;
    let baseline = pickup(db).await;
    let watch = StuckWatch::start(db);

    let mut figures = Vec::new();
    let mut outages_logged = 0;
    for outage in [Outage::Restart, Outage::Terminate] {
        enqueue(db, n, 100, 3).await;
        let before = runs(db).await.len();
        wait_until(Duration::from_secs(30), "load running", || async {
            runs(db).await.len() > before + 20
        })
        .await;
        let down = Instant::now();
        cut(outage, &cluster, &world.db.url).await;
        let up = now_epoch();
        let outage_s = down.elapsed().as_secs_f64();
        let resumed = resumed_after(db, up).await;
        wait_until(Duration::from_secs(60), "load finished", || async {
            unfinished(db).await == Some(0)
        })
        .await;
        assert!(!node.has_exited(), "the service died in the outage");
        let after = pickup(db).await;
        let logged = node.log_count(DOWN_LINE) - outages_logged;
        outages_logged += logged;
        figures.push(json!({
            "outage": format!("{outage:?}"), "outage_s": outage_s,
            "resumed_after_s": resumed, "pickup_after_ms": after * 1000.0,
            "outage_lines": logged,
        }));
        assert!(
            resumed <= 5.0,
            "resumed {resumed:.1}s after the database came back"
        );
        assert!(after < 5.0, "pickup took {after:.1}s: not listening again");
        // A stop is seen by every actor (pool, listener, maintenance): one line for all. A
        // terminated backend may only cost the statements it was running: at most one line.
        match outage {
            Outage::Restart => assert_eq!(logged, 1, "the restart was logged {logged} times"),
            Outage::Terminate => assert!(logged <= 1, "the cut was logged {logged} times"),
        }
    }

    let worst_stuck = watch.finish().await;
    let ends = ends(db).await;
    let runs = runs(db).await;
    let completed = ends.iter().filter(|e| e.status == "COMPLETED").count();
    let doubles = doubles(&runs, &[], 0.0);
    let logged = [
        DOWN_LINE,
        "database reachable again",
        "database operation failed",
        "listener cannot connect",
        "maintenance failed",
        "scheduler failed",
    ]
    .map(|m| (m, node.log_count(m)));
    report(
        "database outage",
        backend,
        json!({
            "jobs": ends.len(), "completed": completed, "lost": ends.len() - completed,
            "double_runs": doubles.unexplained + doubles.repeated_attempts,
            "pickup_before_ms": baseline * 1000.0, "outages": figures,
            "log_lines": logged.iter().map(|(m, c)| json!({"message": m, "count": c}))
                .collect::<Vec<_>>(),
            "service_restarts": node.starts - 1, "worst_processing_s": worst_stuck,
        }),
    );
    assert_eq!(completed, ends.len(), "not all COMPLETED");
    assert_eq!(
        doubles.unexplained + doubles.repeated_attempts,
        0,
        "a job ran twice"
    );
    assert_eq!(
        logged[1].1, outages_logged,
        "every outage logged must be logged as over"
    );
    for (message, count) in &logged[2..] {
        assert_eq!(
            *count, 0,
            "{message:?} logged: the outage is the outage line's to log"
        );
    }
    drop(node);
    world.finish().await;
    drop(cluster);
}

/// Stops the server for [`DOWN_FOR`] and starts it again, or terminates every backend of the
/// database at `url`; returns once the server answers again.
async fn cut(outage: Outage, cluster: &Cluster, url: &str) {
    match outage {
        Outage::Restart => {
            // Stopped and started rather than restarted, so the server is away for a set time,
            // longer than the service's acquire timeout: every query fails meanwhile.
            cluster.stop();
            tokio::time::sleep(DOWN_FOR).await;
            cluster.restart().await;
        }
        Outage::Terminate => {
            let name = url.rsplit('/').next().expect("database name in url");
            let mut admin = sqlx::PgConnection::connect(&cluster.admin_url())
                .await
                .unwrap();
            let sql = format!(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            );
            let killed: i64 = sqlx::query_scalar(&sql)
                .fetch_one(&mut admin)
                .await
                .unwrap();
            assert!(killed > 0, "no backend of the service to terminate");
            admin.close().await.ok();
        }
    }
}

/// Seconds from `up` until the first claim after it.
async fn resumed_after(db: &Db, up: f64) -> f64 {
    let sql = format!(
        "SELECT min({}) FROM job_queue WHERE {} > {up}",
        epoch(db, "started_at"),
        epoch(db, "started_at")
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let first: Option<(Option<f64>,)> = rows(db, &sql).await.ok().and_then(|mut r| r.pop());
        if let Some((Some(at),)) = first {
            return at - up;
        }
        assert!(Instant::now() < deadline, "no job claimed after the outage");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Seconds from inserting one job to its run starting, the worst of five.
async fn pickup(db: &Db) -> f64 {
    let mut worst = 0.0_f64;
    for _ in 0..5 {
        let sent = now_epoch();
        let id = jobs::insert(db, &probe(0, "ok", 3), Utc::now())
            .await
            .unwrap();
        let sql = format!(
            "SELECT {} FROM fault_probe_runs WHERE job_id = '{id}'",
            epoch(db, "started_at")
        );
        let deadline = Instant::now() + SLOW_POLL;
        let started = loop {
            let found: Vec<(f64,)> = rows(db, &sql).await.unwrap_or_default();
            if let Some((at,)) = found.first() {
                break *at;
            }
            assert!(Instant::now() < deadline, "job {id} not picked up");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        worst = worst.max(started - sent);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worst
}
