//! The supervisor: starts every actor from the config, restarts a child whose mailbox closed,
//! and runs graceful shutdown.
//!
//! actix does not restart an actor after a panic: its mailbox just closes. Job code runs in
//! tasks, whose panics become failed attempts, so a closed mailbox means a bug in an actor
//! itself; the supervisor checks its children every second and starts a new one in its place.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures_util::future::join_all;
use tracing::{error, info, warn};

use super::listener::Listener;
use super::maintenance::{Maintenance, NodeIdentity};
use super::pool::{Drain, Pool};
use super::scheduler::{self, Scheduler};
use super::PoolDirectory;
use crate::config::Config;
use crate::handlers::Handlers;
use crate::job::sensitive::Sensitive;
use crate::store::{Backend, Db};

/// How often the supervisor checks that its children are alive.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Stop claiming and scheduling, drain every pool within `grace`, then stop.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Shutdown {
    pub grace: Duration,
}

/// How many times children were restarted.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "u64")]
pub struct GetRestarts;

/// Stop an actor at once, without draining (the supervisor starts it again).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Stop;

struct PoolSlot {
    arbiter: Arbiter,
    addr: Addr<Pool>,
}

/// The actor.
pub struct Supervisor {
    config: Arc<Config>,
    handlers: Handlers,
    node: Arc<str>,
    /// When this process started the service.
    started_at: chrono::DateTime<chrono::Utc>,
    /// The thread of the listener, maintenance and the scheduler.
    aux: Arbiter,
    directory: PoolDirectory,
    pools: BTreeMap<String, PoolSlot>,
    listener: Option<Addr<Listener>>,
    maintenance: Option<Addr<Maintenance>>,
    scheduler: Option<Addr<Scheduler>>,
    restarts: u64,
    stopping: bool,
}

impl Supervisor {
    /// A supervisor for `config`; `db` is for the auxiliary actors on its own thread.
    pub fn new(config: Arc<Config>, handlers: Handlers, directory: PoolDirectory) -> Self {
        let node: Arc<str> = config.node_name().into();
        Self {
            config,
            handlers,
            node,
            started_at: chrono::Utc::now(),
            aux: Arbiter::new(),
            directory,
            pools: BTreeMap::new(),
            listener: None,
            maintenance: None,
            scheduler: None,
            restarts: 0,
            stopping: false,
        }
    }

    fn pool_types(&self) -> Vec<String> {
        let mut types = Vec::new();
        for (job_type, pool) in &self.config.pools {
            if !pool.enabled {
                continue;
            }
            if self.handlers.get(job_type).is_none() {
                warn!(job_type = %job_type, "no handler for job type; pool not started");
                continue;
            }
            types.push(job_type.clone());
        }
        types
    }

    fn start_pool(&self, job_type: &str) -> PoolSlot {
        let arbiter = Arbiter::new();
        let pool_config = self.config.pools[job_type].clone();
        let database = self.config.database.clone();
        let poll = self.config.service.poll_interval;
        let node = self.node.clone();
        let handler = self
            .handlers
            .get(job_type)
            .expect("pool types all have handlers");
        let connections = pool_config.concurrency.saturating_add(3);
        let job_type = job_type.to_owned();
        let sensitive = Sensitive::from_config(&self.config);
        let addr = Pool::start_in_arbiter(&arbiter.handle(), move |_| {
            // Opened here so its connections belong to this Arbiter's runtime.
            let db = Db::open_with(&database, connections)
                .expect("database url was checked when the service started");
            let queue = Db::open_queue(&database)
                .expect("database url was checked when the service started");
            Pool::new(&job_type, pool_config, poll, node, db, handler)
                .with_queue_db(queue)
                .with_sensitive(sensitive)
        });
        PoolSlot { arbiter, addr }
    }

    /// Opens a small database pool on the thread an actor runs on, so its connections belong
    /// to that thread's runtime and go with it.
    fn aux_db(&self) -> impl Fn() -> Db {
        let database = self.config.database.clone();
        move || Db::open_with(&database, 2).expect("database url was checked at start-up")
    }

    fn start_listener(&self) -> Addr<Listener> {
        let (db, directory) = (self.aux_db(), self.directory.clone());
        Listener::start_in_arbiter(&self.aux.handle(), move |_| Listener::new(db(), directory))
    }

    fn start_maintenance(&self) -> Addr<Maintenance> {
        let m = self.config.maintenance.clone();
        let known = self.handlers.job_types();
        let (db, directory) = (self.aux_db(), self.directory.clone());
        let node = NodeIdentity {
            name: self.node.clone(),
            started_at: self.started_at,
        };
        let alerts = self.config.alerts.clone();
        Maintenance::start_in_arbiter(&self.aux.handle(), move |_| {
            let evaluator = crate::alerts::Evaluator::new(alerts, &node.name);
            Maintenance::new(
                db(),
                node,
                m.interval,
                m.unknown_type_after,
                known,
                directory,
            )
            .with_alerts(evaluator)
        })
    }

    fn start_scheduler(&self) -> Addr<Scheduler> {
        let entries = scheduler::entries(&self.config.schedules).unwrap_or_else(|err| {
            error!(error = %err, "schedules not started");
            Vec::new()
        });
        let tick = self.config.service.scheduler_tick;
        let (db, directory) = (self.aux_db(), self.directory.clone());
        Scheduler::start_in_arbiter(&self.aux.handle(), move |_| {
            Scheduler::new(db(), tick, entries, directory)
        })
    }

    /// Starts again every child whose mailbox closed.
    fn check_children(&mut self) {
        if self.stopping {
            return;
        }
        let dead: Vec<String> = self
            .pools
            .iter()
            .filter(|(_, slot)| !slot.addr.connected())
            .map(|(t, _)| t.clone())
            .collect();
        for job_type in dead {
            self.restart_pool(&job_type);
        }
        if self.listener.as_ref().is_some_and(|a| !a.connected()) {
            self.note_restart("listener");
            self.listener = Some(self.start_listener());
        }
        if self.maintenance.as_ref().is_some_and(|a| !a.connected()) {
            self.note_restart("maintenance");
            self.maintenance = Some(self.start_maintenance());
        }
        if self.scheduler.as_ref().is_some_and(|a| !a.connected()) {
            self.note_restart("scheduler");
            self.scheduler = Some(self.start_scheduler());
        }
    }

    fn restart_pool(&mut self, job_type: &str) {
        self.note_restart(job_type);
        if let Some(old) = self.pools.remove(job_type) {
            old.arbiter.stop();
        }
        let slot = self.start_pool(job_type);
        self.directory.set(job_type, slot.addr.clone());
        self.pools.insert(job_type.to_owned(), slot);
    }

    fn note_restart(&mut self, child: &str) {
        self.restarts += 1;
        crate::metrics::global().actor_restarted(child);
        error!(
            actor = child,
            restarts = self.restarts,
            "actor stopped; restarting it"
        );
    }
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        for job_type in self.pool_types() {
            let slot = self.start_pool(&job_type);
            self.directory.set(&job_type, slot.addr.clone());
            self.pools.insert(job_type, slot);
        }
        if matches!(
            Backend::of_url(&self.config.database.url),
            Ok(Backend::Postgres)
        ) {
            self.listener = Some(self.start_listener());
        }
        self.maintenance = Some(self.start_maintenance());
        self.scheduler = Some(self.start_scheduler());
        ctx.run_interval(CHECK_EVERY, |act, _| act.check_children());
        info!(node = %self.node, pools = self.pools.len(), "service started");
    }
}

impl Handler<Shutdown> for Supervisor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, msg: Shutdown, _: &mut Self::Context) -> Self::Result {
        self.stopping = true;
        let grace_ms = u64::try_from(msg.grace.as_millis()).unwrap_or(u64::MAX);
        info!(grace_ms, "shutting down");
        // Stopped (and awaited) before their thread ends, so their connections close inside
        // its runtime.
        let aux_stops: Vec<_> = [self.listener.take().map(|a| a.recipient())]
            .into_iter()
            .chain([self.maintenance.take().map(|a| a.recipient())])
            .chain([self.scheduler.take().map(|a| a.recipient())])
            .flatten()
            .map(|addr: Recipient<Stop>| addr.send(Stop))
            .collect();
        let pools: Vec<(String, PoolSlot)> = std::mem::take(&mut self.pools).into_iter().collect();
        let drains: Vec<_> = pools
            .iter()
            .map(|(_, slot)| slot.addr.send(Drain { grace: msg.grace }))
            .collect();
        let aux = self.aux.handle();
        Box::pin(
            async move {
                join_all(aux_stops).await;
                join_all(drains).await;
                for (_, slot) in pools {
                    slot.arbiter.stop();
                }
                aux.stop();
                info!("shutdown complete");
            }
            .into_actor(self),
        )
    }
}

impl Handler<GetRestarts> for Supervisor {
    type Result = u64;

    fn handle(&mut self, _: GetRestarts, _: &mut Self::Context) -> u64 {
        self.restarts
    }
}

impl Handler<Stop> for Pool {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

/// Stops an auxiliary actor and answers once its database pool is closed: the connections its
/// cancelled work held are given back on its own thread, before that thread ends.
macro_rules! stoppable_with_db {
    ($($actor:ty),*) => {$(
        impl Handler<Stop> for $actor {
            type Result = ResponseFuture<()>;

            fn handle(&mut self, _: Stop, ctx: &mut Self::Context) -> Self::Result {
                ctx.stop();
                let db = self.db.clone();
                Box::pin(async move { db.close().await })
            }
        }
    )*};
}

stoppable_with_db!(Listener, Maintenance, Scheduler);
