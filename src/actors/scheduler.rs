//! The scheduler, in place of pg_cron: turns the cron schedules of the config into jobs.
//!
//! Every node evaluates every schedule on each tick and tries to enqueue each fire time that
//! came due since its last tick. The job and a `schedule_runs (schedule, fire_at)` row commit
//! together, so a fire time produces exactly one job however many nodes race for it, with no
//! leader. A node that starts looks back to the schedule's last recorded fire and applies
//! `catch_up` to what was missed while no node ran.

use std::collections::BTreeMap;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use tracing::{error, info};

use super::{outage, PoolDirectory};
use crate::config::{CatchUp, ScheduleConfig};
use crate::job::NewJob;
use crate::schedule::{previous_period, PeriodKind, Schedule};
use crate::store::{schedule_run, Db, StoreError};

/// At most this many missed fire times are enqueued for one schedule at start.
const CATCH_UP_LIMIT: usize = 1_000;

/// One schedule with its parsed expression.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub config: ScheduleConfig,
    pub schedule: Schedule,
}

/// The enabled schedules of a config.
///
/// # Errors
///
/// A cron expression or zone is invalid (the config check reports these first).
pub fn entries(
    schedules: &BTreeMap<String, ScheduleConfig>,
) -> Result<Vec<Entry>, crate::schedule::ScheduleError> {
    schedules
        .iter()
        .filter(|(_, c)| c.enabled)
        .map(|(name, config)| {
            Ok(Entry {
                name: name.clone(),
                config: config.clone(),
                schedule: config.schedule()?,
            })
        })
        .collect()
}

/// The actor.
pub struct Scheduler {
    pub(super) db: Db,
    tick: Duration,
    entries: Vec<Entry>,
    pools: PoolDirectory,
    /// Fire times up to here were tried, per schedule (same order as `entries`).
    checked_until: Vec<Option<DateTime<Utc>>>,
    busy: bool,
    failing: bool,
}

impl Scheduler {
    /// A scheduler of `entries`.
    pub fn new(db: Db, tick: Duration, entries: Vec<Entry>, pools: PoolDirectory) -> Self {
        let checked_until = vec![None; entries.len()];
        Self {
            db,
            tick,
            entries,
            pools,
            checked_until,
            busy: false,
            failing: false,
        }
    }

    fn run(&mut self, ctx: &mut Context<Self>) {
        if self.busy || self.entries.is_empty() {
            return;
        }
        self.busy = true;
        let db = self.db.clone();
        let entries = self.entries.clone();
        let checked = self.checked_until.clone();
        let fut = async move {
            let now = Utc::now();
            let mut next = Vec::with_capacity(entries.len());
            let mut fired = Vec::new();
            for (entry, since) in entries.iter().zip(checked) {
                let since = match since {
                    Some(since) => since,
                    None => catch_up_start(&db, entry, now).await?,
                };
                fired.extend(fire_due(&db, entry, since, now).await?);
                next.push(Some(now));
            }
            Ok::<_, StoreError>((next, fired))
        };
        ctx.spawn(fut.into_actor(self).map(|result, act, _| {
            act.busy = false;
            match result {
                Ok((next, fired)) => {
                    if std::mem::take(&mut act.failing) {
                        outage::reached("scheduler");
                    }
                    act.checked_until = next;
                    for job_type in fired {
                        act.pools.wake(&job_type);
                    }
                }
                Err(err) if !act.failing => {
                    act.failing = true;
                    if outage::is_unreachable(&err) {
                        outage::failed("scheduler", "fire schedules", &err);
                    } else {
                        error!(error = %err, "scheduler failed; retrying");
                    }
                }
                Err(_) => {}
            }
        }));
    }
}

/// Where a starting node begins looking for fire times of `entry`.
async fn catch_up_start(
    db: &Db,
    entry: &Entry,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, StoreError> {
    let window = crate::store::delta(entry.config.catch_up_window);
    let earliest = now
        .checked_sub_signed(window)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let last = schedule_run::latest(db, &entry.name).await?;
    let start = match (entry.config.catch_up, last) {
        (CatchUp::None, _) | (_, None) => now,
        (CatchUp::All, Some(last)) => last.max(earliest),
        (CatchUp::Latest, Some(last)) => {
            let since = last.max(earliest);
            let missed = entry.schedule.fires_between(since, now, CATCH_UP_LIMIT);
            match missed.len() {
                0 | 1 => since,
                // Start just before the latest missed fire, so only it is enqueued.
                n => missed[n - 2],
            }
        }
    };
    Ok(start)
}

/// Tries every fire time of `entry` in `(since, now]`; returns the job types enqueued.
///
/// # Errors
///
/// The database failed.
pub async fn fire_due(
    db: &Db,
    entry: &Entry,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let mut fired = Vec::new();
    for fire_at in entry.schedule.fires_between(since, now, CATCH_UP_LIMIT) {
        let job = NewJob::new(
            &entry.config.job_type,
            render_payload(&entry.config, fire_at),
        )
        .priority(entry.config.priority);
        if let Some(job_id) = schedule_run::fire(db, &entry.name, fire_at, &job, now).await? {
            info!(schedule = %entry.name, %job_id, fire_at = %fire_at, "schedule fired");
            crate::metrics::global().schedule_fired(&entry.name, &entry.config.job_type);
            fired.push(entry.config.job_type.clone());
        }
    }
    Ok(fired)
}

/// The payload of one fire: the template with `${fire_at}`, `${period.start}` and
/// `${period.end}` replaced (the period is the one that ended before the fire time, in the
/// schedule's zone).
pub fn render_payload(config: &ScheduleConfig, fire_at: DateTime<Utc>) -> Value {
    let zone: chrono_tz::Tz = config.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let local_date = fire_at.with_timezone(&zone).date_naive();
    let period = config
        .period
        .as_deref()
        .and_then(|p| PeriodKind::parse(p).ok())
        .and_then(|kind| previous_period(kind, local_date));
    let fire_text = fire_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let replace = |text: &str| -> Option<String> {
        match text {
            "${fire_at}" => Some(fire_text.clone()),
            "${period.start}" => period.map(|p| p.0.to_string()),
            "${period.end}" => period.map(|p| p.1.to_string()),
            _ => None,
        }
    };
    substitute(config.payload.clone(), &replace)
}

fn substitute(value: Value, replace: &dyn Fn(&str) -> Option<String>) -> Value {
    match value {
        Value::String(text) => Value::String(replace(&text).unwrap_or(text)),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| substitute(v, replace)).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, substitute(v, replace)))
                .collect(),
        ),
        other => other,
    }
}

impl Actor for Scheduler {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.tick, |act, ctx| act.run(ctx));
        self.run(ctx);
    }
}
