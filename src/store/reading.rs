//! `glucose_readings`: what users measured, in mg/dL.

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::job::{insert_many_pg, insert_many_sqlite};
use super::{time_of, ts, uuid_of, Db, StoreError};
use crate::job::NewJob;

/// A reading to store.
#[derive(Debug, Clone, Copy)]
pub struct NewReading {
    pub measured_at: DateTime<Utc>,
    pub value_mg_dl: f64,
}

/// A stored reading.
#[derive(Debug, Clone)]
pub struct Reading {
    pub id: Uuid,
    pub user_id: Uuid,
    pub measured_at: DateTime<Utc>,
    pub value_mg_dl: f64,
    pub source: String,
}

/// What an import wrote.
#[derive(Debug, Clone)]
pub struct Imported {
    /// Readings stored now.
    pub inserted: u64,
    /// Readings not stored because one for the same user, time and source was already
    /// stored (or came earlier in the same file).
    pub skipped: u64,
    /// The CALCULATE_A1C job enqueued with them.
    pub job_id: Uuid,
}

/// Stores readings and enqueues `job`, in one transaction: all or nothing. A reading already
/// stored for the same user, time and source is skipped.
///
/// # Errors
///
/// The database failed; nothing was written.
pub async fn import(
    db: &Db,
    user_id: Uuid,
    source: &str,
    readings: &[NewReading],
    job: &NewJob,
    now: DateTime<Utc>,
) -> Result<Imported, StoreError> {
    let total = u64::try_from(readings.len()).unwrap_or(u64::MAX);
    let rows: Vec<(Uuid, NewReading)> = readings.iter().map(|r| (Uuid::new_v4(), *r)).collect();
    let batch = Batch {
        user_id,
        source,
        rows: &rows,
        job,
        now,
    };
    let (inserted, job_id) = write(db, &batch, false).await?;
    if job_id.is_some() {
        crate::metrics::global().enqueued(&job.job_type, 1);
    }
    Ok(Imported {
        inserted,
        skipped: total.saturating_sub(inserted),
        job_id: job_id.unwrap_or_default(),
    })
}

/// Stores one reading under `id` and enqueues `job` (which names it), in one transaction.
/// Returns the job's id, or `None`, writing nothing, when a reading for the same user, time
/// and source is already stored.
///
/// # Errors
///
/// The database failed; nothing was written.
pub async fn insert_with_job(
    db: &Db,
    user_id: Uuid,
    source: &str,
    (id, reading): (Uuid, NewReading),
    job: &NewJob,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, StoreError> {
    let rows = [(id, reading)];
    let batch = Batch {
        user_id,
        source,
        rows: &rows,
        job,
        now,
    };
    let job_id = write(db, &batch, true).await?.1;
    if job_id.is_some() {
        crate::metrics::global().enqueued(&job.job_type, 1);
    }
    Ok(job_id)
}

/// Readings of one user and source, and the job enqueued with them.
struct Batch<'a> {
    user_id: Uuid,
    source: &'a str,
    rows: &'a [(Uuid, NewReading)],
    job: &'a NewJob,
    now: DateTime<Utc>,
}

/// Writes the batch in one transaction; with `all_new`, a batch any of whose readings is
/// already stored is rolled back (no job id returned).
async fn write(
    db: &Db,
    batch: &Batch<'_>,
    all_new: bool,
) -> Result<(u64, Option<Uuid>), StoreError> {
    let total = u64::try_from(batch.rows.len()).unwrap_or(u64::MAX);
    let job = std::slice::from_ref(batch.job);
    match db {
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            let inserted = insert_rows_pg(&mut tx, batch).await?;
            if all_new && inserted < total {
                tx.rollback().await?;
                return Ok((0, None));
            }
            let job_ids = insert_many_pg(&mut *tx, job, batch.now).await?;
            tx.commit().await?;
            Ok((inserted, job_ids.first().copied()))
        }
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let inserted = insert_rows_sqlite(&mut tx, batch).await?;
            if all_new && inserted < total {
                tx.rollback().await?;
                return Ok((0, None));
            }
            let job_ids = insert_many_sqlite(&mut tx, job, batch.now).await?;
            tx.commit().await?;
            Ok((inserted, job_ids.first().copied()))
        }
    }
}

async fn insert_rows_pg(
    conn: &mut sqlx::PgConnection,
    batch: &Batch<'_>,
) -> Result<u64, StoreError> {
    let ids: Vec<Uuid> = batch.rows.iter().map(|(id, _)| *id).collect();
    let times: Vec<DateTime<Utc>> = batch.rows.iter().map(|(_, r)| r.measured_at).collect();
    let values: Vec<f64> = batch.rows.iter().map(|(_, r)| r.value_mg_dl).collect();
    Ok(sqlx::query(
        "INSERT INTO glucose_readings (id, user_id, value_mg_dl, measured_at, source)
         SELECT id, $1, value, measured_at, $2
         FROM unnest($3::uuid[], $4::float8[], $5::timestamptz[])
             AS t(id, value, measured_at)
         ON CONFLICT (user_id, measured_at, source) DO NOTHING",
    )
    .bind(batch.user_id)
    .bind(batch.source)
    .bind(&ids)
    .bind(&values)
    .bind(&times)
    .execute(conn)
    .await?
    .rows_affected())
}

async fn insert_rows_sqlite(
    conn: &mut sqlx::SqliteConnection,
    batch: &Batch<'_>,
) -> Result<u64, StoreError> {
    let mut inserted = 0;
    for (id, r) in batch.rows {
        inserted += sqlx::query(
            "INSERT INTO glucose_readings (id, user_id, value_mg_dl, measured_at, source)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (user_id, measured_at, source) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(batch.user_id.to_string())
        .bind(r.value_mg_dl)
        .bind(ts(r.measured_at))
        .bind(batch.source)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(inserted)
}

/// One reading by id.
///
/// # Errors
///
/// The database failed.
pub async fn get(db: &Db, id: Uuid) -> Result<Option<Reading>, StoreError> {
    let sql = "SELECT id, user_id, measured_at, value_mg_dl, source
               FROM glucose_readings WHERE id = $1";
    match db {
        Db::Postgres(pool) => {
            let row = sqlx::query(sql).bind(id).fetch_optional(pool).await?;
            row.map(|r| {
                Ok(Reading {
                    id: r.try_get("id")?,
                    user_id: r.try_get("user_id")?,
                    measured_at: r.try_get("measured_at")?,
                    value_mg_dl: r.try_get("value_mg_dl")?,
                    source: r.try_get("source")?,
                })
            })
            .transpose()
        }
        Db::Sqlite(pool) => {
            let row = sqlx::query(sql)
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?;
            row.map(|r| {
                Ok(Reading {
                    id: uuid_of(r.try_get("id")?)?,
                    user_id: uuid_of(r.try_get("user_id")?)?,
                    measured_at: time_of(r.try_get("measured_at")?)?,
                    value_mg_dl: r.try_get("value_mg_dl")?,
                    source: r.try_get("source")?,
                })
            })
            .transpose()
        }
    }
}

/// Every reading of one user, oldest first (for tests and exports).
///
/// # Errors
///
/// The database failed.
pub async fn all_of_user(db: &Db, user_id: Uuid) -> Result<Vec<(DateTime<Utc>, f64)>, StoreError> {
    let sql = "SELECT measured_at, value_mg_dl FROM glucose_readings
               WHERE user_id = $1 ORDER BY measured_at";
    match db {
        Db::Postgres(pool) => {
            let rows = sqlx::query(sql).bind(user_id).fetch_all(pool).await?;
            rows.iter().map(pair_from_pg).collect()
        }
        Db::Sqlite(pool) => {
            let rows = sqlx::query(sql)
                .bind(user_id.to_string())
                .fetch_all(pool)
                .await?;
            rows.iter().map(pair_from_sqlite).collect()
        }
    }
}

/// One user's readings measured in `[from, to)`, oldest first, as `(measured_at, mg/dL)`.
///
/// # Errors
///
/// The database failed.
pub async fn between(
    db: &Db,
    user_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, f64)>, StoreError> {
    let sql = "SELECT measured_at, value_mg_dl FROM glucose_readings
               WHERE user_id = $1 AND measured_at >= $2 AND measured_at < $3
               ORDER BY measured_at";
    match db {
        Db::Postgres(pool) => {
            let rows = sqlx::query(sql)
                .bind(user_id)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
            rows.iter().map(pair_from_pg).collect()
        }
        Db::Sqlite(pool) => {
            // Fixed-width UTC text: comparing the text compares the times.
            let rows = sqlx::query(sql)
                .bind(user_id.to_string())
                .bind(ts(from))
                .bind(ts(to))
                .fetch_all(pool)
                .await?;
            rows.iter().map(pair_from_sqlite).collect()
        }
    }
}

/// When the user's newest reading up to `not_after` was measured, if they have any. Readings
/// dated later (a device clock running ahead) do not count.
///
/// # Errors
///
/// The database failed.
pub async fn latest_at(
    db: &Db,
    user_id: Uuid,
    not_after: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let sql = "SELECT max(measured_at) FROM glucose_readings
               WHERE user_id = $1 AND measured_at <= $2";
    match db {
        Db::Postgres(pool) => Ok(sqlx::query_scalar(sql)
            .bind(user_id)
            .bind(not_after)
            .fetch_one(pool)
            .await?),
        Db::Sqlite(pool) => {
            let text: Option<String> = sqlx::query_scalar(sql)
                .bind(user_id.to_string())
                .bind(ts(not_after))
                .fetch_one(pool)
                .await?;
            text.as_deref().map(time_of).transpose()
        }
    }
}

/// Whether the user has a reading measured in `[from, to)`.
///
/// # Errors
///
/// The database failed.
pub async fn any_between(
    db: &Db,
    user_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let sql = "SELECT 1 FROM glucose_readings
               WHERE user_id = $1 AND measured_at >= $2 AND measured_at < $3
               LIMIT 1";
    let found: Option<i32> = match db {
        Db::Postgres(pool) => {
            sqlx::query_scalar(sql)
                .bind(user_id)
                .bind(from)
                .bind(to)
                .fetch_optional(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            sqlx::query_scalar(sql)
                .bind(user_id.to_string())
                .bind(ts(from))
                .bind(ts(to))
                .fetch_optional(pool)
                .await?
        }
    };
    Ok(found.is_some())
}

/// A `(measured_at, value_mg_dl)` row read from PostgreSQL.
fn pair_from_pg(r: &sqlx::postgres::PgRow) -> Result<(DateTime<Utc>, f64), StoreError> {
    Ok((r.try_get("measured_at")?, r.try_get("value_mg_dl")?))
}

/// A `(measured_at, value_mg_dl)` row read from SQLite.
fn pair_from_sqlite(r: &sqlx::sqlite::SqliteRow) -> Result<(DateTime<Utc>, f64), StoreError> {
    Ok((
        time_of(r.try_get("measured_at")?)?,
        r.try_get("value_mg_dl")?,
    ))
}
