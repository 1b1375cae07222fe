//! Where a waiting job stands: the due jobs a pool would claim before it.

use super::*;

/// Due jobs of one type that a claim takes before a given job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ahead {
    /// Of a more urgent (lower) priority.
    pub higher_priority: i64,
    /// Of the same priority, due earlier (or as early, with a smaller id).
    pub same_priority: i64,
}

/// The due `PENDING` and `RETRY` jobs of `job`'s type ordered before it, the way claims order
/// them (priority, then `run_at`, then id).
///
/// # Errors
///
/// The database failed.
pub async fn ahead_of(db: &Db, job: &Job, now: DateTime<Utc>) -> Result<Ahead, StoreError> {
    let sql = "SELECT
           COALESCE(SUM(CASE WHEN priority < $3 THEN 1 ELSE 0 END), 0),
           COALESCE(SUM(CASE WHEN priority = $3 THEN 1 ELSE 0 END), 0)
         FROM job_queue
         WHERE job_type = $1
           AND status IN ('PENDING', 'RETRY')
           AND run_at <= $2
           AND (priority < $3 OR (priority = $3 AND (run_at < $4 OR (run_at = $4 AND id < $5))))";
    let (higher, same): (i64, i64) = match db {
        Db::Postgres(pool) => {
            sqlx::query_as(sql)
                .bind(&job.job_type)
                .bind(now)
                .bind(job.priority)
                .bind(job.run_at)
                .bind(job.id)
                .fetch_one(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            sqlx::query_as(sql)
                .bind(&job.job_type)
                .bind(ts(now))
                .bind(job.priority)
                .bind(ts(job.run_at))
                .bind(job.id.to_string())
                .fetch_one(pool)
                .await?
        }
    };
    Ok(Ahead {
        higher_priority: higher,
        same_priority: same,
    })
}
