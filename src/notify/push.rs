//! Push: the reminder POSTed as JSON to the configured webhook, signed with HMAC-SHA256.
//!
//! The header `X-A1C-Signature: sha256=<hex>` carries the HMAC of the exact body bytes, keyed
//! with `reminders.push.secret`; the receiver recomputes it to trust the sender. A 2xx answer
//! is delivery; 5xx, 408, 429, a timeout or a failed connection may pass and are retried; any
//! other answer is a failure that retrying cannot fix.

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::Sha256;

use super::DeliveryError;
use crate::config::reminders::PushConfig;

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "X-A1C-Signature";

/// Posts reminders to the webhook of the config.
#[derive(Debug, Clone)]
pub struct PushSender {
    config: PushConfig,
    client: reqwest::Client,
}

impl PushSender {
    /// A sender for `config`.
    ///
    /// # Errors
    ///
    /// The HTTP client cannot be built (no TLS roots); the message says why.
    pub fn new(config: PushConfig) -> Result<Self, DeliveryError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|err| DeliveryError::Permanent(format!("http client: {err}")))?;
        Ok(Self { config, client })
    }

    /// POSTs `body` with its signature; returns the answer's status code.
    ///
    /// # Errors
    ///
    /// [`DeliveryError`] as the module docs classify answers; push not configured is
    /// permanent.
    pub async fn send(&self, body: &Value) -> Result<u16, DeliveryError> {
        if !self.config.is_configured() {
            let reason = "push is not configured (reminders.push.url)".to_owned();
            return Err(DeliveryError::Permanent(reason));
        }
        let bytes = body.to_string().into_bytes();
        let signature = sign(&self.config.secret, &bytes)?;
        let answer = self
            .client
            .post(self.config.url.trim())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(bytes)
            .send()
            .await
            .map_err(|err| DeliveryError::Transient(format!("push: {err}")))?;
        classify(answer.status())
    }
}

/// `sha256=<hex HMAC-SHA256 of body keyed with secret>`.
///
/// # Errors
///
/// Never in practice: HMAC takes keys of any length.
pub fn sign(secret: &str, body: &[u8]) -> Result<String, DeliveryError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|err| DeliveryError::Permanent(format!("push secret: {err}")))?;
    mac.update(body);
    Ok(format!(
        "sha256={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

fn classify(status: StatusCode) -> Result<u16, DeliveryError> {
    let code = status.as_u16();
    if status.is_success() {
        Ok(code)
    } else if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        Err(DeliveryError::Transient(format!("push answered {status}")))
    } else {
        Err(DeliveryError::Permanent(format!("push answered {status}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_with_hmac_sha256() {
        // RFC 4231 test case 2.
        let signature = sign("Jefe", b"what do ya want for nothing?").expect("hmac takes any key");

        assert_eq!(
            signature,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn classifies_answers() {
        assert_eq!(classify(StatusCode::NO_CONTENT), Ok(204));
        for retry in [500, 503, 408, 429] {
            let status = StatusCode::from_u16(retry).expect("valid code");
            assert!(matches!(classify(status), Err(DeliveryError::Transient(_))));
        }
        for fail in [400, 401, 404, 410] {
            let status = StatusCode::from_u16(fail).expect("valid code");
            assert!(matches!(classify(status), Err(DeliveryError::Permanent(_))));
        }
    }
}
