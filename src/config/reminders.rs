//! `[reminders]`: how `SEND_REMINDER` decides and delivers. Email goes through SMTP when
//! `smtp.host` is set, else into files in `outbox_dir`; push goes to `push.url`, signed with
//! `push.secret`. Secrets may come from the environment, e.g.
//! `A1C_JOBS__REMINDERS__PUSH__SECRET` and `A1C_JOBS__REMINDERS__SMTP__PASSWORD`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{duration, ConfigError};

/// Longest `skip_if_reading_within` accepted: a week.
const MAX_SKIP: Duration = Duration::from_secs(7 * 86_400);

/// Settings of the `SEND_REMINDER` handler.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemindersConfig {
    /// No reminder is sent when the user logged a reading this recently (default 2h, at most
    /// 7d; zero never skips).
    #[serde(default = "default_skip", with = "duration")]
    pub skip_if_reading_within: Duration,
    /// Folder email goes to, one `.eml` file per message, when no SMTP host is set (default
    /// `outbox`, relative to the working directory).
    #[serde(default = "default_outbox")]
    pub outbox_dir: PathBuf,
    #[serde(default)]
    pub smtp: SmtpConfig,
    #[serde(default)]
    pub push: PushConfig,
}

impl Default for RemindersConfig {
    fn default() -> Self {
        Self {
            skip_if_reading_within: default_skip(),
            outbox_dir: default_outbox(),
            smtp: SmtpConfig::default(),
            push: PushConfig::default(),
        }
    }
}

fn default_skip() -> Duration {
    Duration::from_secs(2 * 3600)
}

fn default_outbox() -> PathBuf {
    PathBuf::from("outbox")
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host or a test sink.
    None,
}

/// The SMTP server reminders are sent through.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name; empty (the default) means no server: email goes to `outbox_dir`.
    #[serde(default)]
    pub host: String,
    /// Default 587.
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub tls: SmtpTls,
    /// Login name; empty means no authentication.
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    /// The sender, `Name <address>` or a bare address.
    #[serde(default = "default_from")]
    pub from: String,
    /// How long connecting and each SMTP command may take (default 10s).
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: default_port(),
            tls: SmtpTls::default(),
            username: String::new(),
            password: String::new(),
            from: default_from(),
            timeout: default_timeout(),
        }
    }
}

fn default_port() -> u16 {
    587
}

fn default_from() -> String {
    "A1C Estimator <reminders@localhost>".to_owned()
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// The webhook push reminders are posted to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {
    /// `http://` or `https://` URL; empty (the default) means push is not configured and push
    /// reminders fail.
    #[serde(default)]
    pub url: String,
    /// Key of the `X-A1C-Signature` HMAC-SHA256; required with `url`.
    #[serde(default)]
    pub secret: String,
    /// How long one POST may take, connection included (default 10s); longer is retried.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
}

impl RemindersConfig {
    /// Checks the values, naming the key at fault.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.skip_if_reading_within > MAX_SKIP {
            return Err(ConfigError::invalid(
                "reminders.skip_if_reading_within",
                "must be at most 7d",
            ));
        }
        if self.outbox_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid(
                "reminders.outbox_dir",
                "must name a folder",
            ));
        }
        self.smtp.validate_at("reminders.smtp")?;
        self.push.validate()
    }
}

impl SmtpConfig {
    /// Whether a server is configured.
    pub fn is_configured(&self) -> bool {
        !self.host.trim().is_empty()
    }

    /// Checks the values; `key` is where this section sits in the config.
    pub(super) fn validate_at(&self, key: &str) -> Result<(), ConfigError> {
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::invalid(
                format!("{key}.from"),
                format!(
                    "{:?} is not an address like `Name <user@example.org>`",
                    self.from
                ),
            ));
        }
        if self.is_configured() && self.port == 0 {
            return Err(ConfigError::invalid(
                format!("{key}.port"),
                "must be 1 to 65535",
            ));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::invalid(
                format!("{key}.timeout"),
                "must be greater than zero",
            ));
        }
        Ok(())
    }
}

impl PushConfig {
    /// Whether a webhook is configured.
    pub fn is_configured(&self) -> bool {
        !self.url.trim().is_empty()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_webhook("reminders.push", &self.url, self.timeout)?;
        if self.is_configured() && self.secret.is_empty() {
            return Err(ConfigError::invalid(
                "reminders.push.secret",
                "must be set when push.url is (A1C_JOBS__REMINDERS__PUSH__SECRET)",
            ));
        }
        Ok(())
    }
}

/// Checks a webhook's `url` (empty, or `http://` or `https://`) and `timeout` (above zero);
/// `key` is where its section sits in the config.
pub(super) fn check_webhook(key: &str, url: &str, timeout: Duration) -> Result<(), ConfigError> {
    if timeout.is_zero() {
        return Err(ConfigError::invalid(
            format!("{key}.timeout"),
            "must be greater than zero",
        ));
    }
    let http = |u: reqwest::Url| matches!(u.scheme(), "http" | "https");
    if !url.trim().is_empty() && !reqwest::Url::parse(url).is_ok_and(http) {
        return Err(ConfigError::invalid(
            format!("{key}.url"),
            "must be an http:// or https:// URL",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn defaults_send_email_to_the_outbox() {
        let config = Config::from_toml_layers(&[]).expect("defaults load");

        assert!(!config.reminders.smtp.is_configured());
        assert!(!config.reminders.push.is_configured());
        assert_eq!(config.reminders.outbox_dir.to_str(), Some("outbox"));
    }

    #[test]
    fn secrets_come_from_the_environment() {
        let env = [
            (
                "A1C_JOBS__REMINDERS__PUSH__URL",
                "https://hooks.example.org/a1c",
            ),
            ("A1C_JOBS__REMINDERS__PUSH__SECRET", "from-env"),
            ("A1C_JOBS__REMINDERS__SMTP__PASSWORD", "pw"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));

        let config = Config::load_with_env(None, &env).expect("config loads");

        assert_eq!(config.reminders.push.secret, "from-env");
        assert_eq!(config.reminders.smtp.password, "pw");
        assert!(config.reminders.push.is_configured());
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("[reminders.smtp]\ntls = \"ssl\"", "reminders.smtp.tls"),
            ("[reminders.smtp]\nfrom = \"nobody\"", "reminders.smtp.from"),
            (
                "[reminders.push]\nurl = \"ftp://x\"\nsecret = \"s\"",
                "reminders.push.url",
            ),
            (
                "[reminders.push]\nurl = \"http://x\"",
                "reminders.push.secret",
            ),
            (
                "[reminders]\nskip_if_reading_within = \"8d\"",
                "reminders.skip_if_reading_within",
            ),
        ];

        crate::config::assert_refused(&cases);
    }
}
