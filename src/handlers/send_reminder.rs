//! `SEND_REMINDER`: reminds one user to log a glucose reading, by email, push or in-app.
//!
//! The payload is the seed's `{user_id, reminder_type, notification_method}`, naming one row of
//! `reminder_preferences`; the reminder sweep adds the `slot` it enqueued the job for. A job the
//! app inserts without a slot serves the preference's slot if it has come, else reminds now
//! (and leaves the next slot as it is).
//!
//! Steps: an unknown preference fails the job; a disabled one completes with
//! `{"skipped": "disabled"}`. A reading within `[reminders] skip_if_reading_within` records a
//! `SKIPPED` notification and sends nothing. Otherwise the notification is recorded (dedupe key
//! `reminder:{preference id}:{slot}`) and sent, and `next_reminder_at` moves to the first slot
//! after both the served slot and now, in the reminder's zone; missed slots are not caught up.
//!
//! Idempotence: the dedupe key makes in-app exactly once, and a notification already `SENT` or
//! `SKIPPED` is not sent again. Email and push are at least once: an attempt that dies between
//! the send and marking the row `SENT` sends again on retry. The slot is advanced before the job
//! completes, so a finished slot is never enqueued again. A permanent failure, or a retryable one
//! on the last attempt, gives the slot up (the row is `FAILED`) so the sweep does not retry it;
//! so does a new job for a slot whose row an earlier job left `PENDING` (that job's attempts ran
//! out through timeouts or lost leases, where the handler could not settle the slot).

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde_json::{json, Value};
use tracing::debug;

use super::{Handler, JobContext};
use crate::config::RemindersConfig;
use crate::job::payload::{self, NotificationMethod, PayloadError, SendReminder as Payload};
use crate::job::{JobError, Outcome, SEND_REMINDER};
use crate::notify::email::EmailSender;
use crate::notify::push::PushSender;
use crate::notify::{DeliveryError, Reminder};
use crate::schedule::{reminder_schedule, ReminderRule};
use crate::store::notification::{self, NewNotification};
use crate::store::reminder::{self, Preference};
use crate::store::{reading, user, Db, StoreError};

/// The handler, with its delivery settings.
#[derive(Debug, Clone)]
pub struct SendReminder {
    config: RemindersConfig,
    email: EmailSender,
    push: Result<PushSender, DeliveryError>,
}

impl Default for SendReminder {
    fn default() -> Self {
        Self::new(RemindersConfig::default())
    }
}

impl Handler for SendReminder {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Outcome> {
        let this = self.clone();
        async move {
            let attempt = Attempt {
                number: ctx.job.attempt,
                max: ctx.job.max_attempts,
            };
            this.run_at(&ctx.db, &ctx.job.payload, Utc::now(), attempt)
                .await
                .unwrap_or_else(JobError::into_outcome)
        }
        .boxed()
    }
}

/// Which attempt of its job a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// 1-based.
    pub number: i32,
    /// Runs the job may have in all.
    pub max: i32,
}

impl Attempt {
    /// Whether no attempt follows this one.
    pub fn is_last(self) -> bool {
        self.number >= self.max
    }
}

/// Where one reminder stands: the preference, the slot it serves and the slot after it.
struct Turn {
    pref: Preference,
    slot: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
    key: String,
}

impl SendReminder {
    /// A handler delivering as `config` says.
    pub fn new(config: RemindersConfig) -> Self {
        Self {
            email: EmailSender::new(config.clone()),
            push: PushSender::new(config.push.clone()),
            config,
        }
    }

    /// Runs one attempt of a job at time `now`.
    ///
    /// # Errors
    ///
    /// A bad payload or unknown preference (the job fails), or a database error (it retries).
    pub async fn run_at(
        &self,
        db: &Db,
        payload: &Value,
        now: DateTime<Utc>,
        attempt: Attempt,
    ) -> Result<Outcome, JobError> {
        let payload = parse(payload)?;
        let pref = reminder::find(
            db,
            payload.user_id,
            payload.reminder_type,
            payload.notification_method,
        )
        .await
        .map_err(store_error)?
        .ok_or_else(|| JobError::NotFound(unknown(&payload)))?;
        if !pref.enabled {
            return Ok(Outcome::Complete(json!({"skipped": "disabled"})));
        }
        let turn = match turn_of(pref, payload.slot, now) {
            Ok(turn) => turn,
            Err(message) => return Ok(Outcome::Fail(message)),
        };

        let done = notification::status_by_key(db, &turn.key)
            .await
            .map_err(store_error)?;
        if matches!(done.as_deref(), Some("SENT" | "SKIPPED" | "FAILED")) {
            advance(db, &turn, None).await?;
            return Ok(complete(&turn, "already_done"));
        }
        if done.as_deref() == Some("PENDING") && attempt.number <= 1 {
            return give_up(db, &turn, now).await;
        }
        if self.has_recent_reading(db, &turn, now).await? {
            // A retry may find the row an earlier attempt left PENDING: settle it too.
            record(db, &turn, "SKIPPED", now).await?;
            notification::set_status(db, &turn.key, "SKIPPED", None, now)
                .await
                .map_err(store_error)?;
            advance(db, &turn, None).await?;
            return Ok(complete(&turn, "recent_reading"));
        }
        self.deliver(db, &turn, now, attempt.is_last()).await
    }

    async fn has_recent_reading(
        &self,
        db: &Db,
        turn: &Turn,
        now: DateTime<Utc>,
    ) -> Result<bool, JobError> {
        let span = self.config.skip_if_reading_within;
        if span.is_zero() {
            return Ok(false);
        }
        let latest = reading::latest_at(db, turn.pref.user_id, now)
            .await
            .map_err(store_error)?;
        let since = now
            .checked_sub_signed(crate::store::delta(span))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        Ok(latest.is_some_and(|at| at >= since))
    }

    /// Records the notification, sends it, and settles the row and the slot.
    async fn deliver(
        &self,
        db: &Db,
        turn: &Turn,
        now: DateTime<Utc>,
        is_last: bool,
    ) -> Result<Outcome, JobError> {
        let method = turn.pref.method;
        if method == NotificationMethod::InApp {
            record(db, turn, "SENT", now).await?;
            advance(db, turn, Some(now)).await?;
            return Ok(complete(turn, "sent"));
        }
        record(db, turn, "PENDING", now).await?;

        let sent = match method {
            NotificationMethod::Email => self.send_email(db, turn).await?,
            _ => self.send_push(turn).await,
        };
        match sent {
            Ok(()) => {
                notification::set_status(db, &turn.key, "SENT", None, now)
                    .await
                    .map_err(store_error)?;
                advance(db, turn, Some(now)).await?;
                Ok(complete(turn, "sent"))
            }
            Err(DeliveryError::Transient(reason)) if !is_last => {
                notification::set_status(db, &turn.key, "PENDING", Some(&reason), now)
                    .await
                    .map_err(store_error)?;
                Ok(Outcome::Retry(reason))
            }
            Err(err) => {
                let reason = err.to_string();
                notification::set_status(db, &turn.key, "FAILED", Some(&reason), now)
                    .await
                    .map_err(store_error)?;
                advance(db, turn, None).await?;
                Ok(Outcome::Fail(reason))
            }
        }
    }

    async fn send_email(
        &self,
        db: &Db,
        turn: &Turn,
    ) -> Result<Result<(), DeliveryError>, JobError> {
        let user = user::get(db, turn.pref.user_id)
            .await
            .map_err(store_error)?;
        let Some(address) = user.and_then(|u| u.email).filter(|e| !e.trim().is_empty()) else {
            let reason = format!("user {} has no email address", turn.pref.user_id);
            return Ok(Err(DeliveryError::Permanent(reason)));
        };
        let sent = self.email.send(&address, &message(turn)).await;
        debug!(outcome = ?sent, "reminder email");
        Ok(sent.map(drop))
    }

    async fn send_push(&self, turn: &Turn) -> Result<(), DeliveryError> {
        let sender = self.push.as_ref().map_err(Clone::clone)?;
        let text = message(turn);
        let body = json!({
            "notification": turn.key,
            "user_id": turn.pref.user_id,
            "reminder_type": reminder::type_word(turn.pref.reminder_type),
            "slot": slot_text(turn.slot),
            "title": text.title,
            "body": text.body,
        });
        sender.send(&body).await.map(drop)
    }
}

/// The payload, checked as at enqueue.
fn parse(value: &Value) -> Result<Payload, JobError> {
    payload::parse(SEND_REMINDER, value).map_err(|err| match err {
        PayloadError::Invalid { message, .. } => JobError::InvalidPayload(message),
        other => JobError::InvalidPayload(other.to_string()),
    })
}

fn unknown(payload: &Payload) -> String {
    format!(
        "user {} has no {} {} reminder",
        payload.user_id,
        reminder::type_word(payload.reminder_type),
        reminder::method_word(payload.notification_method),
    )
}

/// The slot this job serves and the one after it; an error message when the preference's
/// rule or zone is invalid.
fn turn_of(
    pref: Preference,
    slot: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Turn, String> {
    let rule = ReminderRule {
        kind: pref.reminder_type,
        local_time: &pref.local_time,
        weekday: pref.weekday,
        cron: pref.cron.as_deref(),
    };
    let schedule = reminder_schedule(rule, &pref.zone)
        .map_err(|err| format!("reminder preference {} is invalid: {err}", pref.id))?;
    let slot = slot
        .or(pref.next_reminder_at.filter(|due| *due <= now))
        .unwrap_or(now);
    let next = schedule.next_after(slot.max(now));
    let key = format!("reminder:{}:{}", pref.id, slot_text(slot));
    Ok(Turn {
        pref,
        slot,
        next,
        key,
    })
}

/// A slot as keys and payloads write it.
pub fn slot_text(slot: DateTime<Utc>) -> String {
    slot.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn message(turn: &Turn) -> Reminder {
    let kind = reminder::type_word(turn.pref.reminder_type);
    Reminder {
        title: "Time to log your glucose".to_owned(),
        body: format!(
            "This is your {kind} reminder to log a glucose reading in the A1C Estimator."
        ),
    }
}

async fn record(
    db: &Db,
    turn: &Turn,
    status: &'static str,
    now: DateTime<Utc>,
) -> Result<(), JobError> {
    let text = message(turn);
    let new = NewNotification {
        user_id: turn.pref.user_id,
        channel: reminder::method_word(turn.pref.method).to_owned(),
        kind: "reading_reminder".to_owned(),
        title: text.title,
        body: text.body,
        data: json!({"preference_id": turn.pref.id, "slot": slot_text(turn.slot)}),
        dedupe_key: Some(turn.key.clone()),
        status,
    };
    notification::record(db, &new, now)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// A slot whose notification is still `PENDING` when a new job (first attempt) comes for it:
/// an earlier job for the slot ended without settling it (its attempts ran out through
/// timeouts or lost leases). The slot is given up, so the sweep does not enqueue it forever.
async fn give_up(db: &Db, turn: &Turn, now: DateTime<Utc>) -> Result<Outcome, JobError> {
    let reason = "an earlier job for this slot ended without delivering it";
    notification::set_status(db, &turn.key, "FAILED", Some(reason), now)
        .await
        .map_err(store_error)?;
    advance(db, turn, None).await?;
    Ok(Outcome::Fail(format!("reminder {}: {reason}", turn.key)))
}

/// Moves the preference past the served slot (a no-op when it already moved).
async fn advance(db: &Db, turn: &Turn, sent_at: Option<DateTime<Utc>>) -> Result<(), JobError> {
    reminder::advance(db, turn.pref.id, turn.slot, turn.next, sent_at)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// The job's result: `{"sent": method}` or `{"skipped": why}`, the key and the next slot.
fn complete(turn: &Turn, status: &str) -> Outcome {
    let (field, value) = match status {
        "sent" => ("sent", reminder::method_word(turn.pref.method)),
        why => ("skipped", why),
    };
    let mut result = json!({
        "notification": turn.key,
        "next_reminder_at": turn.next.map(slot_text),
    });
    result[field] = Value::from(value);
    Outcome::Complete(result)
}

fn store_error(err: StoreError) -> JobError {
    JobError::Transient(err.to_string())
}
