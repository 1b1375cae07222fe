//! `a1c_estimates`: one A1C estimate per user and window end, written together with the
//! coalescing of the user's other pending calculations and any threshold notification.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::notification::{insert_pg, insert_sqlite, NewNotification};
use super::{time_of, ts, uuid_of, Db, StoreError};

/// An estimate as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Estimate {
    pub user_id: Uuid,
    /// Readings after this instant count.
    pub window_start: DateTime<Utc>,
    /// The newest reading counted.
    pub window_end: DateTime<Utc>,
    pub reading_count: i32,
    pub mean_glucose_mg_dl: f64,
    pub gmi_percent: f64,
    pub estimated_a1c_percent: f64,
    pub days_with_data: i32,
    pub coverage_percent: f64,
    pub is_sufficient: bool,
    pub job_id: Option<Uuid>,
}

/// The readings an estimate is computed from, read inside the refresh transaction.
#[derive(Debug, Clone)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `(measured_at, mg/dL)`, oldest first.
    pub readings: Vec<(DateTime<Utc>, f64)>,
    /// The user's latest estimate that ended before this window.
    pub previous: Option<Estimate>,
}

/// Which calculation asks, and for what.
#[derive(Debug, Clone, Copy)]
pub struct RefreshRequest {
    pub user_id: Uuid,
    pub job_id: Uuid,
    /// When the job was claimed: pending calculations without a reading created before it
    /// are covered by this one.
    pub claimed_at: DateTime<Utc>,
    pub window: Duration,
}

/// What a refresh wrote.
#[derive(Debug, Clone)]
pub enum Refresh {
    /// The user has no reading; nothing was stored.
    NoReadings { coalesced: u64 },
    /// The estimate was stored (replacing one with the same window end).
    Saved {
        estimate: Estimate,
        notified: bool,
        coalesced: u64,
    },
}

/// Recomputes a user's estimate in one transaction:
///
/// 1. the user's other due CALCULATE_A1C jobs with a well-formed payload whose reading is
///    already stored are completed as coalesced into this one: this statement runs first, so
///    every reading it sees is also seen by the read that follows;
/// 2. the readings of the trailing window ending at the user's newest reading are read;
/// 3. `compute` turns them into an estimate and maybe a notification, which are stored.
///
/// # Errors
///
/// The database failed; nothing was written.
pub async fn refresh<F>(
    db: &Db,
    request: RefreshRequest,
    now: DateTime<Utc>,
    compute: F,
) -> Result<Refresh, StoreError>
where
    F: FnOnce(&Window) -> (Estimate, Option<NewNotification>),
{
    match db {
        Db::Postgres(pool) => refresh_pg(pool, request, now, compute).await,
        Db::Sqlite(pool) => refresh_sqlite(pool, request, now, compute).await,
    }
}

fn window_start(end: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    chrono::TimeDelta::from_std(window)
        .ok()
        .and_then(|w| end.checked_sub_signed(w))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

async fn refresh_pg<F>(
    pool: &sqlx::PgPool,
    request: RefreshRequest,
    now: DateTime<Utc>,
    compute: F,
) -> Result<Refresh, StoreError>
where
    F: FnOnce(&Window) -> (Estimate, Option<NewNotification>),
{
    let mut tx = pool.begin().await?;
    let coalesced = sqlx::query(
        "UPDATE job_queue AS j
         SET status = 'COMPLETED', processed_at = $1, updated_at = $1, error = NULL,
             result = jsonb_build_object('coalesced_into', $2::text)
         WHERE j.job_type = 'CALCULATE_A1C'
           AND j.status IN ('PENDING', 'RETRY')
           AND j.run_at <= $1
           AND j.id <> $2
           AND jsonb_typeof(j.payload) = 'object'
           AND COALESCE(j.payload->>'calculation_type', 'immediate') IN ('immediate', 'batch')
           AND j.payload->>'user_id' = $3
           AND CASE WHEN j.payload->>'reading_id' IS NULL THEN j.created_at <= $5
                    ELSE EXISTS (SELECT 1 FROM glucose_readings AS r
                                 WHERE r.id::text = j.payload->>'reading_id'
                                   AND r.user_id = $4)
               END",
    )
    .bind(now)
    .bind(request.job_id)
    .bind(request.user_id.to_string())
    .bind(request.user_id)
    .bind(request.claimed_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();

    let end: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT max(measured_at) FROM glucose_readings WHERE user_id = $1")
            .bind(request.user_id)
            .fetch_one(&mut *tx)
            .await?;
    let Some(end) = end else {
        tx.commit().await?;
        return Ok(Refresh::NoReadings { coalesced });
    };
    let start = window_start(end, request.window);
    let rows = sqlx::query(
        "SELECT measured_at, value_mg_dl FROM glucose_readings
         WHERE user_id = $1 AND measured_at > $2 AND measured_at <= $3
         ORDER BY measured_at",
    )
    .bind(request.user_id)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *tx)
    .await?;
    let readings = rows
        .iter()
        .map(|r| Ok((r.try_get("measured_at")?, r.try_get("value_mg_dl")?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let previous = sqlx::query(&format!(
        "SELECT {ESTIMATE_COLUMNS} FROM a1c_estimates
         WHERE user_id = $1 AND window_end < $2
         ORDER BY window_end DESC LIMIT 1"
    ))
    .bind(request.user_id)
    .bind(end)
    .fetch_optional(&mut *tx)
    .await?
    .as_ref()
    .map(estimate_from_pg)
    .transpose()?;

    let window = Window {
        start,
        end,
        readings,
        previous,
    };
    let (estimate, notification) = compute(&window);
    upsert_pg(&mut tx, &estimate, now).await?;
    let notified = match &notification {
        Some(n) => insert_pg(&mut *tx, n, now).await?,
        None => false,
    };
    tx.commit().await?;
    Ok(Refresh::Saved {
        estimate,
        notified,
        coalesced,
    })
}

async fn upsert_pg(
    tx: &mut sqlx::PgConnection,
    e: &Estimate,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO a1c_estimates
             (id, user_id, window_start, window_end, reading_count, mean_glucose_mg_dl,
              gmi_percent, estimated_a1c_percent, days_with_data, coverage_percent,
              is_sufficient, job_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (user_id, window_end) DO UPDATE
         SET window_start = EXCLUDED.window_start,
             reading_count = EXCLUDED.reading_count,
             mean_glucose_mg_dl = EXCLUDED.mean_glucose_mg_dl,
             gmi_percent = EXCLUDED.gmi_percent,
             estimated_a1c_percent = EXCLUDED.estimated_a1c_percent,
             days_with_data = EXCLUDED.days_with_data,
             coverage_percent = EXCLUDED.coverage_percent,
             is_sufficient = EXCLUDED.is_sufficient,
             job_id = EXCLUDED.job_id",
    )
    .bind(Uuid::new_v4())
    .bind(e.user_id)
    .bind(e.window_start)
    .bind(e.window_end)
    .bind(e.reading_count)
    .bind(e.mean_glucose_mg_dl)
    .bind(e.gmi_percent)
    .bind(e.estimated_a1c_percent)
    .bind(e.days_with_data)
    .bind(e.coverage_percent)
    .bind(e.is_sufficient)
    .bind(e.job_id)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

async fn refresh_sqlite<F>(
    pool: &sqlx::SqlitePool,
    request: RefreshRequest,
    now: DateTime<Utc>,
    compute: F,
) -> Result<Refresh, StoreError>
where
    F: FnOnce(&Window) -> (Estimate, Option<NewNotification>),
{
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let user = request.user_id.to_string();
    let coalesced = sqlx::query(
        "UPDATE job_queue
         SET status = 'COMPLETED', processed_at = ?1, updated_at = ?1, error = NULL,
             result = json_object('coalesced_into', ?2)
         WHERE job_type = 'CALCULATE_A1C'
           AND status IN ('PENDING', 'RETRY')
           AND run_at <= ?1
           AND id <> ?2
           AND json_type(payload) = 'object'
           AND COALESCE(json_extract(payload, '$.calculation_type'), 'immediate')
               IN ('immediate', 'batch')
           AND json_extract(payload, '$.user_id') = ?3
           AND CASE WHEN json_extract(payload, '$.reading_id') IS NULL THEN created_at <= ?4
                    ELSE EXISTS (SELECT 1 FROM glucose_readings AS r
                                 WHERE r.id = json_extract(job_queue.payload, '$.reading_id')
                                   AND r.user_id = ?3)
               END",
    )
    .bind(ts(now))
    .bind(request.job_id.to_string())
    .bind(&user)
    .bind(ts(request.claimed_at))
    .execute(&mut *tx)
    .await?
    .rows_affected();

    let end: Option<String> =
        sqlx::query_scalar("SELECT max(measured_at) FROM glucose_readings WHERE user_id = ?1")
            .bind(&user)
            .fetch_one(&mut *tx)
            .await?;
    let Some(end) = end.as_deref().map(time_of).transpose()? else {
        tx.commit().await?;
        return Ok(Refresh::NoReadings { coalesced });
    };
    let start = window_start(end, request.window);
    let rows = sqlx::query(
        "SELECT measured_at, value_mg_dl FROM glucose_readings
         WHERE user_id = ?1 AND measured_at > ?2 AND measured_at <= ?3
         ORDER BY measured_at",
    )
    .bind(&user)
    .bind(ts(start))
    .bind(ts(end))
    .fetch_all(&mut *tx)
    .await?;
    let readings = rows
        .iter()
        .map(|r| {
            Ok((
                time_of(r.try_get("measured_at")?)?,
                r.try_get("value_mg_dl")?,
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let previous = sqlx::query(&format!(
        "SELECT {ESTIMATE_COLUMNS} FROM a1c_estimates
         WHERE user_id = ?1 AND window_end < ?2
         ORDER BY window_end DESC LIMIT 1"
    ))
    .bind(&user)
    .bind(ts(end))
    .fetch_optional(&mut *tx)
    .await?
    .as_ref()
    .map(estimate_from_sqlite)
    .transpose()?;

    let window = Window {
        start,
        end,
        readings,
        previous,
    };
    let (estimate, notification) = compute(&window);
    upsert_sqlite(&mut tx, &estimate, now).await?;
    let notified = match &notification {
        Some(n) => insert_sqlite(&mut tx, n, now).await?,
        None => false,
    };
    tx.commit().await?;
    Ok(Refresh::Saved {
        estimate,
        notified,
        coalesced,
    })
}

async fn upsert_sqlite(
    tx: &mut sqlx::SqliteConnection,
    e: &Estimate,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO a1c_estimates
             (id, user_id, window_start, window_end, reading_count, mean_glucose_mg_dl,
              gmi_percent, estimated_a1c_percent, days_with_data, coverage_percent,
              is_sufficient, job_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (user_id, window_end) DO UPDATE
         SET window_start = excluded.window_start,
             reading_count = excluded.reading_count,
             mean_glucose_mg_dl = excluded.mean_glucose_mg_dl,
             gmi_percent = excluded.gmi_percent,
             estimated_a1c_percent = excluded.estimated_a1c_percent,
             days_with_data = excluded.days_with_data,
             coverage_percent = excluded.coverage_percent,
             is_sufficient = excluded.is_sufficient,
             job_id = excluded.job_id",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(e.user_id.to_string())
    .bind(ts(e.window_start))
    .bind(ts(e.window_end))
    .bind(e.reading_count)
    .bind(e.mean_glucose_mg_dl)
    .bind(e.gmi_percent)
    .bind(e.estimated_a1c_percent)
    .bind(e.days_with_data)
    .bind(e.coverage_percent)
    .bind(e.is_sufficient)
    .bind(e.job_id.map(|id| id.to_string()))
    .bind(ts(now))
    .execute(tx)
    .await?;
    Ok(())
}

const ESTIMATE_COLUMNS: &str = "user_id, window_start, window_end, reading_count, \
    mean_glucose_mg_dl, gmi_percent, estimated_a1c_percent, days_with_data, coverage_percent, \
    is_sufficient, job_id";

fn estimate_from_pg(r: &PgRow) -> Result<Estimate, StoreError> {
    Ok(Estimate {
        user_id: r.try_get("user_id")?,
        window_start: r.try_get("window_start")?,
        window_end: r.try_get("window_end")?,
        reading_count: r.try_get("reading_count")?,
        mean_glucose_mg_dl: r.try_get("mean_glucose_mg_dl")?,
        gmi_percent: r.try_get("gmi_percent")?,
        estimated_a1c_percent: r.try_get("estimated_a1c_percent")?,
        days_with_data: r.try_get("days_with_data")?,
        coverage_percent: r.try_get("coverage_percent")?,
        is_sufficient: r.try_get("is_sufficient")?,
        job_id: r.try_get("job_id")?,
    })
}

fn estimate_from_sqlite(r: &SqliteRow) -> Result<Estimate, StoreError> {
    let job_id: Option<String> = r.try_get("job_id")?;
    Ok(Estimate {
        user_id: uuid_of(r.try_get("user_id")?)?,
        window_start: time_of(r.try_get("window_start")?)?,
        window_end: time_of(r.try_get("window_end")?)?,
        reading_count: r.try_get("reading_count")?,
        mean_glucose_mg_dl: r.try_get("mean_glucose_mg_dl")?,
        gmi_percent: r.try_get("gmi_percent")?,
        estimated_a1c_percent: r.try_get("estimated_a1c_percent")?,
        days_with_data: r.try_get("days_with_data")?,
        coverage_percent: r.try_get("coverage_percent")?,
        is_sufficient: r.try_get("is_sufficient")?,
        job_id: job_id.as_deref().map(uuid_of).transpose()?,
    })
}

/// A user's estimates, newest first.
///
/// # Errors
///
/// The database failed.
pub async fn list_for_user(db: &Db, user_id: Uuid) -> Result<Vec<Estimate>, StoreError> {
    let sql = format!(
        "SELECT {ESTIMATE_COLUMNS} FROM a1c_estimates WHERE user_id = $1 ORDER BY window_end DESC"
    );
    match db {
        Db::Postgres(pool) => {
            let rows = sqlx::query(&sql).bind(user_id).fetch_all(pool).await?;
            rows.iter().map(estimate_from_pg).collect()
        }
        Db::Sqlite(pool) => {
            let rows = sqlx::query(&sql)
                .bind(user_id.to_string())
                .fetch_all(pool)
                .await?;
            rows.iter().map(estimate_from_sqlite).collect()
        }
    }
}

/// The estimate as JSON, for job results and the CLI.
pub fn to_json(estimate: &Estimate) -> Value {
    serde_json::to_value(estimate).unwrap_or(Value::Null)
}
