//! The seed's monitoring queries, and queue depth.

use serde::Serialize;
use sqlx::Row;

use super::{Db, StoreError};

/// One row of the seed's "job status summary" (last 24 hours).
#[derive(Debug, Clone, Serialize)]
pub struct StatusSummary {
    pub job_type: String,
    pub status: String,
    pub count: i64,
    pub avg_processing_time_seconds: Option<f64>,
}

/// One row of the seed's "failed jobs analysis" (last 7 days).
#[derive(Debug, Clone, Serialize)]
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

/// Jobs of one type in one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueDepth {
    pub job_type: String,
    pub status: String,
    pub count: i64,
}

/// How many jobs each type has in each status, in one `GROUP BY` (a scan of `job_queue`).
///
/// # Errors
///
/// The database failed.
pub async fn queue_depth(db: &Db) -> Result<Vec<QueueDepth>, StoreError> {
    let sql = "SELECT job_type, status, COUNT(*) AS count
               FROM job_queue
               GROUP BY job_type, status
               ORDER BY job_type, status";
    let rows: Vec<(String, String, i64)> = match db {
        Db::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await?,
        Db::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await?,
    };
    Ok(rows
        .into_iter()
        .map(|(job_type, status, count)| QueueDepth {
            job_type,
            status,
            count,
        })
        .collect())
}
