//! `/api/reports/{id}`: a stored report's statistics as JSON, or its HTML page.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::store::report::{self, ReportSummary};

/// A report's period and ids with its statistics.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportStats {
    #[serde(flatten)]
    pub summary: ReportSummary,
    /// The statistics the report states (see the README's GENERATE_REPORT).
    #[schema(value_type = Object)]
    pub stats: Value,
}

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show).service(html);
}

/// The report's period, ids and statistics (as `a1c-jobs report ID` prints them).
#[utoipa::path(
    operation_id = "reports_show",
    tag = "reports",
    params(("id" = Uuid, Path, description = "report id")),
    responses(
        (status = 200, description = "the report", body = ReportStats),
        (status = 404, description = "no such report", body = ErrorBody),
    )
)]
#[get("/api/reports/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let found = get(&state, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(ReportStats {
        summary: found.summary,
        stats: found.stats,
    }))
}

/// The report's self-contained HTML page.
#[utoipa::path(
    operation_id = "reports_html",
    tag = "reports",
    params(("id" = Uuid, Path, description = "report id")),
    responses(
        (status = 200, description = "the page", body = String, content_type = "text/html"),
        (status = 404, description = "no such report", body = ErrorBody),
    )
)]
#[get("/api/reports/{id}/html")]
pub async fn html(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let found = get(&state, id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(found.html))
}

async fn get(state: &AppState, id: Uuid) -> Result<report::Report, ApiError> {
    report::get(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("report {id} not found")))
}
