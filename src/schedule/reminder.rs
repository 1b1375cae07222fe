//! Reminder slots: a reading reminder's repetition as a [`Schedule`] in the user's zone.
//!
//! A daily reminder at `HH:MM` is `M H * * *`, a weekly one `M H * * W` (Sunday 0), a custom one
//! its own cron expression; each is read on the wall clock of the reminder's zone, so the DST
//! policy of the [module docs](super) applies: a daily 08:00 stays at 08:00 local all year.

use super::{Schedule, ScheduleError};
use crate::job::payload::ReminderType;

/// How a reminder repeats, as stored in `reminder_preferences`.
#[derive(Debug, Clone, Copy)]
pub struct ReminderRule<'a> {
    pub kind: ReminderType,
    /// `HH:MM`, 24-hour; used by daily and weekly reminders.
    pub local_time: &'a str,
    /// Sunday 0 to Saturday 6; weekly reminders only.
    pub weekday: Option<i16>,
    /// A 5- or 6-field cron expression; custom reminders only.
    pub cron: Option<&'a str>,
}

/// The schedule of `rule` on the wall clock of `time_zone` (an IANA name).
///
/// # Errors
///
/// [`ScheduleError::InvalidExpression`] for a malformed local time, a missing or out-of-range
/// weekday, or a missing or malformed cron expression; [`ScheduleError::UnknownTimeZone`].
pub fn reminder_schedule(
    rule: ReminderRule<'_>,
    time_zone: &str,
) -> Result<Schedule, ScheduleError> {
    let expr = match rule.kind {
        ReminderType::Daily => {
            let (hour, minute) = parse_local_time(rule.local_time)?;
            format!("{minute} {hour} * * *")
        }
        ReminderType::Weekly => {
            let (hour, minute) = parse_local_time(rule.local_time)?;
            let weekday = rule
                .weekday
                .filter(|day| (0..=6).contains(day))
                .ok_or_else(|| invalid(rule.local_time, "weekly needs a weekday 0 to 6"))?;
            format!("{minute} {hour} * * {weekday}")
        }
        ReminderType::Custom => rule
            .cron
            .ok_or_else(|| invalid("", "a custom reminder needs a cron expression"))?
            .to_owned(),
    };
    Schedule::new(&expr, time_zone)
}

/// Hours and minutes of `HH:MM` (00:00 to 23:59).
fn parse_local_time(text: &str) -> Result<(u32, u32), ScheduleError> {
    let bad = || invalid(text, "local time must be HH:MM, 00:00 to 23:59");
    let (hour, minute) = text.split_once(':').ok_or_else(bad)?;
    if hour.len() != 2 || minute.len() != 2 {
        return Err(bad());
    }
    let hour: u32 = hour.parse().map_err(|_| bad())?;
    let minute: u32 = minute.parse().map_err(|_| bad())?;
    if hour > 23 || minute > 59 {
        return Err(bad());
    }
    Ok((hour, minute))
}

fn invalid(expr: &str, reason: &str) -> ScheduleError {
    ScheduleError::InvalidExpression {
        expr: expr.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().expect("test time should parse")
    }

    fn rule(kind: ReminderType, local_time: &str) -> ReminderRule<'_> {
        ReminderRule {
            kind,
            local_time,
            weekday: None,
            cron: None,
        }
    }

    #[test]
    fn daily_reminder_fires_at_local_time() {
        let schedule = reminder_schedule(rule(ReminderType::Daily, "08:00"), "Asia/Kolkata")
            .expect("valid rule");

        let next = schedule.next_after(utc("2026-01-10T00:00:00Z"));

        assert_eq!(next, Some(utc("2026-01-10T02:30:00Z")));
    }

    #[test]
    fn weekly_reminder_fires_on_its_weekday() {
        let weekly = ReminderRule {
            weekday: Some(1),
            ..rule(ReminderType::Weekly, "19:45")
        };
        let schedule = reminder_schedule(weekly, "UTC").expect("valid rule");

        // 2026-01-10 is a Saturday; the next Monday is the 12th.
        let next = schedule.next_after(utc("2026-01-10T00:00:00Z"));

        assert_eq!(next, Some(utc("2026-01-12T19:45:00Z")));
    }

    #[test]
    fn refuses_malformed_rules() {
        for bad in ["8:00", "24:00", "08:60", "0800", "ab:cd", ""] {
            assert!(
                reminder_schedule(rule(ReminderType::Daily, bad), "UTC").is_err(),
                "{bad}"
            );
        }
        assert!(reminder_schedule(rule(ReminderType::Weekly, "08:00"), "UTC").is_err());
        assert!(reminder_schedule(rule(ReminderType::Custom, "08:00"), "UTC").is_err());
        assert!(reminder_schedule(rule(ReminderType::Daily, "08:00"), "Mars/Base").is_err());
    }
}
