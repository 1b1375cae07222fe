//! Sensitive payload fields, encrypted at rest.
//!
//! `[pools.TYPE] sensitive_fields = ["email", "note"]` names top-level payload fields of a job
//! type. When the service, the CLI or the API enqueues such a job, each of those fields is
//! sealed with XChaCha20-Poly1305 under the key in `A1C_JOBS_PAYLOAD_KEY` (32 bytes as 64 hex
//! digits or as base64) and stored as the string `enc:v1:<base64 of nonce and ciphertext>`.
//! The field's name and job type are bound into the seal, so a sealed value moved to another
//! field or type does not open. The pool opens sealed fields just before the handler runs;
//! a field that does not open (another key, a corrupt value) fails the job with an error
//! naming the field. Rows the app inserts by plain SQL keep their plain values and run as
//! they are. The CLI and the API show the configured fields, sealed or not, as `[redacted]`.
//!
//! With `sensitive_fields` configured and no key, the service refuses to start and the CLI
//! refuses to enqueue such a job, rather than store those fields in the clear.
//!
//! TODO(#4): jobs a schedule enqueues keep their payload (from the config file) unsealed, and
//! there is no key rotation: rows sealed with an old key fail once the key is replaced.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde_json::Value;

use crate::config::Config;

/// The environment variable that holds the key.
pub const KEY_ENV: &str = "A1C_JOBS_PAYLOAD_KEY";

/// What a shown sensitive field reads.
pub const REDACTED: &str = "[redacted]";

/// The start of a sealed value.
const PREFIX: &str = "enc:v1:";

const NONCE_LEN: usize = 24;

/// Why a field was not sealed or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SensitiveError {
    /// The key is not 32 bytes in hex or base64.
    #[error("{KEY_ENV} must be 32 bytes, as 64 hex digits or as base64")]
    BadKey,
    /// Fields are configured as sensitive but no key is set.
    #[error("pools.{job_type}.sensitive_fields needs the key {KEY_ENV}, which is not set")]
    NoKey { job_type: String },
    /// A sealed field does not open with this key.
    #[error(
        "payload field {field:?} cannot be decrypted: another {KEY_ENV} sealed it, \
         or the value is corrupt"
    )]
    Open { field: String },
    /// A sealed field arrived but this process has no key.
    #[error("payload field {field:?} is encrypted and {KEY_ENV} is not set")]
    OpenWithoutKey { field: String },
    /// The cipher refused to seal (never expected).
    #[error("payload field {field:?} cannot be encrypted")]
    Seal { field: String },
}

/// The AEAD key for sensitive fields. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct PayloadKey(Arc<XChaCha20Poly1305>);

impl fmt::Debug for PayloadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PayloadKey(..)")
    }
}

impl PayloadKey {
    /// A key from 64 hex digits or base64 of 32 bytes.
    ///
    /// # Errors
    ///
    /// [`SensitiveError::BadKey`] for anything else.
    pub fn parse(text: &str) -> Result<Self, SensitiveError> {
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .filter(|b| b.len() == 32)
            .or_else(|| BASE64.decode(text).ok().filter(|b| b.len() == 32))
            .ok_or(SensitiveError::BadKey)?;
        let cipher =
            XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| SensitiveError::BadKey)?;
        Ok(Self(Arc::new(cipher)))
    }

    fn seal(&self, aad: &str, value: &Value) -> Option<String> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let plain = value.to_string();
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: aad.as_bytes(),
        };
        let sealed = self
            .0
            .encrypt(XNonce::from_slice(&nonce_bytes), payload)
            .ok()?;
        let mut data = nonce_bytes.to_vec();
        data.extend_from_slice(&sealed);
        Some(format!("{PREFIX}{}", BASE64.encode(data)))
    }

    fn open(&self, aad: &str, text: &str) -> Option<Value> {
        let data = BASE64.decode(text.strip_prefix(PREFIX)?).ok()?;
        if data.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = data.split_at(NONCE_LEN);
        let payload = Payload {
            msg: sealed,
            aad: aad.as_bytes(),
        };
        let plain = self.0.decrypt(XNonce::from_slice(nonce), payload).ok()?;
        serde_json::from_slice(&plain).ok()
    }
}

/// The sensitive fields of every job type and the key: what seals, opens and redacts them.
#[derive(Debug, Clone, Default)]
pub struct Sensitive {
    key: Option<PayloadKey>,
    fields: BTreeMap<String, Vec<String>>,
}

impl Sensitive {
    /// The fields configured per pool and the key the config was loaded with.
    pub fn from_config(config: &Config) -> Self {
        let fields = config
            .pools
            .iter()
            .filter(|(_, pool)| !pool.sensitive_fields.is_empty())
            .map(|(t, pool)| (t.clone(), pool.sensitive_fields.clone()))
            .collect();
        Self {
            key: config.payload_key.clone(),
            fields,
        }
    }

    /// Fails when some job type has sensitive fields and there is no key to seal them.
    ///
    /// # Errors
    ///
    /// [`SensitiveError::NoKey`] naming the first such job type.
    pub fn check_key(&self) -> Result<(), SensitiveError> {
        match self.fields.keys().next() {
            Some(job_type) if self.key.is_none() => Err(SensitiveError::NoKey {
                job_type: job_type.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// The configured sensitive fields of `job_type`.
    pub fn fields_of(&self, job_type: &str) -> &[String] {
        self.fields.get(job_type).map_or(&[], Vec::as_slice)
    }

    /// Seals the sensitive fields of a `job_type` payload about to be enqueued; fields
    /// sealed already stay as they are.
    ///
    /// # Errors
    ///
    /// [`SensitiveError::NoKey`] when the type has sensitive fields and there is no key.
    pub fn seal(&self, job_type: &str, payload: &mut Value) -> Result<(), SensitiveError> {
        let fields = self.fields_of(job_type);
        let Some(object) = payload.as_object_mut().filter(|_| !fields.is_empty()) else {
            return Ok(());
        };
        let key = self.key.as_ref().ok_or_else(|| SensitiveError::NoKey {
            job_type: job_type.to_owned(),
        })?;
        for field in fields {
            let Some(value) = object.get_mut(field).filter(|v| !is_sealed(v)) else {
                continue;
            };
            let sealed =
                key.seal(&aad(job_type, field), value)
                    .ok_or_else(|| SensitiveError::Seal {
                        field: field.clone(),
                    })?;
            *value = Value::String(sealed);
        }
        Ok(())
    }

    /// Opens every sealed top-level field of a claimed job's payload, configured or not (a
    /// field sealed before the config changed still opens); plain values stay as they are.
    ///
    /// # Errors
    ///
    /// [`SensitiveError::Open`] or [`SensitiveError::OpenWithoutKey`] naming the field.
    pub fn open(&self, job_type: &str, payload: &mut Value) -> Result<(), SensitiveError> {
        let Some(object) = payload.as_object_mut() else {
            return Ok(());
        };
        for (field, value) in object.iter_mut().filter(|(_, v)| is_sealed(v)) {
            let Some(key) = &self.key else {
                return Err(SensitiveError::OpenWithoutKey {
                    field: field.clone(),
                });
            };
            let text = value.as_str().unwrap_or_default();
            *value = key
                .open(&aad(job_type, field), text)
                .ok_or_else(|| SensitiveError::Open {
                    field: field.clone(),
                })?;
        }
        Ok(())
    }

    /// Replaces the configured sensitive fields, and any sealed field, with [`REDACTED`], for
    /// showing a payload.
    pub fn redact(&self, job_type: &str, payload: &mut Value) {
        let fields = self.fields_of(job_type);
        let Some(object) = payload.as_object_mut() else {
            return;
        };
        for (field, value) in object.iter_mut() {
            if fields.contains(field) || is_sealed(value) {
                *value = Value::String(REDACTED.to_owned());
            }
        }
    }
}

/// Whether a payload value is a sealed field.
pub fn is_sealed(value: &Value) -> bool {
    value.as_str().is_some_and(|s| s.starts_with(PREFIX))
}

fn aad(job_type: &str, field: &str) -> String {
    format!("a1c-jobs:{job_type}:{field}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn sensitive(key: &str) -> Sensitive {
        let fields = [("SEND_REMINDER".to_owned(), vec!["email".to_owned()])];
        Sensitive {
            key: Some(PayloadKey::parse(key).expect("test key")),
            fields: fields.into_iter().collect(),
        }
    }

    #[test]
    fn sealed_field_opens_to_the_plain_value() {
        let s = sensitive(KEY);
        let mut payload = json!({"email": "ann@example.com", "user_id": "u"});

        s.seal("SEND_REMINDER", &mut payload).unwrap();
        let stored = payload.to_string();
        s.open("SEND_REMINDER", &mut payload).unwrap();

        assert!(!stored.contains("ann@example.com"));
        assert!(stored.contains("\"user_id\":\"u\""));
        assert_eq!(payload, json!({"email": "ann@example.com", "user_id": "u"}));
    }

    #[test]
    fn another_key_or_field_does_not_open() {
        let mut payload = json!({"email": {"nested": [1, 2]}});
        sensitive(KEY).seal("SEND_REMINDER", &mut payload).unwrap();

        let other = sensitive(&"11".repeat(32));
        let err = other
            .open("SEND_REMINDER", &mut payload.clone())
            .unwrap_err();
        let mut moved = json!({"note": payload["email"].clone()});
        let moved_err = sensitive(KEY)
            .open("SEND_REMINDER", &mut moved)
            .unwrap_err();

        assert!(err.to_string().contains("\"email\""), "{err}");
        assert!(moved_err.to_string().contains("\"note\""), "{moved_err}");
    }

    #[test]
    fn plain_values_pass_and_are_redacted() {
        let s = sensitive(KEY);
        let mut payload = json!({"email": "plain@example.com", "n": 1});

        s.open("SEND_REMINDER", &mut payload).unwrap();
        assert_eq!(payload["email"], "plain@example.com");
        s.redact("SEND_REMINDER", &mut payload);

        assert_eq!(payload, json!({"email": REDACTED, "n": 1}));
    }

    #[test]
    fn keys_are_hex_or_base64_of_32_bytes() {
        assert!(PayloadKey::parse(KEY).is_ok());
        assert!(PayloadKey::parse(&BASE64.encode([7u8; 32])).is_ok());
        assert!(PayloadKey::parse("abcd").is_err());
        assert!(PayloadKey::parse(&BASE64.encode([7u8; 31])).is_err());
        let empty = Sensitive::default();
        let mut sealed = json!({"x": format!("{PREFIX}AAAA")});
        assert!(empty.open("T", &mut sealed).is_err());
    }
}
