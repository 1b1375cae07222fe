//! Alerts: rules from `[alerts.rules]` read `job_queue` and fire when a reading passes their
//! limit. Maintenance evaluates them every `alerts.interval` through an [`Evaluator`].
//!
//! # State across nodes
//!
//! Every node evaluates every rule; the state lives in the `alerts` table. A rule found firing
//! is flipped to firing with a conditional upsert, one found quiet back with a conditional
//! update, and only the node whose statement changed the row logs the change (at error) and
//! sends the notification ([`notify`]). So an alert is logged once when it fires and once
//! when it resolves, and sent once until it has resolved and fired again, however many nodes
//! run.
//!
//! Rules read rows, not this process's counters, so they hold across nodes: failed jobs in the
//! last hour, jobs past their lease, runnable jobs, the p95 run time of the last hour.

pub mod notify;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tracing::{error, info, warn};

use crate::config::alerts::{AlertRule, AlertsConfig, RuleKind};
use crate::store::alert::{self, Firing};
use crate::store::job::health::{self, Health};
use crate::store::{Db, StoreError};

pub use crate::store::alert::Alert;
pub use notify::{Notice, Notifier};

/// The window `failed_jobs` and `p95_run_time` look back over.
const HOUR: Duration = Duration::from_secs(3600);

/// What one rule read.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The count, or the run time in seconds; none when nothing was measured.
    pub value: Option<f64>,
    pub threshold: f64,
}

impl Reading {
    /// Whether the reading passes its limit.
    pub fn firing(&self) -> bool {
        self.value.is_some_and(|v| v > self.threshold)
    }
}

/// Reads `rule` at `now`.
///
/// # Errors
///
/// The database failed.
pub async fn read(db: &Db, rule: &AlertRule, now: DateTime<Utc>) -> Result<Reading, StoreError> {
    let job_type = rule.job_type.as_deref();
    let hour_ago = before(now, HOUR);
    let threshold = rule.limit();
    let (what, at) = match rule.kind {
        RuleKind::FailedJobs => (Health::FailedSince, hour_ago),
        RuleKind::LeaseOverrun => (Health::LeaseEndedBefore, before(now, rule.grace())),
        RuleKind::Backlog => (Health::RunnableAt, now),
        RuleKind::P95RunTime => {
            let value = health::p95_run_time(db, job_type, hour_ago).await?;
            return Ok(Reading { value, threshold });
        }
    };
    let count = health::count(db, what, job_type, at).await?;
    Ok(Reading {
        value: Some(count_value(count)),
        threshold,
    })
}

fn before(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now.checked_sub_signed(crate::store::delta(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn count_value(n: i64) -> f64 {
    u32::try_from(n).map_or(f64::from(u32::MAX), f64::from)
}

/// A rule whose state this node changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub rule: String,
    pub firing: bool,
    pub message: String,
}

/// Reads every enabled rule at `now`, stores the state of those that changed, and logs and
/// sends (through `notifier`) the changes this node made. Returns them.
///
/// # Errors
///
/// The database failed; the rules read before the failure were applied.
pub async fn evaluate(
    db: &Db,
    config: &AlertsConfig,
    notifier: &Notifier,
    now: DateTime<Utc>,
) -> Result<Vec<Change>, StoreError> {
    let mut changes = Vec::new();
    for (name, rule) in config.rules.iter().filter(|(_, r)| r.enabled) {
        let reading = read(db, rule, now).await?;
        let message = describe(rule, &reading);
        if reading.firing() {
            let firing = Firing {
                rule: name,
                kind: rule.kind.as_str(),
                job_type: rule.job_type.as_deref(),
                value: reading.value.unwrap_or_default(),
                threshold: reading.threshold,
                message: &message,
            };
            if alert::fire(db, &firing, now).await? {
                error!(rule = %name, kind = rule.kind.as_str(), message = %message, "alert firing");
                notifier.send(&Notice::of(&firing, now)).await;
                changes.push(Change {
                    rule: name.clone(),
                    firing: true,
                    message,
                });
            }
        } else if alert::resolve(db, name, now).await? {
            error!(rule = %name, kind = rule.kind.as_str(), message = %message, "alert resolved");
            changes.push(Change {
                rule: name.clone(),
                firing: false,
                message,
            });
        }
    }
    // A rule taken out of the config (or disabled) while firing would stay listed for ever.
    let enabled = |rule: &str| config.rules.get(rule).is_some_and(|r| r.enabled);
    for stale in active(db).await?.into_iter().filter(|a| !enabled(&a.rule)) {
        if alert::resolve(db, &stale.rule, now).await? {
            error!(rule = %stale.rule, "alert resolved: its rule is no longer enabled");
            changes.push(Change {
                rule: stale.rule,
                firing: false,
                message: "the rule is no longer enabled".to_owned(),
            });
        }
    }
    Ok(changes)
}

/// The alerts firing now, the most recently fired first: what `/api/alerts` and the
/// dashboard show. Every node sees the same list (it is read from the `alerts` table).
///
/// # Errors
///
/// The database failed or a row is corrupt.
pub async fn active(db: &Db) -> Result<Vec<Alert>, StoreError> {
    let all = alert::list(db).await?;
    Ok(all.into_iter().filter(|a| a.firing).collect())
}

/// The reading in words, e.g. `12 jobs of CALCULATE_A1C failed in the last hour (more than
/// 10)`.
pub fn describe(rule: &AlertRule, reading: &Reading) -> String {
    let of = rule
        .job_type
        .as_deref()
        .map(|t| format!(" of {t}"))
        .unwrap_or_default();
    let value = reading.value.unwrap_or_default();
    let limit = reading.threshold;
    match rule.kind {
        RuleKind::FailedJobs => {
            format!("{value} jobs{of} failed in the last hour (alert above {limit})")
        }
        RuleKind::LeaseOverrun => format!(
            "{value} jobs{of} processing more than {}s past their lease (alert above {limit})",
            rule.grace().as_secs_f64()
        ),
        RuleKind::Backlog => format!("{value} runnable jobs{of} waiting (alert above {limit})"),
        RuleKind::P95RunTime => match reading.value {
            Some(p95) => format!(
                "p95 run time of jobs{of} that ended in the last hour is {p95:.3}s \
                 (alert above {limit}s)"
            ),
            None => format!("no job{of} ended in the last hour"),
        },
    }
}

/// Runs [`evaluate`] from maintenance's tick, every `alerts.interval`, one run at a time.
pub struct Evaluator {
    config: Arc<AlertsConfig>,
    notifier: Arc<Notifier>,
    last: Option<Instant>,
    busy: Arc<AtomicBool>,
    failing: Arc<AtomicBool>,
}

impl Evaluator {
    /// An evaluator of `config`'s rules; `node` names this node in notifications.
    pub fn new(config: AlertsConfig, node: &str) -> Self {
        let notifier = Notifier::new(&config, node);
        Self {
            config: Arc::new(config),
            notifier: Arc::new(notifier),
            last: None,
            busy: Arc::new(AtomicBool::new(false)),
            failing: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Called on every maintenance tick: gives the evaluation to run when one is due and none
    /// is running. The caller runs it as part of its own work, so that stopping the caller
    /// stops it too, on the caller's thread. It runs even with no rule enabled, so that alerts
    /// of rules taken out of the config are resolved.
    pub fn tick(&mut self, db: &Db) -> Option<impl Future<Output = ()> + 'static> {
        if self
            .last
            .is_some_and(|at| at.elapsed() < self.config.interval)
        {
            return None;
        }
        if self.busy.swap(true, Ordering::AcqRel) {
            return None;
        }
        self.last = Some(Instant::now());
        let (db, config, notifier) = (db.clone(), self.config.clone(), self.notifier.clone());
        let (busy, failing) = (self.busy.clone(), self.failing.clone());
        Some(async move {
            match evaluate(&db, &config, &notifier, Utc::now()).await {
                Ok(_) if failing.swap(false, Ordering::AcqRel) => info!("alert rules read again"),
                Ok(_) => {}
                Err(err) if !failing.swap(true, Ordering::AcqRel) => {
                    warn!(error = %err, "alert rules not evaluated");
                }
                Err(_) => {}
            }
            busy.store(false, Ordering::Release);
        })
    }
}
