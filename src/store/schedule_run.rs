//! `schedule_runs`: the fire times that produced a job, one row per (schedule, fire time).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::job::{insert_many_pg, insert_many_sqlite};
use super::{opt_time_of, ts, Db, StoreError};
use crate::job::NewJob;

/// Enqueues `job` for this fire time unless another node already did. Returns the new job's
/// id, or `None` when the fire time was taken.
///
/// The job and the `schedule_runs` row commit together: the primary key on
/// `(schedule, fire_at)` makes every racer but one roll back, job and all.
///
/// # Errors
///
/// The database failed; nothing was written.
pub async fn fire(
    db: &Db,
    schedule: &str,
    fire_at: DateTime<Utc>,
    job: &NewJob,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, StoreError> {
    let jobs = std::slice::from_ref(job);
    match db {
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            let id = insert_many_pg(&mut *tx, jobs, now).await?[0];
            let taken = sqlx::query(
                "INSERT INTO schedule_runs (schedule, fire_at, job_id, created_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (schedule, fire_at) DO NOTHING",
            )
            .bind(schedule)
            .bind(fire_at)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if taken == 0 {
                tx.rollback().await?;
                return Ok(None);
            }
            tx.commit().await?;
            Ok(Some(id))
        }
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let id = insert_many_sqlite(&mut tx, jobs, now).await?[0];
            let taken = sqlx::query(
                "INSERT INTO schedule_runs (schedule, fire_at, job_id, created_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (schedule, fire_at) DO NOTHING",
            )
            .bind(schedule)
            .bind(ts(fire_at))
            .bind(id.to_string())
            .bind(ts(now))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if taken == 0 {
                tx.rollback().await?;
                return Ok(None);
            }
            tx.commit().await?;
            Ok(Some(id))
        }
    }
}

/// The latest fire time recorded for a schedule.
///
/// # Errors
///
/// The database failed.
pub async fn latest(db: &Db, schedule: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let sql = "SELECT max(fire_at) FROM schedule_runs WHERE schedule = $1";
    match db {
        Db::Postgres(pool) => Ok(sqlx::query_scalar(sql)
            .bind(schedule)
            .fetch_one(pool)
            .await?),
        Db::Sqlite(pool) => {
            let text: Option<String> = sqlx::query_scalar(sql)
                .bind(schedule)
                .fetch_one(pool)
                .await?;
            opt_time_of(text)
        }
    }
}

/// How many fire times a schedule has recorded.
///
/// # Errors
///
/// The database failed.
pub async fn count(db: &Db, schedule: &str) -> Result<i64, StoreError> {
    let sql = "SELECT count(*) FROM schedule_runs WHERE schedule = $1";
    Ok(match db {
        Db::Postgres(pool) => {
            sqlx::query_scalar(sql)
                .bind(schedule)
                .fetch_one(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            sqlx::query_scalar(sql)
                .bind(schedule)
                .fetch_one(pool)
                .await?
        }
    })
}
