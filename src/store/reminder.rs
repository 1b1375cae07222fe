//! `reminder_preferences`: when and how each user wants a reading reminder, and the next slot.
//!
//! `next_reminder_at` is the UTC instant of the next slot. The reminder sweep reads enabled rows
//! whose slot has come ([`due`]); the `SEND_REMINDER` handler moves the slot on with
//! [`advance`], a compare-and-set on the slot it served, so a slot is advanced once however many
//! attempts or nodes get there.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::{opt_time_of, time_of, ts, uuid_of, Db, StoreError};
use crate::job::payload::{NotificationMethod, ReminderType};

/// A preference to create or replace (one per user, type and method).
#[derive(Debug, Clone)]
pub struct NewPreference {
    pub user_id: Uuid,
    pub reminder_type: ReminderType,
    pub method: NotificationMethod,
    /// Local wall-clock time `HH:MM` of a daily or weekly reminder.
    pub local_time: String,
    /// Day of a weekly reminder, Sunday 0 to Saturday 6.
    pub weekday: Option<i16>,
    /// The 5-field cron expression of a custom reminder.
    pub cron: Option<String>,
    /// IANA zone; `None` means the user's own.
    pub time_zone: Option<String>,
    pub enabled: bool,
}

/// A stored preference, with the zone its slots are read in.
#[derive(Debug, Clone, PartialEq)]
pub struct Preference {
    pub id: Uuid,
    pub user_id: Uuid,
    pub reminder_type: ReminderType,
    pub method: NotificationMethod,
    pub local_time: String,
    pub weekday: Option<i16>,
    pub cron: Option<String>,
    pub time_zone: Option<String>,
    /// `time_zone`, else the user's (`users.timezone`).
    pub zone: String,
    pub enabled: bool,
    /// The next slot (UTC); `None` until one is computed.
    pub next_reminder_at: Option<DateTime<Utc>>,
    pub last_sent_at: Option<DateTime<Utc>>,
}

/// An enabled preference whose slot has come, as the sweep reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub id: Uuid,
    pub user_id: Uuid,
    pub reminder_type: ReminderType,
    pub method: NotificationMethod,
    /// The slot that has come.
    pub slot: DateTime<Utc>,
}

/// The stored word of a reminder type, as the `reminder_type_known` CHECK accepts it.
pub fn type_word(kind: ReminderType) -> &'static str {
    match kind {
        ReminderType::Daily => "daily",
        ReminderType::Weekly => "weekly",
        ReminderType::Custom => "custom",
    }
}

/// The stored word of a method, as the `reminder_method_known` CHECK accepts it.
pub fn method_word(method: NotificationMethod) -> &'static str {
    match method {
        NotificationMethod::Email => "email",
        NotificationMethod::Push => "push",
        NotificationMethod::InApp => "in_app",
    }
}

fn parse_type(word: &str) -> Result<ReminderType, StoreError> {
    [
        ReminderType::Daily,
        ReminderType::Weekly,
        ReminderType::Custom,
    ]
    .into_iter()
    .find(|kind| type_word(*kind) == word)
    .ok_or_else(|| StoreError::Corrupt(format!("reminder type {word:?}")))
}

fn parse_method(word: &str) -> Result<NotificationMethod, StoreError> {
    [
        NotificationMethod::Email,
        NotificationMethod::Push,
        NotificationMethod::InApp,
    ]
    .into_iter()
    .find(|method| method_word(*method) == word)
    .ok_or_else(|| StoreError::Corrupt(format!("reminder method {word:?}")))
}

/// Creates or replaces the user's preference of this type and method, with its first slot.
/// Returns its id.
///
/// # Errors
///
/// The database failed or refused the row (a CHECK names the bad field).
pub async fn upsert(
    db: &Db,
    new: &NewPreference,
    next_reminder_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    let sql = "INSERT INTO reminder_preferences
                   (id, user_id, reminder_type, method, local_time, weekday, cron, time_zone,
                    enabled, next_reminder_at, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
               ON CONFLICT (user_id, reminder_type, method) DO UPDATE
               SET local_time = excluded.local_time,
                   weekday = excluded.weekday,
                   cron = excluded.cron,
                   time_zone = excluded.time_zone,
                   enabled = excluded.enabled,
                   next_reminder_at = excluded.next_reminder_at
               RETURNING id";
    let (kind, method) = (type_word(new.reminder_type), method_word(new.method));
    match db {
        Db::Postgres(pool) => Ok(sqlx::query_scalar(sql)
            .bind(Uuid::new_v4())
            .bind(new.user_id)
            .bind(kind)
            .bind(method)
            .bind(&new.local_time)
            .bind(new.weekday)
            .bind(new.cron.as_deref())
            .bind(new.time_zone.as_deref())
            .bind(new.enabled)
            .bind(next_reminder_at)
            .bind(now)
            .fetch_one(pool)
            .await?),
        Db::Sqlite(pool) => {
            let id: String = sqlx::query_scalar(sql)
                .bind(Uuid::new_v4().to_string())
                .bind(new.user_id.to_string())
                .bind(kind)
                .bind(method)
                .bind(&new.local_time)
                .bind(new.weekday)
                .bind(new.cron.as_deref())
                .bind(new.time_zone.as_deref())
                .bind(new.enabled)
                .bind(next_reminder_at.map(ts))
                .bind(ts(now))
                .fetch_one(pool)
                .await?;
            uuid_of(&id)
        }
    }
}

const SELECT: &str = "SELECT p.id, p.user_id, p.reminder_type, p.method, p.local_time,
                             p.weekday, p.cron, p.time_zone, COALESCE(p.time_zone, u.timezone)
                             AS zone, p.enabled, p.next_reminder_at, p.last_sent_at
                      FROM reminder_preferences p JOIN users u ON u.id = p.user_id";

/// The user's preference of this type and method, if any.
///
/// # Errors
///
/// The database failed, or a stored value is corrupt.
pub async fn find(
    db: &Db,
    user_id: Uuid,
    kind: ReminderType,
    method: NotificationMethod,
) -> Result<Option<Preference>, StoreError> {
    let sql = format!("{SELECT} WHERE p.user_id = $1 AND p.reminder_type = $2 AND p.method = $3");
    let (kind, method) = (type_word(kind), method_word(method));
    match db {
        Db::Postgres(pool) => {
            let row = sqlx::query(&sql)
                .bind(user_id)
                .bind(kind)
                .bind(method)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(pg_preference).transpose()
        }
        Db::Sqlite(pool) => {
            let row = sqlx::query(&sql)
                .bind(user_id.to_string())
                .bind(kind)
                .bind(method)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(sqlite_preference).transpose()
        }
    }
}

/// Up to `limit` enabled preferences without a slot yet: rows the app wrote itself, which the
/// reminder sweep schedules with [`schedule_first`].
///
/// # Errors
///
/// The database failed, or a stored value is corrupt.
pub async fn unscheduled(db: &Db, limit: u32) -> Result<Vec<Preference>, StoreError> {
    let sql = format!(
        "{SELECT} WHERE p.enabled AND p.next_reminder_at IS NULL ORDER BY p.created_at LIMIT $1"
    );
    let limit = i64::from(limit);
    match db {
        Db::Postgres(pool) => {
            let rows = sqlx::query(&sql).bind(limit).fetch_all(pool).await?;
            rows.iter().map(pg_preference).collect()
        }
        Db::Sqlite(pool) => {
            let rows = sqlx::query(&sql).bind(limit).fetch_all(pool).await?;
            rows.iter().map(sqlite_preference).collect()
        }
    }
}

/// Sets the first slot of a preference that has none; returns whether it was set.
///
/// # Errors
///
/// The database failed.
pub async fn schedule_first(db: &Db, id: Uuid, next: DateTime<Utc>) -> Result<bool, StoreError> {
    let sql = "UPDATE reminder_preferences SET next_reminder_at = $1
               WHERE id = $2 AND next_reminder_at IS NULL";
    let set = match db {
        Db::Postgres(pool) => sqlx::query(sql)
            .bind(next)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected(),
        Db::Sqlite(pool) => sqlx::query(sql)
            .bind(ts(next))
            .bind(id.to_string())
            .execute(pool)
            .await?
            .rows_affected(),
    };
    Ok(set == 1)
}

fn pg_preference(r: &PgRow) -> Result<Preference, StoreError> {
    preference(
        r.try_get("id")?,
        r.try_get("user_id")?,
        r,
        r.try_get("next_reminder_at")?,
        r.try_get("last_sent_at")?,
    )
}

fn sqlite_preference(r: &SqliteRow) -> Result<Preference, StoreError> {
    preference(
        uuid_of(r.try_get("id")?)?,
        uuid_of(r.try_get("user_id")?)?,
        r,
        opt_time_of(r.try_get("next_reminder_at")?)?,
        opt_time_of(r.try_get("last_sent_at")?)?,
    )
}

/// Builds a [`Preference`] from the columns both backends store alike.
fn preference<R>(
    id: Uuid,
    user_id: Uuid,
    row: &R,
    next_reminder_at: Option<DateTime<Utc>>,
    last_sent_at: Option<DateTime<Utc>>,
) -> Result<Preference, StoreError>
where
    R: Row,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i16>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let kind: String = row.try_get("reminder_type")?;
    let method: String = row.try_get("method")?;
    Ok(Preference {
        id,
        user_id,
        reminder_type: parse_type(&kind)?,
        method: parse_method(&method)?,
        local_time: row.try_get("local_time")?,
        weekday: row.try_get("weekday")?,
        cron: row.try_get("cron")?,
        time_zone: row.try_get("time_zone")?,
        zone: row.try_get("zone")?,
        enabled: row.try_get("enabled")?,
        next_reminder_at,
        last_sent_at,
    })
}

/// Up to `limit` enabled preferences whose slot is at or before `now`, earliest slot first.
///
/// # Errors
///
/// The database failed, or a stored value is corrupt.
pub async fn due(db: &Db, now: DateTime<Utc>, limit: u32) -> Result<Vec<Due>, StoreError> {
    let sql = "SELECT id, user_id, reminder_type, method, next_reminder_at
               FROM reminder_preferences
               WHERE enabled AND next_reminder_at <= $1
               ORDER BY next_reminder_at, id
               LIMIT $2";
    let limit = i64::from(limit);
    let rows: Vec<(Uuid, Uuid, String, String, DateTime<Utc>)> = match db {
        Db::Postgres(pool) => {
            sqlx::query_as(sql)
                .bind(now)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(sql)
                .bind(ts(now))
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.into_iter()
                .map(|(id, user, kind, method, slot)| {
                    Ok((
                        uuid_of(&id)?,
                        uuid_of(&user)?,
                        kind,
                        method,
                        time_of(&slot)?,
                    ))
                })
                .collect::<Result<_, StoreError>>()?
        }
    };
    rows.into_iter()
        .map(|(id, user_id, kind, method, slot)| {
            Ok(Due {
                id,
                user_id,
                reminder_type: parse_type(&kind)?,
                method: parse_method(&method)?,
                slot,
            })
        })
        .collect()
}

/// Moves the preference from `slot` on to `next`, and sets `last_sent_at` when `sent_at` is
/// given. Returns whether it moved: `false` when the slot was already advanced (by an earlier
/// attempt or another node) or the preference is gone.
///
/// # Errors
///
/// The database failed.
pub async fn advance(
    db: &Db,
    id: Uuid,
    slot: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
    sent_at: Option<DateTime<Utc>>,
) -> Result<bool, StoreError> {
    let sql = "UPDATE reminder_preferences
               SET next_reminder_at = $1, last_sent_at = COALESCE($2, last_sent_at)
               WHERE id = $3 AND next_reminder_at = $4";
    let moved = match db {
        Db::Postgres(pool) => sqlx::query(sql)
            .bind(next)
            .bind(sent_at)
            .bind(id)
            .bind(slot)
            .execute(pool)
            .await?
            .rows_affected(),
        Db::Sqlite(pool) => sqlx::query(sql)
            .bind(next.map(ts))
            .bind(sent_at.map(ts))
            .bind(id.to_string())
            .bind(ts(slot))
            .execute(pool)
            .await?
            .rows_affected(),
    };
    Ok(moved == 1)
}
