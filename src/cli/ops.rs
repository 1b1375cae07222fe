//! Operator commands on pools and the audit log, and how the CLI shows payloads.

use anyhow::bail;
use chrono::Utc;
use clap::Subcommand;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::config::Config;
use crate::job::sensitive::Sensitive;
use crate::job::Job;
use crate::store::audit::{self, AuditFilter};
use crate::store::pool_control::{self, ControlChange};
use crate::store::Db;

/// What to do with the pool of a job type, on every node sharing the database.
#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// The configured pools and their operator controls.
    List,
    /// Claim nothing new of TYPE; running jobs finish.
    Pause { job_type: String },
    /// Claim jobs of TYPE again.
    Resume { job_type: String },
    /// Run at most N jobs of TYPE at once per node (running jobs are never stopped);
    /// `--reset` goes back to the configured concurrency.
    Concurrency {
        job_type: String,
        #[arg(required_unless_present = "reset", conflicts_with = "reset")]
        n: Option<u32>,
        #[arg(long)]
        reset: bool,
    },
}

/// Runs a pool command as `actor`.
///
/// # Errors
///
/// An unknown job type, a concurrency out of range, or a database failure.
pub async fn pool(config: &Config, db: &Db, command: PoolCommand) -> anyhow::Result<Value> {
    let actor = audit::cli_actor();
    let now = Utc::now();
    let (job_type, change) = match command {
        PoolCommand::List => return pools(config, db).await,
        PoolCommand::Pause { job_type } => (job_type, ControlChange::Pause),
        PoolCommand::Resume { job_type } => (job_type, ControlChange::Resume),
        PoolCommand::Concurrency { job_type, n, .. } => (job_type, ControlChange::Concurrency(n)),
    };
    if !config.pools.contains_key(&job_type) {
        let known: Vec<&str> = config.pools.keys().map(String::as_str).collect();
        bail!(
            "no pool serves job type {job_type:?} (pools: {})",
            known.join(", ")
        );
    }
    let control = pool_control::apply(db, &job_type, change, &actor, now).await?;
    Ok(serde_json::to_value(control)?)
}

/// Every configured pool with its control, as the CLI and the API show them.
///
/// # Errors
///
/// The database failed.
pub async fn pools(config: &Config, db: &Db) -> anyhow::Result<Value> {
    let controls = pool_control::list(db).await?;
    let rows: Vec<Value> = config
        .pools
        .iter()
        .map(|(job_type, pool)| {
            let control = controls.iter().find(|c| &c.job_type == job_type);
            json!({
                "job_type": job_type,
                "enabled": pool.enabled,
                "paused": control.is_some_and(|c| c.paused),
                "configured_concurrency": pool.concurrency,
                "concurrency": control.and_then(|c| c.concurrency).unwrap_or(pool.concurrency),
                "updated_at": control.map(|c| c.updated_at),
                "updated_by": control.map(|c| c.updated_by.clone()),
            })
        })
        .collect();
    Ok(Value::Array(rows))
}

/// The audit log, newest first.
///
/// # Errors
///
/// The database failed.
pub async fn audit_log(db: &Db, job: Option<Uuid>, limit: u32) -> anyhow::Result<Value> {
    let filter = AuditFilter {
        job_id: job,
        limit,
        ..AuditFilter::default()
    };
    Ok(serde_json::to_value(audit::list(db, &filter).await?)?)
}

/// A job as shown to an operator: its sensitive payload fields redacted.
///
/// # Errors
///
/// The job cannot be serialized (never expected).
pub fn shown(sensitive: &Sensitive, mut job: Job) -> anyhow::Result<Value> {
    sensitive.redact(&job.job_type, &mut job.payload);
    Ok(serde_json::to_value(job)?)
}
