//! `reports`: one glucose report per user, report type and period start, with its statistics
//! as JSON and its HTML document. Generating a report again replaces the stored one.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::{time_of, ts, uuid_of, Db, StoreError};
use crate::job::payload::ReportType;
use crate::job::{clean_json, clean_text};

/// A report to store.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub user_id: Uuid,
    pub report_type: ReportType,
    /// First local day covered, included.
    pub period_start: NaiveDate,
    /// Last local day covered, included.
    pub period_end: NaiveDate,
    /// IANA zone the period's days are read in.
    pub time_zone: String,
    /// The statistics, as the handler computed them.
    pub stats: Value,
    /// The self-contained HTML document.
    pub html: String,
    /// The job that generated it.
    pub job_id: Option<Uuid>,
}

/// A stored report, with its document.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub summary: ReportSummary,
    pub stats: Value,
    pub html: String,
}

/// A stored report without its statistics and document, as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReportSummary {
    pub id: Uuid,
    pub user_id: Uuid,
    /// `weekly`, `monthly` or `quarterly`.
    pub report_type: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub time_zone: String,
    pub job_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// When the report was last (re)generated.
    pub updated_at: DateTime<Utc>,
}

/// The stored word of a report type, as the `report_type_known` CHECK accepts it.
pub fn type_name(report_type: ReportType) -> &'static str {
    match report_type {
        ReportType::Weekly => "weekly",
        ReportType::Monthly => "monthly",
        ReportType::Quarterly => "quarterly",
    }
}

const SUMMARY_COLUMNS: &str =
    "id, user_id, report_type, period_start, period_end, time_zone, job_id, created_at, updated_at";

/// Stores `report`, replacing the user's report of the same type and period start (its id and
/// `created_at` are kept), and returns the report's id.
///
/// # Errors
///
/// The database failed (an unknown user breaks the foreign key); nothing was written.
pub async fn upsert(db: &Db, report: &NewReport, now: DateTime<Utc>) -> Result<Uuid, StoreError> {
    match db {
        Db::Postgres(pool) => upsert_pg(pool, report, now).await,
        Db::Sqlite(pool) => upsert_sqlite(pool, report, now).await,
    }
}

async fn upsert_pg(
    pool: &sqlx::PgPool,
    r: &NewReport,
    now: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    let id = sqlx::query_scalar(
        "INSERT INTO reports
             (id, user_id, report_type, period_start, period_end, time_zone, stats, html,
              job_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $10)
         ON CONFLICT (user_id, report_type, period_start) DO UPDATE
         SET period_end = EXCLUDED.period_end,
             time_zone = EXCLUDED.time_zone,
             stats = EXCLUDED.stats,
             html = EXCLUDED.html,
             job_id = EXCLUDED.job_id,
             updated_at = EXCLUDED.updated_at
         RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(r.user_id)
    .bind(type_name(r.report_type))
    .bind(r.period_start)
    .bind(r.period_end)
    .bind(clean_text(&r.time_zone))
    .bind(clean_json(r.stats.clone()).to_string())
    .bind(clean_text(&r.html))
    .bind(r.job_id)
    .bind(now)
    .fetch_one(pool)
    .await?;
    Ok(id)
}

async fn upsert_sqlite(
    pool: &sqlx::SqlitePool,
    r: &NewReport,
    now: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    let id: String = sqlx::query_scalar(
        "INSERT INTO reports
             (id, user_id, report_type, period_start, period_end, time_zone, stats, html,
              job_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
         ON CONFLICT (user_id, report_type, period_start) DO UPDATE
         SET period_end = excluded.period_end,
             time_zone = excluded.time_zone,
             stats = excluded.stats,
             html = excluded.html,
             job_id = excluded.job_id,
             updated_at = excluded.updated_at
         RETURNING id",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(r.user_id.to_string())
    .bind(type_name(r.report_type))
    .bind(date_text(r.period_start))
    .bind(date_text(r.period_end))
    .bind(&r.time_zone)
    .bind(r.stats.to_string())
    .bind(&r.html)
    .bind(r.job_id.map(|id| id.to_string()))
    .bind(ts(now))
    .fetch_one(pool)
    .await?;
    uuid_of(&id)
}

/// One report by id, with its statistics and document.
///
/// # Errors
///
/// The database failed or the row cannot be read back.
pub async fn get(db: &Db, id: Uuid) -> Result<Option<Report>, StoreError> {
    let sql = format!("SELECT {SUMMARY_COLUMNS}, stats, html FROM reports WHERE id = $1");
    match db {
        Db::Postgres(pool) => {
            let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(report_from_pg).transpose()
        }
        Db::Sqlite(pool) => {
            let row = sqlx::query(&sql)
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(report_from_sqlite).transpose()
        }
    }
}

/// A user's reports without statistics and documents, newest period first.
///
/// # Errors
///
/// The database failed or a row cannot be read back.
pub async fn list_for_user(db: &Db, user_id: Uuid) -> Result<Vec<ReportSummary>, StoreError> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM reports
         WHERE user_id = $1
         ORDER BY period_start DESC, report_type"
    );
    match db {
        Db::Postgres(pool) => {
            let rows = sqlx::query(&sql).bind(user_id).fetch_all(pool).await?;
            rows.iter().map(summary_from_pg).collect()
        }
        Db::Sqlite(pool) => {
            let rows = sqlx::query(&sql)
                .bind(user_id.to_string())
                .fetch_all(pool)
                .await?;
            rows.iter().map(summary_from_sqlite).collect()
        }
    }
}

fn summary_from_pg(r: &PgRow) -> Result<ReportSummary, StoreError> {
    Ok(ReportSummary {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        report_type: r.try_get("report_type")?,
        period_start: r.try_get("period_start")?,
        period_end: r.try_get("period_end")?,
        time_zone: r.try_get("time_zone")?,
        job_id: r.try_get("job_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn report_from_pg(r: &PgRow) -> Result<Report, StoreError> {
    Ok(Report {
        summary: summary_from_pg(r)?,
        stats: r.try_get("stats")?,
        html: r.try_get("html")?,
    })
}

fn summary_from_sqlite(r: &SqliteRow) -> Result<ReportSummary, StoreError> {
    let job_id: Option<String> = r.try_get("job_id")?;
    Ok(ReportSummary {
        id: uuid_of(r.try_get("id")?)?,
        user_id: uuid_of(r.try_get("user_id")?)?,
        report_type: r.try_get("report_type")?,
        period_start: date_of(r.try_get("period_start")?)?,
        period_end: date_of(r.try_get("period_end")?)?,
        time_zone: r.try_get("time_zone")?,
        job_id: job_id.as_deref().map(uuid_of).transpose()?,
        created_at: time_of(r.try_get("created_at")?)?,
        updated_at: time_of(r.try_get("updated_at")?)?,
    })
}

fn report_from_sqlite(r: &SqliteRow) -> Result<Report, StoreError> {
    let stats: &str = r.try_get("stats")?;
    Ok(Report {
        summary: summary_from_sqlite(r)?,
        stats: serde_json::from_str(stats)
            .map_err(|err| StoreError::Corrupt(format!("report stats: {err}")))?,
        html: r.try_get("html")?,
    })
}

/// A date as SQLite stores it: `YYYY-MM-DD`.
fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// A date read from SQLite text.
fn date_of(text: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|err| StoreError::Corrupt(format!("date {text:?}: {err}")))
}

/// Whether the user has a report of this type starting on `period_start`.
///
/// # Errors
///
/// The database failed.
pub async fn exists(
    db: &Db,
    user_id: Uuid,
    report_type: ReportType,
    period_start: NaiveDate,
) -> Result<bool, StoreError> {
    let sql = "SELECT 1 FROM reports
               WHERE user_id = $1 AND report_type = $2 AND period_start = $3";
    let kind = type_name(report_type);
    let found: Option<i32> = match db {
        Db::Postgres(pool) => {
            sqlx::query_scalar(sql)
                .bind(user_id)
                .bind(kind)
                .bind(period_start)
                .fetch_optional(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            sqlx::query_scalar(sql)
                .bind(user_id.to_string())
                .bind(kind)
                .bind(period_start.to_string())
                .fetch_optional(pool)
                .await?
        }
    };
    Ok(found.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_as_fixed_width_text() {
        let date = NaiveDate::from_ymd_opt(2016, 10, 4).expect("a valid date");

        assert_eq!(date_text(date), "2016-10-04");
        assert_eq!(date_of("2016-10-04").ok(), Some(date));
        assert!(date_of("2016-10-4x").is_err());
    }
}
