//! `notifications`: what users were told, by which channel, once per dedupe key.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;
use uuid::Uuid;

use super::{ts, Db, StoreError};

/// A notification to record.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub user_id: Uuid,
    /// `email`, `push` or `in_app`.
    pub channel: String,
    /// What it is about, e.g. `a1c_threshold`.
    pub kind: String,
    pub title: String,
    pub body: String,
    pub data: Value,
    /// A second notification with the same key is not recorded.
    pub dedupe_key: Option<String>,
    /// `SENT` for in-app (the row is the delivery), else `PENDING` until sent.
    pub status: &'static str,
}

/// A stored notification (the fields tests and operators read).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Notification {
    pub channel: String,
    pub kind: String,
    pub status: String,
    pub title: String,
    pub body: String,
    pub dedupe_key: Option<String>,
}

/// Records `n` unless its dedupe key is taken; returns whether it was recorded.
pub(crate) async fn insert_pg<'e, E: sqlx::PgExecutor<'e>>(
    executor: E,
    n: &NewNotification,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let sent_at = (n.status == "SENT").then_some(now);
    let done = sqlx::query(
        "INSERT INTO notifications
             (id, user_id, channel, kind, status, title, body, data, dedupe_key, created_at,
              sent_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(Uuid::new_v4())
    .bind(n.user_id)
    .bind(&n.channel)
    .bind(&n.kind)
    .bind(n.status)
    .bind(&n.title)
    .bind(&n.body)
    .bind(&n.data)
    .bind(n.dedupe_key.as_deref())
    .bind(now)
    .bind(sent_at)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// As [`insert_pg`], inside a SQLite transaction.
pub(crate) async fn insert_sqlite(
    conn: &mut sqlx::SqliteConnection,
    n: &NewNotification,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let sent_at = (n.status == "SENT").then(|| ts(now));
    let done = sqlx::query(
        "INSERT INTO notifications
             (id, user_id, channel, kind, status, title, body, data, dedupe_key, created_at,
              sent_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(n.user_id.to_string())
    .bind(&n.channel)
    .bind(&n.kind)
    .bind(n.status)
    .bind(&n.title)
    .bind(&n.body)
    .bind(n.data.to_string())
    .bind(n.dedupe_key.as_deref())
    .bind(ts(now))
    .bind(sent_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A user's notifications, oldest first.
///
/// # Errors
///
/// The database failed.
pub async fn list_for_user(db: &Db, user_id: Uuid) -> Result<Vec<Notification>, StoreError> {
    let sql = "SELECT channel, kind, status, title, body, dedupe_key FROM notifications
               WHERE user_id = $1 ORDER BY created_at, id";
    let rows: Vec<[Option<String>; 6]> = match db {
        Db::Postgres(pool) => {
            let rows = sqlx::query(sql).bind(user_id).fetch_all(pool).await?;
            rows.iter()
                .map(|r| text_columns(|i| r.try_get(i)))
                .collect::<Result<_, _>>()?
        }
        Db::Sqlite(pool) => {
            let rows = sqlx::query(sql)
                .bind(user_id.to_string())
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| text_columns(|i| r.try_get(i)))
                .collect::<Result<_, _>>()?
        }
    };
    Ok(rows
        .into_iter()
        .map(
            |[channel, kind, status, title, body, dedupe_key]| Notification {
                channel: channel.unwrap_or_default(),
                kind: kind.unwrap_or_default(),
                status: status.unwrap_or_default(),
                title: title.unwrap_or_default(),
                body: body.unwrap_or_default(),
                dedupe_key,
            },
        )
        .collect())
}

fn text_columns<F>(get: F) -> Result<[Option<String>; 6], sqlx::Error>
where
    F: Fn(usize) -> Result<Option<String>, sqlx::Error>,
{
    Ok([get(0)?, get(1)?, get(2)?, get(3)?, get(4)?, get(5)?])
}

/// Records `n` unless its dedupe key is taken; returns whether it was recorded.
///
/// # Errors
///
/// The database failed.
pub async fn record(db: &Db, n: &NewNotification, now: DateTime<Utc>) -> Result<bool, StoreError> {
    match db {
        Db::Postgres(pool) => insert_pg(pool, n, now).await,
        Db::Sqlite(pool) => {
            let mut conn = pool.acquire().await?;
            insert_sqlite(&mut conn, n, now).await
        }
    }
}

/// The status of the notification with `dedupe_key`, if one was recorded.
///
/// # Errors
///
/// The database failed.
pub async fn status_by_key(db: &Db, dedupe_key: &str) -> Result<Option<String>, StoreError> {
    let sql = "SELECT status FROM notifications WHERE dedupe_key = $1";
    Ok(match db {
        Db::Postgres(pool) => {
            sqlx::query_scalar(sql)
                .bind(dedupe_key)
                .fetch_optional(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            sqlx::query_scalar(sql)
                .bind(dedupe_key)
                .fetch_optional(pool)
                .await?
        }
    })
}

/// Sets the status (and error) of the notification with `dedupe_key`; `SENT` also sets
/// `sent_at`.
///
/// # Errors
///
/// The database failed.
pub async fn set_status(
    db: &Db,
    dedupe_key: &str,
    status: &str,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let sql = "UPDATE notifications
               SET status = $1, error = $2, sent_at = $3
               WHERE dedupe_key = $4";
    let sent_at = (status == "SENT").then_some(now);
    match db {
        Db::Postgres(pool) => {
            sqlx::query(sql)
                .bind(status)
                .bind(error)
                .bind(sent_at)
                .bind(dedupe_key)
                .execute(pool)
                .await?;
        }
        Db::Sqlite(pool) => {
            sqlx::query(sql)
                .bind(status)
                .bind(error)
                .bind(sent_at.map(ts))
                .bind(dedupe_key)
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}
