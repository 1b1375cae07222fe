//! Throughput: jobs that ended per minute, read from `job_queue` rows.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{add, sub, time_of, ts, Db, StoreError};

/// Jobs that ended within one minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Minute {
    /// The minute's first instant.
    pub minute: DateTime<Utc>,
    /// Jobs that became `COMPLETED`.
    pub completed: i64,
    /// Jobs that became `FAILED` or `DEAD_LETTER`.
    pub failed: i64,
}

// Jobs cancelled or still retrying are neither: a RETRY leaves no row behind once it runs
// again, and a cancel is an operator's choice, not an outcome of the work.
const SQL: &str = "SELECT substr(processed_at_text, 1, 16) AS minute,
       SUM(CASE WHEN status = 'COMPLETED' THEN 1 ELSE 0 END) AS completed,
       SUM(CASE WHEN status = 'COMPLETED' THEN 0 ELSE 1 END) AS failed
FROM (
    SELECT status, PROCESSED_AT_TEXT AS processed_at_text
    FROM job_queue
    WHERE status IN ('COMPLETED', 'FAILED', 'DEAD_LETTER')
      AND processed_at >= $1
      AND processed_at < $2
) AS ended
GROUP BY 1";

/// Completed and failed jobs in each of the last `minutes` minutes (1 to 1440; other values are
/// clamped), oldest first: one entry for every minute, zero when nothing ended, the last one
/// the minute `now` falls in.
///
/// # Errors
///
/// The database failed.
pub async fn per_minute(
    db: &Db,
    now: DateTime<Utc>,
    minutes: u32,
) -> Result<Vec<Minute>, StoreError> {
    let this_minute = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
    let end = add(this_minute, MINUTE);
    let start = sub(end, MINUTE * minutes.clamp(1, MAX_MINUTES));
    let counts: Vec<(String, i64, i64)> = match db {
        Db::Postgres(pool) => {
            let text = "to_char(processed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI')";
            let sql = SQL.replace("PROCESSED_AT_TEXT", text);
            let rows = sqlx::query(&sql)
                .bind(start)
                .bind(end)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<_, sqlx::Error>>()?
        }
        Db::Sqlite(pool) => {
            let sql = SQL.replace("PROCESSED_AT_TEXT", "processed_at");
            let query = sqlx::query(&sql).bind(ts(start)).bind(ts(end));
            let rows = query.fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<_, sqlx::Error>>()?
        }
    };
    let mut by_minute = HashMap::new();
    for (minute, completed, failed) in counts {
        let at = time_of(&format!("{minute}:00Z"))?;
        by_minute.insert(at, (completed, failed));
    }
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        let (completed, failed) = by_minute.get(&at).copied().unwrap_or((0, 0));
        out.push(Minute {
            minute: at,
            completed,
            failed,
        });
        at = add(at, MINUTE);
    }
    Ok(out)
}

const MINUTE: Duration = Duration::from_secs(60);
const MAX_MINUTES: u32 = 24 * 60;
