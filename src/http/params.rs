//! Query strings parsed with the name of the parameter at fault in every error.

use std::future::{ready, Ready};

use actix_web::{dev, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A query string parsed into `T`. A value of the wrong form or an unknown parameter is a 400
/// naming the parameter (`parameter `status`: unknown variant ...`).
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Params<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut dev::Payload) -> Self::Future {
        ready(parse_query(req.query_string()).map(Params))
    }
}

/// Parses a query string into `T`, naming the parameter at fault.
///
/// # Errors
///
/// [`ApiError::BadRequest`] with the parameter and serde's message.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." {
            ApiError::BadRequest(format!("invalid query string: {inner}"))
        } else {
            ApiError::BadRequest(format!("parameter `{path}`: {inner}"))
        }
    })
}
