//! Maintenance: rescues jobs whose lease expired, dead-letters runnable jobs with no attempt
//! left, and fails jobs of types no handler knows, so none waits forever. Each tick also records
//! the node's heartbeat in `nodes`.
//!
//! Every node runs it; the statements are idempotent, so racing nodes do the work once.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use tracing::{error, info, warn};

use super::{outage, PoolDirectory};
use crate::store::{job as jobs, node, Db, StoreError};

/// The check for exhausted jobs (a scan of the backlog) runs every this many ticks.
const SLOW_EVERY: u32 = 5;

/// The node whose heartbeat maintenance records.
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    /// The node's name.
    pub name: Arc<str>,
    /// When its process started.
    pub started_at: DateTime<Utc>,
}

/// The actor.
pub struct Maintenance {
    pub(super) db: Db,
    node: NodeIdentity,
    interval: Duration,
    unknown_type_after: Duration,
    known_types: Vec<String>,
    pools: PoolDirectory,
    busy: bool,
    tick: u32,
    failing: bool,
    alerts: Option<crate::alerts::Evaluator>,
}

impl Maintenance {
    /// Maintenance over `db` for `node`; `known_types` are the job types some handler serves.
    pub fn new(
        db: Db,
        node: NodeIdentity,
        interval: Duration,
        unknown_type_after: Duration,
        known_types: Vec<String>,
        pools: PoolDirectory,
    ) -> Self {
        Self {
            db,
            node,
            interval,
            unknown_type_after,
            known_types,
            pools,
            busy: false,
            tick: 0,
            failing: false,
            alerts: None,
        }
    }

    /// Also evaluates alert rules, each `alerts.interval`.
    pub fn with_alerts(mut self, alerts: crate::alerts::Evaluator) -> Self {
        self.alerts = Some(alerts);
        self
    }

    fn run(&mut self, ctx: &mut Context<Self>) {
        if let Some(evaluation) = self.alerts.as_mut().and_then(|a| a.tick(&self.db)) {
            ctx.spawn(evaluation.into_actor(self));
        }
        if self.busy {
            return;
        }
        self.busy = true;
        self.tick = self.tick.wrapping_add(1);
        let slow = self.tick % SLOW_EVERY == 1;
        let pass = Pass {
            db: self.db.clone(),
            node: self.node.clone(),
            known: self.known_types.clone(),
            unknown_after: self.unknown_type_after,
        };
        ctx.spawn(pass.run(slow).into_actor(self).map(|result, act, _| {
            act.busy = false;
            match result {
                Ok(woken) => {
                    if std::mem::take(&mut act.failing) {
                        outage::reached("maintenance");
                    }
                    for job_type in woken {
                        act.pools.wake(&job_type);
                    }
                }
                Err(err) if !act.failing => {
                    act.failing = true;
                    if outage::is_unreachable(&err) {
                        outage::failed("maintenance", "maintenance pass", &err);
                    } else {
                        error!(error = %err, "maintenance failed");
                    }
                }
                Err(_) => {}
            }
        }));
    }
}

struct Pass {
    db: Db,
    node: NodeIdentity,
    known: Vec<String>,
    unknown_after: Duration,
}

impl Pass {
    /// One pass; returns the job types whose pools should look again.
    async fn run(self, slow: bool) -> Result<Vec<String>, StoreError> {
        let now = Utc::now();
        node::heartbeat(&self.db, &self.node.name, self.node.started_at, now).await?;
        let rescued = jobs::rescue_expired(&self.db, now).await?;
        crate::metrics::global().rescued(&rescued);
        let mut woken = Vec::new();
        for job in &rescued {
            warn!(
                job_id = %job.id,
                job_type = %job.job_type,
                status = %job.status,
                lease_owner = job.locked_by.as_deref().unwrap_or(""),
                "lease expired; job rescued"
            );
            woken.push(job.job_type.clone());
        }
        if slow {
            let discarded = jobs::discard_exhausted(&self.db, now).await?;
            if discarded > 0 {
                info!(count = discarded, "jobs with no attempt left dead-lettered");
            }
        }
        self.fail_unknown_types(now).await?;
        woken.sort();
        woken.dedup();
        Ok(woken)
    }

    async fn fail_unknown_types(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let cutoff = crate::store::sub(now, self.unknown_after);
        for job_type in jobs::runnable_types(&self.db).await? {
            if self.known.contains(&job_type) {
                continue;
            }
            let error = format!(
                "unknown job type {job_type:?}: no handler serves it (known: {})",
                self.known.join(", ")
            );
            let failed =
                jobs::fail_runnable_of_type(&self.db, &job_type, &error, cutoff, now).await?;
            if failed > 0 {
                error!(job_type = %job_type, count = failed, "jobs of unknown type failed");
            }
        }
        Ok(())
    }
}

impl Actor for Maintenance {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.interval, |act, ctx| act.run(ctx));
        self.run(ctx);
    }
}
