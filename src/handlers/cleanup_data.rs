//! `CLEANUP_DATA`: archives or deletes rows older than `older_than_days` from an allow-list of
//! tables (`glucose_readings`, `job_queue`, `notifications`).
//!
//! The payload is checked before any SQL runs: a table outside the allow-list, or fewer than
//! one day, fails the job. Each table is then worked through in batches of
//! [`CleanupConfig::batch_size`] rows, oldest first, each batch one transaction, until a batch
//! comes back short. From `job_queue` only terminal jobs go (`COMPLETED`, `CANCELLED`, `FAILED`,
//! `DEAD_LETTER`), each once older than both `older_than_days` and its status's retention,
//! counted from `processed_at`; a live job is never touched.
//!
//! A run ends with a `cleanup_log` row (rows per table, duration) and `VACUUM (ANALYZE)` on
//! PostgreSQL or `PRAGMA optimize` on SQLite. A second run moves nothing more, so a job that
//! runs twice (its node died before the outcome was recorded) changes no row twice; it logs
//! one more run with zero counts. A failure halfway keeps the batches already committed; the
//! retry carries on from there and logs only what it moved itself.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde_json::{json, Value};
use tracing::{debug, info, warn};

use super::{Handler, JobContext};
use crate::config::cleanup::JobRetention;
use crate::config::CleanupConfig;
use crate::job::payload::{self, CleanupTable, CleanupType};
use crate::job::{JobError, JobStatus, Outcome};
use crate::store::cleanup::{self, Cutoff, LoggedRun};
use crate::store::{Db, StoreError};

const DAY: Duration = Duration::from_secs(86_400);

/// The handler, with its settings from `[cleanup]`.
#[derive(Debug, Clone, Default)]
pub struct CleanupData {
    settings: CleanupConfig,
}

impl CleanupData {
    /// A handler working with `settings`.
    pub fn new(settings: CleanupConfig) -> Self {
        Self { settings }
    }
}

impl Handler for CleanupData {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Outcome> {
        let settings = self.settings.clone();
        async move {
            clean(ctx, settings)
                .await
                .unwrap_or_else(JobError::into_outcome)
        }
        .boxed()
    }
}

async fn clean(ctx: JobContext, settings: CleanupConfig) -> Result<Outcome, JobError> {
    let payload = payload::parse_cleanup(&ctx.job.payload)?;
    let tables = distinct(&payload.tables);
    let started = Instant::now();
    let now = Utc::now();
    let cutoff = cutoff_of(now, payload.older_than_days, &settings.job_queue_retention);

    let mut counts = BTreeMap::new();
    for &table in &tables {
        let kind = payload.cleanup_type;
        let gone = clear_table(&ctx.db, table, kind, &cutoff, &settings, now).await?;
        counts.insert(table, gone);
    }

    let run = LoggedRun {
        job_id: ctx.job.id,
        cleanup_type: payload.cleanup_type,
        older_than_days: payload.older_than_days,
        counts,
        duration: started.elapsed(),
    };
    cleanup::log(&ctx.db, &run, Utc::now())
        .await
        .map_err(store_error)?;
    let archived = payload.cleanup_type == CleanupType::Archive;
    let optimized = optimize(&ctx.db, &tables, archived).await;

    Ok(Outcome::Complete(result_of(&run, optimized)))
}

/// Each table once, in allow-list order.
fn distinct(tables: &[CleanupTable]) -> Vec<CleanupTable> {
    let mut tables = tables.to_vec();
    tables.sort();
    tables.dedup();
    tables
}

/// The cutoffs at `now`: rows older than `days`, and terminal jobs older than the larger of
/// `days` and their status's retention.
fn cutoff_of(now: DateTime<Utc>, days: u32, retention: &JobRetention) -> Cutoff {
    let older_than = DAY.saturating_mul(days);
    let before = |status: JobStatus| {
        let kept = retention.of(status).unwrap_or(Duration::MAX);
        sub(now, kept.max(older_than))
    };
    Cutoff {
        before: sub(now, older_than),
        completed_before: before(JobStatus::Completed),
        cancelled_before: before(JobStatus::Cancelled),
        failed_before: before(JobStatus::Failed),
        dead_letter_before: before(JobStatus::DeadLetter),
    }
}

/// `at - age`, saturating at the earliest representable time.
fn sub(at: DateTime<Utc>, age: Duration) -> DateTime<Utc> {
    at.checked_sub_signed(crate::store::delta(age))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Archives or deletes `table`'s eligible rows batch after batch until one comes back short;
/// returns how many rows went.
async fn clear_table(
    db: &Db,
    table: CleanupTable,
    kind: CleanupType,
    cutoff: &Cutoff,
    settings: &CleanupConfig,
    now: DateTime<Utc>,
) -> Result<u64, JobError> {
    // The config check refuses 0, but a hand-built config could carry it: never loop on it.
    let size = settings.batch_size.max(1);
    let mut total: u64 = 0;
    loop {
        let gone = match kind {
            CleanupType::Archive => cleanup::archive_batch(db, table, cutoff, size, now).await,
            CleanupType::Delete => cleanup::delete_batch(db, table, cutoff, size).await,
        }
        .map_err(store_error)?;
        total = total.saturating_add(gone);
        debug!(
            table = table.as_str(),
            count = gone,
            "cleanup batch committed"
        );
        if gone < u64::from(size) {
            return Ok(total);
        }
    }
}

/// Runs the optimizer; a failure is logged and reported, never fails the job, whose rows have
/// already been moved and logged.
async fn optimize(db: &Db, tables: &[CleanupTable], archived: bool) -> bool {
    match cleanup::optimize(db, tables, archived).await {
        Ok(()) => true,
        Err(err) => {
            warn!(error = %err, "optimize after cleanup failed");
            false
        }
    }
}

fn result_of(run: &LoggedRun, optimized: bool) -> Value {
    let duration_ms = u64::try_from(run.duration.as_millis()).unwrap_or(u64::MAX);
    let total: u64 = run.counts.values().sum();
    info!(
        cleanup_type = run.cleanup_type.as_str(),
        count = total,
        elapsed_ms = duration_ms,
        "cleanup finished"
    );
    json!({
        "cleanup_type": run.cleanup_type.as_str(),
        "older_than_days": run.older_than_days,
        "counts": cleanup::counts_json(&run.counts),
        "duration_ms": duration_ms,
        "optimized": optimized,
    })
}

fn store_error(err: StoreError) -> JobError {
    JobError::Transient(err.to_string())
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn cleanup_cutoff_takes_the_longer_of_days_and_retention() {
        let now = Utc::now();
        let retention = JobRetention::default();

        let cutoff = cutoff_of(now, 30, &retention);

        assert_eq!(cutoff.before, now - TimeDelta::days(30));
        assert_eq!(cutoff.completed_before, now - TimeDelta::days(30));
        assert_eq!(cutoff.cancelled_before, now - TimeDelta::days(30));
        assert_eq!(cutoff.failed_before, now - TimeDelta::days(90));
        assert_eq!(cutoff.dead_letter_before, now - TimeDelta::days(90));
    }

    #[test]
    fn cleanup_cutoff_of_one_day_keeps_each_retention() {
        let now = Utc::now();
        let retention = JobRetention {
            completed: Duration::from_secs(3 * 86_400),
            ..JobRetention::default()
        };

        let cutoff = cutoff_of(now, 1, &retention);

        assert_eq!(cutoff.before, now - TimeDelta::days(1));
        assert_eq!(cutoff.completed_before, now - TimeDelta::days(3));
        assert_eq!(cutoff.cancelled_before, now - TimeDelta::days(30));
        assert_eq!(cutoff.failed_before, now - TimeDelta::days(90));
    }

    #[test]
    fn cleanup_cutoff_saturates_instead_of_overflowing() {
        let cutoff = cutoff_of(DateTime::<Utc>::MIN_UTC, u32::MAX, &JobRetention::default());

        assert_eq!(cutoff.before, DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn cleanup_visits_each_table_once() {
        let tables = [
            CleanupTable::JobQueue,
            CleanupTable::GlucoseReadings,
            CleanupTable::JobQueue,
        ];

        assert_eq!(
            distinct(&tables),
            vec![CleanupTable::GlucoseReadings, CleanupTable::JobQueue]
        );
    }
}
