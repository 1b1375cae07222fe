//! `/api/schedules`: every configured schedule with its next fire times, in UTC and in the
//! schedule's own zone, and the latest fire time some node recorded.

use actix_web::{get, web, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ApiError;
use super::params::Params;
use super::AppState;
use crate::schedule::{upcoming, Upcoming};
use crate::store::schedule_run;

/// Fire times listed per schedule when the request names no count.
const DEFAULT_COUNT: usize = 3;
const MAX_COUNT: usize = 50;

/// How many fire times to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScheduleQuery {
    /// Next fire times per schedule, 1 to 50; default 3.
    pub count: Option<usize>,
}

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list);
}

/// Every schedule, by name, with its next fire times and latest recorded fire.
#[utoipa::path(
    operation_id = "schedules_list",
    tag = "schedules",
    params(ScheduleQuery),
    responses(
        (status = 200, description = "schedules", body = Vec<Upcoming>),
        (status = 400, description = "count out of range", body = super::error::ErrorBody),
    )
)]
#[get("/api/schedules")]
pub async fn list(
    state: web::Data<AppState>,
    Params(query): Params<ScheduleQuery>,
) -> Result<HttpResponse, ApiError> {
    let count = query.count.unwrap_or(DEFAULT_COUNT);
    if !(1..=MAX_COUNT).contains(&count) {
        return Err(ApiError::BadRequest(format!(
            "count: must be 1 to {MAX_COUNT}"
        )));
    }
    let now = Utc::now();
    let mut out = Vec::new();
    for (name, config) in &state.config.schedules {
        // The config was checked at start-up, so a schedule that fails here is a bug.
        let mut next = upcoming(name, config, now, count).map_err(|err| {
            tracing::error!(schedule = %name, error = %err, "schedule unreadable");
            ApiError::Internal
        })?;
        next.last_fire_at = schedule_run::latest(&state.db, name).await?;
        out.push(next);
    }
    Ok(HttpResponse::Ok().json(out))
}
