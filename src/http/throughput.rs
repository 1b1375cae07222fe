//! `/api/stats/throughput`: jobs completed and failed per minute, from `job_queue` rows.

use actix_web::{get, web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;
use super::params::Params;
use super::AppState;
use crate::store::throughput::{self, Minute};

const DEFAULT_MINUTES: u32 = 60;
const MAX_MINUTES: u32 = 24 * 60;

/// Which minutes to count.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ThroughputQuery {
    /// Minutes back from now, 1 to 1440; default 60.
    pub minutes: Option<u32>,
}

/// Jobs ended per minute.
#[derive(Debug, Serialize, ToSchema)]
pub struct Throughput {
    /// One entry per minute, oldest first; the last is the current minute.
    pub minutes: Vec<Minute>,
}

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(per_minute);
}

/// Jobs that became `COMPLETED`, or `FAILED` or `DEAD_LETTER`, in each of the last minutes
/// (default the last hour), by their `processed_at`.
#[utoipa::path(
    operation_id = "throughput_per_minute",
    tag = "stats",
    params(ThroughputQuery),
    responses(
        (status = 200, description = "per minute", body = Throughput),
        (status = 400, description = "minutes out of range", body = super::error::ErrorBody),
    )
)]
#[get("/api/stats/throughput")]
pub async fn per_minute(
    state: web::Data<AppState>,
    Params(query): Params<ThroughputQuery>,
) -> Result<HttpResponse, ApiError> {
    let minutes = query.minutes.unwrap_or(DEFAULT_MINUTES);
    if !(1..=MAX_MINUTES).contains(&minutes) {
        return Err(ApiError::BadRequest(format!(
            "minutes: must be 1 to {MAX_MINUTES}"
        )));
    }
    let minutes = throughput::per_minute(&state.db, Utc::now(), minutes).await?;
    Ok(HttpResponse::Ok().json(Throughput { minutes }))
}
