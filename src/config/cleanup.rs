//! `[cleanup]`: how `CLEANUP_DATA` works through old rows. The job's payload says which tables
//! and how old; these settings say how many rows per transaction and how long `job_queue` keeps
//! terminal jobs of each status.

use std::time::Duration;

use serde::Deserialize;

use super::{duration, ConfigError};
use crate::job::payload::MAX_CLEANUP_DAYS;
use crate::job::JobStatus;

/// The most rows one batch may move or delete.
pub const MAX_BATCH_SIZE: u32 = 100_000;

const DAY_SECS: u64 = 86_400;

/// Settings of the `CLEANUP_DATA` handler.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanupConfig {
    /// Rows archived or deleted per transaction: 1 to [`MAX_BATCH_SIZE`], default 1000. A
    /// smaller batch holds its locks for less time; a crash loses at most the batch's work.
    #[serde(default = "default_batch_size")]
    pub batch_size: u32,
    /// How long `job_queue` keeps terminal jobs, per status.
    #[serde(default)]
    pub job_queue_retention: JobRetention,
}

impl Default for CleanupConfig {
    fn default() -> Self {
        Self {
            batch_size: default_batch_size(),
            job_queue_retention: JobRetention::default(),
        }
    }
}

fn default_batch_size() -> u32 {
    1000
}

/// The least age, from `processed_at`, at which cleanup may take a terminal job of each status.
///
/// A job goes when it is older than both its status's retention and the payload's
/// `older_than_days`. Failures are kept longer than successes so they can be looked into.
/// Each is at most [`MAX_CLEANUP_DAYS`] days.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRetention {
    /// Default 7 days.
    #[serde(rename = "COMPLETED", default = "days_7", with = "duration")]
    pub completed: Duration,
    /// Default 30 days.
    #[serde(rename = "CANCELLED", default = "days_30", with = "duration")]
    pub cancelled: Duration,
    /// Default 90 days.
    #[serde(rename = "FAILED", default = "days_90", with = "duration")]
    pub failed: Duration,
    /// Default 90 days.
    #[serde(rename = "DEAD_LETTER", default = "days_90", with = "duration")]
    pub dead_letter: Duration,
}

impl Default for JobRetention {
    fn default() -> Self {
        Self {
            completed: days_7(),
            cancelled: days_30(),
            failed: days_90(),
            dead_letter: days_90(),
        }
    }
}

fn days_7() -> Duration {
    Duration::from_secs(7 * DAY_SECS)
}

fn days_30() -> Duration {
    Duration::from_secs(30 * DAY_SECS)
}

fn days_90() -> Duration {
    Duration::from_secs(90 * DAY_SECS)
}

impl JobRetention {
    /// The retention of `status`; `None` for a live status, which cleanup never takes.
    pub fn of(&self, status: JobStatus) -> Option<Duration> {
        match status {
            JobStatus::Completed => Some(self.completed),
            JobStatus::Cancelled => Some(self.cancelled),
            JobStatus::Failed => Some(self.failed),
            JobStatus::DeadLetter => Some(self.dead_letter),
            JobStatus::Pending | JobStatus::Processing | JobStatus::Retry => None,
        }
    }
}

impl CleanupConfig {
    /// Checks the ranges, naming the key at fault.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return Err(ConfigError::invalid(
                "cleanup.batch_size",
                format!("must be 1 to {MAX_BATCH_SIZE}"),
            ));
        }
        let longest = Duration::from_secs(u64::from(MAX_CLEANUP_DAYS) * DAY_SECS);
        let retention = &self.job_queue_retention;
        for status in JobStatus::ALL {
            if retention.of(status).is_some_and(|kept| kept > longest) {
                return Err(ConfigError::invalid(
                    format!("cleanup.job_queue_retention.{status}"),
                    format!("must be at most {MAX_CLEANUP_DAYS}d"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn cleanup_defaults_match_the_documented_ones() {
        let day = Duration::from_secs(86_400);

        let config = Config::load_with_env(None, &[]).unwrap();

        let cleanup = config.cleanup;
        assert_eq!(cleanup, CleanupConfig::default());
        assert_eq!(cleanup.batch_size, 1000);
        let retention = cleanup.job_queue_retention;
        assert_eq!(retention.of(JobStatus::Completed), Some(day * 7));
        assert_eq!(retention.of(JobStatus::Cancelled), Some(day * 30));
        assert_eq!(retention.of(JobStatus::Failed), Some(day * 90));
        assert_eq!(retention.of(JobStatus::DeadLetter), Some(day * 90));
        for live in [JobStatus::Pending, JobStatus::Retry, JobStatus::Processing] {
            assert_eq!(retention.of(live), None);
        }
    }

    #[test]
    fn cleanup_keys_are_overridden_by_the_environment() {
        let vars = env(&[
            ("A1C_JOBS__CLEANUP__BATCH_SIZE", "3"),
            ("A1C_JOBS__CLEANUP__JOB_QUEUE_RETENTION__FAILED", "180d"),
        ]);

        let config = Config::load_with_env(None, &vars).unwrap();

        assert_eq!(config.cleanup.batch_size, 3);
        assert_eq!(
            config.cleanup.job_queue_retention.failed,
            Duration::from_secs(180 * 86_400)
        );
    }

    #[test]
    fn invalid_cleanup_value_names_its_key() {
        let cases = [
            ("A1C_JOBS__CLEANUP__BATCH_SIZE", "0", "cleanup.batch_size"),
            (
                "A1C_JOBS__CLEANUP__BATCH_SIZE",
                "100001",
                "cleanup.batch_size",
            ),
            (
                "A1C_JOBS__CLEANUP__JOB_QUEUE_RETENTION__COMPLETED",
                "36501d",
                "cleanup.job_queue_retention.COMPLETED",
            ),
            (
                "A1C_JOBS__CLEANUP__JOB_QUEUE_RETENTION__DEAD_LETTER",
                "soon",
                "cleanup.job_queue_retention.DEAD_LETTER",
            ),
        ];

        for (name, value, key) in cases {
            let err = Config::load_with_env(None, &env(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(key), "{name}={value}: {err}");
        }
    }

    #[test]
    fn cleanup_refuses_unknown_keys() {
        let err = Config::from_toml_layers(&["[cleanup.job_queue_retention]\nPENDING = \"1d\""])
            .unwrap_err();

        assert!(err.to_string().contains("PENDING"), "{err}");
    }
}
