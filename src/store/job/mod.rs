//! `job_queue`: insert, claim, renew, settle, rescue and the operator's verbs.

mod cycle;
pub mod health;
mod insert;
mod lease;
mod operator;
mod queue;
mod unreadable;

pub use cycle::{claim, settle, settle_and_claim};
pub use insert::{insert, insert_by, insert_many, insert_many_by, live_with_unique_key};
pub(crate) use insert::{insert_many_pg, insert_many_sqlite};
pub use lease::{discard_exhausted, fail_runnable_of_type, renew, rescue_expired, runnable_types};
pub use operator::{cancel, get, list, notify, requeue, requeue_dead_letters, ListFilter};
pub use queue::{ahead_of, Ahead};

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::{add, opt_time_of, time_of, ts, uuid_of, Db, StoreError};
use crate::job::{clean_error, clean_json, ClaimedJob, Job, JobStatus, NewJob};

/// How a pool leaves a job it claimed.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub id: Uuid,
    pub lease_id: Uuid,
    pub status: JobStatus,
    /// The next run for `RETRY` and released jobs.
    pub run_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub result: Option<Value>,
    /// Give the attempt back (the job was released or snoozed, not run to an end).
    pub refund_attempt: bool,
    /// When the attempt started and ended, if the pool knows: a prefetched job waits after its
    /// claim, and an outcome waits for its pool's next cycle. `None` keeps the claim's start
    /// and takes the cycle's time as the end.
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// What a claim asks for.
#[derive(Debug, Clone)]
pub struct ClaimRequest<'a> {
    pub job_type: &'a str,
    pub node: &'a str,
    /// Jobs to claim, each attempt counted at once.
    pub limit: u32,
    /// Beyond `limit`, up to this many more jobs to hold until a slot frees: jobs that never
    /// failed and never lost a lease (`PENDING`), and only those ahead of every `RETRY` job in
    /// claim order. A job rescued from a dead node is `RETRY`, so it is never prefetched: one
    /// that brings its node down again takes no waiting jobs' attempts with it.
    pub prefetch: u32,
    /// Only jobs of this priority or more urgent (lower).
    pub max_priority: i16,
    pub lease_ttl: Duration,
}

/// A job taken back from a node that stopped renewing its lease.
#[derive(Debug, Clone)]
pub struct Rescued {
    pub id: Uuid,
    pub job_type: String,
    pub status: JobStatus,
    pub locked_by: Option<String>,
}

const COLUMNS: &str = "id, job_type, payload, status, priority, attempts, max_attempts, run_at, \
    created_at, updated_at, started_at, processed_at, error, locked_by, lease_id, \
    lease_expires_at, unique_key, result";

/// JSON text as a value; text that is not JSON is kept as a string for the handler to refuse.
fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn status_of(text: String) -> Result<JobStatus, StoreError> {
    text.parse()
        .map_err(|err: crate::job::UnknownStatus| StoreError::Corrupt(err.to_string()))
}
