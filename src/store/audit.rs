//! `audit_log`: who created, retried, cancelled or requeued which job, and who paused,
//! resumed or resized which pool.
//!
//! Every entry is written in the transaction of the change it records, so a change without
//! its entry (or an entry without its change) cannot be committed. The actor is the token's
//! name for the HTTP API and `cli:<os user>` for the command line.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, Row, SqliteConnection};
use uuid::Uuid;

use super::{time_of, ts, uuid_of, Db, StoreError};

/// What an operator did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AuditAction {
    /// Enqueued a job.
    #[serde(rename = "job.create")]
    JobCreate,
    /// Requeued a failed, dead-lettered or cancelled job.
    #[serde(rename = "job.retry")]
    JobRetry,
    /// Cancelled a job that had not ended.
    #[serde(rename = "job.cancel")]
    JobCancel,
    /// Requeued a dead letter as part of requeueing all of them (one entry per job).
    #[serde(rename = "job.requeue_dead_letter")]
    JobRequeueDeadLetter,
    /// Paused a pool on every node.
    #[serde(rename = "pool.pause")]
    PoolPause,
    /// Resumed a pool on every node.
    #[serde(rename = "pool.resume")]
    PoolResume,
    /// Set or cleared a pool's concurrency override.
    #[serde(rename = "pool.concurrency")]
    PoolConcurrency,
}

impl AuditAction {
    /// The word stored in `audit_log.action`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JobCreate => "job.create",
            Self::JobRetry => "job.retry",
            Self::JobCancel => "job.cancel",
            Self::JobRequeueDeadLetter => "job.requeue_dead_letter",
            Self::PoolPause => "pool.pause",
            Self::PoolResume => "pool.resume",
            Self::PoolConcurrency => "pool.concurrency",
        }
    }
}

/// One entry to write.
#[derive(Debug, Clone)]
pub struct NewAuditEntry<'a> {
    pub actor: &'a str,
    pub action: AuditAction,
    pub job_id: Option<Uuid>,
    pub job_type: Option<&'a str>,
    /// What else there is to know (e.g. the new concurrency); an object.
    pub detail: Value,
}

/// One stored entry.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub job_id: Option<Uuid>,
    pub job_type: Option<String>,
    pub detail: Value,
}

/// Filters for [`list`]: newest first, `limit` entries with an id below `before` (the
/// cursor of the next page).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub job_id: Option<Uuid>,
    pub actor: Option<String>,
    pub before: Option<i64>,
    pub limit: u32,
}

const INSERT: &str = "INSERT INTO audit_log (at, actor, action, job_id, job_type, detail)
     VALUES ($1, $2, $3, $4, $5, $6)";

/// Writes `entries` inside a PostgreSQL transaction the caller holds.
///
/// # Errors
///
/// The database failed.
pub async fn record_pg(
    conn: &mut PgConnection,
    entries: &[NewAuditEntry<'_>],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let sql = INSERT.replace("$6)", "$6::jsonb)");
    for e in entries {
        sqlx::query(&sql)
            .bind(now)
            .bind(e.actor)
            .bind(e.action.as_str())
            .bind(e.job_id)
            .bind(e.job_type)
            .bind(e.detail.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Writes `entries` inside a SQLite transaction the caller holds.
///
/// # Errors
///
/// The database failed.
pub async fn record_sqlite(
    conn: &mut SqliteConnection,
    entries: &[NewAuditEntry<'_>],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for e in entries {
        sqlx::query(INSERT)
            .bind(ts(now))
            .bind(e.actor)
            .bind(e.action.as_str())
            .bind(e.job_id.map(|id| id.to_string()))
            .bind(e.job_type)
            .bind(e.detail.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Writes `entries` in a transaction of their own, for changes made elsewhere (prefer
/// [`record_pg`] or [`record_sqlite`] inside the change's own transaction).
///
/// # Errors
///
/// The database failed.
pub async fn record(
    db: &Db,
    entries: &[NewAuditEntry<'_>],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    match db {
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            record_pg(&mut tx, entries, now).await?;
            tx.commit().await?;
        }
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            record_sqlite(&mut tx, entries, now).await?;
            tx.commit().await?;
        }
    }
    Ok(())
}

/// Entries, newest first.
///
/// # Errors
///
/// The database failed.
pub async fn list(db: &Db, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
    let sql = "SELECT id, at, actor, action, job_id, job_type, detail FROM audit_log
         WHERE ($1 IS NULL OR job_id = $1) AND ($2 IS NULL OR actor = $2)
           AND ($3 IS NULL OR id < $3)
         ORDER BY id DESC
         LIMIT $4";
    let limit = i64::from(filter.limit.clamp(1, 10_000));
    let actor = filter.actor.as_deref();
    match db {
        Db::Postgres(pool) => {
            let sql = sql
                .replace("$1 IS NULL", "$1::uuid IS NULL")
                .replace("$2 IS NULL", "$2::text IS NULL")
                .replace("$3 IS NULL", "$3::int8 IS NULL");
            let rows = sqlx::query(&sql)
                .bind(filter.job_id)
                .bind(actor)
                .bind(filter.before)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(entry_from_pg).collect()
        }
        Db::Sqlite(pool) => {
            let rows = sqlx::query(sql)
                .bind(filter.job_id.map(|id| id.to_string()))
                .bind(actor)
                .bind(filter.before)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(entry_from_sqlite).collect()
        }
    }
}

fn entry_from_pg(row: &sqlx::postgres::PgRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        job_id: row.try_get("job_id")?,
        job_type: row.try_get("job_type")?,
        detail: row.try_get("detail")?,
    })
}

fn entry_from_sqlite(row: &sqlx::sqlite::SqliteRow) -> Result<AuditEntry, StoreError> {
    let job_id: Option<String> = row.try_get("job_id")?;
    let detail: String = row.try_get("detail")?;
    Ok(AuditEntry {
        id: row.try_get("id")?,
        at: time_of(row.try_get("at")?)?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        job_id: job_id.as_deref().map(uuid_of).transpose()?,
        job_type: row.try_get("job_type")?,
        detail: serde_json::from_str(&detail)
            .map_err(|err| StoreError::Corrupt(format!("audit detail: {err}")))?,
    })
}

/// The actor name of the command line: `cli:<os user>`, or `cli` when no user is known.
pub fn cli_actor() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|u| !u.trim().is_empty()))
        .map_or_else(|| "cli".to_owned(), |user| format!("cli:{}", user.trim()))
}
