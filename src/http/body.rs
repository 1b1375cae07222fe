//! Request bodies: JSON read with the path of the field at fault in every error, and raw
//! files, both under a size limit.

use std::future::Future;
use std::pin::Pin;

use actix_web::error::PayloadError;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{dev, FromRequest, HttpRequest};
use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body parsed into `T`. Bad JSON, a wrong type or an unknown field is a 400 naming the
/// field (`field `jobs[2].payload``); a body over `[http] body_limit` is a 413.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut dev::Payload) -> Self::Future {
        let bytes = Bytes::from_request(req, payload);
        let limit = limit_of(req);
        Box::pin(async move {
            let bytes = bytes.await.map_err(|err| body_error(&err, limit))?;
            parse_json(&bytes).map(JsonBody)
        })
    }
}

/// A raw body (a readings file), up to `[http] import_limit` bytes.
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl FromRequest for RawBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut dev::Payload) -> Self::Future {
        let limit = req
            .app_data::<actix_web::web::Data<super::AppState>>()
            .map_or(super::DEFAULT_BODY_LIMIT, |s| s.config.http.import_limit);
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > limit) {
                return Err(ApiError::PayloadTooLarge(limit));
            }
            let mut data = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|err| {
                    ApiError::BadRequest(format!("cannot read the request body: {err}"))
                })?;
                if data.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge(limit));
                }
                data.extend_from_slice(&chunk);
            }
            Ok(RawBody(data.freeze()))
        })
    }
}

/// Parses JSON text into `T`, naming the field at fault.
///
/// # Errors
///
/// [`ApiError::BadRequest`] with the field's path and serde's message.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "the body must be JSON, not empty".to_owned(),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() || path == "." {
            ApiError::BadRequest(format!("invalid JSON body: {inner}"))
        } else {
            ApiError::BadRequest(format!("field `{path}`: {inner}"))
        }
    })?;
    de.end()
        .map_err(|err| ApiError::BadRequest(format!("invalid JSON body: {err}")))?;
    Ok(value)
}

/// The body limit of a route, in bytes, set beside actix's `PayloadConfig` (whose limit is
/// private) so that a 413 can say it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// The app data that limits bodies to `limit` bytes.
pub fn limit(limit: usize) -> (actix_web::web::PayloadConfig, BodyLimit) {
    (actix_web::web::PayloadConfig::new(limit), BodyLimit(limit))
}

fn limit_of(req: &HttpRequest) -> usize {
    req.app_data::<BodyLimit>()
        .map_or(super::DEFAULT_BODY_LIMIT, |l| l.0)
}

fn body_error(err: &actix_web::Error, limit: usize) -> ApiError {
    match err.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => ApiError::PayloadTooLarge(limit),
        _ if err.as_response_error().status_code().as_u16() == 413 => {
            ApiError::PayloadTooLarge(limit)
        }
        _ => ApiError::BadRequest(format!("cannot read the request body: {err}")),
    }
}
