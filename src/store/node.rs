//! `nodes`: one heartbeat row per node, upserted by maintenance every tick.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{sub, time_of, ts, Db, StoreError};

/// A node as its heartbeats show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Node {
    /// The node's name (`[node] name`, or `<hostname>-<pid>`).
    pub name: String,
    /// When the node's process started.
    pub started_at: DateTime<Utc>,
    /// Its latest heartbeat.
    pub last_seen_at: DateTime<Utc>,
    /// Whether that heartbeat is recent enough for the node to count as running.
    pub alive: bool,
}

/// Records that node `name`, started at `started_at`, is running at `now`.
///
/// # Errors
///
/// The database failed.
pub async fn heartbeat(
    db: &Db,
    name: &str,
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    // A clock that moved backwards must not break the row's check.
    let seen = now.max(started_at);
    let sql = "INSERT INTO nodes (name, started_at, last_seen_at)
        VALUES ($1, $2, $3)
        ON CONFLICT (name) DO UPDATE
        SET started_at = excluded.started_at,
            last_seen_at = excluded.last_seen_at";
    match db {
        Db::Postgres(pool) => {
            let query = sqlx::query(sql).bind(name).bind(started_at).bind(seen);
            query.execute(pool).await?;
        }
        Db::Sqlite(pool) => {
            let query = sqlx::query(sql)
                .bind(name)
                .bind(ts(started_at))
                .bind(ts(seen));
            query.execute(pool).await?;
        }
    }
    Ok(())
}

/// Every node seen since `now - forget_after`, by name; a node counts as alive when its last
/// heartbeat is at most `alive_within` old.
///
/// # Errors
///
/// The database failed, or a stored time is unreadable.
pub async fn list(
    db: &Db,
    now: DateTime<Utc>,
    alive_within: Duration,
    forget_after: Duration,
) -> Result<Vec<Node>, StoreError> {
    let since = sub(now, forget_after);
    let sql = "SELECT name, started_at, last_seen_at
        FROM nodes
        WHERE last_seen_at >= $1
        ORDER BY name";
    let rows: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = match db {
        Db::Postgres(pool) => {
            let rows = sqlx::query(sql).bind(since).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<_, sqlx::Error>>()?
        }
        Db::Sqlite(pool) => {
            let rows = sqlx::query(sql).bind(ts(since)).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    let started: String = r.try_get(1)?;
                    let seen: String = r.try_get(2)?;
                    Ok((r.try_get(0)?, time_of(&started)?, time_of(&seen)?))
                })
                .collect::<Result<_, StoreError>>()?
        }
    };
    let alive_since = sub(now, alive_within);
    Ok(rows
        .into_iter()
        .map(|(name, started_at, last_seen_at)| Node {
            name,
            started_at,
            last_seen_at,
            alive: last_seen_at >= alive_since,
        })
        .collect())
}
