//! Jobs: the rows of `job_queue`, their statuses and what an attempt can end in.
//!
//! # Vocabulary
//!
//! - **job**: one row of `job_queue`, of one `job_type`, with a JSON `payload`.
//! - **attempt**: one run of a job, 1-based; `attempts` is bumped when a job is claimed.
//! - **claim**: a pool takes runnable jobs (`PENDING` or `RETRY`, `run_at <= now`) under a
//!   **lease**: its node name, a fresh `lease_id` and `lease_expires_at`.
//! - **renew**: the pool pushes `lease_expires_at` forward while the attempt runs.
//! - **rescue**: maintenance takes back a job whose lease expired (its node died or hung).
//! - **release**: a shutting-down pool hands a job back without spending the attempt.
//!
//! # States
//!
//! ```text
//!            claim               complete
//! PENDING ──────────▶ PROCESSING ─────────▶ COMPLETED
//!    ▲                 │  │  │   fail (cannot pass)
//!    │ release         │  │  └────────────▶ FAILED
//!    └─────────────────┘  │ retry / rescue
//!   RETRY ◀───────────────┤   (attempts left)
//!     │ claim             │ retry / rescue
//!     └──▶ PROCESSING     └─(no attempt left)─▶ DEAD_LETTER ──requeue──▶ PENDING
//!
//! PENDING / RETRY ──cancel──▶ CANCELLED
//! ```
//!
//! Only the holder of the current lease can move a job out of `PROCESSING`: every such update
//! names the claim's `lease_id`, so an attempt that was rescued and claimed again changes nothing.

mod backoff;
pub mod payload;
#[cfg(test)]
mod payload_proptests;
pub mod request;
pub mod sensitive;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

pub use backoff::Backoff;

/// The four job types of the A1C Estimator.
pub const CALCULATE_A1C: &str = "CALCULATE_A1C";
/// Reading reminders by email, push or in-app.
pub const SEND_REMINDER: &str = "SEND_REMINDER";
/// Weekly, monthly and quarterly reports.
pub const GENERATE_REPORT: &str = "GENERATE_REPORT";
/// Archiving and deleting old rows.
pub const CLEANUP_DATA: &str = "CLEANUP_DATA";
/// Internal: enqueues `SEND_REMINDER` for every reminder whose slot has come.
pub const SWEEP_REMINDERS: &str = "SWEEP_REMINDERS";
/// Internal: enqueues `GENERATE_REPORT` for every user whose report period just ended.
pub const SWEEP_REPORTS: &str = "SWEEP_REPORTS";

/// Priority of a job when nobody says otherwise; lower runs first.
pub const DEFAULT_PRIORITY: i16 = 5;
/// Runs allowed in all by default: one run and the seed's three retries.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 4;
/// Longest `job_type` the schema stores.
pub const MAX_JOB_TYPE_LEN: usize = 64;

/// Where a job is in its life; stored as the seed's upper-case words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    /// Waiting for its first run.
    Pending,
    /// Held by a pool under a lease.
    Processing,
    /// Finished successfully.
    Completed,
    /// Ended with an error that retrying cannot fix.
    Failed,
    /// Failed with an error that may pass; runs again at `run_at`.
    Retry,
    /// Retryable failures used up `max_attempts`; waits for an operator.
    DeadLetter,
    /// Stopped by an operator.
    Cancelled,
}

impl JobStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [JobStatus; 7] = [
        Self::Pending,
        Self::Processing,
        Self::Completed,
        Self::Failed,
        Self::Retry,
        Self::DeadLetter,
        Self::Cancelled,
    ];

    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Processing => "PROCESSING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Retry => "RETRY",
            Self::DeadLetter => "DEAD_LETTER",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// Whether the job will never run again on its own.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::DeadLetter | Self::Cancelled
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status word that is not one of ours.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown job status {0:?} \
     (expected PENDING, PROCESSING, COMPLETED, FAILED, RETRY, DEAD_LETTER or CANCELLED)"
)]
pub struct UnknownStatus(pub String);

impl FromStr for JobStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == upper)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// A whole `job_queue` row.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Job {
    pub id: Uuid,
    pub job_type: String,
    #[schema(value_type = Object)]
    pub payload: Value,
    pub status: JobStatus,
    pub priority: i16,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub processed_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub locked_by: Option<String>,
    pub lease_id: Option<Uuid>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub unique_key: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
}

/// A job as a pool holds it after a claim: what the handler and the outcome need.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: Uuid,
    pub job_type: String,
    pub payload: Value,
    pub priority: i16,
    /// This attempt's number, 1-based.
    pub attempt: i32,
    pub max_attempts: i32,
    pub created_at: DateTime<Utc>,
    /// When the job became due; queue time is measured from here.
    pub run_at: DateTime<Utc>,
    /// The token every update of this attempt must present.
    pub lease_id: Uuid,
}

/// A job to insert.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub job_type: String,
    pub payload: Value,
    pub priority: i16,
    pub max_attempts: i32,
    /// Not before this time; `None` means now.
    pub run_at: Option<DateTime<Utc>>,
    pub unique_key: Option<String>,
}

impl NewJob {
    /// A job with the default priority and attempts, due now.
    pub fn new(job_type: impl Into<String>, payload: Value) -> Self {
        Self {
            job_type: job_type.into(),
            payload,
            priority: DEFAULT_PRIORITY,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            run_at: None,
            unique_key: None,
        }
    }

    /// The same job with another priority.
    pub fn priority(mut self, priority: i16) -> Self {
        self.priority = priority;
        self
    }

    /// The same job, due at `run_at`.
    pub fn run_at(mut self, run_at: DateTime<Utc>) -> Self {
        self.run_at = Some(run_at);
        self
    }

    /// The same job with a unique key.
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// The same job with another attempt limit.
    pub fn max_attempts(mut self, max_attempts: i32) -> Self {
        self.max_attempts = max_attempts;
        self
    }
}

/// How one attempt ended, as its handler (or the pool, for panics and timeouts) reports it.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Done; the value is stored in `result`.
    Complete(Value),
    /// Failed with an error that may pass; runs again after the backoff unless attempts are
    /// used up, in which case it is dead-lettered.
    Retry(String),
    /// Failed with an error that retrying cannot fix.
    Fail(String),
    /// Not now: run again after the delay without spending the attempt.
    Snooze(Duration),
}

/// The error a handler returns; turned into [`Outcome::Retry`] or [`Outcome::Fail`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The payload does not describe a job of this type.
    #[error("invalid payload: {0}")]
    InvalidPayload(String),
    /// The job names something that does not exist (a user, a reading).
    #[error("{0}")]
    NotFound(String),
    /// The database failed; the next attempt may succeed.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// Any other error that may pass.
    #[error("{0}")]
    Transient(String),
}

impl From<payload::PayloadError> for JobError {
    fn from(err: payload::PayloadError) -> Self {
        match err {
            payload::PayloadError::Invalid { message, .. } => Self::InvalidPayload(message),
            other => Self::InvalidPayload(other.to_string()),
        }
    }
}

impl JobError {
    /// The outcome this error leads to.
    pub fn into_outcome(self) -> Outcome {
        match self {
            Self::InvalidPayload(_) | Self::NotFound(_) => Outcome::Fail(self.to_string()),
            Self::Database(_) | Self::Transient(_) => Outcome::Retry(self.to_string()),
        }
    }
}

/// Text as PostgreSQL stores it: NUL characters (which `text` and `jsonb` refuse) become U+FFFD.
pub fn clean_text(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

/// Longest error message stored, in bytes; longer ones are cut (at a character boundary).
pub const MAX_ERROR_LEN: usize = 4096;

/// An error message as stored: cleaned of NUL characters and cut to [`MAX_ERROR_LEN`].
pub fn clean_error(text: &str) -> String {
    if text.len() <= MAX_ERROR_LEN {
        return clean_text(text);
    }
    let mut end = MAX_ERROR_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… ({} bytes in all)",
        clean_text(&text[..end]),
        text.len()
    )
}

/// A JSON value with every NUL character in its strings and keys replaced, see [`clean_text`].
pub fn clean_json(value: Value) -> Value {
    match value {
        Value::String(s) if s.contains('\0') => Value::String(clean_text(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(clean_json).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (clean_text(&k), clean_json(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_its_word() {
        for status in JobStatus::ALL {
            assert_eq!(status.as_str().parse::<JobStatus>().unwrap(), status);
        }
        assert!("dead_letter".parse::<JobStatus>().is_ok());
        assert!("DONE".parse::<JobStatus>().is_err());
    }

    #[test]
    fn long_errors_are_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_ERROR_LEN);

        let stored = clean_error(&long);

        assert!(stored.len() < MAX_ERROR_LEN + 40);
        assert!(stored.ends_with(&format!("({} bytes in all)", long.len())));
        assert_eq!(clean_error("short\0"), "short\u{FFFD}");
    }

    #[test]
    fn cleans_nul_characters_everywhere_in_json() {
        let dirty = serde_json::json!({"a\u{0}": ["x\u{0}y", 1, {"b": "\u{0}"}]});

        let clean = clean_json(dirty).to_string();

        assert!(!clean.contains("\\u0000"), "{clean}");
        assert!(clean.contains('\u{FFFD}'));
    }
}
