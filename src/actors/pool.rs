//! The pool of one job type on this node: claims due jobs in batches, runs each as a task,
//! renews their leases and records outcomes in batches.
//!
//! # Slots
//!
//! At most `concurrency` attempts run at once. `reserved` of those slots are kept for urgent
//! jobs (priority `<= reserved_priority`): other jobs may hold at most
//! `concurrency - reserved`, so a flood of batch work never blocks urgent work.
//!
//! # Waking
//!
//! A pool cycles when woken (a notification, a finished job, a rescue) and on every
//! `poll_interval`, so nothing depends on a notification arriving. A claim that filled its
//! batch starts the next cycle at once: more jobs may be waiting.
//!
//! # Cycles
//!
//! A pool talks to the database in cycles: one round trip (one statement on PostgreSQL)
//! records the outcomes of the attempts that ended and claims jobs for the free slots. One
//! cycle runs at a time, and what arrives meanwhile goes into the next, so under load one
//! commit covers many jobs, and an idle pool answers a single job at once. A finished attempt
//! does not start a cycle itself: it queues one behind the messages already waiting, so the
//! attempts of a batch that end together are recorded, and their slots refilled, together.
//!
//! # Prefetch
//!
//! With `prefetch` above 0 (and no reserved slots or rate limit) a claim may take that many jobs
//! beyond the free slots. They wait in the pool, leased and renewed like running ones, and start
//! the moment a slot frees, without waiting for a cycle; so one cycle records and refills far
//! more than the free slots. A waiting job whose lease ran low (the database failed to renew it)
//! is handed back instead of started, and a pause or a drain hands every waiting job back,
//! spending no attempt and keeping its place in the queue. An outcome carries the times its
//! attempt really started and ended, so run times leave out the wait.
//!
//! A claim counts every attempt at once, prefetched or not: a run is never left uncounted. So
//! a process that dies spends the attempts of its waiting jobs too, as it does for its running
//! ones. Only jobs that never failed (`PENDING`) wait, and only those ahead of every `RETRY`
//! job: jobs rescued from a dead process are `RETRY` and run in free slots only, so a job that
//! brings its process down again takes no more jobs with it than without prefetch.

mod control;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use tokio::task::AbortHandle;
use tracing::{debug, error, info, info_span, warn, Instrument};
use uuid::Uuid;

use super::outage;
use crate::config::PoolConfig;
use crate::handlers::{Handler as JobHandler, JobContext};
use crate::job::sensitive::Sensitive;
use crate::job::{ClaimedJob, JobStatus, Outcome};
use crate::store::job::{self as jobs, ClaimRequest, Settlement};
use crate::store::{Db, StoreError};

pub use control::ReloadControl;

/// Lowest-priority number that exists; `max_priority` of a claim for any job.
const ANY_PRIORITY: i16 = 9;

/// Look for due jobs now.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Wake;

/// Stop claiming, give running jobs up to `grace` to finish, hand the rest back without
/// spending their attempt, record every outcome and close the database pool.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Drain {
    pub grace: Duration,
}

/// What the pool is doing, for tests, metrics and the CLI.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "PoolState")]
pub struct GetState;

/// A snapshot of a pool.
#[derive(Debug, Clone, Copy, MessageResponse)]
pub struct PoolState {
    pub in_flight: usize,
    /// The concurrency in force: an operator's override, else the configured one.
    pub concurrency: u32,
    /// The configured concurrency.
    pub configured_concurrency: u32,
    /// Whether an operator paused the pool (it claims nothing new).
    pub paused: bool,
    /// The most attempts that ever ran at once in this pool.
    pub peak_in_flight: usize,
}

/// An attempt ended (sent by the attempt's task).
#[derive(Message, Debug)]
#[rtype(result = "()")]
struct Finished {
    id: Uuid,
    lease_id: Uuid,
    outcome: Outcome,
    elapsed: Duration,
}

struct Running {
    job: ClaimedJob,
    urgent: bool,
    abort: AbortHandle,
    started_at: DateTime<Utc>,
}

/// A prefetched job: claimed and leased, not started yet.
struct Waiting {
    job: ClaimedJob,
    claimed_at: DateTime<Utc>,
    /// Until when its lease holds, as far as this pool knows.
    held_until: Instant,
}

/// The actor. Create with [`Pool::new`] and start it on an Arbiter of its own.
pub struct Pool {
    job_type: Arc<str>,
    config: PoolConfig,
    poll_interval: Duration,
    node: Arc<str>,
    /// The handlers' database pool.
    db: Db,
    /// The pool's own connections, for its cycles, renewals and control reads: handlers that
    /// take every connection of theirs never hold up recording outcomes.
    queue: Db,
    handler: Arc<dyn JobHandler>,
    running: HashMap<Uuid, Running>,
    waiting: VecDeque<Waiting>,
    peak_in_flight: usize,
    cycling: bool,
    /// A cycle is due even with plenty of prefetched jobs waiting (the poll tick).
    flush: bool,
    again: bool,
    cycle_queued: bool,
    renewing: bool,
    outcomes: Vec<Settlement>,
    draining: bool,
    drained: Option<oneshot::Sender<()>>,
    rate: Option<TokenBucket>,
    outage_since: Option<Instant>,
    control: Option<control::Control>,
    reading_control: bool,
    sensitive: Sensitive,
    metrics: Arc<crate::metrics::JobTypeMetrics>,
}

impl Pool {
    /// A pool of `job_type`; `db` must have been opened on the Arbiter the pool runs on.
    pub fn new(
        job_type: &str,
        config: PoolConfig,
        poll_interval: Duration,
        node: Arc<str>,
        db: Db,
        handler: Arc<dyn JobHandler>,
    ) -> Self {
        let rate = config.rate_limit.map(TokenBucket::new);
        Self {
            job_type: job_type.into(),
            config,
            poll_interval,
            node,
            queue: db.clone(),
            db,
            handler,
            running: HashMap::new(),
            waiting: VecDeque::new(),
            peak_in_flight: 0,
            cycling: false,
            flush: false,
            again: false,
            cycle_queued: false,
            renewing: false,
            outcomes: Vec::new(),
            draining: false,
            drained: None,
            rate,
            outage_since: None,
            control: None,
            reading_control: false,
            sensitive: Sensitive::default(),
            metrics: crate::metrics::global().job_type(job_type),
        }
    }

    /// Runs the pool's own statements on `queue` instead of the handlers' database pool.
    pub fn with_queue_db(mut self, queue: Db) -> Self {
        self.queue = queue;
        self
    }

    /// Opens the sealed payload fields of claimed jobs with `sensitive`'s key before their
    /// handler runs.
    pub fn with_sensitive(mut self, sensitive: Sensitive) -> Self {
        self.sensitive = sensitive;
        self
    }

    fn is_urgent(&self, priority: i16) -> bool {
        self.reserved() > 0 && priority <= self.config.reserved_priority
    }

    /// Free slots for any job, and for jobs that are not urgent.
    fn free_slots(&self) -> (u32, u32) {
        let running = u32::try_from(self.running.len()).unwrap_or(u32::MAX);
        let normal = self.running.values().filter(|r| !r.urgent).count();
        let normal = u32::try_from(normal).unwrap_or(u32::MAX);
        let free = self.concurrency().saturating_sub(running);
        let normal_cap = self.concurrency() - self.reserved();
        (free, normal_cap.saturating_sub(normal).min(free))
    }

    /// Records the outcomes that are waiting and claims jobs for the free slots, in one round
    /// trip. One cycle runs at a time; what arrives meanwhile goes into the next, so one commit
    /// covers many jobs under load and a single job when idle.
    fn cycle(&mut self, ctx: &mut Context<Self>) {
        self.place_waiting(ctx);
        let stopped = self.holding_back();
        if self.cycling {
            self.again = true;
            return;
        }
        if !stopped && !self.cycle_due() {
            return;
        }
        let budget = if stopped { 0 } else { self.claim_budget(ctx) };
        if budget == 0 && self.outcomes.is_empty() {
            self.maybe_drained();
            return;
        }
        self.cycling = true;
        self.again = false;
        self.flush = false;
        let (free, free_normal) = self.free_slots();
        let now = free.min(budget);
        let plan = ClaimPlan {
            urgent_first: self.reserved() > 0,
            total: now,
            normal: free_normal.min(now),
            prefetch: budget - now,
            reserved_priority: self.config.reserved_priority,
        };
        let step = Cycle {
            db: self.queue.clone(),
            job_type: self.job_type.clone(),
            node: self.node.clone(),
            outcomes: std::mem::take(&mut self.outcomes),
            plan,
            lease_ttl: self.config.lease_ttl,
        };
        let began = Instant::now();
        ctx.spawn(
            step.run()
                .into_actor(self)
                .map(move |(outcomes, result), act, ctx| {
                    act.cycling = false;
                    act.after_cycle(outcomes, result, budget, began, ctx);
                }),
        );
    }

    /// Starts a cycle once the messages waiting now have been handled.
    fn cycle_after_waiting(&mut self, ctx: &mut Context<Self>) {
        if !self.cycle_queued {
            self.cycle_queued = true;
            ctx.notify(QueuedCycle);
        }
    }

    /// How many jobs the next claim may take: free slots and prefetch room not taken by
    /// waiting jobs, batch size and rate limit.
    fn claim_budget(&mut self, ctx: &mut Context<Self>) -> u32 {
        let (free, _) = self.free_slots();
        let waiting = u32::try_from(self.waiting.len()).unwrap_or(u32::MAX);
        let wanted = free.saturating_add(self.prefetch()).saturating_sub(waiting);
        let mut budget = wanted.min(self.config.batch_size);
        if let Some(rate) = &mut self.rate {
            budget = budget.min(rate.available());
            if budget == 0 && free > 0 {
                ctx.run_later(rate.wait_for_one(), |act, ctx| act.cycle(ctx));
            }
        }
        budget
    }

    /// Whether a cycle should run now. Without prefetch, always. With it, once half the
    /// prefetched jobs have started, a batch of outcomes is waiting, or the poll tick asks: a
    /// cycle for every finished job would claim a few jobs at a time and cost a commit each.
    fn cycle_due(&self) -> bool {
        let prefetch = self.prefetch();
        let half = usize::try_from(prefetch / 2).unwrap_or(usize::MAX);
        let batch = usize::try_from(self.config.batch_size).unwrap_or(usize::MAX);
        prefetch == 0 || self.flush || self.waiting.len() <= half || self.outcomes.len() >= batch
    }

    /// Jobs a claim may take beyond the free slots: none while slots are reserved, since
    /// waiting jobs would hold slots an urgent job may need, and none under a rate limit, which
    /// counts jobs as they are claimed.
    fn prefetch(&self) -> u32 {
        if self.reserved() > 0 || self.rate.is_some() {
            0
        } else {
            self.config.prefetch
        }
    }

    /// A pause or a drain: no job starts, and waiting ones go back.
    fn holding_back(&self) -> bool {
        self.draining || self.is_paused()
    }

    /// Starts waiting jobs while slots are free, or hands them all back when stopped.
    fn place_waiting(&mut self, ctx: &mut Context<Self>) {
        if self.holding_back() {
            self.hand_back_waiting();
        } else {
            self.start_waiting(ctx);
        }
    }

    /// Starts waiting jobs in claim order while slots are free. A job whose lease may lapse
    /// before the next renewal is handed back instead: it may be rescued and run elsewhere.
    ///
    /// TODO(#6): a waiting job cancelled since the pool's last renewal (every third of
    /// `lease_ttl`) still starts if a slot frees first; its outcome is refused, but its handler
    /// runs. A cancel would have to wake the pool that holds the job to renew at once.
    fn start_waiting(&mut self, ctx: &mut Context<Self>) {
        if self.holding_back() {
            return;
        }
        let now = Instant::now();
        let least = self.config.lease_ttl / 3;
        while self.free_slots().0 > 0 {
            let Some(next) = self.waiting.pop_front() else {
                return;
            };
            if next.held_until.saturating_duration_since(now) < least {
                debug!(job_id = %next.job.id, job_type = %self.job_type, "lease low; handed back");
                self.outcomes.push(handed_back(&next.job, Utc::now()));
                continue;
            }
            self.start(next.job, next.claimed_at, ctx);
        }
    }

    /// Hands every waiting job back, without spending its attempt. They never started, so they
    /// keep their `run_at` and their place in the queue.
    fn hand_back_waiting(&mut self) {
        if self.waiting.is_empty() {
            return;
        }
        debug!(job_type = %self.job_type, jobs = self.waiting.len(), "prefetched jobs handed back");
        let now = Utc::now();
        let back = self.waiting.drain(..).map(|w| Settlement {
            run_at: None,
            ..handed_back(&w.job, now)
        });
        self.outcomes.extend(back);
    }

    fn after_cycle(
        &mut self,
        outcomes: Vec<Settlement>,
        result: Result<CycleDone, StoreError>,
        budget: u32,
        began: Instant,
        ctx: &mut Context<Self>,
    ) {
        let done = match result {
            Ok(done) => done,
            Err(err) => {
                self.database_failed("claim and record outcomes", &err);
                self.outcomes.splice(0..0, outcomes);
                ctx.run_later(Duration::from_millis(500), |act, ctx| act.cycle(ctx));
                return;
            }
        };
        self.database_ok();
        debug!(
            settled = outcomes.len(),
            claimed = done.claimed.len(),
            "cycle"
        );
        report_superseded(&outcomes, &done.applied);
        self.metrics.record_settled(&outcomes, &done.applied);
        let full = budget > 0 && u32::try_from(done.claimed.len()).unwrap_or(u32::MAX) >= budget;
        if let Some(rate) = &mut self.rate {
            rate.take(done.claimed.len());
        }
        // Claimed jobs queue behind those already waiting and start as slots allow; jobs
        // claimed just before a pause or a drain go back at once.
        let held_until = began + self.config.lease_ttl;
        self.waiting
            .extend(done.claimed.into_iter().map(|job| Waiting {
                job,
                claimed_at: done.at,
                held_until,
            }));
        self.place_waiting(ctx);
        if full || self.again || !self.outcomes.is_empty() {
            self.cycle(ctx);
        } else {
            self.maybe_drained();
        }
    }

    fn start(&mut self, job: ClaimedJob, claimed_at: DateTime<Utc>, ctx: &mut Context<Self>) {
        // A prefetched job may have waited since its claim: its queue time and run time are
        // counted from here, and the start is recorded with its outcome.
        let started_at = Utc::now();
        let span = info_span!(
            "job",
            job_id = %job.id,
            job_type = %job.job_type,
            attempt = job.attempt,
            max_attempts = job.max_attempts,
        );
        let queue_ms = (started_at - job.run_at).num_milliseconds().max(0);
        span.in_scope(|| debug!(queue_ms, "job started"));
        self.metrics.observe_queue(started_at - job.run_at);

        let mut plain = job.clone();
        let opened = self.sensitive.open(&plain.job_type, &mut plain.payload);
        let context = JobContext {
            db: self.db.clone(),
            job: plain,
            node: self.node.clone(),
            claimed_at,
        };
        let run = match opened {
            Ok(()) => self.handler.run(context),
            Err(err) => Box::pin(std::future::ready(Outcome::Fail(err.to_string()))),
        };
        let work = actix_rt::spawn(run.instrument(span.clone()));
        let abort = work.abort_handle();
        let abort_on_timeout = work.abort_handle();
        let addr = ctx.address();
        let timeout = self.config.timeout;
        let (id, lease_id) = (job.id, job.lease_id);
        actix_rt::spawn(
            async move {
                let started = Instant::now();
                let outcome = match tokio::time::timeout(timeout, work).await {
                    Ok(Ok(outcome)) => outcome,
                    Ok(Err(err)) if err.is_panic() => {
                        Outcome::Retry(format!("handler panicked: {}", panic_text(err)))
                    }
                    // Aborted by the pool: it records the outcome itself.
                    Ok(Err(_)) => return,
                    Err(_) => {
                        abort_on_timeout.abort();
                        Outcome::Retry(format!("timed out after {}", show(timeout)))
                    }
                };
                addr.do_send(Finished {
                    id,
                    lease_id,
                    outcome,
                    elapsed: started.elapsed(),
                });
            }
            .instrument(span),
        );
        let urgent = self.is_urgent(job.priority);
        self.running.insert(
            id,
            Running {
                job,
                urgent,
                abort,
                started_at,
            },
        );
        self.peak_in_flight = self.peak_in_flight.max(self.running.len());
    }

    fn settlement(&self, run: &Running, outcome: Outcome, now: DateTime<Utc>) -> Settlement {
        let job = &run.job;
        let mut s = Settlement {
            id: job.id,
            lease_id: job.lease_id,
            status: JobStatus::Completed,
            run_at: None,
            error: None,
            result: None,
            refund_attempt: false,
            started_at: Some(run.started_at),
            ended_at: Some(now),
        };
        match outcome {
            Outcome::Complete(value) => s.result = Some(value),
            Outcome::Fail(error) => {
                s.status = JobStatus::Failed;
                s.error = Some(error);
            }
            Outcome::Retry(error) => {
                let (status, run_at, error) = self.retry_or_discard(job, error, now);
                s.status = status;
                s.run_at = run_at;
                s.error = Some(error);
            }
            Outcome::Snooze(delay) => {
                s.status = released_status(job);
                s.run_at = Some(crate::store::add(now, delay));
                s.refund_attempt = true;
            }
        }
        s
    }

    fn retry_or_discard(
        &self,
        job: &ClaimedJob,
        error: String,
        now: DateTime<Utc>,
    ) -> (JobStatus, Option<DateTime<Utc>>, String) {
        let error = format!("{error} (attempt {} of {})", job.attempt, job.max_attempts);
        if job.attempt >= job.max_attempts {
            return (JobStatus::DeadLetter, None, error);
        }
        if let Some(window) = self.config.retry_window {
            let age = (now - job.created_at).to_std().unwrap_or(Duration::ZERO);
            if age > window {
                let error = format!(
                    "{error}; not retried: created more than {} ago",
                    show(window)
                );
                return (JobStatus::DeadLetter, None, error);
            }
        }
        (
            JobStatus::Retry,
            Some(self.config.backoff.next_run_at(now, job.attempt)),
            error,
        )
    }

    fn renew(&mut self, ctx: &mut Context<Self>) {
        if self.renewing || (self.running.is_empty() && self.waiting.is_empty()) {
            return;
        }
        self.renewing = true;
        let running = self.running.values().map(|r| &r.job);
        let leases: Vec<(Uuid, Uuid)> = running
            .chain(self.waiting.iter().map(|w| &w.job))
            .map(|job| (job.id, job.lease_id))
            .collect();
        let began = Instant::now();
        let db = self.queue.clone();
        let ttl = self.config.lease_ttl;
        let fut = async move {
            let result = jobs::renew(&db, &leases, ttl, Utc::now()).await;
            (leases, result)
        };
        ctx.spawn(fut.into_actor(self).map(move |(leases, result), act, _| {
            act.renewing = false;
            match result {
                Ok(held) => act.renewed(&leases, &held, began + act.config.lease_ttl),
                Err(err) => act.database_failed("renew leases", &err),
            }
        }));
    }

    /// Applies a renewal of the leases `asked`, of which `held` are still held, now until
    /// `held_until`. Stops attempts whose lease is gone: they were rescued (and may run
    /// elsewhere) or cancelled, so their outcome would be refused anyway. Waiting jobs that
    /// lost theirs are dropped.
    fn renewed(&mut self, asked: &[(Uuid, Uuid)], held: &[Uuid], held_until: Instant) {
        let held: HashSet<&Uuid> = held.iter().collect();
        let asked_set: HashSet<&(Uuid, Uuid)> = asked.iter().collect();
        self.waiting.retain_mut(|w| {
            if held.contains(&w.job.id) {
                w.held_until = held_until;
                return true;
            }
            let lost = asked_set.contains(&(w.job.id, w.job.lease_id));
            if lost {
                debug!(job_id = %w.job.id, "lease lost; prefetched job dropped");
            }
            !lost
        });
        for (id, lease_id) in asked {
            if held.contains(id) {
                continue;
            }
            let lost = self
                .running
                .get(id)
                .is_some_and(|r| r.job.lease_id == *lease_id);
            if let Some(run) = lost.then(|| self.running.remove(id)).flatten() {
                run.abort.abort();
                warn!(job_id = %id, job_type = %self.job_type, "lease lost; attempt stopped");
            }
        }
    }

    fn begin_drain(&mut self, grace: Duration, ctx: &mut Context<Self>) -> oneshot::Receiver<()> {
        self.draining = true;
        let (tx, rx) = oneshot::channel();
        self.drained = Some(tx);
        if !self.running.is_empty() {
            info!(job_type = %self.job_type, running = self.running.len(), "draining pool");
        }
        ctx.run_later(grace, |act, ctx| act.release_running(ctx));
        if self.waiting.is_empty() {
            self.maybe_drained();
        } else {
            self.cycle(ctx);
        }
        rx
    }

    /// Hands back every attempt still running, without spending it.
    fn release_running(&mut self, ctx: &mut Context<Self>) {
        let now = Utc::now();
        for (_, run) in self.running.drain() {
            run.abort.abort();
            info!(job_id = %run.job.id, job_type = %run.job.job_type, "job handed back");
            self.outcomes.push(handed_back(&run.job, now));
        }
        self.cycle(ctx);
    }

    fn maybe_drained(&mut self) {
        let idle = self.running.is_empty()
            && self.waiting.is_empty()
            && self.outcomes.is_empty()
            && !self.cycling;
        if self.draining && idle {
            if let Some(tx) = self.drained.take() {
                let _ = tx.send(());
            }
        }
    }

    fn database_failed(&mut self, what: &str, err: &StoreError) {
        if self.outage_since.is_some() {
            debug!(job_type = %self.job_type, error = %err, operation = what, "still failing");
            return;
        }
        self.outage_since = Some(Instant::now());
        if outage::is_unreachable(err) {
            outage::failed(&self.job_type, what, err);
        } else {
            let job_type = &*self.job_type;
            error!(job_type, error = %err, operation = what, "database operation failed");
        }
    }

    fn database_ok(&mut self) {
        if self.outage_since.take().is_some() {
            outage::reached(&self.job_type);
        }
    }
}

/// The settlement that gives `job` back, due `now`, without spending its attempt.
fn handed_back(job: &ClaimedJob, now: DateTime<Utc>) -> Settlement {
    Settlement {
        id: job.id,
        lease_id: job.lease_id,
        status: released_status(job),
        run_at: Some(now),
        error: None,
        result: None,
        refund_attempt: true,
        started_at: None,
        ended_at: None,
    }
}

/// The status a job goes back to when its attempt is given back.
fn released_status(job: &ClaimedJob) -> JobStatus {
    if job.attempt > 1 {
        JobStatus::Retry
    } else {
        JobStatus::Pending
    }
}

fn report_superseded(batch: &[Settlement], applied: &[Uuid]) {
    for s in batch.iter().filter(|s| !applied.contains(&s.id)) {
        warn!(job_id = %s.id, status = %s.status, "outcome not recorded: lease superseded");
    }
}

fn panic_text(err: tokio::task::JoinError) -> String {
    let payload = err.into_panic();
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-text panic payload".to_owned()
    }
}

fn show(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

struct ClaimPlan {
    urgent_first: bool,
    /// Jobs for the free slots.
    total: u32,
    normal: u32,
    /// Jobs beyond them, to wait in the pool.
    prefetch: u32,
    reserved_priority: i16,
}

struct CycleDone {
    applied: Vec<Uuid>,
    claimed: Vec<ClaimedJob>,
    at: DateTime<Utc>,
}

/// One round trip of a pool: outcomes to record and a claim plan.
struct Cycle {
    db: Db,
    job_type: Arc<str>,
    node: Arc<str>,
    outcomes: Vec<Settlement>,
    plan: ClaimPlan,
    lease_ttl: Duration,
}

impl Cycle {
    /// Records the outcomes and claims; with reserved slots, urgent jobs are claimed first and
    /// then ordinary ones up to the slots they may use. Gives the outcomes back for retrying
    /// when the database failed.
    async fn run(self) -> (Vec<Settlement>, Result<CycleDone, StoreError>) {
        let result = self.settle_and_claim().await;
        (self.outcomes, result)
    }

    async fn settle_and_claim(&self) -> Result<CycleDone, StoreError> {
        let now = Utc::now();
        let plan = &self.plan;
        let two_phase = plan.urgent_first && plan.normal < plan.total;
        let mut request = ClaimRequest {
            job_type: &self.job_type,
            node: &self.node,
            limit: plan.total,
            prefetch: plan.prefetch,
            max_priority: if two_phase {
                plan.reserved_priority
            } else {
                ANY_PRIORITY
            },
            lease_ttl: self.lease_ttl,
        };
        let (applied, mut claimed) =
            jobs::settle_and_claim(&self.db, &self.outcomes, &request, now).await?;
        let got = u32::try_from(claimed.len()).unwrap_or(u32::MAX);
        let room = plan.normal.min(plan.total.saturating_sub(got));
        if two_phase && room > 0 {
            request.max_priority = ANY_PRIORITY;
            request.limit = room;
            request.prefetch = 0;
            // The outcomes are recorded already; a failure here only delays the claim.
            match jobs::claim(&self.db, &request, now).await {
                Ok(more) => claimed.extend(more),
                Err(err) => debug!(error = %err, "second claim failed"),
            }
        }
        Ok(CycleDone {
            applied,
            claimed,
            at: now,
        })
    }
}

impl Actor for Pool {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        info!(
            job_type = %self.job_type,
            concurrency = self.config.concurrency,
            reserved = self.config.reserved,
            "pool started"
        );
        ctx.run_interval(self.poll_interval, |act, ctx| act.refresh_control(ctx));
        ctx.run_interval(self.config.lease_ttl / 3, |act, ctx| act.renew(ctx));
        self.refresh_control(ctx);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        for run in self.running.values() {
            run.abort.abort();
        }
        info!(job_type = %self.job_type, "pool stopped");
    }
}

impl Handler<Wake> for Pool {
    type Result = ();

    fn handle(&mut self, _: Wake, ctx: &mut Self::Context) {
        self.cycle(ctx);
    }
}

impl Handler<Finished> for Pool {
    type Result = ();

    fn handle(&mut self, msg: Finished, ctx: &mut Self::Context) {
        let current = self
            .running
            .get(&msg.id)
            .is_some_and(|r| r.job.lease_id == msg.lease_id);
        let Some(run) = current.then(|| self.running.remove(&msg.id)).flatten() else {
            return;
        };
        self.metrics.observe_run(msg.elapsed);
        let elapsed_ms = u64::try_from(msg.elapsed.as_millis()).unwrap_or(u64::MAX);
        let settlement = self.settlement(&run, msg.outcome, Utc::now());
        log_outcome(&run.job, &settlement, elapsed_ms);
        self.outcomes.push(settlement);
        self.start_waiting(ctx);
        self.cycle_after_waiting(ctx);
    }
}

/// A cycle queued behind the messages that were waiting when it was asked for.
#[derive(Message)]
#[rtype(result = "()")]
struct QueuedCycle;

impl Handler<QueuedCycle> for Pool {
    type Result = ();

    fn handle(&mut self, _: QueuedCycle, ctx: &mut Self::Context) {
        self.cycle_queued = false;
        self.cycle(ctx);
    }
}

fn log_outcome(job: &ClaimedJob, s: &Settlement, elapsed_ms: u64) {
    let span = info_span!("job", job_id = %job.id, job_type = %job.job_type, attempt = job.attempt);
    let _entered = span.enter();
    match s.status {
        JobStatus::Completed => debug!(elapsed_ms, "job completed"),
        JobStatus::Retry => {
            warn!(
                elapsed_ms,
                error = s.error.as_deref().unwrap_or(""),
                "job will be retried"
            )
        }
        status => {
            error!(elapsed_ms, %status, error = s.error.as_deref().unwrap_or(""), "job failed")
        }
    }
}

impl Handler<Drain> for Pool {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, msg: Drain, ctx: &mut Self::Context) -> Self::Result {
        let drained = self.begin_drain(msg.grace, ctx);
        let (db, queue) = (self.db.clone(), self.queue.clone());
        Box::pin(
            async move {
                let _ = drained.await;
                db.close().await;
                queue.close().await;
            }
            .into_actor(self),
        )
    }
}

impl Handler<GetState> for Pool {
    type Result = PoolState;

    fn handle(&mut self, _: GetState, _: &mut Self::Context) -> PoolState {
        PoolState {
            in_flight: self.running.len(),
            concurrency: self.concurrency(),
            configured_concurrency: self.config.concurrency,
            paused: self.control.is_some_and(|c| c.paused),
            peak_in_flight: self.peak_in_flight,
        }
    }
}

/// Jobs per second on this node: a bucket of at most one second's worth of tokens.
struct TokenBucket {
    per_second: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    fn new(per_second: f64) -> Self {
        Self {
            per_second,
            tokens: per_second.max(1.0),
            at: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let gained = now.duration_since(self.at).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + gained).min(self.per_second.max(1.0));
        self.at = now;
    }

    fn available(&mut self) -> u32 {
        self.refill();
        // Truncation is the point: only whole tokens start jobs.
        let whole = self.tokens.floor().clamp(0.0, f64::from(u32::MAX));
        format!("{whole:.0}").parse().unwrap_or(0)
    }

    fn take(&mut self, n: usize) {
        self.tokens -= f64::from(u32::try_from(n).unwrap_or(u32::MAX));
    }

    fn wait_for_one(&self) -> Duration {
        let missing = (1.0 - self.tokens).max(0.0);
        Duration::try_from_secs_f64(missing / self.per_second)
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_millis(1))
    }
}
