//! `/api/stats`: the seed's two monitoring queries, queue depth per type and status, and the
//! oldest runnable job per type.

use actix_web::{get, web, HttpResponse};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::AppState;
use crate::store::stats::{self, Depth, FailureGroup, OldestRunnable, StatusSummary};

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(all)
        .service(status_summary)
        .service(failed_jobs)
        .service(queue_depth)
        .service(oldest_runnable);
}

/// The seed's two monitoring queries together, as `a1c-jobs stats` prints them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    pub status_summary: Vec<StatusSummary>,
    pub failed_jobs: Vec<FailureGroup>,
}

/// The seed's job status summary (24 h) and failed jobs analysis (7 days).
#[utoipa::path(
    operation_id = "stats_all",
    tag = "stats",
    responses((status = 200, description = "both", body = Stats))
)]
#[get("/api/stats")]
pub async fn all(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(Stats {
        status_summary: stats::status_summary(&state.db).await?,
        failed_jobs: stats::failed_jobs(&state.db).await?,
    }))
}

/// The seed's job status summary: jobs per type and status created in the last 24 hours, with
/// their average processing time.
#[utoipa::path(
    operation_id = "stats_status_summary",
    tag = "stats",
    responses((status = 200, description = "summary", body = Vec<StatusSummary>))
)]
#[get("/api/stats/status-summary")]
pub async fn status_summary(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(stats::status_summary(&state.db).await?))
}

/// The seed's failed jobs analysis: `FAILED` jobs of the last 7 days by type and error.
#[utoipa::path(
    operation_id = "stats_failed_jobs",
    tag = "stats",
    responses((status = 200, description = "failures", body = Vec<FailureGroup>))
)]
#[get("/api/stats/failed-jobs")]
pub async fn failed_jobs(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(stats::failed_jobs(&state.db).await?))
}

/// Jobs per type and status, over the whole table.
#[utoipa::path(
    operation_id = "stats_queue_depth",
    tag = "stats",
    responses((status = 200, description = "depth", body = Vec<Depth>))
)]
#[get("/api/stats/queue-depth")]
pub async fn queue_depth(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(stats::queue_depth(&state.db).await?))
}

/// Per type with due jobs waiting: the oldest one's due time and how long it has waited.
#[utoipa::path(
    operation_id = "stats_oldest_runnable",
    tag = "stats",
    responses((status = 200, description = "oldest runnable", body = Vec<OldestRunnable>))
)]
#[get("/api/stats/oldest-runnable")]
pub async fn oldest_runnable(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(stats::oldest_runnable(&state.db, Utc::now()).await?))
}
