//! The actors of a running service.
//!
//! The [`supervisor::Supervisor`] starts one [`pool::Pool`] per job type, each on its own
//! Arbiter (thread) with its own database pool, plus the [`listener::Listener`],
//! [`maintenance::Maintenance`] and [`scheduler::Scheduler`]. It restarts a child whose
//! mailbox closed and runs graceful shutdown.

pub mod listener;
pub mod maintenance;
pub mod outage;
pub mod pool;
pub mod scheduler;
pub mod supervisor;

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use actix::Addr;

use pool::{Pool, ReloadControl, Wake};

/// The running pools by job type, shared by the actors that wake them.
#[derive(Clone, Default)]
pub struct PoolDirectory {
    pools: Arc<RwLock<HashMap<String, Addr<Pool>>>>,
}

impl PoolDirectory {
    /// Records (or replaces, after a restart) the pool of `job_type`.
    pub fn set(&self, job_type: &str, addr: Addr<Pool>) {
        let mut pools = self.pools.write().unwrap_or_else(PoisonError::into_inner);
        pools.insert(job_type.to_owned(), addr);
    }

    /// The pool of `job_type`, if this node runs one.
    pub fn get(&self, job_type: &str) -> Option<Addr<Pool>> {
        let pools = self.pools.read().unwrap_or_else(PoisonError::into_inner);
        pools.get(job_type).cloned()
    }

    /// Every pool, by job type.
    pub fn all(&self) -> Vec<(String, Addr<Pool>)> {
        let pools = self.pools.read().unwrap_or_else(PoisonError::into_inner);
        pools.iter().map(|(t, a)| (t.clone(), a.clone())).collect()
    }

    /// Wakes the pool of `job_type`, if any.
    pub fn wake(&self, job_type: &str) {
        if let Some(addr) = self.get(job_type) {
            addr.do_send(Wake);
        }
    }

    /// Has the pool of `job_type`, if any, read its operator control again.
    pub fn reload_control(&self, job_type: &str) {
        if let Some(addr) = self.get(job_type) {
            addr.do_send(ReloadControl);
        }
    }

    /// Has every pool read its operator control again.
    pub fn reload_controls(&self) {
        for (_, addr) in self.all() {
            addr.do_send(ReloadControl);
        }
    }

    /// Wakes every pool.
    pub fn wake_all(&self) {
        for (_, addr) in self.all() {
            addr.do_send(Wake);
        }
    }
}
