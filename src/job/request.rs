//! A request to enqueue one job, as the CLI and the HTTP API take it, checked into a
//! [`NewJob`]: the payload is validated against its type, and defaults come from the type's pool.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::Value;

use super::payload::{self, PayloadError};
use super::{NewJob, DEFAULT_MAX_ATTEMPTS, DEFAULT_PRIORITY, MAX_JOB_TYPE_LEN};
use crate::config::PoolConfig;

/// Longest unique key accepted, in bytes.
pub const MAX_UNIQUE_KEY_LEN: usize = 512;

/// Why a job request was refused; nothing was inserted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The job type is empty or too long.
    #[error("field `job_type`: must be 1 to {MAX_JOB_TYPE_LEN} characters")]
    JobTypeLength,
    /// The payload does not fit its job type (the message names the field), or the type is
    /// unknown.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The priority is outside 0..=9.
    #[error("field `priority`: must be 0 to 9")]
    Priority,
    /// The attempt limit is below 1.
    #[error("field `max_attempts`: must be at least 1")]
    MaxAttempts,
    /// The start time lies outside the years 1 to 9999, which both backends store alike.
    #[error("field `run_at`: must be a time in the years 1 to 9999")]
    RunAt,
    /// The unique key is blank, too long or holds a NUL character.
    #[error("field `unique_key`: must be 1 to {MAX_UNIQUE_KEY_LEN} bytes, not blank, without NUL")]
    UniqueKey,
}

/// A job as asked for; `None` fields take the defaults.
#[derive(Debug, Clone)]
pub struct JobRequest {
    pub job_type: String,
    pub payload: Value,
    /// 0 (most urgent) to 9; default: what the payload implies, else 5.
    pub priority: Option<i16>,
    /// Not before this time; default now.
    pub run_at: Option<DateTime<Utc>>,
    /// At most one live job per key.
    pub unique_key: Option<String>,
    /// Runs allowed in all; default from the type's pool, else 4.
    pub max_attempts: Option<i32>,
}

impl JobRequest {
    /// Checks the request and fills in the defaults.
    ///
    /// # Errors
    ///
    /// [`RequestError`] naming the field at fault.
    pub fn into_new_job(
        self,
        pools: &BTreeMap<String, PoolConfig>,
    ) -> Result<NewJob, RequestError> {
        if self.job_type.is_empty() || self.job_type.len() > MAX_JOB_TYPE_LEN {
            return Err(RequestError::JobTypeLength);
        }
        if self.unique_key.as_deref().is_some_and(|k| {
            k.trim().is_empty() || k.len() > MAX_UNIQUE_KEY_LEN || k.contains('\0')
        }) {
            return Err(RequestError::UniqueKey);
        }
        let run_at = self.run_at.map(without_leap_second);
        if run_at.is_some_and(|at| !(1..=9999).contains(&at.year())) {
            return Err(RequestError::RunAt);
        }
        payload::validate(&self.job_type, &self.payload)?;
        let priority = self
            .priority
            .or_else(|| payload::implied_priority(&self.job_type, &self.payload))
            .unwrap_or(DEFAULT_PRIORITY);
        if !(0..=9).contains(&priority) {
            return Err(RequestError::Priority);
        }
        let max_attempts = self
            .max_attempts
            .or_else(|| pools.get(&self.job_type).map(|p| p.max_attempts))
            .unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if max_attempts < 1 {
            return Err(RequestError::MaxAttempts);
        }
        let mut job = NewJob::new(self.job_type, self.payload)
            .priority(priority)
            .max_attempts(max_attempts);
        job.run_at = run_at;
        job.unique_key = self.unique_key;
        Ok(job)
    }
}

/// A leap second (`23:59:60`) as the next second, as PostgreSQL reads it; SQLite would
/// refuse it, and its year could pass for the year before.
fn without_leap_second(at: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = at.timestamp_subsec_nanos();
    if nanos < 1_000_000_000 {
        return at;
    }
    at.with_nanosecond(nanos - 1_000_000_000)
        .and_then(|t| t.checked_add_signed(chrono::TimeDelta::seconds(1)))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(job_type: &str, payload: Value) -> JobRequest {
        JobRequest {
            job_type: job_type.to_owned(),
            payload,
            priority: None,
            run_at: None,
            unique_key: None,
            max_attempts: None,
        }
    }

    #[test]
    fn immediate_calculation_takes_its_implied_priority() {
        let payload = json!({"user_id": uuid::Uuid::new_v4(), "calculation_type": "immediate"});

        let job = request("CALCULATE_A1C", payload)
            .into_new_job(&BTreeMap::new())
            .unwrap();

        assert_eq!(job.priority, 3);
        assert_eq!(job.max_attempts, DEFAULT_MAX_ATTEMPTS);
    }

    #[test]
    fn a_leap_second_is_the_next_second_and_cannot_pass_year_9999() {
        let at = |text| DateTime::parse_from_rfc3339(text).unwrap().to_utc();
        let user = json!({"user_id": uuid::Uuid::new_v4()});
        let mut leap = request("CALCULATE_A1C", user.clone());
        leap.run_at = Some(at("2026-06-30T23:59:60.5Z"));
        let mut last = request("CALCULATE_A1C", user);
        last.run_at = Some(at("9999-12-31T23:59:60Z"));
        let pools = BTreeMap::new();

        let job = leap.into_new_job(&pools).unwrap();
        let refused = last.into_new_job(&pools).unwrap_err().to_string();

        assert_eq!(job.run_at, Some(at("2026-07-01T00:00:00.5Z")));
        assert!(refused.contains("`run_at`"), "{refused}");
    }

    #[test]
    fn refusals_name_their_field() {
        let user = json!({"user_id": uuid::Uuid::new_v4()});
        let mut bad_priority = request("CALCULATE_A1C", user.clone());
        bad_priority.priority = Some(10);
        let mut blank_key = request("CALCULATE_A1C", user);
        blank_key.unique_key = Some("  ".to_owned());
        let pools = BTreeMap::new();

        let priority = bad_priority.into_new_job(&pools).unwrap_err().to_string();
        let key = blank_key.into_new_job(&pools).unwrap_err().to_string();
        let payload = request("CALCULATE_A1C", json!({"user_id": 5}))
            .into_new_job(&pools)
            .unwrap_err()
            .to_string();

        assert!(priority.contains("`priority`"), "{priority}");
        assert!(key.contains("`unique_key`"), "{key}");
        assert!(payload.contains("`user_id`"), "{payload}");
    }
}
