//! "Why is this job not running?": for a `PENDING` or `RETRY` job, every reason in words.
//!
//! The reasons come from the row (not due yet), the queue (due jobs a claim takes first), and
//! this node's pool of the type, read through [`PoolView`]: none serves the type, an operator
//! paused it, all its slots are busy, only reserved slots are free, or it starts jobs at a
//! limited rate. A pool state that grows a new way to hold jobs back adds a field to
//! `PoolView` and a reason in [`pool_reasons`].

use std::time::Duration;

use actix::MailboxError;
use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::actors::pool::GetState;
use crate::config::PoolConfig;
use crate::job::{Job, JobStatus};
use crate::store::job::{self as jobs, Ahead};

/// Why a job waits.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Why {
    pub id: Uuid,
    pub status: JobStatus,
    /// Whether the job waits to be claimed (`PENDING` or `RETRY`).
    pub waiting: bool,
    /// Each reason, most decisive first; empty when nothing holds the job back.
    pub reasons: Vec<Reason>,
    /// The reasons as one sentence.
    pub summary: String,
}

/// One reason a job waits.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reason {
    /// `not_waiting`, `not_due`, `higher_priority_ahead`, `same_priority_ahead`, `no_pool`,
    /// `paused`, `pool_full`, `reserved_slots_only` or `rate_limited`.
    pub code: &'static str,
    /// The reason in words.
    pub message: String,
}

impl Reason {
    fn new(code: &'static str, message: String) -> Self {
        Self { code, message }
    }
}

/// What this node's pool of a type shows about it.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolView {
    /// Attempts running now.
    pub in_flight: usize,
    /// Slots in all.
    pub concurrency: u32,
    /// Whether an operator paused the pool.
    pub paused: bool,
}

/// Registered by the jobs resource, under its path.
#[utoipa::path(
    operation_id = "why_why",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "job id")),
    responses(
        (status = 200, description = "why the job waits", body = Why),
        (status = 404, description = "no such job", body = ErrorBody),
    )
)]
#[get("/api/jobs/{id}/why")]
pub async fn why(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let job = super::jobs::found(jobs::get(&state.db, id).await?, id)?;
    let now = Utc::now();
    let reasons = if matches!(job.status, JobStatus::Pending | JobStatus::Retry) {
        let ahead = jobs::ahead_of(&state.db, &job, now).await?;
        let pool = pool_view(&state, &job.job_type).await;
        let config = state.config.pools.get(&job.job_type).filter(|p| p.enabled);
        waiting_reasons(&job, now, ahead, pool, config)
    } else {
        vec![Reason::new(
            "not_waiting",
            format!("the job is {}, not waiting to run", job.status),
        )]
    };
    let summary = summary_of(&reasons);
    Ok(HttpResponse::Ok().json(Why {
        id,
        status: job.status,
        waiting: matches!(job.status, JobStatus::Pending | JobStatus::Retry),
        reasons,
        summary,
    }))
}

async fn pool_view(state: &AppState, job_type: &str) -> Option<PoolView> {
    let addr = state.pools.get(job_type)?;
    let asked: Result<_, MailboxError> = addr.send(GetState).await;
    asked.ok().map(|s| PoolView {
        in_flight: s.in_flight,
        concurrency: s.concurrency,
        paused: s.paused,
    })
}

/// The reasons a waiting job is not running, from its row, the jobs ahead of it and its pool.
pub fn waiting_reasons(
    job: &Job,
    now: DateTime<Utc>,
    ahead: Ahead,
    pool: Option<PoolView>,
    config: Option<&PoolConfig>,
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if job.run_at > now {
        let wait = (job.run_at - now).to_std().unwrap_or(Duration::ZERO);
        reasons.push(Reason::new(
            "not_due",
            format!(
                "not due until {} (in {}s)",
                job.run_at.to_rfc3339(),
                wait.as_secs()
            ),
        ));
    }
    if ahead.higher_priority > 0 {
        reasons.push(Reason::new(
            "higher_priority_ahead",
            format!(
                "{} due jobs of higher priority are ahead",
                ahead.higher_priority
            ),
        ));
    }
    if ahead.same_priority > 0 {
        reasons.push(Reason::new(
            "same_priority_ahead",
            format!(
                "{} due jobs of the same priority are ahead",
                ahead.same_priority
            ),
        ));
    }
    match (pool, config) {
        (Some(pool), Some(config)) => reasons.extend(pool_reasons(job, pool, config)),
        _ => reasons.push(Reason::new(
            "no_pool",
            format!("no pool serves job type {} on this node", job.job_type),
        )),
    }
    reasons
}

/// The reasons a running pool holds `job` back.
pub fn pool_reasons(job: &Job, pool: PoolView, config: &PoolConfig) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if pool.paused {
        reasons.push(Reason::new(
            "paused",
            "the pool is paused by an operator (`a1c-jobs pool resume` or \
             POST /api/pools/{type}/resume)"
                .to_owned(),
        ));
    }
    let limit = usize::try_from(pool.concurrency).unwrap_or(usize::MAX);
    let shared = limit.saturating_sub(usize::try_from(config.reserved).unwrap_or(0));
    if pool.in_flight >= limit {
        reasons.push(Reason::new(
            "pool_full",
            format!(
                "the pool is at its concurrency limit ({} of {} running)",
                pool.in_flight, pool.concurrency
            ),
        ));
    } else if pool.in_flight >= shared && job.priority > config.reserved_priority {
        reasons.push(Reason::new(
            "reserved_slots_only",
            format!(
                "only the {} reserved slots are free, kept for priority {} or more urgent",
                config.reserved, config.reserved_priority
            ),
        ));
    }
    if let Some(rate) = config.rate_limit {
        reasons.push(Reason::new(
            "rate_limited",
            format!("the pool starts at most {rate} jobs per second"),
        ));
    }
    reasons
}

fn summary_of(reasons: &[Reason]) -> String {
    if reasons.is_empty() {
        return "nothing holds the job back: a pool should claim it at its next poll".to_owned();
    }
    let words: Vec<&str> = reasons.iter().map(|r| r.message.as_str()).collect();
    words.join("; ")
}
