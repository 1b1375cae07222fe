//! `/api/readings`: log one reading with its immediate `CALCULATE_A1C` job, or import a file
//! of readings (Dexcom Clarity, LibreView or plain CSV) with one batch job, each in one
//! transaction.

use actix_web::{post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::body::{JsonBody, RawBody};
use super::error::{ApiError, ErrorBody};
use super::params::Params;
use super::AppState;
use crate::intake::{self, ImportSummary, LoggedReading};

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(import);
}

/// A reading the user just logged.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReading {
    pub user_id: Uuid,
    /// When it was measured (RFC 3339).
    pub measured_at: DateTime<Utc>,
    /// Above 0, at most 1000.
    pub value_mg_dl: f64,
    /// Default `app`.
    #[serde(default)]
    pub source: Option<String>,
}

/// What logging a reading wrote.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ReadingCreated {
    pub reading_id: Uuid,
    /// The immediate CALCULATE_A1C job naming the reading.
    pub job_id: Uuid,
}

/// Whose file it is.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// The user (created if new).
    pub user_id: Uuid,
    /// IANA zone of the file's local times; default the user's own, else UTC.
    pub timezone: Option<String>,
}

/// Stores one reading (its user created if new) with an immediate CALCULATE_A1C job naming
/// it, in one transaction.
#[utoipa::path(
    operation_id = "readings_create",
    tag = "readings",
    request_body = CreateReading,
    responses(
        (status = 201, description = "stored and enqueued", body = ReadingCreated),
        (status = 400, description = "invalid reading", body = ErrorBody),
        (status = 409, description = "already stored; nothing written", body = ErrorBody),
    )
)]
#[post("/api/readings")]
pub async fn create(
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<CreateReading>,
) -> Result<HttpResponse, ApiError> {
    let logged = LoggedReading {
        user_id: body.user_id,
        measured_at: body.measured_at,
        value_mg_dl: body.value_mg_dl,
        source: body.source,
    };
    let done = intake::log_reading(&state.db, &logged).await?;
    Ok(HttpResponse::Created().json(ReadingCreated {
        reading_id: done.reading_id,
        job_id: done.job_id,
    }))
}

/// Imports a CSV file sent as the body: every reading and one batch CALCULATE_A1C, or nothing
/// when the file is broken (the error names the line).
#[utoipa::path(
    operation_id = "readings_import",
    tag = "readings",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv"),
    responses(
        (status = 201, description = "imported", body = ImportSummary),
        (status = 400, description = "broken file; nothing written", body = ErrorBody),
        (status = 413, description = "file over the import limit", body = ErrorBody),
    )
)]
#[post("/api/readings/import")]
pub async fn import(
    state: web::Data<AppState>,
    Params(query): Params<ImportQuery>,
    RawBody(data): RawBody,
) -> Result<HttpResponse, ApiError> {
    let summary =
        intake::import_file(&state.db, &data, query.user_id, query.timezone.as_deref()).await?;
    Ok(HttpResponse::Created().json(summary))
}
