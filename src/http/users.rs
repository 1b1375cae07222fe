//! `/api/users/{id}/...`: a user's A1C estimates, reports and notifications.

use actix_web::{get, web, HttpResponse};
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::store::estimate::{self, Estimate};
use crate::store::notification::{self, Notification};
use crate::store::report::{self, ReportSummary};

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(estimates)
        .service(reports)
        .service(notifications);
}

/// The user's A1C estimates, newest first.
#[utoipa::path(
    operation_id = "users_estimates",
    tag = "users",
    params(("id" = Uuid, Path, description = "user id")),
    responses(
        (status = 200, description = "estimates (empty for an unknown user)",
         body = Vec<Estimate>),
        (status = 400, description = "not a UUID", body = ErrorBody),
    )
)]
#[get("/api/users/{id}/estimates")]
pub async fn estimates(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let list = estimate::list_for_user(&state.db, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// The user's reports, without their statistics and pages (see `/api/reports/{id}`).
#[utoipa::path(
    operation_id = "users_reports",
    tag = "users",
    params(("id" = Uuid, Path, description = "user id")),
    responses(
        (status = 200, description = "reports", body = Vec<ReportSummary>),
        (status = 400, description = "not a UUID", body = ErrorBody),
    )
)]
#[get("/api/users/{id}/reports")]
pub async fn reports(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let list = report::list_for_user(&state.db, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// The user's notifications: reminders and A1C threshold crossings.
#[utoipa::path(
    operation_id = "users_notifications",
    tag = "users",
    params(("id" = Uuid, Path, description = "user id")),
    responses(
        (status = 200, description = "notifications", body = Vec<Notification>),
        (status = 400, description = "not a UUID", body = ErrorBody),
    )
)]
#[get("/api/users/{id}/notifications")]
pub async fn notifications(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let list = notification::list_for_user(&state.db, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(list))
}
