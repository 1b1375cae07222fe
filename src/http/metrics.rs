//! `/metrics`: the Prometheus text exposition of the process's counters and histograms, this
//! node's pools and the queue depth.

use actix_web::{get, web, HttpResponse};

use super::AppState;
use crate::metrics;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(scrape);
}

/// Metrics in the Prometheus text format. A database that cannot be read shows as
/// `a1c_jobs_database_up 0`; the scrape itself still answers.
#[utoipa::path(
    operation_id = "metrics_scrape",
    tag = "health",
    responses((status = 200, description = "Prometheus text format", body = String))
)]
#[get("/metrics")]
pub async fn scrape(state: web::Data<AppState>) -> HttpResponse {
    let text = metrics::render(&state.db, &state.pools).await;
    HttpResponse::Ok()
        .content_type(metrics::CONTENT_TYPE)
        .body(text)
}
