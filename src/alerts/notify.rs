//! Where a firing alert goes: a JSON POST to `[alerts.webhook] url` and email to
//! `[alerts.email] to` through `[alerts.smtp]`.
//!
//! A notification is tried once, by the node that flipped the alert; a failure is logged at
//! error with the alert's rule.
//! TODO(#4): a webhook or SMTP server that is down when an alert fires never gets that alert;
//! it is still logged and listed, and sent when the rule fires again after resolving.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::error;

use crate::config::alerts::AlertsConfig;
use crate::config::reminders::RemindersConfig;
use crate::notify::email::EmailSender;
use crate::notify::Reminder;
use crate::store::alert::Firing;

/// The notification of a firing alert, as the webhook receives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    pub rule: String,
    pub kind: String,
    pub job_type: Option<String>,
    /// Always `firing`.
    pub state: &'static str,
    pub value: f64,
    pub threshold: f64,
    pub message: String,
    pub fired_at: DateTime<Utc>,
    /// The node that sent it.
    pub node: String,
}

impl Notice {
    /// The notice of `alert`, firing since `at`.
    pub fn of(alert: &Firing<'_>, at: DateTime<Utc>) -> Self {
        Self {
            rule: alert.rule.to_owned(),
            kind: alert.kind.to_owned(),
            job_type: alert.job_type.map(str::to_owned),
            state: "firing",
            value: alert.value,
            threshold: alert.threshold,
            message: alert.message.to_owned(),
            fired_at: at,
            node: String::new(),
        }
    }
}

/// Sends notices to the configured webhook and addresses.
#[derive(Debug, Clone)]
pub struct Notifier {
    node: String,
    webhook: Option<(reqwest::Client, String)>,
    email: Option<(EmailSender, Vec<String>)>,
}

impl Notifier {
    /// A notifier for `config`; `node` is written into every notice.
    pub fn new(config: &AlertsConfig, node: &str) -> Self {
        let webhook = config.webhook.is_configured().then(|| {
            let client = reqwest::Client::builder()
                .timeout(config.webhook.timeout)
                .build()
                .unwrap_or_else(|err| {
                    error!(error = %err, "alert webhook client not built; default client used");
                    reqwest::Client::new()
                });
            (client, config.webhook.url.trim().to_owned())
        });
        let email = (!config.email.to.is_empty()).then(|| {
            let smtp = RemindersConfig {
                smtp: config.smtp.clone(),
                ..RemindersConfig::default()
            };
            (EmailSender::new(smtp), config.email.to.clone())
        });
        Self {
            node: node.to_owned(),
            webhook,
            email,
        }
    }

    /// Sends `notice` everywhere configured, email first; failures are logged, not returned.
    pub async fn send(&self, notice: &Notice) {
        let notice = Notice {
            node: self.node.clone(),
            ..notice.clone()
        };
        if let Some((sender, to)) = &self.email {
            let mail = Reminder {
                title: format!("[a1c-jobs] alert {}: {}", notice.rule, notice.state),
                body: format!(
                    "{}\n\nrule: {}\nkind: {}\nsince: {}\nnode: {}\n",
                    notice.message, notice.rule, notice.kind, notice.fired_at, notice.node
                ),
            };
            for address in to {
                if let Err(err) = sender.send(address, &mail).await {
                    error!(rule = %notice.rule, error = %err, "alert email failed");
                }
            }
        }
        if let Some((client, url)) = &self.webhook {
            let sent = client.post(url).json(&notice).send().await;
            let failure = match sent {
                Ok(answer) if answer.status().is_success() => None,
                Ok(answer) => Some(format!("answered {}", answer.status())),
                Err(err) => Some(err.to_string()),
            };
            if let Some(failure) = failure {
                error!(rule = %notice.rule, error = %failure, "alert webhook failed");
            }
        }
    }
}
