//! Readings of the queue's health that alert rules compare with their limits. Each reads the
//! rows themselves, so every node sees the same numbers.

use super::*;

/// What a health reading counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Jobs that ended `FAILED` or `DEAD_LETTER` after the given time.
    FailedSince,
    /// `PROCESSING` jobs whose lease ended before the given time.
    LeaseEndedBefore,
    /// `PENDING` or `RETRY` jobs whose `run_at` has come by the given time.
    RunnableAt,
}

impl Health {
    fn condition(self) -> &'static str {
        match self {
            Self::FailedSince => "status IN ('FAILED', 'DEAD_LETTER') AND processed_at > $1",
            Self::LeaseEndedBefore => "status = 'PROCESSING' AND lease_expires_at < $1",
            Self::RunnableAt => "status IN ('PENDING', 'RETRY') AND run_at <= $1",
        }
    }
}

/// How many jobs (of `job_type`, or of every type) match `what` at `at`.
///
/// # Errors
///
/// The database failed.
pub async fn count(
    db: &Db,
    what: Health,
    job_type: Option<&str>,
    at: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let sql = format!(
        "SELECT COUNT(*) FROM job_queue
         WHERE {}
           AND (CAST($2 AS TEXT) IS NULL OR job_type = $2)",
        what.condition()
    );
    Ok(match db {
        Db::Postgres(pool) => {
            sqlx::query_scalar(&sql)
                .bind(at)
                .bind(job_type)
                .fetch_one(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            sqlx::query_scalar(&sql)
                .bind(ts(at))
                .bind(job_type)
                .fetch_one(pool)
                .await?
        }
    })
}

/// The 95th percentile (nearest rank) of run time, in seconds, of jobs (of `job_type`, or of
/// every type) that ended after `since`; none when no job ended. Run time is the last
/// attempt's, from `started_at` to `processed_at`.
///
/// # Errors
///
/// The database failed.
pub async fn p95_run_time(
    db: &Db,
    job_type: Option<&str>,
    since: DateTime<Utc>,
) -> Result<Option<f64>, StoreError> {
    const ENDED: &str = "status IN ('COMPLETED', 'FAILED', 'DEAD_LETTER')
           AND processed_at > $1
           AND started_at IS NOT NULL
           AND (CAST($2 AS TEXT) IS NULL OR job_type = $2)";
    Ok(match db {
        Db::Postgres(pool) => {
            let sql = format!(
                "SELECT percentile_disc(0.95) WITHIN GROUP (
                     ORDER BY EXTRACT(EPOCH FROM processed_at - started_at)::float8)
                 FROM job_queue
                 WHERE {ENDED}"
            );
            sqlx::query_scalar(&sql)
                .bind(since)
                .bind(job_type)
                .fetch_one(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            // No percentile function: count, then read the row at the nearest rank.
            let sql = format!("SELECT COUNT(*) FROM job_queue WHERE {ENDED}");
            let n: i64 = sqlx::query_scalar(&sql)
                .bind(ts(since))
                .bind(job_type)
                .fetch_one(pool)
                .await?;
            if n == 0 {
                return Ok(None);
            }
            // ceil(0.95 n) - 1, in integers.
            let offset = (n * 95 + 99) / 100 - 1;
            let sql = format!(
                "SELECT (julianday(processed_at) - julianday(started_at)) * 86400.0 AS seconds
                 FROM job_queue
                 WHERE {ENDED}
                 ORDER BY seconds
                 LIMIT 1 OFFSET $3"
            );
            sqlx::query_scalar(&sql)
                .bind(ts(since))
                .bind(job_type)
                .bind(offset)
                .fetch_optional(pool)
                .await?
        }
    })
}
