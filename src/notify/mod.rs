//! Delivery of reminders: email ([`email`]), signed webhook push ([`push`]) and in-app.
//!
//! In-app needs no sender: the `notifications` row is the delivery. Email and push talk to
//! another system, so they are at least once: an attempt that dies after the send but before
//! the outcome is recorded sends again on retry.

pub mod email;
pub mod push;

/// Why a delivery failed, split by whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// May pass: a timeout, a refused connection, a 5xx answer, a transient SMTP reply.
    #[error("delivery failed, may pass: {0}")]
    Transient(String),
    /// Retrying cannot fix it: a 4xx answer, a permanent SMTP reply, a bad address or setting.
    #[error("delivery failed: {0}")]
    Permanent(String),
}

/// A reminder as the user reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    pub title: String,
    pub body: String,
}
