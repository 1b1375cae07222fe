//! A running service: the supervisor and its actors, started from a config.

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr};

use crate::actors::pool::{GetState, PoolState};
use crate::actors::supervisor::{GetRestarts, Shutdown, Supervisor};
use crate::actors::PoolDirectory;
use crate::config::Config;
use crate::handlers::Handlers;
use crate::job::sensitive::{Sensitive, SensitiveError};
use crate::store::{Db, StoreError};

/// Why the service did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The database cannot be opened or migrated.
    #[error("{0}")]
    Store(StoreError),
    /// An enabled schedule enqueues a job type no handler serves.
    #[error("schedules.{schedule}.job_type: no handler serves job type {job_type:?}")]
    NoHandler { schedule: String, job_type: String },
    /// Sensitive payload fields are configured and their key is missing.
    #[error("{0}")]
    PayloadKey(SensitiveError),
}

impl From<StoreError> for StartError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

/// A handle to a running service. Start it inside an actix `System`.
pub struct Service {
    supervisor: Addr<Supervisor>,
    pools: PoolDirectory,
    db: Db,
    grace: Duration,
}

impl Service {
    /// Migrates the database and starts every actor.
    ///
    /// # Errors
    ///
    /// The database URL is unsupported, or the database is unreachable or cannot be migrated;
    /// a schedule names a job type without a handler; sensitive payload fields are configured
    /// without `A1C_JOBS_PAYLOAD_KEY`.
    pub async fn start(config: Config, handlers: Handlers) -> Result<Self, StartError> {
        for (name, schedule) in config.schedules.iter().filter(|(_, s)| s.enabled) {
            if handlers.get(&schedule.job_type).is_none() {
                return Err(StartError::NoHandler {
                    schedule: name.clone(),
                    job_type: schedule.job_type.clone(),
                });
            }
        }
        Sensitive::from_config(&config)
            .check_key()
            .map_err(StartError::PayloadKey)?;
        let db = Db::open(&config.database)?;
        db.migrate().await?;
        let grace = config.service.shutdown_grace;
        let pools = PoolDirectory::default();
        let supervisor = Supervisor::new(Arc::new(config), handlers, pools.clone()).start();
        Ok(Self {
            supervisor,
            pools,
            db,
            grace,
        })
    }

    /// The service's own database handle (on the thread that started it).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The running pools.
    pub fn pools(&self) -> &PoolDirectory {
        &self.pools
    }

    /// The state of the pool of `job_type`, if this node runs one.
    pub async fn pool_state(&self, job_type: &str) -> Option<PoolState> {
        self.pools.get(job_type)?.send(GetState).await.ok()
    }

    /// Stops the pool of `job_type` abruptly, as a crash would; the supervisor restarts it.
    pub fn kill_pool(&self, job_type: &str) {
        if let Some(addr) = self.pools.get(job_type) {
            addr.do_send(crate::actors::supervisor::Stop);
        }
    }

    /// Every metric of this process in the Prometheus text format (see [`crate::metrics`]).
    pub async fn metrics_text(&self) -> String {
        crate::metrics::render(&self.db, &self.pools).await
    }

    /// The alerts firing now, the most recently fired first (see [`crate::alerts::active`]).
    ///
    /// # Errors
    ///
    /// The database failed or a row is corrupt.
    pub async fn active_alerts(&self) -> Result<Vec<crate::alerts::Alert>, StoreError> {
        crate::alerts::active(&self.db).await
    }

    /// How many actors were restarted after their mailbox closed.
    pub async fn restarts(&self) -> u64 {
        self.supervisor.send(GetRestarts).await.unwrap_or(0)
    }

    /// Stops within the configured grace period, handing back what did not finish.
    pub async fn shutdown(self) {
        let grace = self.grace;
        self.shutdown_within(grace).await;
    }

    /// Stops within `grace`, handing back what did not finish.
    pub async fn shutdown_within(self, grace: Duration) {
        let _ = self.supervisor.send(Shutdown { grace }).await;
    }
}
