//! `fault_probe_runs`: one row per run of a `FAULT_PROBE` job, written by the probe handler so
//! the fault suite can count runs from outside the process.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ts, Db, StoreError};

/// Records that a run started; returns the run's id.
///
/// # Errors
///
/// The database failed; nothing was written.
pub async fn start(
    db: &Db,
    job_id: Uuid,
    attempt: i32,
    node: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    let id = Uuid::new_v4();
    let sql = "INSERT INTO fault_probe_runs (id, job_id, attempt, node, started_at)
         VALUES ($1, $2, $3, $4, $5)";
    match db {
        Db::Postgres(pool) => {
            sqlx::query(sql)
                .bind(id)
                .bind(job_id)
                .bind(attempt)
                .bind(node)
                .bind(now)
                .execute(pool)
                .await?;
        }
        Db::Sqlite(pool) => {
            sqlx::query(sql)
                .bind(id.to_string())
                .bind(job_id.to_string())
                .bind(attempt)
                .bind(node)
                .bind(ts(now))
                .execute(pool)
                .await?;
        }
    }
    Ok(id)
}

/// Records that run `id` ended.
///
/// # Errors
///
/// The database failed.
pub async fn end(db: &Db, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
    let sql = "UPDATE fault_probe_runs SET ended_at = $1 WHERE id = $2";
    match db {
        Db::Postgres(pool) => {
            sqlx::query(sql).bind(now).bind(id).execute(pool).await?;
        }
        Db::Sqlite(pool) => {
            let id = id.to_string();
            sqlx::query(sql)
                .bind(ts(now))
                .bind(id)
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}
