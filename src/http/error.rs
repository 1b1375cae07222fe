//! The API's error type and the JSON shape of every error answer: `{"error": "..."}`.
//!
//! Extractor failures (bad path parameters, bad query strings), unknown routes and wrong methods
//! answer in the same shape, so a client never has to parse anything else. Database detail is
//! logged, never sent.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use crate::intake::IntakeError;
use crate::job::request::RequestError;
use crate::store::StoreError;

/// What a request can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is malformed; the message names the field or parameter.
    #[error("{0}")]
    BadRequest(String),
    /// No valid bearer token.
    #[error("unauthorized")]
    Unauthorized,
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts the current state (a job that cannot be retried, a taken
    /// unique key, a reading already stored).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the limit, in bytes.
    #[error("request body over {0} bytes")]
    PayloadTooLarge(usize),
    /// The service cannot answer now (database unreachable, migrations pending).
    #[error("{0}")]
    Unavailable(String),
    /// Something failed inside; the detail was logged.
    #[error("internal error")]
    Internal,
}

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unauthorized) {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(ErrorBody {
            error: self.to_string(),
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::UniqueKeyTaken { existing, .. } if existing.is_nil() => {
                Self::Conflict("field `unique_key`: jobs of one batch share a key".to_owned())
            }
            StoreError::UniqueKeyTaken { key, existing } => Self::Conflict(format!(
                "field `unique_key`: live job {existing} already holds key {key:?}"
            )),
            StoreError::NotFound(what) => Self::NotFound(format!("{what} not found")),
            StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => {
                tracing::warn!(error = %err, "database unavailable");
                Self::Unavailable("database unavailable".to_owned())
            }
            other => {
                tracing::error!(error = %other, "request failed");
                Self::Internal
            }
        }
    }
}

impl From<RequestError> for ApiError {
    fn from(err: RequestError) -> Self {
        Self::BadRequest(err.to_string())
    }
}

impl From<IntakeError> for ApiError {
    fn from(err: IntakeError) -> Self {
        match err {
            IntakeError::Store(err) => err.into(),
            IntakeError::Duplicate => Self::Conflict(err.to_string()),
            other => Self::BadRequest(other.to_string()),
        }
    }
}

/// Path parameters that do not parse (a bad UUID): 400 naming the parameter's problem.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        ApiError::BadRequest(format!("invalid path parameter: {err}")).into()
    })
}

/// Query strings that do not parse: 400 with serde's message (it names the parameter).
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        ApiError::BadRequest(format!("invalid query string: {err}")).into()
    })
}

/// `application/json` bodies read by actix's own `Json` extractor, should a route use it.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _req| {
            use actix_web::error::JsonPayloadError as E;
            match err {
                E::Overflow { .. } | E::OverflowKnownLength { .. } => {
                    ApiError::PayloadTooLarge(limit).into()
                }
                other => ApiError::BadRequest(format!("invalid JSON body: {other}")).into(),
            }
        })
}

/// The answer for a route that does not exist.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    ApiError::NotFound(format!("no route {} {}", req.method(), req.path())).error_response()
}

/// Rewrites an error answer that is not JSON (a wrong method, an error raised by actix itself)
/// into `{"error": "<reason>"}`, keeping its status.
///
/// # Errors
///
/// Never; the signature is the one `ErrorHandlers` wants.
pub fn json_fallback<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
    let body = serde_json::json!({ "error": reason }).to_string();
    let (req, res) = res.into_parts();
    let mut res = res.set_body(BoxBody::new(body));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let res: ServiceResponse<EitherBody<B>> = ServiceResponse::new(req, res).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}
