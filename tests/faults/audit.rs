//! Reading back what happened: every probe run, every job's end, and how long any attempt
//! stayed PROCESSING.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use a1c_jobs::store::Db;

use crate::setup::{epoch, now_epoch, rows, text};

/// One run of a probe job, times in seconds since the epoch.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Run {
    pub job_id: String,
    pub attempt: i32,
    pub node: String,
    pub started: f64,
    pub ended: Option<f64>,
}

/// Every probe run, oldest first.
pub async fn runs(db: &Db) -> Vec<Run> {
    let sql = format!(
        "SELECT {} AS job_id, attempt, node, {} AS started, {} AS ended
         FROM fault_probe_runs ORDER BY started_at",
        text(db, "job_id"),
        epoch(db, "started_at"),
        epoch(db, "ended_at"),
    );
    rows(db, &sql).await.expect("read probe runs")
}

/// A job as it ended.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct End {
    pub id: String,
    pub status: String,
    pub attempts: i32,
    pub error: Option<String>,
}

/// Every job, as it is now.
pub async fn ends(db: &Db) -> Vec<End> {
    let sql = format!(
        "SELECT {} AS id, status, attempts, error FROM job_queue",
        text(db, "id")
    );
    rows(db, &sql).await.expect("read jobs")
}

/// What the runs say about double execution.
#[derive(Debug, Default)]
pub struct Doubles {
    /// Jobs that ran more than once.
    pub rerun_jobs: usize,
    /// Runs that were followed by another run of their job, with a stop (kill, abort,
    /// SIGTERM) during them, or soon after they ended (before the outcome was recorded).
    pub explained: usize,
    /// Such runs with no stop to explain them: double runs outside stops.
    pub unexplained: usize,
    /// (job, attempt) pairs that ran more than once.
    pub repeated_attempts: usize,
}

/// Checks every job's runs against `stops` (epoch seconds at which a process stopped).
/// A run that was followed by another one is explained when a stop fell between its start
/// and `slack` after its end (or it never ended).
pub fn doubles(runs: &[Run], stops: &[f64], slack: f64) -> Doubles {
    let mut by_job: HashMap<&str, Vec<&Run>> = HashMap::new();
    for run in runs {
        by_job.entry(&run.job_id).or_default().push(run);
    }
    let mut out = Doubles::default();
    for job_runs in by_job.values() {
        let mut seen = HashSet::new();
        for run in job_runs {
            if !seen.insert(run.attempt) {
                out.repeated_attempts += 1;
            }
        }
        if job_runs.len() < 2 {
            continue;
        }
        out.rerun_jobs += 1;
        for run in &job_runs[..job_runs.len() - 1] {
            let until = run.ended.map_or(f64::INFINITY, |e| e + slack);
            if stops.iter().any(|&s| s >= run.started && s <= until) {
                out.explained += 1;
            } else {
                out.unexplained += 1;
                eprintln!("run again without a stop: {job_runs:?}");
            }
        }
    }
    out
}

/// Watches `job_queue` and remembers the longest time one attempt (job and lease) stayed
/// PROCESSING: from the first read that saw it to the first that no longer did, so at most
/// one read interval (100 ms) too long.
pub struct StuckWatch {
    worst: Arc<Mutex<f64>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(sqlx::FromRow)]
struct Held {
    id: String,
    lease: Option<String>,
}

impl StuckWatch {
    /// Starts watching, every 100 ms.
    pub fn start(db: &Db) -> Self {
        let worst = Arc::new(Mutex::new(0.0_f64));
        let stop = Arc::new(AtomicBool::new(false));
        let (db, w, s) = (db.clone(), worst.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let sql = format!(
                "SELECT {} AS id, {} AS lease FROM job_queue WHERE status = 'PROCESSING'",
                text(&db, "id"),
                text(&db, "lease_id")
            );
            let mut first_seen: HashMap<(String, Option<String>), f64> = HashMap::new();
            while !s.load(Ordering::SeqCst) {
                // A failed read (the database restarting) just skips a beat.
                if let Ok(held) = rows::<Held>(&db, &sql).await {
                    let now = now_epoch();
                    let live: HashSet<_> = held.into_iter().map(|h| (h.id, h.lease)).collect();
                    let mut worst = w.lock().unwrap_or_else(PoisonError::into_inner);
                    // Counted until the first read that no longer sees it: an upper bound,
                    // also across reads that failed while the database was away.
                    for since in first_seen.values() {
                        *worst = worst.max(now - since);
                    }
                    first_seen.retain(|k, _| live.contains(k));
                    for key in live {
                        first_seen.entry(key).or_insert(now);
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Self { worst, stop, task }
    }

    /// Stops watching; the longest time seen, in seconds.
    pub async fn finish(self) -> f64 {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.task.await;
        *self.worst.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
