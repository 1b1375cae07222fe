//! `GET /api/audit`: who created, retried, cancelled or requeued which job, and who paused,
//! resumed or resized which pool, newest first.

use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::params::Params;
use super::AppState;
use crate::store::audit::{self, AuditEntry, AuditFilter};

/// Most entries one page holds.
pub const MAX_PAGE: u32 = 1000;

/// Registers the route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list);
}

/// Filters and page of `GET /api/audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only the entries of this job.
    pub job: Option<Uuid>,
    /// Only the entries of this actor (`token:<id>`, `cli:<user>`).
    pub actor: Option<String>,
    /// Entries per page, 1 to 1000; default 50.
    pub limit: Option<u32>,
    /// The `next_before` of the previous page.
    pub before: Option<i64>,
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<i64>,
}

/// The audit log, newest first.
#[utoipa::path(
    operation_id = "audit_list",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "a page of entries", body = AuditPage),
        (status = 400, description = "bad parameter", body = ErrorBody),
    )
)]
#[get("/api/audit")]
pub async fn list(
    state: web::Data<AppState>,
    Params(query): Params<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "parameter `limit`: must be 1 to {MAX_PAGE}"
        )));
    }
    let filter = AuditFilter {
        job_id: query.job,
        actor: query.actor,
        before: query.before,
        limit: limit + 1,
    };
    let mut entries = audit::list(&state.db, &filter).await?;
    let more = entries.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_before = more.then(|| entries.last().map(|e| e.id)).flatten();
    Ok(HttpResponse::Ok().json(AuditPage {
        entries,
        next_before,
    }))
}
