//! `/api/jobs`: create (one or a batch), get, list, retry and cancel jobs, and
//! `/api/dead-letters/requeue`.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::body::JsonBody;
use super::error::{ApiError, ErrorBody};
use super::operator::{redacted, seal, Actor};
use super::params::Params;
use super::AppState;
use crate::job::request::JobRequest;
use crate::job::{Job, JobStatus, NewJob};
use crate::store::job::{self as jobs, ListFilter};

/// Most jobs one batch may hold.
pub const MAX_BATCH: usize = 10_000;
/// Most jobs one page of a list holds.
pub const MAX_PAGE: u32 = 1000;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(create_batch)
        .service(list)
        .service(requeue_dead_letters)
        .service(show)
        .service(retry)
        .service(cancel)
        .service(super::why::why);
}

/// A job to enqueue.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    /// CALCULATE_A1C, SEND_REMINDER, GENERATE_REPORT or CLEANUP_DATA.
    pub job_type: String,
    /// The type's payload, validated before anything is written.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// 0 (most urgent) to 9; default 5, or what the payload implies.
    #[serde(default)]
    pub priority: Option<i16>,
    /// Not before this time (RFC 3339); default now.
    #[serde(default)]
    pub run_at: Option<DateTime<Utc>>,
    /// At most one live job per key.
    #[serde(default)]
    pub unique_key: Option<String>,
    /// Runs allowed in all; default from the type's pool.
    #[serde(default)]
    pub max_attempts: Option<i32>,
}

impl From<CreateJob> for JobRequest {
    fn from(c: CreateJob) -> Self {
        Self {
            job_type: c.job_type,
            payload: c.payload,
            priority: c.priority,
            run_at: c.run_at,
            unique_key: c.unique_key,
            max_attempts: c.max_attempts,
        }
    }
}

/// Jobs to enqueue together: all or none.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBatch {
    /// 1 to 10,000 jobs.
    pub jobs: Vec<CreateJob>,
}

/// The ids of the jobs a batch enqueued, in the order given.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchCreated {
    pub ids: Vec<Uuid>,
}

/// A page of jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Filters and page of `GET /api/jobs`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only jobs in this status.
    pub status: Option<JobStatus>,
    /// Only jobs of this type.
    #[serde(rename = "type")]
    pub job_type: Option<String>,
    /// Jobs per page, 1 to 1000; default 50.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Which dead letters to requeue.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RequeueQuery {
    /// Only dead letters of this type; all when absent.
    #[serde(rename = "type")]
    pub job_type: Option<String>,
}

/// How many dead letters were requeued.
#[derive(Debug, Serialize, ToSchema)]
pub struct Requeued {
    pub requeued: usize,
}

/// Enqueues one job. A payload that does not fit its type is a 400 naming the field, and
/// nothing is written.
#[utoipa::path(
    operation_id = "jobs_create",
    tag = "jobs",
    request_body = CreateJob,
    responses(
        (status = 201, description = "enqueued", body = Job),
        (status = 400, description = "invalid job", body = ErrorBody),
        (status = 409, description = "unique key held by a live job", body = ErrorBody),
    )
)]
#[post("/api/jobs")]
pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<CreateJob>,
) -> Result<HttpResponse, ApiError> {
    let mut job = JobRequest::from(body).into_new_job(&state.config.pools)?;
    seal(&state, std::slice::from_mut(&mut job))?;
    let id = jobs::insert_by(&state.db, &job, Utc::now(), &actor.0).await?;
    let stored = found(jobs::get(&state.db, id).await?, id)?;
    Ok(HttpResponse::Created().json(redacted(&state, stored)))
}

/// Enqueues jobs in one statement: all of them, or none when any is invalid (the error names
/// its index and field) or a unique key is taken.
#[utoipa::path(
    operation_id = "jobs_create_batch",
    tag = "jobs",
    request_body = CreateBatch,
    responses(
        (status = 201, description = "all enqueued", body = BatchCreated),
        (status = 400, description = "a job is invalid; none enqueued", body = ErrorBody),
        (status = 409, description = "a unique key is taken; none enqueued", body = ErrorBody),
    )
)]
#[post("/api/jobs/batch")]
pub async fn create_batch(
    state: web::Data<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<CreateBatch>,
) -> Result<HttpResponse, ApiError> {
    if body.jobs.is_empty() || body.jobs.len() > MAX_BATCH {
        return Err(ApiError::BadRequest(format!(
            "field `jobs`: must hold 1 to {MAX_BATCH} jobs"
        )));
    }
    let mut batch: Vec<NewJob> = Vec::with_capacity(body.jobs.len());
    for (i, job) in body.jobs.into_iter().enumerate() {
        let job = JobRequest::from(job)
            .into_new_job(&state.config.pools)
            .map_err(|err| ApiError::BadRequest(format!("jobs[{i}]: {err}")))?;
        batch.push(job);
    }
    seal(&state, &mut batch)?;
    let ids = jobs::insert_many_by(&state.db, &batch, Utc::now(), &actor.0).await?;
    Ok(HttpResponse::Created().json(BatchCreated { ids }))
}

/// One job: the seed's `status`, `error` and `processed_at`, and every other column.
#[utoipa::path(
    operation_id = "jobs_show",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "job id")),
    responses(
        (status = 200, description = "the job", body = Job),
        (status = 400, description = "not a UUID", body = ErrorBody),
        (status = 404, description = "no such job", body = ErrorBody),
    )
)]
#[get("/api/jobs/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let job = found(jobs::get(&state.db, id).await?, id)?;
    Ok(HttpResponse::Ok().json(redacted(&state, job)))
}

/// Jobs, newest first, filtered by status and type, a page at a time.
#[utoipa::path(
    operation_id = "jobs_list",
    tag = "jobs",
    params(ListQuery),
    responses(
        (status = 200, description = "a page of jobs", body = JobPage),
        (status = 400, description = "bad filter or cursor", body = ErrorBody),
    )
)]
#[get("/api/jobs")]
pub async fn list(
    state: web::Data<AppState>,
    Params(query): Params<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "parameter `limit`: must be 1 to {MAX_PAGE}"
        )));
    }
    let after = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let filter = ListFilter {
        status: query.status,
        job_type: query.job_type,
        limit: limit + 1,
        after,
    };
    let mut page = jobs::list(&state.db, &filter).await?;
    let more = page.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    page.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = more.then(|| page.last().map(cursor_of)).flatten();
    Ok(HttpResponse::Ok().json(JobPage {
        jobs: page.into_iter().map(|j| redacted(&state, j)).collect(),
        next_cursor,
    }))
}

/// Requeues a `FAILED`, `DEAD_LETTER` or `CANCELLED` job: back to `PENDING`, attempts reset.
#[utoipa::path(
    operation_id = "jobs_retry",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "job id")),
    responses(
        (status = 200, description = "requeued", body = Job),
        (status = 404, description = "no such job", body = ErrorBody),
        (status = 409, description = "the job is not failed, dead or cancelled", body = ErrorBody),
    )
)]
#[post("/api/jobs/{id}/retry")]
pub async fn retry(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let done = jobs::requeue(&state.db, id, Utc::now(), &actor.0).await?;
    let job = found(jobs::get(&state.db, id).await?, id)?;
    if !done {
        return Err(ApiError::Conflict(format!(
            "job {id} is {}: only FAILED, DEAD_LETTER or CANCELLED jobs can be retried",
            job.status
        )));
    }
    Ok(HttpResponse::Ok().json(redacted(&state, job)))
}

/// Cancels a job that has not ended. A running attempt goes on, but its outcome is not
/// recorded.
#[utoipa::path(
    operation_id = "jobs_cancel",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "job id")),
    responses(
        (status = 200, description = "cancelled", body = Job),
        (status = 404, description = "no such job", body = ErrorBody),
        (status = 409, description = "the job has already ended", body = ErrorBody),
    )
)]
#[post("/api/jobs/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let done = jobs::cancel(&state.db, id, Utc::now(), &actor.0).await?;
    let job = found(jobs::get(&state.db, id).await?, id)?;
    if !done {
        return Err(ApiError::Conflict(format!(
            "job {id} is {}: it has already ended",
            job.status
        )));
    }
    Ok(HttpResponse::Ok().json(redacted(&state, job)))
}

/// Requeues every dead letter, of one type or of all.
#[utoipa::path(
    operation_id = "jobs_requeue_dead_letters",
    tag = "jobs",
    params(RequeueQuery),
    responses(
        (status = 200, description = "how many were requeued", body = Requeued),
        (status = 400, description = "bad parameter", body = ErrorBody),
    )
)]
#[post("/api/dead-letters/requeue")]
pub async fn requeue_dead_letters(
    state: web::Data<AppState>,
    actor: Actor,
    Params(query): Params<RequeueQuery>,
) -> Result<HttpResponse, ApiError> {
    let job_type = query.job_type;
    let now = Utc::now();
    let requeued =
        jobs::requeue_dead_letters(&state.db, job_type.as_deref(), now, &actor.0).await?;
    Ok(HttpResponse::Ok().json(Requeued {
        requeued: requeued.len(),
    }))
}

/// The job, or 404.
pub(super) fn found(job: Option<Job>, id: Uuid) -> Result<Job, ApiError> {
    job.ok_or_else(|| ApiError::NotFound(format!("job {id} not found")))
}

fn cursor_of(job: &Job) -> String {
    let at = job
        .created_at
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    format!("{at}_{}", job.id)
}

fn parse_cursor(text: &str) -> Result<(DateTime<Utc>, Uuid), ApiError> {
    let bad = || ApiError::BadRequest("parameter `cursor`: not a cursor this API gave".to_owned());
    let (at, id) = text.rsplit_once('_').ok_or_else(bad)?;
    let at = DateTime::parse_from_rfc3339(at).map_err(|_| bad())?;
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((at.with_timezone(&Utc), id))
}
