//! Fixtures of the cleanup tests: rows inserted directly with chosen ages, reading rows back as
//! text on either backend, and running one CLEANUP_DATA attempt as a pool would.

use std::collections::{BTreeMap, BTreeSet};

use a1c_jobs::config::CleanupConfig;
use a1c_jobs::handlers::cleanup_data::CleanupData;
use a1c_jobs::handlers::Handler;
use a1c_jobs::job::{JobStatus, Outcome, CLEANUP_DATA};
use a1c_jobs::store::{user, Db};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

/// The documented default retention of terminal jobs, in days.
pub const DEFAULT_RETENTION: [(JobStatus, i64); 4] = [
    (JobStatus::Completed, 7),
    (JobStatus::Cancelled, 30),
    (JobStatus::Failed, 90),
    (JobStatus::DeadLetter, 90),
];

pub const ALL_TABLES: [&str; 3] = ["glucose_readings", "job_queue", "notifications"];

/// A value bound into a fixture statement, encoded per backend.
pub enum Arg {
    Id(Uuid),
    OptId(Option<Uuid>),
    At(DateTime<Utc>),
    OptAt(Option<DateTime<Utc>>),
    Text(String),
    Num(f64),
    Json(Value),
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Runs `sql` (written with `$N` placeholders) with `args` on either backend.
pub async fn exec(db: &Db, sql: &str, args: Vec<Arg>) {
    match db {
        Db::Postgres(pool) => {
            let mut query = sqlx::query(sql);
            for arg in args {
                query = match arg {
                    Arg::Id(v) => query.bind(v),
                    Arg::OptId(v) => query.bind(v),
                    Arg::At(v) => query.bind(v),
                    Arg::OptAt(v) => query.bind(v),
                    Arg::Text(v) => query.bind(v),
                    Arg::Num(v) => query.bind(v),
                    Arg::Json(v) => query.bind(v),
                };
            }
            query.execute(pool).await.expect("fixture statement");
        }
        Db::Sqlite(pool) => {
            let sql = sql.replace('$', "?");
            let mut query = sqlx::query(&sql);
            for arg in args {
                query = match arg {
                    Arg::Id(v) => query.bind(v.to_string()),
                    Arg::OptId(v) => query.bind(v.map(|v| v.to_string())),
                    Arg::At(v) => query.bind(stamp(v)),
                    Arg::OptAt(v) => query.bind(v.map(stamp)),
                    Arg::Text(v) => query.bind(v),
                    Arg::Num(v) => query.bind(v),
                    Arg::Json(v) => query.bind(v.to_string()),
                };
            }
            query.execute(pool).await.expect("fixture statement");
        }
    }
}

/// The first column of every row of `sql`, which must select text.
pub async fn texts(db: &Db, sql: &str) -> Vec<String> {
    match db {
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
    }
    .expect("read rows")
}

/// The ids in `table`.
pub async fn ids(db: &Db, table: &str) -> BTreeSet<Uuid> {
    let sql = format!("SELECT CAST(id AS TEXT) FROM {table}");
    texts(db, &sql)
        .await
        .iter()
        .map(|id| Uuid::parse_str(id).expect("uuid"))
        .collect()
}

/// One column of one row as text, if the row exists.
pub async fn field(db: &Db, table: &str, id: Uuid, column: &str) -> Option<String> {
    let sql = format!(
        "SELECT CAST({column} AS TEXT) FROM {table} \
         WHERE CAST(id AS TEXT) = '{id}'"
    );
    texts(db, &sql).await.into_iter().next()
}

pub fn days_ago(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    now - TimeDelta::days(days)
}

pub async fn insert_reading(db: &Db, user: Uuid, measured_at: DateTime<Utc>, value: f64) -> Uuid {
    let id = Uuid::new_v4();
    let sql = "INSERT INTO glucose_readings (id, user_id, value_mg_dl, measured_at, source)
               VALUES ($1, $2, $3, $4, 'manual')";
    let args = vec![
        Arg::Id(id),
        Arg::Id(user),
        Arg::Num(value),
        Arg::At(measured_at),
    ];
    exec(db, sql, args).await;
    id
}

async fn insert_notification(db: &Db, user: Uuid, created_at: DateTime<Utc>) -> Uuid {
    let id = Uuid::new_v4();
    let sql = "INSERT INTO notifications
                   (id, user_id, channel, kind, status, title, body, dedupe_key, created_at)
               VALUES ($1, $2, 'in_app', 'fixture', 'SENT', 'title', 'body', $3, $4)";
    let args = vec![
        Arg::Id(id),
        Arg::Id(user),
        Arg::Text(format!("fixture:{id}")),
        Arg::At(created_at),
    ];
    exec(db, sql, args).await;
    id
}

/// A job in `status` whose every time is `at` (a live job has no `processed_at`).
pub async fn insert_job(db: &Db, status: JobStatus, at: DateTime<Utc>) -> Uuid {
    let id = Uuid::new_v4();
    let processing = status == JobStatus::Processing;
    let sql = "INSERT INTO job_queue
                   (id, job_type, payload, status, created_at, updated_at, run_at, processed_at,
                    lease_id, lease_expires_at)
               VALUES ($1, 'FIXTURE', $2, $3, $4, $4, $4, $5, $6, $7)";
    let args = vec![
        Arg::Id(id),
        Arg::Json(json!({"fixture": id})),
        Arg::Text(status.as_str().to_owned()),
        Arg::At(at),
        Arg::OptAt(status.is_terminal().then_some(at)),
        Arg::OptId(processing.then(Uuid::new_v4)),
        Arg::OptAt(processing.then_some(at + TimeDelta::seconds(30))),
    ];
    exec(db, sql, args).await;
    id
}

/// Rows of every table at chosen ages, and which of them a run should take.
pub struct Fixture {
    pub readings: Vec<(Uuid, i64)>,
    pub notifications: Vec<(Uuid, i64)>,
    pub jobs: Vec<(Uuid, JobStatus, i64)>,
}

const READING_AGES: [i64; 6] = [400, 45, 11, 9, 2, 0];
const NOTIFICATION_AGES: [i64; 5] = [45, 30, 11, 9, 0];
pub const JOB_AGES: [i64; 6] = [1000, 60, 20, 12, 8, 0];

impl Fixture {
    pub async fn insert(db: &Db, now: DateTime<Utc>) -> Self {
        let user = Uuid::new_v4();
        user::ensure(db, user, "UTC").await.expect("user");
        let mut fixture = Fixture {
            readings: Vec::new(),
            notifications: Vec::new(),
            jobs: Vec::new(),
        };
        for (n, age) in READING_AGES.into_iter().enumerate() {
            let value = 100.0 + f64::from(u8::try_from(n).expect("few readings"));
            let id = insert_reading(db, user, days_ago(now, age), value).await;
            fixture.readings.push((id, age));
        }
        for age in NOTIFICATION_AGES {
            let id = insert_notification(db, user, days_ago(now, age)).await;
            fixture.notifications.push((id, age));
        }
        for status in JobStatus::ALL {
            for age in JOB_AGES {
                let id = insert_job(db, status, days_ago(now, age)).await;
                fixture.jobs.push((id, status, age));
            }
        }
        fixture
    }

    /// The ids of `table` a run over `days` with `retention` (days per terminal status) takes.
    pub fn taken(&self, table: &str, days: i64, retention: &[(JobStatus, i64)]) -> BTreeSet<Uuid> {
        let older = |rows: &[(Uuid, i64)]| -> BTreeSet<Uuid> {
            rows.iter().filter(|r| r.1 > days).map(|r| r.0).collect()
        };
        match table {
            "glucose_readings" => older(&self.readings),
            "notifications" => older(&self.notifications),
            _ => self
                .jobs
                .iter()
                .filter(|(_, status, age)| {
                    let kept = retention.iter().find(|r| r.0 == *status).map(|r| r.1);
                    kept.is_some_and(|kept| *age > days.max(kept))
                })
                .map(|j| j.0)
                .collect(),
        }
    }

    /// Every id of `table`.
    pub fn all(&self, table: &str) -> BTreeSet<Uuid> {
        match table {
            "glucose_readings" => self.readings.iter().map(|r| r.0).collect(),
            "notifications" => self.notifications.iter().map(|r| r.0).collect(),
            _ => self.jobs.iter().map(|j| j.0).collect(),
        }
    }

    pub fn live_jobs(&self) -> Vec<(Uuid, JobStatus)> {
        self.jobs
            .iter()
            .filter(|j| !j.1.is_terminal())
            .map(|j| (j.0, j.1))
            .collect()
    }
}

pub fn cleanup_payload(kind: &str, days: u32, tables: &[&str]) -> Value {
    json!({"cleanup_type": kind, "older_than_days": days, "tables": tables})
}

/// Runs one CLEANUP_DATA attempt with `settings`, as a pool would.
pub async fn run_cleanup(db: &Db, settings: &CleanupConfig, payload: Value) -> Outcome {
    let ctx = crate::common::job_context(db, CLEANUP_DATA, payload, "test-node");
    CleanupData::new(settings.clone()).run(ctx).await
}

#[track_caller]
pub fn completed(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Complete(result) => result,
        other => panic!("cleanup did not complete: {other:?}"),
    }
}

#[track_caller]
pub fn failed(outcome: Outcome) -> String {
    match outcome {
        Outcome::Fail(error) => error,
        other => panic!("cleanup did not fail for good: {other:?}"),
    }
}

pub fn count_of(result: &Value, table: &str) -> usize {
    let n = result["counts"][table]
        .as_u64()
        .unwrap_or_else(|| panic!("no count for {table} in {result}"));
    usize::try_from(n).expect("count fits")
}

/// The `counts` of every `cleanup_log` row, oldest first.
pub async fn logged_counts(db: &Db) -> Vec<Value> {
    let sql = "SELECT CAST(counts AS TEXT) FROM cleanup_log ORDER BY created_at";
    texts(db, sql)
        .await
        .iter()
        .map(|text| serde_json::from_str(text).expect("counts are json"))
        .collect()
}

/// Every id of every allowed table and archive.
pub async fn snapshot(db: &Db) -> BTreeMap<String, BTreeSet<Uuid>> {
    let mut all = BTreeMap::new();
    for table in ALL_TABLES {
        let archive = format!("{table}_archive");
        all.insert(table.to_owned(), ids(db, table).await);
        all.insert(archive.clone(), ids(db, &archive).await);
    }
    all
}
