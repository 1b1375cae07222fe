//! Readings coming in, from the CLI or the HTTP API: a file of readings, or one reading the
//! user just logged. Either way the readings and their `CALCULATE_A1C` job are written in one
//! transaction, so a reading is never stored without the calculation that covers it.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use uuid::Uuid;

use crate::cgm::import::{self, ImportError, MAX_GLUCOSE_MG_DL};
use crate::job::payload::{CalculateA1c, CalculationType};
use crate::job::{NewJob, CALCULATE_A1C};
use crate::store::reading::{self, NewReading};
use crate::store::{user, Db, StoreError};

/// Source of readings logged one at a time by the app.
pub const APP_SOURCE: &str = "app";

/// Why readings were refused; nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntakeError {
    /// The time zone is not an IANA zone.
    #[error("unknown time zone {0:?}")]
    UnknownZone(String),
    /// The file cannot be read as readings (the message names the line).
    #[error("cannot import the file: {0}")]
    File(#[from] ImportError),
    /// A glucose value outside (0, 1000] mg/dL, or not a number.
    #[error("field `value_mg_dl`: must be above 0 and at most {MAX_GLUCOSE_MG_DL}")]
    Value,
    /// A source name that is blank or too long.
    #[error("field `source`: must be 1 to 64 characters, without NUL")]
    Source,
    /// A reading for the user, time and source is already stored.
    #[error("a reading for this user, time and source is already stored")]
    Duplicate,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import of a file wrote.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportSummary {
    pub user_id: Uuid,
    /// `dexcom`, `libreview` or `csv`.
    pub format: &'static str,
    pub readings_in_file: usize,
    pub inserted: u64,
    pub skipped_duplicates: u64,
    pub low_stored_as_limit: usize,
    pub high_stored_as_limit: usize,
    /// The batch CALCULATE_A1C job enqueued with the readings.
    pub job_id: Uuid,
}

/// A reading the app logged.
#[derive(Debug, Clone)]
pub struct LoggedReading {
    pub user_id: Uuid,
    pub measured_at: DateTime<Utc>,
    pub value_mg_dl: f64,
    /// Default [`APP_SOURCE`].
    pub source: Option<String>,
}

/// What logging one reading wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Logged {
    pub reading_id: Uuid,
    /// The immediate CALCULATE_A1C job naming the reading.
    pub job_id: Uuid,
}

/// Parses `data`, stores its readings for `user_id` (created if new, in `timezone` or UTC) and
/// enqueues one batch CALCULATE_A1C, in one transaction. A broken file writes nothing.
///
/// Local times are read in `timezone`, else the user's zone, else UTC.
///
/// # Errors
///
/// [`IntakeError`]: the zone is unknown, the file is broken, or the database failed.
pub async fn import_file(
    db: &Db,
    data: &[u8],
    user_id: Uuid,
    timezone: Option<&str>,
) -> Result<ImportSummary, IntakeError> {
    let zone_name = match timezone {
        Some(zone) => zone.to_owned(),
        None => user::get(db, user_id)
            .await?
            .map_or_else(|| "UTC".to_owned(), |u| u.timezone),
    };
    let zone: Tz = zone_name
        .parse()
        .map_err(|_| IntakeError::UnknownZone(zone_name.clone()))?;
    let parsed = import::parse_readings(data, zone)?;
    user::ensure(db, user_id, &zone_name).await?;

    let readings: Vec<NewReading> = parsed
        .readings
        .iter()
        .map(|r| NewReading {
            measured_at: r.measured_at,
            value_mg_dl: r.value_mg_dl,
        })
        .collect();
    let job = calculation(user_id, None, CalculationType::Batch);
    let source = parsed.format.source_name();
    let imported = reading::import(db, user_id, source, &readings, &job, Utc::now()).await?;
    Ok(ImportSummary {
        user_id,
        format: source,
        readings_in_file: readings.len(),
        inserted: imported.inserted,
        skipped_duplicates: imported.skipped,
        low_stored_as_limit: parsed.clamped_low,
        high_stored_as_limit: parsed.clamped_high,
        job_id: imported.job_id,
    })
}

/// Stores one reading (its user created if new, in UTC) with an immediate CALCULATE_A1C job
/// naming it, in one transaction.
///
/// # Errors
///
/// [`IntakeError::Value`] or [`IntakeError::Source`] for a bad field,
/// [`IntakeError::Duplicate`] when the reading is already stored (nothing written), or the
/// database failed.
pub async fn log_reading(db: &Db, logged: &LoggedReading) -> Result<Logged, IntakeError> {
    let value = logged.value_mg_dl;
    if !(value.is_finite() && value > 0.0 && value <= MAX_GLUCOSE_MG_DL) {
        return Err(IntakeError::Value);
    }
    let source = logged.source.as_deref().unwrap_or(APP_SOURCE);
    if source.trim().is_empty() || source.len() > 64 || source.contains('\0') {
        return Err(IntakeError::Source);
    }
    user::ensure(db, logged.user_id, "UTC").await?;

    let reading_id = Uuid::new_v4();
    let job = calculation(logged.user_id, Some(reading_id), CalculationType::Immediate);
    let reading = NewReading {
        measured_at: logged.measured_at,
        value_mg_dl: value,
    };
    let row = (reading_id, reading);
    let now = Utc::now();
    match reading::insert_with_job(db, logged.user_id, source, row, &job, now).await? {
        Some(job_id) => Ok(Logged { reading_id, job_id }),
        None => Err(IntakeError::Duplicate),
    }
}

fn calculation(user_id: Uuid, reading_id: Option<Uuid>, kind: CalculationType) -> NewJob {
    let payload = CalculateA1c {
        user_id,
        reading_id,
        calculation_type: kind,
    };
    // A struct of a uuid, an option and an enum always serializes.
    let payload = serde_json::to_value(payload).unwrap_or_default();
    NewJob::new(CALCULATE_A1C, payload).priority(kind.priority())
}
