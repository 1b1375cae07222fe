//! `[alerts]`: rules maintenance evaluates against `job_queue`, and where a firing alert goes
//! (an operator webhook, email through `[alerts.smtp]`, or both).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::reminders::SmtpConfig;
use super::{duration, optional_duration, ConfigError};

/// Alert rules and their delivery.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// How often maintenance evaluates the rules (default 30s).
    #[serde(default = "default_interval", with = "duration")]
    pub interval: Duration,
    #[serde(default)]
    pub webhook: WebhookConfig,
    #[serde(default)]
    pub email: AlertEmailConfig,
    /// The SMTP server alert email goes through; same keys as `[reminders.smtp]`.
    #[serde(default)]
    pub smtp: SmtpConfig,
    /// The rules, keyed by name; the name identifies the alert everywhere.
    #[serde(default)]
    pub rules: BTreeMap<String, AlertRule>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            interval: default_interval(),
            webhook: WebhookConfig::default(),
            email: AlertEmailConfig::default(),
            smtp: SmtpConfig::default(),
            rules: BTreeMap::new(),
        }
    }
}

fn default_interval() -> Duration {
    Duration::from_secs(30)
}

/// The operator webhook: a firing alert is POSTed to it as JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL; empty (the default) sends nothing.
    #[serde(default)]
    pub url: String,
    /// How long one POST may take (default 10s).
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            timeout: default_timeout(),
        }
    }
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// Who gets alert email.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertEmailConfig {
    /// Addresses; empty (the default) sends no email. Needs `alerts.smtp.host`.
    #[serde(default)]
    pub to: Vec<String>,
}

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Jobs that ended `FAILED` or `DEAD_LETTER` in the last hour, over `threshold`.
    FailedJobs,
    /// `PROCESSING` jobs whose lease ended more than `grace` ago, over `threshold` (default 0).
    LeaseOverrun,
    /// Runnable jobs (`PENDING` or `RETRY`, due), over `threshold`.
    Backlog,
    /// The 95th percentile of run time of jobs that ended in the last hour, over `over`.
    P95RunTime,
}

impl RuleKind {
    /// The word the config uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FailedJobs => "failed_jobs",
            Self::LeaseOverrun => "lease_overrun",
            Self::Backlog => "backlog",
            Self::P95RunTime => "p95_run_time",
        }
    }
}

/// One alert rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    #[serde(default = "super::yes")]
    pub enabled: bool,
    pub kind: RuleKind,
    /// Only jobs of this type; none means every type.
    #[serde(default)]
    pub job_type: Option<String>,
    /// The count the rule fires above (`failed_jobs`, `backlog`, `lease_overrun`).
    #[serde(default)]
    pub threshold: Option<u64>,
    /// The run time the rule fires above (`p95_run_time`).
    #[serde(default, with = "optional_duration")]
    pub over: Option<Duration>,
    /// How long past its lease a job may be before it counts (`lease_overrun`, default 1m):
    /// maintenance rescues such jobs on its next run, so only a job it cannot rescue stays.
    #[serde(default, with = "optional_duration")]
    pub grace: Option<Duration>,
}

impl AlertsConfig {
    /// Checks the values, naming the key at fault.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.interval.is_zero() {
            return Err(ConfigError::invalid(
                "alerts.interval",
                "must be greater than zero",
            ));
        }
        self.webhook.validate()?;
        self.smtp.validate_at("alerts.smtp")?;
        if !self.email.to.is_empty() && !self.smtp.is_configured() {
            return Err(ConfigError::invalid(
                "alerts.email.to",
                "needs alerts.smtp.host to send through",
            ));
        }
        for to in &self.email.to {
            if to.parse::<lettre::message::Mailbox>().is_err() {
                return Err(ConfigError::invalid(
                    "alerts.email.to",
                    format!("{to:?} is not an email address"),
                ));
            }
        }
        for (name, rule) in &self.rules {
            rule.validate(&format!("alerts.rules.{name}"))?;
        }
        Ok(())
    }
}

impl WebhookConfig {
    /// Whether a webhook is configured.
    pub fn is_configured(&self) -> bool {
        !self.url.trim().is_empty()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        super::reminders::check_webhook("alerts.webhook", &self.url, self.timeout)
    }
}

impl AlertRule {
    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let field = |name: &str| format!("{key}.{name}");
        if self
            .job_type
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err(ConfigError::invalid(
                field("job_type"),
                "must name a job type, or be left out for every type",
            ));
        }
        let (needed, unused) = match self.kind {
            RuleKind::FailedJobs | RuleKind::Backlog => (
                self.threshold.is_none().then_some("threshold"),
                [
                    (self.over.is_some(), "over"),
                    (self.grace.is_some(), "grace"),
                ],
            ),
            RuleKind::LeaseOverrun => (None, [(self.over.is_some(), "over"), (false, "")]),
            RuleKind::P95RunTime => (
                self.over.is_none().then_some("over"),
                [
                    (self.threshold.is_some(), "threshold"),
                    (self.grace.is_some(), "grace"),
                ],
            ),
        };
        if let Some(name) = needed {
            return Err(ConfigError::invalid(
                field(name),
                format!("must be set for kind {}", self.kind.as_str()),
            ));
        }
        if let Some((_, name)) = unused.iter().find(|(set, _)| *set) {
            return Err(ConfigError::invalid(
                field(name),
                format!("does not apply to kind {}", self.kind.as_str()),
            ));
        }
        Ok(())
    }

    /// The threshold as a number: the count, or the run time in seconds.
    pub fn limit(&self) -> f64 {
        match self.kind {
            RuleKind::P95RunTime => self.over.unwrap_or_default().as_secs_f64(),
            _ => {
                let n = self.threshold.unwrap_or(0);
                u32::try_from(n).map_or(f64::from(u32::MAX), f64::from)
            }
        }
    }

    /// How far past its lease a job counts for `lease_overrun`.
    pub fn grace(&self) -> Duration {
        self.grace.unwrap_or(Duration::from_secs(60))
    }
}

#[cfg(test)]
mod tests {
    use super::RuleKind;
    use crate::Config;

    #[test]
    fn default_rules_load() {
        let config = Config::from_toml_layers(&[]).expect("defaults load");

        let kinds: Vec<RuleKind> = config.alerts.rules.values().map(|r| r.kind).collect();
        assert!(kinds.contains(&RuleKind::FailedJobs), "{kinds:?}");
        assert!(kinds.contains(&RuleKind::P95RunTime), "{kinds:?}");
        assert!(!config.alerts.webhook.is_configured());
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("[alerts]\ninterval = \"0s\"", "alerts.interval"),
            ("[alerts.webhook]\nurl = \"ftp://x\"", "alerts.webhook.url"),
            (
                "[alerts.email]\nto = [\"ops@example.org\"]",
                "alerts.email.to",
            ),
            ("[alerts.smtp]\nfrom = \"nobody\"", "alerts.smtp.from"),
            (
                "[alerts.rules.x]\nkind = \"backlog\"",
                "alerts.rules.x.threshold",
            ),
            (
                "[alerts.rules.x]\nkind = \"p95_run_time\"",
                "alerts.rules.x.over",
            ),
            (
                "[alerts.rules.x]\nkind = \"sometimes\"",
                "alerts.rules.x.kind",
            ),
            (
                "[alerts.rules.x]\nkind = \"backlog\"\nthreshold = 5\nover = \"1s\"",
                "alerts.rules.x.over",
            ),
            (
                "[alerts.rules.x]\nkind = \"backlog\"\nthreshold = 5\njob_type = \" \"",
                "alerts.rules.x.job_type",
            ),
        ];

        crate::config::assert_refused(&cases);
    }
}
