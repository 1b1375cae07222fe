//! Job handlers: the work behind each job type.
//!
//! A handler gets the claimed job and a database handle and returns an [`Outcome`]; it never
//! touches the job's row itself (the pool records the outcome under the lease). A handler must
//! be idempotent: the same job may run twice when its node dies after the work but before the
//! outcome is recorded.

pub mod calculate_a1c;
pub mod cleanup_data;
pub mod fault_probe;
pub mod generate_report;
pub mod send_reminder;
pub mod sweep_reminders;
pub mod sweep_reports;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use crate::config::Config;
use crate::job::{
    ClaimedJob, Outcome, CALCULATE_A1C, CLEANUP_DATA, GENERATE_REPORT, SEND_REMINDER,
    SWEEP_REMINDERS, SWEEP_REPORTS,
};
use crate::store::Db;

/// What a handler gets for one attempt.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub db: Db,
    pub job: ClaimedJob,
    /// The node running the attempt.
    pub node: Arc<str>,
    /// When the job was claimed.
    pub claimed_at: DateTime<Utc>,
}

/// The work of one job type.
pub trait Handler: Send + Sync + 'static {
    /// Runs one attempt. Panics and timeouts are caught by the pool and become retryable
    /// failures.
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Outcome>;
}

/// Handlers by job type.
#[derive(Clone, Default)]
pub struct Handlers {
    by_type: BTreeMap<String, Arc<dyn Handler>>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_type.keys()).finish()
    }
}

impl Handlers {
    /// The handlers this release ships, with default settings.
    pub fn standard() -> Self {
        let mut handlers = Self::default();
        handlers.register(CALCULATE_A1C, calculate_a1c::CalculateA1c::default());
        handlers.register(GENERATE_REPORT, generate_report::GenerateReport);
        handlers.register(CLEANUP_DATA, cleanup_data::CleanupData::default());
        handlers.register(SEND_REMINDER, send_reminder::SendReminder::default());
        handlers.register(SWEEP_REMINDERS, sweep_reminders::SweepReminders);
        handlers.register(SWEEP_REPORTS, sweep_reports::SweepReports);
        handlers
    }

    /// The handlers this release ships, with the settings of `config`; the fault suite's
    /// [`fault_probe::FAULT_PROBE`] too when the config has a pool for it.
    pub fn from_config(config: &Config) -> Self {
        let mut handlers = Self::standard();
        let settings = config.cleanup.clone();
        handlers.register(CLEANUP_DATA, cleanup_data::CleanupData::new(settings));
        let reminders = send_reminder::SendReminder::new(config.reminders.clone());
        handlers.register(SEND_REMINDER, reminders);
        if config.pools.contains_key(fault_probe::FAULT_PROBE) {
            handlers.register(fault_probe::FAULT_PROBE, fault_probe::FaultProbe);
        }
        handlers
    }

    /// Adds or replaces the handler of `job_type`.
    pub fn register(&mut self, job_type: &str, handler: impl Handler) -> &mut Self {
        self.by_type.insert(job_type.to_owned(), Arc::new(handler));
        self
    }

    /// The handler of `job_type`.
    pub fn get(&self, job_type: &str) -> Option<Arc<dyn Handler>> {
        self.by_type.get(job_type).cloned()
    }

    /// Every job type with a handler.
    pub fn job_types(&self) -> Vec<String> {
        self.by_type.keys().cloned().collect()
    }
}
