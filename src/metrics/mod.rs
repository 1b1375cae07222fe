//! Process-wide metrics, rendered in the Prometheus text format by [`render`].
//!
//! Counters and histograms live in atomics: pools run on threads of their own and record every
//! job, so the hot path takes no lock. A pool looks up its job type's [`JobTypeMetrics`] once
//! and keeps the `Arc`; only the first use of a job type, schedule or actor name takes the
//! registry's write lock.
//!
//! What is counted is what this process did: jobs it enqueued (API, CLI, scheduler, sweeps),
//! outcomes its pools recorded (counted once the database accepted them), leases its
//! maintenance rescued. Queue depth is read from the database at scrape time, so every node
//! reports the same depth; in-flight and concurrency are asked of the running pools.

mod histogram;
mod render;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};
use std::time::Duration;

pub use histogram::Histogram;
pub use render::{render, render_text, Scrape, CONTENT_TYPE};

use crate::job::JobStatus;
use crate::store::job::{Rescued, Settlement};

/// Upper bounds (seconds) of the run time buckets.
pub const RUN_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
];

/// Upper bounds (seconds) of the queue time buckets.
pub const QUEUE_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0, 300.0, 900.0, 3600.0,
];

/// The counters and histograms of one job type.
#[derive(Debug)]
pub struct JobTypeMetrics {
    pub enqueued: AtomicU64,
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub rescued: AtomicU64,
    /// How long attempts ran, from start to their outcome.
    pub run_time: Histogram,
    /// How long jobs waited to start: claim time minus `run_at`.
    pub queue_time: Histogram,
}

impl Default for JobTypeMetrics {
    fn default() -> Self {
        Self {
            enqueued: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            rescued: AtomicU64::new(0),
            run_time: Histogram::new(RUN_BUCKETS),
            queue_time: Histogram::new(QUEUE_BUCKETS),
        }
    }
}

impl JobTypeMetrics {
    /// Counts the outcomes the database accepted (`applied`); attempts handed back or snoozed
    /// are not outcomes and are not counted.
    pub fn record_settled(&self, settlements: &[Settlement], applied: &[uuid::Uuid]) {
        for s in settlements.iter().filter(|s| !s.refund_attempt) {
            if !applied.contains(&s.id) {
                continue;
            }
            let counter = match s.status {
                JobStatus::Completed => &self.completed,
                JobStatus::Failed => &self.failed,
                JobStatus::Retry => &self.retried,
                JobStatus::DeadLetter => &self.dead_lettered,
                _ => continue,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records one attempt's run time.
    pub fn observe_run(&self, elapsed: Duration) {
        self.run_time.observe(elapsed);
    }

    /// Records how long a job waited between `run_at` and its claim.
    pub fn observe_queue(&self, waited: chrono::TimeDelta) {
        self.queue_time
            .observe(waited.to_std().unwrap_or(Duration::ZERO));
    }
}

/// The registry: every metric of this process.
#[derive(Debug, Default)]
pub struct Metrics {
    job_types: RwLock<BTreeMap<String, Arc<JobTypeMetrics>>>,
    schedule_fires: RwLock<BTreeMap<String, Arc<AtomicU64>>>,
    actor_restarts: RwLock<BTreeMap<String, Arc<AtomicU64>>>,
}

/// The registry of this process.
pub fn global() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::default);
    &METRICS
}

impl Metrics {
    /// The metrics of `job_type`, created at first use. Keep the `Arc` on hot paths.
    pub fn job_type(&self, job_type: &str) -> Arc<JobTypeMetrics> {
        entry(&self.job_types, job_type)
    }

    /// Counts `n` jobs of `job_type` enqueued by this process.
    pub fn enqueued(&self, job_type: &str, n: usize) {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        self.job_type(job_type)
            .enqueued
            .fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` enqueued jobs per job type.
    pub fn enqueued_all<'a>(&self, job_types: impl IntoIterator<Item = &'a str>) {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for job_type in job_types {
            *counts.entry(job_type).or_default() += 1;
        }
        for (job_type, n) in counts {
            self.enqueued(job_type, n);
        }
    }

    /// Counts a fire of `schedule` that enqueued a `job_type` job.
    pub fn schedule_fired(&self, schedule: &str, job_type: &str) {
        entry(&self.schedule_fires, schedule).fetch_add(1, Ordering::Relaxed);
        self.enqueued(job_type, 1);
    }

    /// Counts jobs rescued from an expired lease (and those of them dead-lettered).
    pub fn rescued(&self, rescued: &[Rescued]) {
        for job in rescued {
            let m = self.job_type(&job.job_type);
            m.rescued.fetch_add(1, Ordering::Relaxed);
            if job.status == JobStatus::DeadLetter {
                m.dead_lettered.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts a restart of the actor named `actor` (a pool is named for its job type).
    pub fn actor_restarted(&self, actor: &str) {
        entry(&self.actor_restarts, actor).fetch_add(1, Ordering::Relaxed);
    }

    /// A copy of every job type's metrics, by job type.
    pub fn job_types(&self) -> Vec<(String, Arc<JobTypeMetrics>)> {
        snapshot(&self.job_types)
    }

    fn counters(map: &RwLock<BTreeMap<String, Arc<AtomicU64>>>) -> Vec<(String, u64)> {
        snapshot(map)
            .into_iter()
            .map(|(k, v)| (k, v.load(Ordering::Relaxed)))
            .collect()
    }

    /// Fires per schedule.
    pub fn schedule_fires(&self) -> Vec<(String, u64)> {
        Self::counters(&self.schedule_fires)
    }

    /// Restarts per actor.
    pub fn actor_restarts(&self) -> Vec<(String, u64)> {
        Self::counters(&self.actor_restarts)
    }
}

fn entry<T: Default>(map: &RwLock<BTreeMap<String, Arc<T>>>, key: &str) -> Arc<T> {
    if let Some(found) = map.read().unwrap_or_else(PoisonError::into_inner).get(key) {
        return found.clone();
    }
    let mut map = map.write().unwrap_or_else(PoisonError::into_inner);
    map.entry(key.to_owned()).or_default().clone()
}

fn snapshot<T>(map: &RwLock<BTreeMap<String, Arc<T>>>) -> Vec<(String, Arc<T>)> {
    let map = map.read().unwrap_or_else(PoisonError::into_inner);
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}
