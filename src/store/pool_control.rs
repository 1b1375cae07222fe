//! `pool_controls`: an operator's pause and concurrency override of a job type's pool, obeyed
//! by the pools of that type on every node sharing the database.
//!
//! Pools read their row on every poll tick; on PostgreSQL a change also sends
//! `NOTIFY pool_controls, '<job_type>'` (delivered at commit), so it applies within
//! milliseconds. Each change writes its `audit_log` entry in the same transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::audit::{self, AuditAction, NewAuditEntry};
use super::{time_of, ts, Db, StoreError};

/// The channel a change is announced on, with the job type as payload.
pub const CHANNEL: &str = "pool_controls";

/// Highest concurrency an operator may set.
pub const MAX_CONCURRENCY: u32 = 10_000;

/// The control of one job type's pool; a type without a row runs as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolControl {
    pub job_type: String,
    /// A paused pool claims nothing new and lets its running jobs finish.
    pub paused: bool,
    /// Overrides the configured concurrency on every node; none keeps the configured one.
    pub concurrency: Option<u32>,
    pub updated_at: DateTime<Utc>,
    /// The actor of the last change.
    pub updated_by: String,
}

/// What an operator changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlChange {
    /// Claim nothing new.
    Pause,
    /// Claim again.
    Resume,
    /// Set (`Some`) or clear (`None`) the concurrency override.
    Concurrency(Option<u32>),
}

impl ControlChange {
    fn action(self) -> AuditAction {
        match self {
            Self::Pause => AuditAction::PoolPause,
            Self::Resume => AuditAction::PoolResume,
            Self::Concurrency(_) => AuditAction::PoolConcurrency,
        }
    }
}

const COLUMNS: &str = "job_type, paused, concurrency, updated_at, updated_by";

/// The control of `job_type`, if an operator ever set one.
///
/// # Errors
///
/// The database failed.
pub async fn get(db: &Db, job_type: &str) -> Result<Option<PoolControl>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM pool_controls WHERE job_type = $1");
    match db {
        Db::Postgres(pool) => {
            let row = sqlx::query(&sql)
                .bind(job_type)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(control_from_pg).transpose()
        }
        Db::Sqlite(pool) => {
            let row = sqlx::query(&sql)
                .bind(job_type)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(control_from_sqlite).transpose()
        }
    }
}

/// Every control, by job type.
///
/// # Errors
///
/// The database failed.
pub async fn list(db: &Db) -> Result<Vec<PoolControl>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM pool_controls ORDER BY job_type");
    match db {
        Db::Postgres(pool) => {
            let rows = sqlx::query(&sql).fetch_all(pool).await?;
            rows.iter().map(control_from_pg).collect()
        }
        Db::Sqlite(pool) => {
            let rows = sqlx::query(&sql).fetch_all(pool).await?;
            rows.iter().map(control_from_sqlite).collect()
        }
    }
}

/// Applies `change` to the pools of `job_type` on every node, recorded in `audit_log` as done
/// by `actor`, in one transaction. Returns the control as it now is.
///
/// # Errors
///
/// [`StoreError::Invalid`] for a concurrency outside 1 to [`MAX_CONCURRENCY`]; the database
/// failed.
pub async fn apply(
    db: &Db,
    job_type: &str,
    change: ControlChange,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<PoolControl, StoreError> {
    if let ControlChange::Concurrency(Some(n)) = change {
        if !(1..=MAX_CONCURRENCY).contains(&n) {
            return Err(StoreError::Invalid(format!(
                "concurrency must be 1 to {MAX_CONCURRENCY}, not {n}"
            )));
        }
    }
    let (sql, detail) = upsert(change);
    let entry = NewAuditEntry {
        actor,
        action: change.action(),
        job_id: None,
        job_type: Some(job_type),
        detail,
    };
    let concurrency = match change {
        ControlChange::Concurrency(n) => n.map(i64::from),
        _ => None,
    };
    match db {
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            let row = sqlx::query(&sql)
                .bind(job_type)
                .bind(concurrency)
                .bind(now)
                .bind(actor)
                .fetch_one(&mut *tx)
                .await?;
            audit::record_pg(&mut tx, &[entry], now).await?;
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(job_type)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            control_from_pg(&row)
        }
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let row = sqlx::query(&sql)
                .bind(job_type)
                .bind(concurrency)
                .bind(ts(now))
                .bind(actor)
                .fetch_one(&mut *tx)
                .await?;
            audit::record_sqlite(&mut tx, &[entry], now).await?;
            tx.commit().await?;
            control_from_sqlite(&row)
        }
    }
}

/// The upsert of `change` (`$1` job type, `$2` concurrency, `$3` now, `$4` actor) and the
/// detail of its audit entry.
fn upsert(change: ControlChange) -> (String, serde_json::Value) {
    let (set, detail) = match change {
        ControlChange::Pause => ("paused = TRUE", json!({"paused": true})),
        ControlChange::Resume => ("paused = FALSE", json!({"paused": false})),
        ControlChange::Concurrency(n) => ("concurrency = $2", json!({"concurrency": n})),
    };
    let paused = if change == ControlChange::Pause {
        "TRUE"
    } else {
        "FALSE"
    };
    let sql = format!(
        "INSERT INTO pool_controls (job_type, paused, concurrency, updated_at, updated_by)
         VALUES ($1, {paused}, $2, $3, $4)
         ON CONFLICT (job_type) DO UPDATE
         SET {set}, updated_at = $3, updated_by = $4
         RETURNING {COLUMNS}"
    );
    (sql, detail)
}

fn concurrency_of(value: Option<i64>) -> Result<Option<u32>, StoreError> {
    value
        .map(|n| u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("pool concurrency {n}"))))
        .transpose()
}

fn control_from_pg(row: &sqlx::postgres::PgRow) -> Result<PoolControl, StoreError> {
    let concurrency: Option<i32> = row.try_get("concurrency")?;
    Ok(PoolControl {
        job_type: row.try_get("job_type")?,
        paused: row.try_get("paused")?,
        concurrency: concurrency_of(concurrency.map(i64::from))?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}

fn control_from_sqlite(row: &sqlx::sqlite::SqliteRow) -> Result<PoolControl, StoreError> {
    Ok(PoolControl {
        job_type: row.try_get("job_type")?,
        paused: row.try_get("paused")?,
        concurrency: concurrency_of(row.try_get("concurrency")?)?,
        updated_at: time_of(row.try_get("updated_at")?)?,
        updated_by: row.try_get("updated_by")?,
    })
}
