//! `/api/pools`: every configured pool with its operator control and this node's state;
//! pause, resume and resize a pool on every node.

use actix::MailboxError;
use actix_web::{get, post, put, web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::JsonBody;
use super::error::{ApiError, ErrorBody};
use super::operator::Actor;
use super::AppState;
use crate::actors::pool::GetState;
use crate::store::pool_control::{self, ControlChange, PoolControl, MAX_CONCURRENCY};

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(pause)
        .service(resume)
        .service(set_concurrency);
}

/// A pool as configured, as the operator controls it, and as it runs on this node.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoolInfo {
    pub job_type: String,
    /// Whether this node's config runs the pool.
    pub enabled: bool,
    /// Whether an operator paused it on every node.
    pub paused: bool,
    /// The concurrency of the config.
    pub configured_concurrency: u32,
    /// The concurrency in force: the operator's override, else the configured one.
    pub concurrency: u32,
    /// Attempts running on this node now; absent when this node runs no such pool.
    pub in_flight: Option<usize>,
    /// The last operator change and who made it.
    pub updated_at: Option<chrono::DateTime<Utc>>,
    pub updated_by: Option<String>,
}

/// The new concurrency of a pool; `null` goes back to the configured one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConcurrencyBody {
    /// 1 to 10,000, or null. Required: an empty body changes nothing by mistake.
    #[serde(deserialize_with = "present")]
    #[schema(required = true)]
    pub concurrency: Option<u32>,
}

/// A field that must be given, though it may be `null`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Option::deserialize(d)
}

/// Every configured pool.
#[utoipa::path(
    operation_id = "pools_list",
    tag = "pools",
    responses((status = 200, description = "the pools", body = [PoolInfo]))
)]
#[get("/api/pools")]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let controls = pool_control::list(&state.db).await?;
    let mut pools = Vec::with_capacity(state.config.pools.len());
    for job_type in state.config.pools.keys() {
        let control = controls.iter().find(|c| &c.job_type == job_type);
        pools.push(info(&state, job_type, control).await);
    }
    Ok(HttpResponse::Ok().json(pools))
}

/// Stops every node from claiming jobs of the type; running jobs finish.
#[utoipa::path(
    operation_id = "pools_pause",
    tag = "pools",
    params(("type" = String, Path, description = "job type")),
    responses(
        (status = 200, description = "paused", body = PoolInfo),
        (status = 404, description = "no pool serves the type", body = ErrorBody),
    )
)]
#[post("/api/pools/{type}/pause")]
pub async fn pause(
    state: web::Data<AppState>,
    actor: Actor,
    job_type: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    change(&state, &actor, &job_type, ControlChange::Pause).await
}

/// Lets every node claim jobs of the type again.
#[utoipa::path(
    operation_id = "pools_resume",
    tag = "pools",
    params(("type" = String, Path, description = "job type")),
    responses(
        (status = 200, description = "resumed", body = PoolInfo),
        (status = 404, description = "no pool serves the type", body = ErrorBody),
    )
)]
#[post("/api/pools/{type}/resume")]
pub async fn resume(
    state: web::Data<AppState>,
    actor: Actor,
    job_type: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    change(&state, &actor, &job_type, ControlChange::Resume).await
}

/// Sets how many jobs of the type run at once on each node; running jobs are never stopped.
#[utoipa::path(
    operation_id = "pools_set_concurrency",
    tag = "pools",
    params(("type" = String, Path, description = "job type")),
    request_body = ConcurrencyBody,
    responses(
        (status = 200, description = "set", body = PoolInfo),
        (status = 400, description = "out of range", body = ErrorBody),
        (status = 404, description = "no pool serves the type", body = ErrorBody),
    )
)]
#[put("/api/pools/{type}/concurrency")]
pub async fn set_concurrency(
    state: web::Data<AppState>,
    actor: Actor,
    job_type: web::Path<String>,
    JsonBody(body): JsonBody<ConcurrencyBody>,
) -> Result<HttpResponse, ApiError> {
    if body
        .concurrency
        .is_some_and(|n| !(1..=MAX_CONCURRENCY).contains(&n))
    {
        return Err(ApiError::BadRequest(format!(
            "field `concurrency`: must be 1 to {MAX_CONCURRENCY}, or null"
        )));
    }
    let change_to = ControlChange::Concurrency(body.concurrency);
    change(&state, &actor, &job_type, change_to).await
}

async fn change(
    state: &AppState,
    actor: &Actor,
    job_type: &str,
    change: ControlChange,
) -> Result<HttpResponse, ApiError> {
    if !state.config.pools.contains_key(job_type) {
        return Err(ApiError::NotFound(format!(
            "no pool serves job type {job_type:?}"
        )));
    }
    let control = pool_control::apply(&state.db, job_type, change, &actor.0, Utc::now()).await?;
    Ok(HttpResponse::Ok().json(info(state, job_type, Some(&control)).await))
}

async fn info(state: &AppState, job_type: &str, control: Option<&PoolControl>) -> PoolInfo {
    let config = &state.config.pools[job_type];
    let in_flight = match state.pools.get(job_type) {
        Some(addr) => {
            let asked: Result<_, MailboxError> = addr.send(GetState).await;
            asked.ok().map(|s| s.in_flight)
        }
        None => None,
    };
    PoolInfo {
        job_type: job_type.to_owned(),
        enabled: config.enabled,
        paused: control.is_some_and(|c| c.paused),
        configured_concurrency: config.concurrency,
        concurrency: control
            .and_then(|c| c.concurrency)
            .unwrap_or(config.concurrency),
        in_flight,
        updated_at: control.map(|c| c.updated_at),
        updated_by: control.map(|c| c.updated_by.clone()),
    }
}
