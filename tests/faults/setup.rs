//! What every scenario shares: the suite's size, the config of its nodes, enqueuing probe
//! jobs and reading back what happened.

use std::time::Duration;

use a1c_jobs::handlers::fault_probe::FAULT_PROBE;
use a1c_jobs::job::NewJob;
use a1c_jobs::store::{job as jobs, Db};
use chrono::Utc;
use serde_json::{json, Value};

use sqlx::Connection;

use crate::common::{admin_url, Backend, TestDb};
use crate::node::Node;

/// Whether the long soak runs (`A1C_FAULTS_SOAK=1`) instead of the CI-size suite.
pub fn soak() -> bool {
    std::env::var("A1C_FAULTS_SOAK").is_ok_and(|v| v == "1")
}

/// Jobs the probe's pool claims beyond its free slots (`A1C_FAULTS_PREFETCH=N`; default 0).
pub fn prefetch() -> u32 {
    std::env::var("A1C_FAULTS_PREFETCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `ci` in the CI-size suite, `full` in the soak.
pub fn size<T>(ci: T, full: T) -> T {
    if soak() {
        full
    } else {
        ci
    }
}

/// The probe pool and service timings of one scenario.
#[derive(Debug, Clone)]
pub struct Settings {
    pub concurrency: u32,
    pub lease_ttl: Duration,
    pub timeout: Duration,
    pub grace: Duration,
    pub poll_interval: Duration,
    /// Also run the pools of the shipped job types (off: only the probe runs).
    pub domain_pools: bool,
    /// The probe pool's backoff, as TOML.
    pub backoff: String,
    /// TOML added at the end (schedules).
    pub extra: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            concurrency: 10,
            lease_ttl: Duration::from_secs(2),
            timeout: Duration::from_secs(60),
            grace: Duration::from_secs(3),
            poll_interval: Duration::from_secs(1),
            domain_pools: false,
            backoff: "{ base = \"100ms\", max = \"1s\", jitter = 0.1 }".to_owned(),
            extra: String::new(),
        }
    }
}

const DOMAIN_POOLS: [&str; 6] = [
    "CALCULATE_A1C",
    "SEND_REMINDER",
    "GENERATE_REPORT",
    "CLEANUP_DATA",
    "SWEEP_REMINDERS",
    "SWEEP_REPORTS",
];

const SCHEDULES: [&str; 5] = [
    "cleanup",
    "reminders",
    "weekly_reports",
    "monthly_reports",
    "quarterly_reports",
];

fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

impl Settings {
    /// The config file's text: the shipped schedules off, the probe's pool on, HTTP on a port of
    /// its own, so nodes side by side never contend for one.
    pub fn toml(&self) -> String {
        let mut text = format!(
            "[service]\npoll_interval = \"{}\"\nshutdown_grace = \"{}\"\n\
             scheduler_tick = \"200ms\"\n\
             [http]\nbind = \"127.0.0.1:0\"\n\
             [maintenance]\ninterval = \"250ms\"\nunknown_type_after = \"1s\"\n\
             [pools.{FAULT_PROBE}]\nconcurrency = {}\nbatch_size = {}\nprefetch = {}\n\
             timeout = \"{}\"\nlease_ttl = \"{}\"\nmax_attempts = 3\nbackoff = {}\n",
            ms(self.poll_interval),
            ms(self.grace),
            self.concurrency,
            self.concurrency + prefetch(),
            prefetch(),
            ms(self.timeout),
            ms(self.lease_ttl),
            self.backoff,
        );
        for pool in DOMAIN_POOLS.iter().filter(|_| !self.domain_pools) {
            text.push_str(&format!("[pools.{pool}]\nenabled = false\n"));
        }
        for schedule in SCHEDULES {
            text.push_str(&format!("[schedules.{schedule}]\nenabled = false\n"));
        }
        text.push_str(&self.extra);
        text
    }
}

/// A scenario's world: a fresh database, a directory for configs and logs, its nodes.
///
/// Dropping it drops the PostgreSQL database, also when the scenario panicked (its nodes,
/// declared after it, are killed first).
pub struct World {
    pub db: TestDb,
    pub handle: Db,
    pub dir: tempfile::TempDir,
    /// A database of the PostgreSQL server the database is on, to drop it from.
    admin: String,
}

impl World {
    /// A fresh database of `backend` and the config file of `settings`.
    pub async fn new(backend: Backend, settings: Settings) -> Self {
        Self::on_server(backend, settings, &admin_url()).await
    }

    /// A fresh database on the PostgreSQL server of `admin` (see [`TestDb::on_server`]).
    pub async fn on_server(backend: Backend, settings: Settings, admin: &str) -> Self {
        let db = TestDb::on_server(backend, admin).await;
        let handle = db.open();
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("config.toml"), settings.toml()).expect("write config");
        let admin = admin.to_owned();
        Self {
            db,
            handle,
            dir,
            admin,
        }
    }

    /// A node of this world, not started yet.
    pub fn node(&self, name: &str) -> Node {
        Node::new(name, &self.db.url, &self.dir.path().join("config.toml"))
    }

    /// A started node, once it runs.
    pub async fn started(&self, name: &str) -> Node {
        let mut node = self.node(name);
        node.start();
        node.wait_started().await;
        node
    }

    /// Closes the handle and drops the database.
    pub async fn finish(self) {
        self.handle.close().await;
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if self.db.backend != Backend::Postgres {
            return;
        }
        let Some(name) = self.db.url.rsplit('/').next().map(str::to_owned) else {
            return;
        };
        let admin = self.admin.clone();
        // Drop may run inside the scenario's runtime, which cannot be blocked on: the database
        // is dropped from a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime to drop the test database");
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(&sql).execute(&mut conn).await.map(drop)
            })
        });
        if let Ok(Err(err)) = dropped.join() {
            eprintln!("test database not dropped: {err}");
        }
    }
}

/// A probe job: sleeps `ms`, then does `mode`; `max_attempts` runs allowed.
pub fn probe(ms: u64, mode: &str, max_attempts: i32) -> NewJob {
    NewJob::new(FAULT_PROBE, json!({"ms": ms, "mode": mode})).max_attempts(max_attempts)
}

/// Enqueues `n` probe jobs of `ms` each, in bulk.
pub async fn enqueue(db: &Db, n: usize, ms: u64, max_attempts: i32) {
    let batch: Vec<NewJob> = (0..n).map(|_| probe(ms, "ok", max_attempts)).collect();
    for chunk in batch.chunks(5000) {
        jobs::insert_many(db, chunk, Utc::now())
            .await
            .expect("enqueue probe jobs");
    }
}

/// Runs `sql` (written with `$n` placeholders, valid on both backends) binding nothing, and
/// returns its rows as `T`.
pub async fn rows<T>(db: &Db, sql: &str) -> Result<Vec<T>, sqlx::Error>
where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
{
    match db {
        Db::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await,
        Db::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await,
    }
}

/// Runs a statement that returns nothing.
pub async fn execute(db: &Db, sql: &str) -> Result<(), sqlx::Error> {
    match db {
        Db::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        Db::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop),
    }
}

/// Seconds since the epoch of a time column, on either backend.
pub fn epoch(db: &Db, column: &str) -> String {
    match db {
        Db::Postgres(_) => format!("extract(epoch FROM {column})::float8"),
        Db::Sqlite(_) => format!("(julianday({column}) - 2440587.5) * 86400.0"),
    }
}

/// A uuid column as text, on either backend.
pub fn text(db: &Db, column: &str) -> String {
    match db {
        Db::Postgres(_) => format!("{column}::text"),
        Db::Sqlite(_) => column.to_owned(),
    }
}

/// How many jobs have each status: (status, count).
pub async fn statuses(db: &Db) -> Vec<(String, i64)> {
    let sql = "SELECT status, count(*) FROM job_queue GROUP BY status ORDER BY status";
    rows(db, sql).await.unwrap_or_default()
}

/// How many jobs are not in a final status.
pub async fn unfinished(db: &Db) -> Option<i64> {
    let sql = "SELECT count(*) FROM job_queue
         WHERE status IN ('PENDING', 'RETRY', 'PROCESSING')";
    let counted: Vec<(i64,)> = rows(db, sql).await.ok()?;
    counted.first().map(|c| c.0)
}

/// Seconds since the epoch now, as the database columns measure it.
pub fn now_epoch() -> f64 {
    let now = Utc::now();
    now.timestamp_micros() as f64 / 1e6
}

/// A figure for `docs/reliability.md`: printed as one line, `FAULTS {json}`.
pub fn report(scenario: &str, backend: Backend, figures: Value) {
    let mut line = json!({"scenario": scenario, "backend": format!("{backend:?}")});
    if let (Some(out), Some(fields)) = (line.as_object_mut(), figures.as_object()) {
        out.extend(fields.clone());
    }
    eprintln!("FAULTS {line}");
}
