//! `[http]`: the HTTP API's address, request limits and bearer tokens.
//!
//! Tokens are stored hashed, as `sha256:<64 hex digits>` of the token's text, so the config file
//! never holds a secret that works. `a1c-jobs token` prints a new token and its config line. With
//! no token configured every guarded route answers 401: the service still starts (and says how
//! to add a token), but nobody can use the API until one is added.

use serde::Deserialize;

use super::ConfigError;

/// Prefix of a stored token hash.
pub const TOKEN_HASH_PREFIX: &str = "sha256:";

/// Settings of the HTTP server that `serve` runs beside the pools.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Whether `serve` starts the HTTP server at all. Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Address and port to listen on. Default `127.0.0.1:8080`.
    #[serde(default = "default_bind")]
    pub bind: String,
    /// Largest request body accepted, in bytes (1 to 1 GiB). Default 1 MiB.
    #[serde(default = "default_body_limit")]
    pub body_limit: usize,
    /// Largest readings file `POST /api/readings/import` accepts, in bytes. Default 16 MiB.
    #[serde(default = "default_import_limit")]
    pub import_limit: usize,
    /// Worker threads serving requests (1 to 64). Default 2.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// SHA-256 hashes of the bearer tokens that may use the API, each `sha256:<hex>`.
    #[serde(default)]
    pub tokens: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bind: default_bind(),
            body_limit: default_body_limit(),
            import_limit: default_import_limit(),
            workers: default_workers(),
            tokens: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}

fn default_bind() -> String {
    "127.0.0.1:8080".to_owned()
}

fn default_body_limit() -> usize {
    1024 * 1024
}

fn default_import_limit() -> usize {
    16 * 1024 * 1024
}

fn default_workers() -> usize {
    2
}

const MAX_BODY_LIMIT: usize = 1024 * 1024 * 1024;

impl HttpConfig {
    /// The configured token hashes as bytes.
    ///
    /// # Errors
    ///
    /// A hash that is not `sha256:` and 64 hex digits, naming its index.
    pub fn token_hashes(&self) -> Result<Vec<[u8; 32]>, ConfigError> {
        self.tokens
            .iter()
            .enumerate()
            .map(|(i, text)| {
                parse_hash(text).ok_or_else(|| {
                    ConfigError::invalid(
                        format!("http.tokens[{i}]"),
                        "must be \"sha256:\" and 64 hex digits (see `a1c-jobs token`)",
                    )
                })
            })
            .collect()
    }

    /// Checks the ranges and token hashes, naming the key at fault.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_BODY_LIMIT).contains(&self.body_limit) {
            return Err(ConfigError::invalid(
                "http.body_limit",
                "must be 1 to 1073741824",
            ));
        }
        if !(1..=MAX_BODY_LIMIT).contains(&self.import_limit) {
            return Err(ConfigError::invalid(
                "http.import_limit",
                "must be 1 to 1073741824",
            ));
        }
        if !(1..=64).contains(&self.workers) {
            return Err(ConfigError::invalid("http.workers", "must be 1 to 64"));
        }
        if self.bind.trim().is_empty() {
            return Err(ConfigError::invalid("http.bind", "must not be empty"));
        }
        self.token_hashes().map(drop)
    }
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let digits = text.trim().strip_prefix(TOKEN_HASH_PREFIX)?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(digits, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn defaults_listen_on_localhost_with_no_token() {
        let config = Config::from_toml_layers(&[]).unwrap();

        assert!(config.http.enabled);
        assert_eq!(config.http.bind, "127.0.0.1:8080");
        assert_eq!(config.http.body_limit, 1024 * 1024);
        assert!(config.http.tokens.is_empty());
    }

    #[test]
    fn malformed_token_hash_names_its_key() {
        let err = Config::from_toml_layers(&["[http]\ntokens = [\"sha256:abc\"]"]).unwrap_err();

        assert!(err.to_string().contains("http.tokens[0]"), "{err}");
    }

    #[test]
    fn zero_body_limit_is_refused() {
        let err = Config::from_toml_layers(&["[http]\nbody_limit = 0"]).unwrap_err();

        assert!(err.to_string().contains("http.body_limit"), "{err}");
    }
}
