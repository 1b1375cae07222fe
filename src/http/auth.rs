//! Bearer tokens: every route but `/health` (and the dashboard's files) needs
//! `Authorization: Bearer <token>` with a token whose SHA-256 is in `[http] tokens`. The
//! presented token is hashed and compared with every configured hash in constant time; a
//! request without a valid token gets 401 `{"error":"unauthorized"}`, whatever it asked for,
//! so it learns nothing else (not even whether the route exists).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::AppState;
use crate::config::http::TOKEN_HASH_PREFIX;

/// Paths open without a token: `/health`, and the dashboard's page, stylesheet and script,
/// which hold no data (the page asks for a token and reads the API with it).
pub const OPEN_PATHS: [&str; 4] = [
    "/health",
    super::dashboard::PATHS[0],
    super::dashboard::PATHS[1],
    super::dashboard::PATHS[2],
];

/// The SHA-256 hashes of the tokens that may use the API.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    hashes: Vec<[u8; 32]>,
}

impl Tokens {
    /// Tokens from their hashes.
    pub fn new(hashes: Vec<[u8; 32]>) -> Self {
        Self { hashes }
    }

    /// Whether no token is configured (then every guarded route answers 401).
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Whether `token` is one of ours; takes the same time whichever hash matches.
    pub fn accepts(&self, token: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = subtle::Choice::from(0);
        for hash in &self.hashes {
            found |= hash.ct_eq(&presented);
        }
        bool::from(found)
    }
}

/// The config line of a token: `sha256:<hex>` of its text.
pub fn hash_token(token: &str) -> String {
    format!(
        "{TOKEN_HASH_PREFIX}{}",
        hex::encode(Sha256::digest(token.as_bytes()))
    )
}

/// A new random token: `a1c_` and 64 hex digits (256 bits from the OS generator).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("a1c_{}", hex::encode(bytes))
}

/// Middleware: lets a request through when its path is open or its bearer token is accepted,
/// else answers 401.
///
/// # Errors
///
/// Whatever the wrapped service fails with.
pub async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if OPEN_PATHS.contains(&req.path()) || is_authorized(&req) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let response = ApiError::Unauthorized.error_response();
    Ok(req.into_response(response).map_into_right_body())
}

fn is_authorized(req: &ServiceRequest) -> bool {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return false;
    };
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return false;
    };
    let Ok(text) = value.to_str() else {
        return false;
    };
    match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            state.tokens.accepts(token.trim())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_configured_token() {
        let token = new_token();
        let hash = hash_token(&token);
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&hash[TOKEN_HASH_PREFIX.len()..], &mut bytes).unwrap();
        let tokens = Tokens::new(vec![bytes]);

        assert!(tokens.accepts(&token));
        assert!(!tokens.accepts(&new_token()));
        assert!(!tokens.accepts(""));
        assert!(!Tokens::default().accepts(&token));
    }

    #[test]
    fn new_tokens_differ() {
        assert_ne!(new_token(), new_token());
        assert_eq!(new_token().len(), 4 + 64);
    }
}
