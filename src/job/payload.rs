//! The seed's payloads, validated into typed structs.
//!
//! A payload that does not parse is refused at enqueue (nothing is inserted) and, when it was
//! inserted directly in SQL, fails its job with an error naming the field.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{CALCULATE_A1C, CLEANUP_DATA, GENERATE_REPORT, SEND_REMINDER};

/// Why a payload was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// A field is missing, of the wrong type or out of range.
    #[error("invalid payload for {job_type}: {message}")]
    Invalid { job_type: String, message: String },
    /// No handler knows this job type.
    #[error(
        "unknown job type {0:?} \
         (known: CALCULATE_A1C, SEND_REMINDER, GENERATE_REPORT, CLEANUP_DATA)"
    )]
    UnknownJobType(String),
}

/// Whether an A1C calculation answers a new reading or is background work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CalculationType {
    /// After a reading the user just logged; outranks batch work.
    #[default]
    Immediate,
    /// After an import or on a schedule.
    Batch,
}

impl CalculationType {
    /// The priority a job of this kind gets (lower runs first).
    pub fn priority(self) -> i16 {
        match self {
            Self::Immediate => 3,
            Self::Batch => 7,
        }
    }
}

/// `CALCULATE_A1C`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CalculateA1c {
    pub user_id: Uuid,
    /// The reading that triggered the calculation, if any.
    #[serde(default)]
    pub reading_id: Option<Uuid>,
    #[serde(default)]
    pub calculation_type: CalculationType,
}

/// How a reminder reaches the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationMethod {
    Email,
    Push,
    InApp,
}

/// How often a reminder repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReminderType {
    Daily,
    Weekly,
    Custom,
}

/// `SEND_REMINDER`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendReminder {
    pub user_id: Uuid,
    pub reminder_type: ReminderType,
    pub notification_method: NotificationMethod,
    /// The slot (UTC) the reminder sweep enqueued it for; absent in jobs the app inserts,
    /// which serve the preference's due slot, or else remind now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<DateTime<Utc>>,
}

/// The period a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportType {
    Weekly,
    Monthly,
    Quarterly,
}

/// Inclusive first and last day of a report.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct DateRange {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// Most days a report may cover: a quarter (at most 92 days) with room to spare.
pub const MAX_REPORT_DAYS: i64 = 100;

/// Why a report's date range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DateRangeError {
    /// The last day comes before the first.
    #[error("end is before start")]
    EndBeforeStart,
    /// The range covers more than [`MAX_REPORT_DAYS`] days.
    #[error("{0} days is longer than the {MAX_REPORT_DAYS} a report may cover")]
    TooLong(i64),
    /// A date lies outside the years 1900 to 9999.
    #[error("dates must lie in the years 1900 to 9999")]
    YearOutOfRange,
}

impl DateRange {
    /// Days covered, both ends included (0 or less when `end` is before `start`).
    pub fn num_days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }

    /// Whether a report can cover the range: `end` not before `start`, at most
    /// [`MAX_REPORT_DAYS`] days, years 1900 to 9999.
    ///
    /// # Errors
    ///
    /// The first rule the range breaks.
    pub fn check(&self) -> Result<(), DateRangeError> {
        if self.end < self.start {
            return Err(DateRangeError::EndBeforeStart);
        }
        if self.num_days() > MAX_REPORT_DAYS {
            return Err(DateRangeError::TooLong(self.num_days()));
        }
        if self.start.year() < 1900 || self.end.year() > 9999 {
            return Err(DateRangeError::YearOutOfRange);
        }
        Ok(())
    }
}

/// `GENERATE_REPORT`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenerateReport {
    pub user_id: Uuid,
    pub report_type: ReportType,
    pub date_range: DateRange,
}

/// What cleanup does with old rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CleanupType {
    /// Move rows to `<table>_archive`.
    Archive,
    /// Delete rows for good.
    Delete,
}

impl CleanupType {
    /// The payload's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Archive => "archive",
            Self::Delete => "delete",
        }
    }
}

/// The most days `older_than_days` (and a `job_queue` retention) may name: 100 years. Larger
/// ages reach times some backends cannot store.
pub const MAX_CLEANUP_DAYS: u32 = 36_500;

/// A table cleanup may touch: the allow-list.
///
/// A name from a payload becomes one of these or is refused; only the variant's own SQL (see
/// `store::cleanup`) ever reaches the database, never the name the payload gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum CleanupTable {
    /// `glucose_readings`, aged by `measured_at`.
    GlucoseReadings,
    /// `job_queue`, terminal jobs only, aged by `processed_at` and per-status retention.
    JobQueue,
    /// `notifications`, aged by `created_at`.
    Notifications,
}

impl CleanupTable {
    /// Every table cleanup may touch.
    pub const ALL: [CleanupTable; 3] = [Self::GlucoseReadings, Self::JobQueue, Self::Notifications];

    /// The table's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GlucoseReadings => "glucose_readings",
            Self::JobQueue => "job_queue",
            Self::Notifications => "notifications",
        }
    }
}

/// A table name outside the cleanup allow-list.
#[derive(Debug, thiserror::Error)]
#[error("table {0:?} may not be cleaned up (allowed: {allowed})", allowed = allowed_tables())]
pub struct UnknownTable(pub String);

fn allowed_tables() -> String {
    let names: Vec<&str> = CleanupTable::ALL.iter().map(|t| t.as_str()).collect();
    names.join(", ")
}

impl TryFrom<String> for CleanupTable {
    type Error = UnknownTable;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::ALL
            .into_iter()
            .find(|table| table.as_str() == name)
            .ok_or(UnknownTable(name))
    }
}

/// `CLEANUP_DATA`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CleanupData {
    pub cleanup_type: CleanupType,
    /// Rows older than this many days go; 1 to [`MAX_CLEANUP_DAYS`].
    pub older_than_days: u32,
    /// At least one table of the allow-list.
    pub tables: Vec<CleanupTable>,
}

/// Parses `payload` as the payload of `job_type`, naming the offending field on error.
///
/// # Errors
///
/// [`PayloadError::Invalid`] with the field path and the problem.
pub fn parse<T: DeserializeOwned>(job_type: &str, payload: &Value) -> Result<T, PayloadError> {
    // serde would read a struct from an array too; the seed's payloads are objects.
    if !payload.is_object() {
        return Err(PayloadError::Invalid {
            job_type: job_type.to_owned(),
            message: format!(
                "the payload must be a JSON object, not {}",
                kind_of(payload)
            ),
        });
    }
    serde_path_to_error::deserialize(payload).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        let message = if path == "." {
            inner
        } else {
            format!("field `{path}`: {inner}")
        };
        PayloadError::Invalid {
            job_type: job_type.to_owned(),
            message,
        }
    })
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The path of the first string (or key) holding a NUL character, which PostgreSQL cannot
/// store.
fn nul_path(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_path(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(here)
            } else {
                nul_path(v, &here)
            }
        }),
        _ => None,
    }
}

/// Checks a payload against its job type's struct and rules.
///
/// # Errors
///
/// [`PayloadError::UnknownJobType`] for a type outside the four, else as [`parse`].
pub fn validate(job_type: &str, payload: &Value) -> Result<(), PayloadError> {
    if let Some(path) = nul_path(payload, "") {
        return Err(PayloadError::Invalid {
            job_type: job_type.to_owned(),
            message: format!("field `{path}`: contains a NUL character"),
        });
    }
    match job_type {
        CALCULATE_A1C => parse::<CalculateA1c>(job_type, payload).map(drop),
        SEND_REMINDER => parse::<SendReminder>(job_type, payload).map(drop),
        GENERATE_REPORT => {
            let report: GenerateReport = parse(job_type, payload)?;
            report
                .date_range
                .check()
                .map_err(|err| PayloadError::Invalid {
                    job_type: job_type.to_owned(),
                    message: format!("field `date_range`: {err}"),
                })
        }
        CLEANUP_DATA => parse_cleanup(payload).map(drop),
        other => Err(PayloadError::UnknownJobType(other.to_owned())),
    }
}

/// Parses a `CLEANUP_DATA` payload and checks its rules: a known cleanup type, tables of the
/// allow-list only (at least one), and 1 to [`MAX_CLEANUP_DAYS`] days (0 would take every row).
///
/// # Errors
///
/// [`PayloadError::Invalid`] naming the field, and for a table outside the allow-list, the
/// table and the allowed ones.
pub fn parse_cleanup(payload: &Value) -> Result<CleanupData, PayloadError> {
    let cleanup: CleanupData = parse(CLEANUP_DATA, payload)?;
    let problem = if !(1..=MAX_CLEANUP_DAYS).contains(&cleanup.older_than_days) {
        Some(format!(
            "field `older_than_days`: must be 1 to {MAX_CLEANUP_DAYS}"
        ))
    } else if cleanup.tables.is_empty() {
        Some("field `tables`: name at least one table".to_owned())
    } else {
        None
    };
    match problem {
        Some(message) => Err(PayloadError::Invalid {
            job_type: CLEANUP_DATA.to_owned(),
            message,
        }),
        None => Ok(cleanup),
    }
}

/// The priority a validated payload implies, if its type ranks its jobs.
pub fn implied_priority(job_type: &str, payload: &Value) -> Option<i16> {
    if job_type != CALCULATE_A1C {
        return None;
    }
    parse::<CalculateA1c>(job_type, payload)
        .ok()
        .map(|p| p.calculation_type.priority())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn accepts_the_seed_payloads() {
        let user = Uuid::new_v4();
        let cases = [
            (
                CALCULATE_A1C,
                json!({"user_id": user, "reading_id": user, "calculation_type": "batch"}),
            ),
            (
                SEND_REMINDER,
                json!({"user_id": user, "reminder_type": "daily",
                "notification_method": "in_app"}),
            ),
            (
                GENERATE_REPORT,
                json!({"user_id": user, "report_type": "monthly",
                "date_range": {"start": "2024-01-01", "end": "2024-01-31"}}),
            ),
            (
                CLEANUP_DATA,
                json!({"cleanup_type": "archive", "older_than_days": 365,
                "tables": ["glucose_readings", "job_queue"]}),
            ),
        ];

        for (job_type, payload) in cases {
            validate(job_type, &payload).unwrap();
        }
    }

    #[test]
    fn names_the_field_that_is_wrong() {
        let payload = json!({"user_id": "not-a-uuid"});

        let err = validate(CALCULATE_A1C, &payload).unwrap_err().to_string();

        assert!(err.contains("field `user_id`"), "{err}");
    }

    #[test]
    fn cleanup_refuses_unknown_tables_zero_days_and_no_tables() {
        let cases = [
            (json!(["glucose_readings", "users"]), 30, "\"users\""),
            (json!(["job_queue; DROP TABLE users"]), 30, "DROP TABLE"),
            (json!(["Job_Queue"]), 30, "\"Job_Queue\""),
            (json!(["job_queue"]), 0, "older_than_days"),
            (json!(["job_queue"]), 36_501, "older_than_days"),
            (json!([]), 30, "at least one table"),
        ];

        for (tables, days, expected) in cases {
            let payload =
                json!({"cleanup_type": "delete", "older_than_days": days, "tables": tables});
            let err = validate(CLEANUP_DATA, &payload).unwrap_err().to_string();
            assert!(err.contains(expected), "{payload}: {err}");
        }
    }

    #[test]
    fn cleanup_error_lists_the_allowed_tables() {
        let payload = json!({"cleanup_type": "archive", "older_than_days": 1, "tables": ["x"]});

        let err = parse_cleanup(&payload).unwrap_err().to_string();

        assert!(
            err.contains("allowed: glucose_readings, job_queue, notifications"),
            "{err}"
        );
    }

    #[test]
    fn cleanup_tables_parse_into_the_allow_list() {
        let payload = json!({"cleanup_type": "archive", "older_than_days": 1,
            "tables": ["notifications", "glucose_readings", "job_queue"]});

        let cleanup = parse_cleanup(&payload).unwrap();

        assert_eq!(
            cleanup.tables,
            vec![
                CleanupTable::Notifications,
                CleanupTable::GlucoseReadings,
                CleanupTable::JobQueue
            ]
        );
    }

    #[test]
    fn report_date_range_must_be_ordered_and_at_most_100_days() {
        let user = Uuid::new_v4();
        let payload = |start: &str, end: &str| {
            json!({"user_id": user, "report_type": "quarterly",
                "date_range": {"start": start, "end": end}})
        };

        let reversed = validate(GENERATE_REPORT, &payload("2024-01-02", "2024-01-01"));
        let too_long = validate(GENERATE_REPORT, &payload("2024-01-01", "2024-04-10"));
        let longest = validate(GENERATE_REPORT, &payload("2024-01-01", "2024-04-09"));
        let too_early = validate(GENERATE_REPORT, &payload("1899-12-31", "1900-01-01"));

        let reversed = reversed.unwrap_err().to_string();
        assert!(
            reversed.contains("field `date_range`: end is before start"),
            "{reversed}"
        );
        let too_long = too_long.unwrap_err().to_string();
        assert!(
            too_long.contains("101 days is longer than the 100"),
            "{too_long}"
        );
        assert!(longest.is_ok());
        assert!(too_early.is_err());
    }

    #[test]
    fn refuses_an_array_that_serde_would_read_as_a_struct() {
        let user = Uuid::new_v4();

        let err = validate(CALCULATE_A1C, &json!([user, null, "immediate"])).unwrap_err();

        assert!(
            err.to_string()
                .contains("must be a JSON object, not an array"),
            "{err}"
        );
    }

    #[test]
    fn refuses_nul_characters_naming_the_field() {
        let payload = json!({"cleanup_type": "archive", "older_than_days": 30,
            "tables": ["job_queue"], "note": {"x": ["ok", "a\u{0}b"]}});

        let err = validate(CLEANUP_DATA, &payload).unwrap_err().to_string();

        assert!(
            err.contains("field `note.x[1]`: contains a NUL character"),
            "{err}"
        );
    }

    #[test]
    fn refuses_non_objects_and_unknown_types() {
        for payload in [Value::Null, json!([1]), json!("x"), json!(7)] {
            assert!(validate(CALCULATE_A1C, &payload).is_err());
        }
        assert!(matches!(
            validate("MINE", &json!({})),
            Err(PayloadError::UnknownJobType(_))
        ));
    }
}
