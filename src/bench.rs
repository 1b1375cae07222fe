//! The driver of the side-by-side benchmark: the modes and output of the peers' harness
//! (`setup | enqueue | work | latency-worker | latency-producer`), on PostgreSQL or SQLite.
//!
//! Environment, as the harness sets it: `DATABASE_URL`, `N`, `CONCURRENCY`, `LAT_JOBS`,
//! `LAT_INTERVAL_MS`, `RESULT_FILE`, `READY_FILE`; `BENCH_BATCH` and `BENCH_PREFETCH` set the
//! pool's batch size and prefetch (500 and 1000 unless set).
//! Each mode writes one JSON line to `RESULT_FILE`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use chrono::Utc;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::handlers::{Handler, Handlers, JobContext};
use crate::job::{NewJob, Outcome};
use crate::store::{job as jobs, Db};
use crate::{Config, Service};

/// The job type the benchmark enqueues and runs.
pub const BENCH_NOOP: &str = "BENCH_NOOP";

/// The harness's knobs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub n: usize,
    pub concurrency: u32,
    pub batch_size: u32,
    pub prefetch: u32,
    pub lat_jobs: usize,
    pub lat_interval: Duration,
}

impl Settings {
    /// From the harness's environment variables, with its defaults.
    pub fn from_env() -> Self {
        let num = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Self {
            n: usize::try_from(num("N", 20_000)).unwrap_or(20_000),
            concurrency: u32::try_from(num("CONCURRENCY", 10)).unwrap_or(10),
            batch_size: u32::try_from(num("BENCH_BATCH", 500)).unwrap_or(500),
            prefetch: u32::try_from(num("BENCH_PREFETCH", 1000)).unwrap_or(1000),
            lat_jobs: usize::try_from(num("LAT_JOBS", 200)).unwrap_or(200),
            lat_interval: Duration::from_millis(num("LAT_INTERVAL_MS", 20)),
        }
    }

    fn describe(&self) -> Value {
        json!({
            "concurrency": self.concurrency,
            "batch_size": self.batch_size,
            "prefetch": self.prefetch,
            "enqueue_api": "store::job::insert_many (one INSERT ... SELECT FROM unnest)",
            "wakeup": "LISTEN/NOTIFY, 1 s polling fallback",
        })
    }
}

/// Counts runs and collects pickup latencies.
#[derive(Clone, Default)]
struct Noop {
    count: Arc<AtomicUsize>,
    target: Arc<AtomicUsize>,
    latencies: Arc<Mutex<Vec<f64>>>,
    done: Arc<Notify>,
}

impl Handler for Noop {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Outcome> {
        let sent_ms = ctx.job.payload.get("t").and_then(Value::as_f64);
        let seen = match sent_ms {
            Some(sent) => {
                let mut lat = self
                    .latencies
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                lat.push(now_ms() - sent);
                lat.len()
            }
            None => self.count.fetch_add(1, Ordering::Relaxed) + 1,
        };
        if seen == self.target.load(Ordering::Relaxed) {
            self.done.notify_one();
        }
        async { Outcome::Complete(Value::Null) }.boxed()
    }
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Runs one mode.
///
/// # Errors
///
/// An unknown mode, an unreachable database, or a result file that cannot be written.
pub fn run(mode: &str, config: Config) -> anyhow::Result<()> {
    let settings = Settings::from_env();
    let system = actix_rt::System::new();
    system.block_on(async move {
        let db = Db::open(&config.database)?;
        match mode {
            "setup" => db.migrate().await.context("migrate")?,
            "enqueue" => enqueue(&db, &settings).await?,
            "work" => work(config, &db, &settings).await?,
            "latency-worker" => latency_worker(config, &settings).await?,
            "latency-producer" => latency_producer(&db, &settings).await?,
            other => anyhow::bail!("unknown bench mode {other:?}"),
        }
        db.close().await;
        Ok(())
    })
}

fn output(mut value: Value) -> anyhow::Result<()> {
    value["peer"] = json!("a1c-jobs");
    let path = std::env::var("RESULT_FILE").unwrap_or_else(|_| "/dev/stdout".to_owned());
    std::fs::write(&path, format!("{value}\n")).with_context(|| format!("write {path}"))
}

/// Transactions committed in this database so far (PostgreSQL's statistics, which lag by up
/// to half a second); `None` on SQLite.
async fn commits(db: &Db) -> anyhow::Result<Option<i64>> {
    let Db::Postgres(pool) = db else {
        return Ok(None);
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    let sql = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()";
    Ok(Some(sqlx::query_scalar(sql).fetch_one(pool).await?))
}

async fn unfinished(db: &Db) -> anyhow::Result<i64> {
    let sql = "SELECT count(*) FROM job_queue WHERE job_type = $1 AND status <> 'COMPLETED'";
    Ok(match db {
        Db::Postgres(pool) => {
            sqlx::query_scalar(sql)
                .bind(BENCH_NOOP)
                .fetch_one(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            sqlx::query_scalar(sql)
                .bind(BENCH_NOOP)
                .fetch_one(pool)
                .await?
        }
    })
}

async fn enqueue(db: &Db, settings: &Settings) -> anyhow::Result<()> {
    let batch: Vec<NewJob> = (0..settings.n)
        .map(|i| NewJob::new(BENCH_NOOP, json!({ "i": i })))
        .collect();
    let started = Instant::now();
    jobs::insert_many(db, &batch, Utc::now()).await?;
    let seconds = started.elapsed().as_secs_f64();
    output(json!({
        "phase": "enqueue", "n": settings.n, "seconds": seconds,
        "rows_in_queue": unfinished(db).await?, "settings": settings.describe(),
    }))
}

fn bench_config(mut config: Config, settings: &Settings) -> anyhow::Result<Config> {
    let text = format!(
        "[pools.{BENCH_NOOP}]\nconcurrency = {}\nbatch_size = {}\nprefetch = {}\n\
         timeout = \"30s\"\nlease_ttl = \"30s\"\n",
        settings.concurrency, settings.batch_size, settings.prefetch
    );
    let layered = Config::from_toml_layers(&[&text])?;
    config.pools = layered.pools;
    config.pools.retain(|t, _| t == BENCH_NOOP);
    config.schedules.clear();
    Ok(config)
}

async fn start(config: Config, settings: &Settings, noop: &Noop) -> anyhow::Result<Service> {
    let mut handlers = Handlers::default();
    handlers.register(BENCH_NOOP, noop.clone());
    Ok(Service::start(bench_config(config, settings)?, handlers).await?)
}

async fn work(config: Config, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    let noop = Noop::default();
    noop.target.store(settings.n, Ordering::Relaxed);
    let done = noop.done.notified();
    tokio::pin!(done);
    done.as_mut().enable();

    let commits_before = commits(db).await?;
    let started = Instant::now();
    let service = start(config, settings, &noop).await?;
    done.await;
    let mut left = unfinished(db).await?;
    while left > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        left = unfinished(db).await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    service.shutdown_within(Duration::from_secs(1)).await;
    // Every commit of the run: the pool's cycles, plus a few for start-up and shutdown.
    let commits = commits(db)
        .await?
        .zip(commits_before)
        .map(|(after, before)| after - before);
    output(json!({
        "phase": "work", "n": settings.n, "seconds": seconds,
        "handled": noop.count.load(Ordering::Relaxed), "left_after": left, "commits": commits,
        "settings": settings.describe(),
    }))
}

async fn latency_worker(config: Config, settings: &Settings) -> anyhow::Result<()> {
    let noop = Noop::default();
    noop.target.store(settings.lat_jobs, Ordering::Relaxed);
    let done = noop.done.notified();
    tokio::pin!(done);
    done.as_mut().enable();

    let service = start(config, settings, &noop).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    if let Ok(ready) = std::env::var("READY_FILE") {
        std::fs::write(ready, "ready\n")?;
    }
    let _ = tokio::time::timeout(Duration::from_secs(60), done).await;
    service.shutdown_within(Duration::from_secs(1)).await;
    let latencies = noop
        .latencies
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    output(json!({
        "phase": "latency", "jobs": settings.lat_jobs, "received": latencies.len(),
        "latencies_ms": latencies, "settings": settings.describe(),
    }))
}

async fn latency_producer(db: &Db, settings: &Settings) -> anyhow::Result<()> {
    let start = Instant::now() + Duration::from_millis(50);
    for i in 0..settings.lat_jobs {
        let due = start + settings.lat_interval * u32::try_from(i).unwrap_or(u32::MAX);
        tokio::time::sleep_until(due.into()).await;
        let job = NewJob::new(BENCH_NOOP, json!({ "i": i, "t": now_ms() }));
        jobs::insert(db, &job, Utc::now()).await?;
    }
    Ok(())
}
