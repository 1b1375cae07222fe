//! Email through SMTP (lettre), or into a folder of `.eml` files when no server is configured.

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{DeliveryError, Reminder};
use crate::config::reminders::{RemindersConfig, SmtpConfig, SmtpTls};

/// Sends reminder emails as the config says: SMTP when `smtp.host` is set, else the outbox.
#[derive(Debug, Clone)]
pub struct EmailSender {
    config: RemindersConfig,
}

impl EmailSender {
    /// A sender for `config`.
    pub fn new(config: RemindersConfig) -> Self {
        Self { config }
    }

    /// Sends `reminder` to `to`; returns where it went (`smtp` or the outbox file's id).
    ///
    /// # Errors
    ///
    /// [`DeliveryError::Permanent`] for a bad address or a permanent SMTP reply,
    /// [`DeliveryError::Transient`] for anything that may pass (connection, timeout, 4xx reply,
    /// a full disk).
    pub async fn send(&self, to: &str, reminder: &Reminder) -> Result<String, DeliveryError> {
        let message = self.message(to, reminder)?;
        let smtp = &self.config.smtp;
        if smtp.is_configured() {
            let transport = smtp_transport(smtp)?;
            transport.send(message).await.map_err(|err| {
                if err.is_permanent() {
                    DeliveryError::Permanent(format!("smtp: {err}"))
                } else {
                    DeliveryError::Transient(format!("smtp: {err}"))
                }
            })?;
            return Ok("smtp".to_owned());
        }
        let dir = &self.config.outbox_dir;
        std::fs::create_dir_all(dir).map_err(|err| {
            DeliveryError::Transient(format!("cannot create outbox {}: {err}", dir.display()))
        })?;
        AsyncFileTransport::<Tokio1Executor>::new(dir)
            .send(message)
            .await
            .map_err(|err| DeliveryError::Transient(format!("outbox {}: {err}", dir.display())))
    }

    fn message(&self, to: &str, reminder: &Reminder) -> Result<Message, DeliveryError> {
        let to: Mailbox = to
            .parse()
            .map_err(|err| DeliveryError::Permanent(format!("recipient {to:?}: {err}")))?;
        let from: Mailbox = self.config.smtp.from.parse().map_err(|err| {
            DeliveryError::Permanent(format!("reminders.smtp.from is invalid: {err}"))
        })?;
        Message::builder()
            .from(from)
            .to(to)
            .subject(reminder.title.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(reminder.body.clone())
            .map_err(|err| DeliveryError::Permanent(format!("cannot build message: {err}")))
    }
}

/// The SMTP transport of `smtp`, secured as its `tls` says.
fn smtp_transport(smtp: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, DeliveryError> {
    let host = smtp.host.trim();
    let builder = match smtp.tls {
        SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
        SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            host,
        )),
    }
    .map_err(|err| DeliveryError::Permanent(format!("smtp host {host:?}: {err}")))?;
    let mut builder = builder.port(smtp.port).timeout(Some(smtp.timeout));
    if !smtp.username.is_empty() {
        let credentials = Credentials::new(smtp.username.clone(), smtp.password.clone());
        builder = builder.credentials(credentials);
    }
    Ok(builder.build())
}
