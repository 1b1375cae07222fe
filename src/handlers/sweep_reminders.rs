//! `SWEEP_REMINDERS` (internal): enqueues `SEND_REMINDER` for every enabled reminder whose slot
//! has come. The `reminders` schedule runs it every minute.
//!
//! Each job carries `unique_key = "reminder:{preference id}:{slot}"`, so racing nodes and
//! repeated sweeps enqueue one job per live slot; a key already held counts as done. A unique
//! key guards only live jobs: what keeps a finished slot from being enqueued again is that
//! `SEND_REMINDER` advances `next_reminder_at` before it completes.
//!
//! A preference the app wrote without `next_reminder_at` gets its first slot (the first after
//! the sweep) before the due ones are read.
//!
//! One sweep enqueues at most [`SWEEP_LIMIT`] reminders, earliest slot first; the rest wait for
//! the next minute's sweep.

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::Serialize;
use serde_json::json;
use tracing::{info, warn};
use uuid::Uuid;

use super::send_reminder::slot_text;
use super::{Handler, JobContext};
use crate::job::{JobError, NewJob, Outcome, SEND_REMINDER};
use crate::schedule::{reminder_schedule, ReminderRule};
use crate::store::reminder::{self, method_word, type_word, NewPreference};
use crate::store::{job as jobs, user, Db, StoreError};

/// Most reminders one sweep enqueues.
pub const SWEEP_LIMIT: u32 = 10_000;

/// The handler; it has no settings.
#[derive(Debug, Clone, Default)]
pub struct SweepReminders;

impl Handler for SweepReminders {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Outcome> {
        async move {
            match sweep(&ctx.db, Utc::now()).await {
                Ok(summary) => Outcome::Complete(json!(summary)),
                Err(err) => JobError::Transient(err.to_string()).into_outcome(),
            }
        }
        .boxed()
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Swept {
    /// Jobs enqueued.
    pub enqueued: u32,
    /// Due slots that already had a live job.
    pub already_enqueued: u32,
    /// Preferences without a slot (written by the app) that got their first one.
    pub scheduled: u32,
}

/// Enqueues `SEND_REMINDER` for each enabled reminder whose slot is at or before `now`.
///
/// # Errors
///
/// The database failed; jobs enqueued before the failure stay.
pub async fn sweep(db: &Db, now: DateTime<Utc>) -> Result<Swept, StoreError> {
    let mut swept = Swept {
        scheduled: schedule_new(db, now).await?,
        ..Swept::default()
    };
    for due in reminder::due(db, now, SWEEP_LIMIT).await? {
        let payload = json!({
            "user_id": due.user_id,
            "reminder_type": type_word(due.reminder_type),
            "notification_method": method_word(due.method),
            "slot": slot_text(due.slot),
        });
        let key = format!("reminder:{}:{}", due.id, slot_text(due.slot));
        let job = NewJob::new(SEND_REMINDER, payload).unique_key(key);
        match jobs::insert(db, &job, now).await {
            Ok(_) => swept.enqueued += 1,
            Err(StoreError::UniqueKeyTaken { .. }) => swept.already_enqueued += 1,
            Err(err) => return Err(err),
        }
    }
    if swept.enqueued > 0 {
        info!(enqueued = swept.enqueued, "reminders enqueued");
    }
    Ok(swept)
}

/// Gives each enabled preference without a slot its first slot after `now`. A preference whose
/// rule or zone is invalid is left without one, with a warning at each sweep.
async fn schedule_new(db: &Db, now: DateTime<Utc>) -> Result<u32, StoreError> {
    let mut scheduled = 0;
    for pref in reminder::unscheduled(db, SWEEP_LIMIT).await? {
        let rule = ReminderRule {
            kind: pref.reminder_type,
            local_time: &pref.local_time,
            weekday: pref.weekday,
            cron: pref.cron.as_deref(),
        };
        let next = match reminder_schedule(rule, &pref.zone) {
            Ok(schedule) => schedule.next_after(now),
            Err(err) => {
                warn!(preference_id = %pref.id, error = %err, "reminder cannot be scheduled");
                continue;
            }
        };
        if let Some(next) = next {
            if reminder::schedule_first(db, pref.id, next).await? {
                scheduled += 1;
            }
        }
    }
    Ok(scheduled)
}

/// Why a preference could not be saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreferenceError {
    /// The rule or zone is invalid.
    #[error("invalid reminder: {0}")]
    Invalid(#[from] crate::schedule::ScheduleError),
    /// The user does not exist.
    #[error("unknown user {0}")]
    UnknownUser(Uuid),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates or replaces a reminder preference, with its first slot after `now` in its zone
/// (its own, else the user's). Returns the preference's id.
///
/// # Errors
///
/// [`PreferenceError`]: an invalid rule or zone, an unknown user, or the database failed.
pub async fn save_preference(
    db: &Db,
    new: &NewPreference,
    now: DateTime<Utc>,
) -> Result<Uuid, PreferenceError> {
    let user = user::get(db, new.user_id)
        .await?
        .ok_or(PreferenceError::UnknownUser(new.user_id))?;
    let zone = new.time_zone.as_deref().unwrap_or(&user.timezone);
    let rule = ReminderRule {
        kind: new.reminder_type,
        local_time: &new.local_time,
        weekday: new.weekday,
        cron: new.cron.as_deref(),
    };
    let next = reminder_schedule(rule, zone)?.next_after(now);
    Ok(reminder::upsert(db, new, next, now).await?)
}
