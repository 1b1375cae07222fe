//! An operator's control of the pool: pause and concurrency override, read from
//! `pool_controls` on every poll tick and when a change is announced.
//!
//! Until its first read succeeds a pool claims nothing, so a pool paused on every node stays
//! paused on a node that starts later. A paused pool still records the outcomes of its
//! running jobs; lowering the concurrency stops no running job, the pool just claims nothing
//! until it is below the new limit.

use actix::prelude::*;
use tracing::{debug, info};

use super::Pool;
use crate::store::pool_control::{self, PoolControl};

/// Read the control of the pool again: an operator changed it.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct ReloadControl;

/// What the pool last read of its control.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Control {
    pub paused: bool,
    pub concurrency: Option<u32>,
}

impl Pool {
    /// Reads the control, applies it, then cycles.
    pub(super) fn refresh_control(&mut self, ctx: &mut Context<Self>) {
        if self.reading_control {
            return;
        }
        self.reading_control = true;
        let (db, job_type) = (self.queue.clone(), self.job_type.clone());
        let read = async move { pool_control::get(&db, &job_type).await };
        ctx.spawn(read.into_actor(self).map(|result, act, ctx| {
            act.reading_control = false;
            match result {
                Ok(row) => act.apply_control(row.as_ref()),
                Err(err) => debug!(job_type = %act.job_type, error = %err, "control not read"),
            }
            act.flush = true;
            act.cycle(ctx);
        }));
    }

    fn apply_control(&mut self, row: Option<&PoolControl>) {
        let control = row.map_or_else(Control::default, |c| Control {
            paused: c.paused,
            concurrency: c.concurrency,
        });
        if self.control == Some(control) {
            return;
        }
        let first = self.control.is_none();
        self.control = Some(control);
        if first && control == Control::default() {
            return;
        }
        info!(
            job_type = %self.job_type,
            paused = control.paused,
            concurrency = self.concurrency(),
            "pool control applied"
        );
    }

    /// Whether an operator paused this pool (or its control is not read yet).
    pub(super) fn is_paused(&self) -> bool {
        self.control.is_none_or(|c| c.paused)
    }

    /// The concurrency in force: the operator's override, else the configured one.
    pub(super) fn concurrency(&self) -> u32 {
        self.control
            .and_then(|c| c.concurrency)
            .unwrap_or(self.config.concurrency)
    }

    /// The reserved slots in force: the configured ones, leaving at least one slot for any job.
    pub(super) fn reserved(&self) -> u32 {
        self.config
            .reserved
            .min(self.concurrency().saturating_sub(1))
    }
}

impl Handler<ReloadControl> for Pool {
    type Result = ();

    fn handle(&mut self, _: ReloadControl, ctx: &mut Self::Context) {
        self.refresh_control(ctx);
    }
}
