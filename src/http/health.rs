//! `/health` (open to all: the process answers) and `/ready` (the database answers and its
//! migrations are current).

use actix_web::{get, web, HttpResponse};
use serde::Serialize;

use super::error::{ApiError, ErrorBody};
use super::AppState;

/// The answer of `/health` and `/ready`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    /// `ok` or `ready`.
    pub status: &'static str,
}

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health).service(ready);
}

/// The process is alive. Needs no token.
#[utoipa::path(
    operation_id = "health_health",
    tag = "health",
    security(()),
    responses((status = 200, description = "alive", body = Status))
)]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// The database is reachable and every migration this build knows is applied.
#[utoipa::path(
    operation_id = "health_ready",
    tag = "health",
    responses(
        (status = 200, description = "ready", body = Status),
        (
            status = 503,
            description = "database unreachable or migrations pending",
            body = ErrorBody
        ),
    )
)]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match state.db.is_migrated().await {
        Ok(true) => Ok(HttpResponse::Ok().json(Status { status: "ready" })),
        Ok(false) => Err(ApiError::Unavailable("migrations pending".to_owned())),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            Err(ApiError::Unavailable("database unreachable".to_owned()))
        }
    }
}
