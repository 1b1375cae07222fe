//! The seed's monitoring queries, and queue depth.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{time_of, ts, Db, StoreError};

/// One row of the seed's "job status summary" (last 24 hours).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatusSummary {
    pub job_type: String,
    pub status: String,
    pub count: i64,
    pub avg_processing_time_seconds: Option<f64>,
}

/// One row of the seed's "failed jobs analysis" (last 7 days).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FailureGroup {
    pub job_type: String,
    pub error: Option<String>,
    pub failure_count: i64,
}

/// The seed's job status summary, word for word on PostgreSQL.
pub const STATUS_SUMMARY_PG: &str = "SELECT
  job_type,
  status,
  COUNT(*) as count,
  AVG(EXTRACT(EPOCH FROM (processed_at - created_at))) as avg_processing_time_seconds
FROM job_queue
WHERE created_at > NOW() - INTERVAL '24 hours'
GROUP BY job_type, status";

/// The seed's failed jobs analysis, word for word on PostgreSQL.
pub const FAILED_JOBS_PG: &str = "SELECT
  job_type,
  error,
  COUNT(*) as failure_count
FROM job_queue
WHERE status = 'FAILED'
  AND created_at > NOW() - INTERVAL '7 days'
GROUP BY job_type, error
ORDER BY failure_count DESC";

const STATUS_SUMMARY_SQLITE: &str = "SELECT
  job_type,
  status,
  COUNT(*) AS count,
  AVG((julianday(processed_at) - julianday(created_at)) * 86400.0)
      AS avg_processing_time_seconds
FROM job_queue
WHERE created_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-24 hours')
GROUP BY job_type, status";

const FAILED_JOBS_SQLITE: &str = "SELECT
  job_type,
  error,
  COUNT(*) AS failure_count
FROM job_queue
WHERE status = 'FAILED'
  AND created_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-7 days')
GROUP BY job_type, error
ORDER BY failure_count DESC";

/// The seed's job status summary.
///
/// # Errors
///
/// The database failed.
pub async fn status_summary(db: &Db) -> Result<Vec<StatusSummary>, StoreError> {
    let mut rows: Vec<StatusSummary> = match db {
        Db::Postgres(pool) => {
            // The seed's query runs as written; its numeric average is cast outside it.
            let sql = format!(
                "SELECT job_type, status, count, avg_processing_time_seconds::float8 AS avg
                 FROM ({STATUS_SUMMARY_PG}) AS seed"
            );
            let rows = sqlx::query(&sql).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok(StatusSummary {
                        job_type: r.try_get("job_type")?,
                        status: r.try_get("status")?,
                        count: r.try_get("count")?,
                        avg_processing_time_seconds: r.try_get("avg")?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?
        }
        Db::Sqlite(pool) => {
            let rows = sqlx::query(STATUS_SUMMARY_SQLITE).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok(StatusSummary {
                        job_type: r.try_get("job_type")?,
                        status: r.try_get("status")?,
                        count: r.try_get("count")?,
                        avg_processing_time_seconds: r.try_get("avg_processing_time_seconds")?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?
        }
    };
    rows.sort_by(|a, b| (&a.job_type, &a.status).cmp(&(&b.job_type, &b.status)));
    Ok(rows)
}

/// The seed's failed jobs analysis.
///
/// # Errors
///
/// The database failed.
pub async fn failed_jobs(db: &Db) -> Result<Vec<FailureGroup>, StoreError> {
    let read = |job_type, error, failure_count| FailureGroup {
        job_type,
        error,
        failure_count,
    };
    Ok(match db {
        Db::Postgres(pool) => {
            let rows = sqlx::query(FAILED_JOBS_PG).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok(read(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<_, sqlx::Error>>()?
        }
        Db::Sqlite(pool) => {
            let rows = sqlx::query(FAILED_JOBS_SQLITE).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok(read(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<_, sqlx::Error>>()?
        }
    })
}

/// How many jobs of one type are in one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Depth {
    pub job_type: String,
    pub status: String,
    pub count: i64,
}

/// The oldest due job of one type that waits to run.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OldestRunnable {
    pub job_type: String,
    /// When the oldest due `PENDING` or `RETRY` job became due.
    pub run_at: DateTime<Utc>,
    /// How long it has waited since, in seconds.
    pub age_seconds: f64,
    /// Due `PENDING` and `RETRY` jobs of the type.
    pub runnable: i64,
}

/// Jobs per type and status, over the whole table, ordered by type and status.
///
/// # Errors
///
/// The database failed.
pub async fn queue_depth(db: &Db) -> Result<Vec<Depth>, StoreError> {
    let sql = "SELECT job_type, status, COUNT(*) FROM job_queue
               GROUP BY job_type, status
               ORDER BY job_type, status";
    let rows: Vec<(String, String, i64)> = match db {
        Db::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await?,
        Db::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await?,
    };
    Ok(rows
        .into_iter()
        .map(|(job_type, status, count)| Depth {
            job_type,
            status,
            count,
        })
        .collect())
}

/// Per type with due jobs waiting, the oldest one's due time and age at `now`.
///
/// # Errors
///
/// The database failed.
pub async fn oldest_runnable(
    db: &Db,
    now: DateTime<Utc>,
) -> Result<Vec<OldestRunnable>, StoreError> {
    let sql = "SELECT job_type, MIN(run_at), COUNT(*) FROM job_queue
               WHERE status IN ('PENDING', 'RETRY') AND run_at <= $1
               GROUP BY job_type
               ORDER BY job_type";
    let rows: Vec<(String, DateTime<Utc>, i64)> = match db {
        Db::Postgres(pool) => sqlx::query_as(sql).bind(now).fetch_all(pool).await?,
        Db::Sqlite(pool) => {
            let rows: Vec<(String, String, i64)> =
                sqlx::query_as(sql).bind(ts(now)).fetch_all(pool).await?;
            rows.into_iter()
                .map(|(t, at, n)| Ok((t, time_of(&at)?, n)))
                .collect::<Result<_, StoreError>>()?
        }
    };
    Ok(rows
        .into_iter()
        .map(|(job_type, run_at, runnable)| OldestRunnable {
            job_type,
            run_at,
            age_seconds: (now - run_at).as_seconds_f64().max(0.0),
            runnable,
        })
        .collect())
}
