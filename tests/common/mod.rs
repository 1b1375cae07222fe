//! Shared test helpers: a fresh database per test on either backend, a recording job
//! handler, and waiting on conditions.
#![allow(dead_code)]

pub mod api;
pub mod smtp;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use a1c_jobs::handlers::{Handler, Handlers, JobContext};
use a1c_jobs::job::{ClaimedJob, JobStatus, NewJob, Outcome};
use a1c_jobs::store::{job as jobs, Db};
use a1c_jobs::{Config, Service};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde_json::{json, Value};
use sqlx::Connection;
use uuid::Uuid;

/// The job type of [`Recorder`].
pub const TEST_WORK: &str = "TEST_WORK";

/// Where PostgreSQL tests create their databases. They fail, never skip, when it is down.
pub fn admin_url() -> String {
    std::env::var("A1C_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A fresh, empty database; dropped by [`TestDb::cleanup`].
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Creates the database and runs the migrations.
    pub async fn new(backend: Backend) -> Self {
        Self::on_server(backend, &admin_url()).await
    }

    /// Creates the database on the PostgreSQL server of `admin` (a URL of a database there;
    /// unused for SQLite) and runs the migrations.
    pub async fn on_server(backend: Backend, admin: &str) -> Self {
        let db = match backend {
            Backend::Postgres => {
                let name = format!("a1c_test_{}", Uuid::new_v4().simple());
                let mut admin_conn = sqlx::PgConnection::connect(admin)
                    .await
                    .expect("PostgreSQL must be reachable for the PostgreSQL tests");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin_conn)
                    .await
                    .expect("create test database");
                admin_conn.close().await.ok();
                let url = match admin.rfind('/') {
                    Some(i) => format!("{}/{name}", &admin[..i]),
                    None => panic!("{admin} has no database part"),
                };
                TestDb {
                    backend,
                    url,
                    name,
                    _dir: None,
                }
            }
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
                TestDb {
                    backend,
                    url,
                    name: String::new(),
                    _dir: Some(dir),
                }
            }
        };
        db.open().migrate().await.expect("migrate");
        db
    }

    /// A new handle to the database.
    pub fn open(&self) -> Db {
        let config = self.config("");
        Db::open_with(&config.database, 8).expect("open database")
    }

    /// The defaults with fast timings, this database, and `extra` TOML over them. The default
    /// sweep schedules are off, so that no test sees jobs it did not enqueue.
    pub fn config(&self, extra: &str) -> Config {
        config_for(&self.url, extra)
    }

    /// Drops the PostgreSQL database (SQLite files go with their temp dir).
    pub async fn cleanup(self) {
        if self.backend == Backend::Postgres {
            if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url()).await {
                let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
                sqlx::query(&sql).execute(&mut admin).await.ok();
            }
        }
    }
}

/// The test defaults of [`TestDb::config`] for the database at `url`, `extra` over them.
pub fn config_for(url: &str, extra: &str) -> Config {
    let text = format!(
        r#"
        [database]
        url = "{url}"
        [service]
        poll_interval = "100ms"
        shutdown_grace = "2s"
        scheduler_tick = "100ms"
        [maintenance]
        interval = "100ms"
        unknown_type_after = "200ms"
        [pools.{TEST_WORK}]
        concurrency = 4
        timeout = "10s"
        batch_size = 10
        lease_ttl = "3s"
        backoff = {{ base = "10ms", max = "50ms", jitter = 0.0 }}
        [schedules.reminders]
        enabled = false
        [schedules.weekly_reports]
        enabled = false
        [schedules.monthly_reports]
        enabled = false
        [schedules.quarterly_reports]
        enabled = false
        "#
    );
    Config::from_toml_layers(&[&text, extra]).expect("test config")
}

/// One run of a [`Recorder`] job.
#[derive(Debug, Clone)]
pub struct Exec {
    pub job_id: Uuid,
    pub attempt: i32,
    pub node: String,
    pub tag: String,
    pub started: Instant,
    pub ended: Option<Instant>,
}

/// A handler that records every run. Payload: `{"ms": N, "mode": "ok" | "retry" | "fail" |
/// "panic" | "hang", "tag": "..."}`.
#[derive(Clone, Default)]
pub struct Recorder {
    pub runs: Arc<Mutex<Vec<Exec>>>,
    pub current: Arc<AtomicUsize>,
    pub peak: Arc<AtomicUsize>,
}

impl Recorder {
    pub fn runs(&self) -> Vec<Exec> {
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// The standard handlers plus this one as [`TEST_WORK`].
    pub fn handlers(&self) -> Handlers {
        let mut handlers = Handlers::standard();
        handlers.register(TEST_WORK, self.clone());
        handlers
    }
}

struct Running {
    recorder: Recorder,
    index: usize,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.recorder.current.fetch_sub(1, Ordering::SeqCst);
        let mut runs = self
            .recorder
            .runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        runs[self.index].ended = Some(Instant::now());
    }
}

impl Handler for Recorder {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Outcome> {
        let recorder = self.clone();
        async move {
            let payload = ctx.job.payload.clone();
            let tag = payload["tag"].as_str().unwrap_or("").to_owned();
            let index = {
                let mut runs = recorder.runs.lock().unwrap_or_else(PoisonError::into_inner);
                runs.push(Exec {
                    job_id: ctx.job.id,
                    attempt: ctx.job.attempt,
                    node: ctx.node.to_string(),
                    tag,
                    started: Instant::now(),
                    ended: None,
                });
                runs.len() - 1
            };
            let now = recorder.current.fetch_add(1, Ordering::SeqCst) + 1;
            recorder.peak.fetch_max(now, Ordering::SeqCst);
            let _running = Running {
                recorder: recorder.clone(),
                index,
            };

            let ms = payload["ms"].as_u64().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            match payload["mode"].as_str().unwrap_or("ok") {
                "retry" => Outcome::Retry("asked to fail".to_owned()),
                "fail" => Outcome::Fail("asked to fail for good".to_owned()),
                "panic" => panic!("asked to panic"),
                "hang" => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Outcome::Complete(Value::Null)
                }
                _ => Outcome::Complete(json!({"slept_ms": ms})),
            }
        }
        .boxed()
    }
}

/// A TEST_WORK job.
pub fn work(ms: u64, mode: &str, tag: &str) -> NewJob {
    NewJob::new(TEST_WORK, json!({"ms": ms, "mode": mode, "tag": tag}))
}

/// Waits until `check` is true, polling every 20 ms; panics with `what` after `timeout`.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How many jobs have `status`.
pub async fn count_status(db: &Db, status: JobStatus) -> i64 {
    let sql = "SELECT count(*) FROM job_queue WHERE status = $1";
    match db {
        Db::Postgres(pool) => {
            sqlx::query_scalar(sql)
                .bind(status.as_str())
                .fetch_one(pool)
                .await
        }
        Db::Sqlite(pool) => {
            sqlx::query_scalar(sql)
                .bind(status.as_str())
                .fetch_one(pool)
                .await
        }
    }
    .expect("count jobs")
}

/// The status of one job.
pub async fn status_of(db: &Db, id: Uuid) -> JobStatus {
    jobs::get(db, id)
        .await
        .expect("get job")
        .expect("job exists")
        .status
}

/// Starts a service over `config` with `recorder`'s handlers.
pub async fn start(config: Config, recorder: &Recorder) -> Service {
    Service::start(config, recorder.handlers())
        .await
        .expect("service starts")
}

/// Runs one test body on both backends, as `postgres::NAME` and `sqlite::NAME`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[actix_rt::test]
                async fn $name() {
                    let db = $crate::common::TestDb::new($crate::common::Backend::Postgres).await;
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
        mod sqlite {
            $(
                #[actix_rt::test]
                async fn $name() {
                    let db = $crate::common::TestDb::new($crate::common::Backend::Sqlite).await;
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

/// The context a pool hands a handler for a fresh claim of a `job_type` job on `node`.
pub fn job_context(db: &Db, job_type: &str, payload: Value, node: &str) -> JobContext {
    let now = chrono::Utc::now();
    let job = ClaimedJob {
        id: Uuid::new_v4(),
        job_type: job_type.to_owned(),
        payload,
        priority: 5,
        attempt: 1,
        max_attempts: 3,
        created_at: now,
        run_at: now,
        lease_id: Uuid::new_v4(),
    };
    JobContext {
        db: db.clone(),
        job,
        node: node.into(),
        claimed_at: now,
    }
}

/// Reads one HTTP request from `stream`: its head as sent (request line and headers) and its
/// body, as long as its `content-length` says.
pub async fn read_request(stream: &mut tokio::net::TcpStream) -> (String, Vec<u8>) {
    use tokio::io::AsyncReadExt;

    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.expect("read request");
        assert!(n > 0, "connection closed early");
        data.extend_from_slice(&buf[..n]);
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&data[..end]).into_owned();
        let length = head
            .to_lowercase()
            .lines()
            .find_map(|l| l.strip_prefix("content-length:").map(str::to_owned))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if data.len() >= end + 4 + length {
            return (head, data[end + 4..end + 4 + length].to_vec());
        }
    }
}

/// The audit log, newest first, of one job or of everything.
pub async fn audit_log(db: &Db, job_id: Option<Uuid>) -> Vec<a1c_jobs::store::audit::AuditEntry> {
    let filter = a1c_jobs::store::audit::AuditFilter {
        job_id,
        limit: 100,
        ..Default::default()
    };
    a1c_jobs::store::audit::list(db, &filter)
        .await
        .expect("read audit log")
}
