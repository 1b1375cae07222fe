//! `/api/alerts`: the alert rules that fire now, as maintenance last evaluated them.

use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, ErrorBody};
use super::params::Params;
use super::AppState;
use crate::store::alert::{self, Alert};

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list);
}

/// Which alerts to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlertsQuery {
    /// With `true`, resolved alerts too (every rule's last state), firing ones first.
    pub all: Option<bool>,
}

/// Firing alerts, most recently fired first.
#[utoipa::path(
    operation_id = "alerts_list",
    tag = "alerts",
    params(AlertsQuery),
    responses(
        (status = 200, description = "the alerts", body = [Alert]),
        (status = 400, description = "a bad query parameter", body = ErrorBody),
    )
)]
#[get("/api/alerts")]
pub async fn list(
    state: web::Data<AppState>,
    Params(query): Params<AlertsQuery>,
) -> Result<HttpResponse, ApiError> {
    let alerts = if query.all.unwrap_or(false) {
        alert::list(&state.db).await?
    } else {
        crate::alerts::active(&state.db).await?
    };
    Ok(HttpResponse::Ok().json(alerts))
}
