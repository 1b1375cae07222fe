//! The listener (PostgreSQL only): holds `LISTEN job_queue` and wakes the pool of each
//! inserted job type; holds `LISTEN pool_controls` and has the pool of each changed job type
//! read its control again.
//!
//! Notifications sent while the connection is down are lost, so after every (re)connect the
//! listener wakes every pool; the pools' own polling covers the gap before that.

use std::time::Duration;

use actix::prelude::*;
use sqlx::postgres::PgListener;
use tracing::{debug, info, warn};

use super::{outage, PoolDirectory};
use crate::store::{pool_control, Db, StoreError};

/// The channel the insert trigger notifies, with the job type as payload.
pub const CHANNEL: &str = "job_queue";

/// The actor.
pub struct Listener {
    pub(super) db: Db,
    pools: PoolDirectory,
}

impl Listener {
    /// A listener that wakes the pools in `pools`.
    pub fn new(db: Db, pools: PoolDirectory) -> Self {
        Self { db, pools }
    }
}

impl Actor for Listener {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let Db::Postgres(pool) = self.db.clone() else {
            return;
        };
        let directory = self.pools.clone();
        ctx.spawn(listen(pool, directory).into_actor(self));
    }
}

async fn listen(pool: sqlx::PgPool, pools: PoolDirectory) {
    let mut delay = Duration::from_millis(100);
    let mut down_logged = false;
    loop {
        let mut listener = match connect(&pool).await {
            Ok(listener) => listener,
            Err(err) => {
                if !down_logged {
                    let err = StoreError::from(err);
                    if outage::is_unreachable(&err) {
                        outage::failed("listener", "listen", &err);
                    } else {
                        warn!(error = %err, "listener cannot connect; pools poll meanwhile");
                    }
                    down_logged = true;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        if down_logged {
            outage::reached("listener");
            info!("listener connected again");
        }
        down_logged = false;
        delay = Duration::from_millis(100);
        pools.wake_all();
        pools.reload_controls();
        receive(&mut listener, &pools).await;
        debug!("listener connection lost");
    }
}

async fn connect(pool: &sqlx::PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener
        .listen_all([CHANNEL, pool_control::CHANNEL])
        .await?;
    Ok(listener)
}

/// Wakes pools until the connection drops.
async fn receive(listener: &mut PgListener, pools: &PoolDirectory) {
    loop {
        match listener.try_recv().await {
            Ok(Some(n)) if n.channel() == CHANNEL => pools.wake(n.payload()),
            Ok(Some(n)) => pools.reload_control(n.payload()),
            Ok(None) | Err(_) => return,
        }
    }
}
