//! `alerts`: the state of each alert rule, shared by every node.
//!
//! [`fire`] and [`resolve`] change a row only when its state differs, and say whether they
//! did: of several nodes evaluating the same rule, exactly one sees the change and notifies.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{time_of, ts, Db, StoreError};

/// A rule that is firing now.
#[derive(Debug, Clone)]
pub struct Firing<'a> {
    pub rule: &'a str,
    pub kind: &'a str,
    pub job_type: Option<&'a str>,
    pub value: f64,
    pub threshold: f64,
    pub message: &'a str,
}

/// One rule's stored state.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Alert {
    pub rule: String,
    pub kind: String,
    pub job_type: Option<String>,
    pub firing: bool,
    pub value: f64,
    pub threshold: f64,
    pub message: String,
    pub fired_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

const UPSERT: &str = "INSERT INTO alerts
         (rule, kind, job_type, firing, value, threshold, message, fired_at, resolved_at,
          updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $8)
     ON CONFLICT (rule) DO UPDATE
     SET kind = excluded.kind,
         job_type = excluded.job_type,
         firing = excluded.firing,
         value = excluded.value,
         threshold = excluded.threshold,
         message = excluded.message,
         fired_at = excluded.fired_at,
         resolved_at = NULL,
         updated_at = excluded.updated_at
     WHERE alerts.firing = $9
     RETURNING rule";

/// `$query` (of [`UPSERT`]) with `$alert`'s values bound and `$now` as the backend stores
/// times.
macro_rules! bind_firing {
    ($query:expr, $alert:expr, $now:expr) => {
        $query
            .bind($alert.rule)
            .bind($alert.kind)
            .bind($alert.job_type)
            .bind(true)
            .bind($alert.value)
            .bind($alert.threshold)
            .bind($alert.message)
            .bind($now)
            .bind(false)
    };
}

/// Marks `alert` firing unless it already is. Returns whether this call changed it.
///
/// # Errors
///
/// The database failed; nothing changed.
pub async fn fire(db: &Db, alert: &Firing<'_>, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let row = match db {
        Db::Postgres(pool) => {
            let q = bind_firing!(sqlx::query(UPSERT), alert, now);
            q.fetch_optional(pool).await?.is_some()
        }
        Db::Sqlite(pool) => {
            let q = bind_firing!(sqlx::query(UPSERT), alert, ts(now));
            q.fetch_optional(pool).await?.is_some()
        }
    };
    Ok(row)
}

/// Marks `rule` resolved if it is firing. Returns whether this call changed it.
///
/// # Errors
///
/// The database failed; nothing changed.
pub async fn resolve(db: &Db, rule: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let sql = "UPDATE alerts
               SET firing = $3, resolved_at = $2, updated_at = $2
               WHERE rule = $1 AND firing = $4";
    let done = match db {
        Db::Postgres(pool) => {
            let q = sqlx::query(sql).bind(rule).bind(now).bind(false).bind(true);
            q.execute(pool).await?
        }
        .rows_affected(),
        Db::Sqlite(pool) => {
            let q = sqlx::query(sql)
                .bind(rule)
                .bind(ts(now))
                .bind(false)
                .bind(true);
            q.execute(pool).await?
        }
        .rows_affected(),
    };
    Ok(done == 1)
}

/// An `alerts` row as read, with the times of type `T` as the backend gives them.
type RawAlert<T> = (
    String,
    String,
    Option<String>,
    bool,
    f64,
    f64,
    String,
    T,
    Option<T>,
    T,
);

fn alert_of<T>(
    raw: RawAlert<T>,
    time: impl Fn(T) -> Result<DateTime<Utc>, StoreError>,
) -> Result<Alert, StoreError> {
    let (rule, kind, job_type, firing, value, threshold, message, fired, resolved, updated) = raw;
    Ok(Alert {
        rule,
        kind,
        job_type,
        firing,
        value,
        threshold,
        message,
        fired_at: time(fired)?,
        resolved_at: resolved.map(&time).transpose()?,
        updated_at: time(updated)?,
    })
}

/// Every rule's state: firing ones first, then the most recently fired.
///
/// # Errors
///
/// The database failed or a row is corrupt.
pub async fn list(db: &Db) -> Result<Vec<Alert>, StoreError> {
    let sql = "SELECT rule, kind, job_type, firing, value, threshold, message, fired_at,
                      resolved_at, updated_at
               FROM alerts
               ORDER BY firing DESC, fired_at DESC, rule";
    match db {
        Db::Postgres(pool) => {
            let rows: Vec<RawAlert<DateTime<Utc>>> = sqlx::query_as(sql).fetch_all(pool).await?;
            rows.into_iter().map(|raw| alert_of(raw, Ok)).collect()
        }
        Db::Sqlite(pool) => {
            let rows: Vec<RawAlert<String>> = sqlx::query_as(sql).fetch_all(pool).await?;
            rows.into_iter()
                .map(|raw| alert_of(raw, |t| time_of(&t)))
                .collect()
        }
    }
}
