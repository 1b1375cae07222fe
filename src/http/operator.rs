//! Who is asking, and jobs as an operator sees them: the actor named in `audit_log` and
//! payloads with their sensitive fields redacted.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::AppState;
use crate::job::sensitive::{Sensitive, SensitiveError};
use crate::job::{Job, NewJob};

/// Hex digits of the token's hash that name it in `audit_log`.
const TOKEN_ID_LEN: usize = 12;

/// The actor of a request: `token:` and the first 12 hex digits of the bearer token's SHA-256,
/// which is also how its `sha256:` line in `[http] tokens` begins, so an operator can tell
/// which token acted without the log holding anything that works as a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    /// The actor of `token`.
    pub fn of_token(token: &str) -> Self {
        let hash = hex::encode(Sha256::digest(token.trim().as_bytes()));
        Self(format!("token:{}", &hash[..TOKEN_ID_LEN]))
    }
}

impl FromRequest for Actor {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token);
        // The token middleware let the request in, so a token is there; this only names it.
        ready(token.map(Actor::of_token).ok_or(ApiError::Unauthorized))
    }
}

/// The sensitive fields of `state`'s config and its key.
pub fn sensitive(state: &AppState) -> Sensitive {
    Sensitive::from_config(&state.config)
}

/// Seals the sensitive fields of jobs about to be enqueued.
///
/// # Errors
///
/// [`ApiError::Unavailable`] when a type has sensitive fields and the service has no key.
pub fn seal(state: &AppState, jobs: &mut [NewJob]) -> Result<(), ApiError> {
    let sensitive = sensitive(state);
    for job in jobs {
        sensitive
            .seal(&job.job_type, &mut job.payload)
            .map_err(|err: SensitiveError| {
                tracing::error!(error = %err, "job refused: sensitive fields cannot be sealed");
                ApiError::Unavailable(err.to_string())
            })?;
    }
    Ok(())
}

/// A job with its sensitive fields redacted.
pub fn redacted(state: &AppState, mut job: Job) -> Job {
    sensitive(state).redact(&job.job_type, &mut job.payload);
    job
}
