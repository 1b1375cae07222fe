//! Cleanup of old rows: archive batches (moved to `<table>_archive`), delete batches, the
//! `cleanup_log`, and the optimizer run after a cleanup.
//!
//! Each batch is one transaction, so a crash loses nothing and moves nothing twice: a batch
//! that did not commit left every row where it was, and the archive's primary key on `id` makes
//! a replayed batch insert nothing twice. Which rows a table may lose, and the SQL for each, is
//! fixed per variant of [`CleanupTable`] in the `sql` module.

mod sql;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{ts, Db, StoreError};
use crate::job::payload::{CleanupTable, CleanupType};

/// The instants before which rows are old enough to go (rows stamped earlier go).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoff {
    /// `glucose_readings` by `measured_at`, `notifications` by `created_at`.
    pub before: DateTime<Utc>,
    /// `COMPLETED` jobs, by `processed_at`.
    pub completed_before: DateTime<Utc>,
    /// `CANCELLED` jobs, by `processed_at`.
    pub cancelled_before: DateTime<Utc>,
    /// `FAILED` jobs, by `processed_at`.
    pub failed_before: DateTime<Utc>,
    /// `DEAD_LETTER` jobs, by `processed_at`.
    pub dead_letter_before: DateTime<Utc>,
}

/// One finished cleanup run, as `cleanup_log` keeps it.
#[derive(Debug, Clone)]
pub struct LoggedRun {
    pub job_id: Uuid,
    pub cleanup_type: CleanupType,
    pub older_than_days: u32,
    /// Rows archived or deleted per table.
    pub counts: BTreeMap<CleanupTable, u64>,
    pub duration: Duration,
}

/// Moves up to `batch_size` of `table`'s oldest eligible rows into its archive, stamped
/// `archived_at = now`, in one transaction. Returns how many rows left the table; fewer than
/// `batch_size` means none was left (or, on PostgreSQL, the rest are locked by another cleanup).
///
/// # Errors
///
/// The database failed; the batch was rolled back whole.
pub async fn archive_batch(
    db: &Db,
    table: CleanupTable,
    cutoff: &Cutoff,
    batch_size: u32,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let statements = sql::of(table);
    let cutoffs = sql::cutoff_times(table, cutoff);
    match db {
        Db::Postgres(pool) => {
            let mut query =
                sqlx::query_scalar::<_, i64>(statements.pg_archive).bind(i64::from(batch_size));
            for at in cutoffs {
                query = query.bind(at);
            }
            let moved = query.bind(now).fetch_one(pool).await?;
            u64::try_from(moved).map_err(|_| StoreError::Corrupt(format!("count {moved}")))
        }
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let ids = sqlite_batch_ids(&mut tx, table, &cutoffs, batch_size).await?;
            sqlx::query(statements.sqlite_archive_ids)
                .bind(&ids)
                .bind(ts(now))
                .execute(&mut *tx)
                .await?;
            let moved = sqlx::query(statements.sqlite_delete_ids)
                .bind(&ids)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(moved)
        }
    }
}

/// Deletes up to `batch_size` of `table`'s oldest eligible rows in one transaction. Returns how
/// many went, as [`archive_batch`] does.
///
/// # Errors
///
/// The database failed; the batch was rolled back whole.
pub async fn delete_batch(
    db: &Db,
    table: CleanupTable,
    cutoff: &Cutoff,
    batch_size: u32,
) -> Result<u64, StoreError> {
    let statements = sql::of(table);
    let cutoffs = sql::cutoff_times(table, cutoff);
    match db {
        Db::Postgres(pool) => {
            let mut query = sqlx::query(statements.pg_delete).bind(i64::from(batch_size));
            for at in cutoffs {
                query = query.bind(at);
            }
            Ok(query.execute(pool).await?.rows_affected())
        }
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let ids = sqlite_batch_ids(&mut tx, table, &cutoffs, batch_size).await?;
            let deleted = sqlx::query(statements.sqlite_delete_ids)
                .bind(&ids)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(deleted)
        }
    }
}

/// The ids of one SQLite batch, as the JSON array the `_ids` statements read.
async fn sqlite_batch_ids(
    conn: &mut sqlx::SqliteConnection,
    table: CleanupTable,
    cutoffs: &[DateTime<Utc>],
    batch_size: u32,
) -> Result<String, StoreError> {
    let mut query = sqlx::query_scalar::<_, String>(sql::of(table).sqlite_batch_ids)
        .bind(i64::from(batch_size));
    for at in cutoffs {
        query = query.bind(ts(*at));
    }
    let ids = query.fetch_all(&mut *conn).await?;
    Ok(Value::from(ids).to_string())
}

/// Writes one run to `cleanup_log` and returns the row's id.
///
/// # Errors
///
/// The database failed.
pub async fn log(db: &Db, run: &LoggedRun, now: DateTime<Utc>) -> Result<Uuid, StoreError> {
    let id = Uuid::new_v4();
    let counts = counts_json(&run.counts).to_string();
    let duration_ms = i64::try_from(run.duration.as_millis()).unwrap_or(i64::MAX);
    let (job_id, kind, days) = (run.job_id, run.cleanup_type.as_str(), run.older_than_days);
    match db {
        Db::Postgres(pool) => {
            sqlx::query(
                "INSERT INTO cleanup_log
                    (id, job_id, cleanup_type, older_than_days, counts, duration_ms, created_at)
                 VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)",
            )
            .bind(id)
            .bind(job_id)
            .bind(kind)
            .bind(i64::from(days))
            .bind(counts)
            .bind(duration_ms)
            .bind(now)
            .execute(pool)
            .await?;
        }
        Db::Sqlite(pool) => {
            sqlx::query(
                "INSERT INTO cleanup_log
                    (id, job_id, cleanup_type, older_than_days, counts, duration_ms, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .bind(id.to_string())
            .bind(job_id.to_string())
            .bind(kind)
            .bind(i64::from(days))
            .bind(counts)
            .bind(duration_ms)
            .bind(ts(now))
            .execute(pool)
            .await?;
        }
    }
    Ok(id)
}

/// Counts per table as a JSON object keyed by table name.
pub fn counts_json(counts: &BTreeMap<CleanupTable, u64>) -> Value {
    let map: Map<String, Value> = counts
        .iter()
        .map(|(table, n)| (table.as_str().to_owned(), Value::from(*n)))
        .collect();
    Value::Object(map)
}

/// Lets the database catch up after a cleanup: `VACUUM (ANALYZE)` of `tables` (and their
/// archives when `archived`) on PostgreSQL, `PRAGMA optimize` on SQLite.
///
/// On PostgreSQL this reclaims the space of deleted rows for reuse and refreshes the planner's
/// statistics; it runs outside any transaction, as `VACUUM` must, and may take a while on a
/// large table.
///
/// # Errors
///
/// The database failed or refused (for example, the role does not own a table).
pub async fn optimize(db: &Db, tables: &[CleanupTable], archived: bool) -> Result<(), StoreError> {
    match db {
        Db::Postgres(pool) => {
            for &table in tables {
                let statements = sql::of(table);
                let vacuum = if archived {
                    statements.pg_vacuum_with_archive
                } else {
                    statements.pg_vacuum
                };
                // Sent as a plain (unprepared) statement on a connection with no transaction
                // open, as VACUUM requires.
                sqlx::raw_sql(vacuum).execute(pool).await?;
            }
        }
        Db::Sqlite(pool) => {
            sqlx::raw_sql("PRAGMA optimize").execute(pool).await?;
        }
    }
    Ok(())
}
