//! Cron schedules: when recurring jobs fire, and which report period a run covers.
//!
//! A [`Schedule`] pairs a [`CronExpr`] with an IANA time zone. The expression is read against
//! the zone's wall clock, so `0 8 * * *` fires at 08:00 local time all year round, and fire
//! times are handed out as UTC instants.
//!
//! # Daylight saving time
//!
//! Wall-clock time is not a line: when clocks spring forward an hour never happens, and when
//! they fall back an hour happens twice. The policy, the same for every zone:
//!
//! - a **skipped** time (02:30 on 2026-03-29 in Europe/Berlin) fires at the instant the gap
//!   ends (03:00 local, 01:00 UTC). Several skipped times that land on the same instant fire
//!   once there;
//! - a **repeated** time (02:30 on 2026-10-25 in Europe/Berlin) fires once, at its first
//!   occurrence;
//! - every other time fires at its only occurrence.
//!
//! The `cron` crate can apply a zone itself, but then skips gap times and fires repeated ones
//! twice. We only use it to walk the calendar in zone-free wall-clock time, and map each match
//! to an instant ourselves (see `dst`).
//!
//! # Report periods
//!
//! [`previous_period`] names the dates a scheduled report covers: the whole week, month or
//! quarter that ended before the run's local date.

mod cron_expr;
mod dst;
mod field;
mod period;
#[cfg(test)]
mod proptests;
mod reminder;
mod upcoming;

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;

pub use cron_expr::CronExpr;
pub use period::{previous_period, PeriodKind};
pub use reminder::{reminder_schedule, ReminderRule};
pub use upcoming::{upcoming, FireTime, Upcoming};

// The instant a local wall-clock time stands for, under the DST policy above (reports use it
// for local midnights).
pub(crate) use dst::resolve as wall_clock_instant;

/// Why a schedule or report period could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The cron expression is malformed: wrong field count, bad value, range or step.
    #[error("invalid cron expression `{expr}`: {reason}")]
    InvalidExpression {
        /// The expression as given.
        expr: String,
        /// What is wrong with it, naming the field at fault.
        reason: String,
    },
    /// The time zone is not a known IANA name such as `Europe/Berlin`.
    #[error("unknown time zone `{0}`")]
    UnknownTimeZone(String),
    /// The cron expression is well formed but no date matches it, such as February 30.
    #[error("cron expression `{0}` never fires")]
    NeverFires(String),
    /// The report period is not `weekly`, `monthly` or `quarterly`.
    #[error("unknown report period `{0}`, expected weekly, monthly or quarterly")]
    UnknownPeriodKind(String),
}

/// A cron expression evaluated on the wall clock of one time zone.
///
/// Fire times follow the DST policy in the [module docs](self) and exist only in the years
/// 1970 to 2100 (local time), the range the `cron` crate walks.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: CronExpr,
    time_zone: Tz,
}

impl Schedule {
    /// Parses `expr` (see [`CronExpr`]) and looks up `time_zone`, an IANA name such as
    /// `America/New_York`; names are case-sensitive.
    ///
    /// # Errors
    ///
    /// Any error of [`CronExpr::parse`], or [`ScheduleError::UnknownTimeZone`].
    pub fn new(expr: &str, time_zone: &str) -> Result<Self, ScheduleError> {
        let expr = CronExpr::parse(expr)?;
        let time_zone = time_zone
            .parse::<Tz>()
            .map_err(|_| ScheduleError::UnknownTimeZone(time_zone.to_owned()))?;
        Ok(Self::from_parts(expr, time_zone))
    }

    /// Builds a schedule from an already parsed expression and zone.
    pub fn from_parts(expr: CronExpr, time_zone: Tz) -> Self {
        Self { expr, time_zone }
    }

    /// The cron expression.
    pub fn expr(&self) -> &CronExpr {
        &self.expr
    }

    /// The time zone whose wall clock the expression is read against.
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The first fire time strictly after `after`, or `None` if there is none before 2101.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut cursor = dst::wall_clock(self.time_zone, after)?.trunc_subsecs(0);

        // Wall-clock times map to instants in order, so the first match past `after` wins.
        // Matches that map to `after` or earlier only occur within a repeated hour.
        loop {
            let local = self.expr.next_local_after(cursor)?;
            let fire = dst::resolve(self.time_zone, local)?;
            if fire > after {
                return Some(fire);
            }
            cursor = local;
        }
    }

    /// Fire times in `(from, to]`, earliest first, at most `limit` of them.
    pub fn fires_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut fires = Vec::new();
        let mut cursor = from;
        while fires.len() < limit {
            let Some(fire) = self.next_after(cursor).filter(|fire| *fire <= to) else {
                break;
            };
            fires.push(fire);
            cursor = fire;
        }
        fires
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDateTime;

    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
            .expect("test time should parse")
            .and_utc()
    }

    fn schedule(expr: &str, time_zone: &str) -> Schedule {
        Schedule::new(expr, time_zone).expect("schedule should be valid")
    }

    /// Fire times in `(from, to]` as UTC text, for compact assertions.
    fn fires(schedule: &Schedule, from: &str, to: &str) -> Vec<String> {
        let fires = schedule.fires_between(utc(from), utc(to), 100);
        fires
            .iter()
            .map(|fire| fire.format("%Y-%m-%d %H:%M").to_string())
            .collect()
    }

    #[test]
    fn skipped_hour_fires_at_gap_end_in_berlin() {
        let nightly = schedule("30 2 * * *", "Europe/Berlin");

        let fired = fires(&nightly, "2026-03-28 12:00", "2026-03-30 12:00");

        assert_eq!(fired, ["2026-03-29 01:00", "2026-03-30 00:30"]);
    }

    #[test]
    fn skipped_hour_fires_at_gap_end_in_new_york() {
        let nightly = schedule("30 2 * * *", "America/New_York");

        let fired = fires(&nightly, "2026-03-07 12:00", "2026-03-09 12:00");

        assert_eq!(fired, ["2026-03-08 07:00", "2026-03-09 06:30"]);
    }

    #[test]
    fn skipped_times_sharing_a_gap_end_fire_once() {
        let quarter_hourly = schedule("*/15 2 * * *", "Europe/Berlin");

        let fired = fires(&quarter_hourly, "2026-03-28 12:00", "2026-03-29 12:00");

        assert_eq!(fired, ["2026-03-29 01:00"]);
    }

    #[test]
    fn repeated_hour_fires_once_in_berlin() {
        let nightly = schedule("30 2 * * *", "Europe/Berlin");

        let fired = fires(&nightly, "2026-10-24 12:00", "2026-10-26 12:00");

        assert_eq!(fired, ["2026-10-25 00:30", "2026-10-26 01:30"]);
    }

    #[test]
    fn repeated_hour_fires_once_in_new_york() {
        let nightly = schedule("30 1 * * *", "America/New_York");

        let fired = fires(&nightly, "2026-10-31 12:00", "2026-11-02 12:00");

        assert_eq!(fired, ["2026-11-01 05:30", "2026-11-02 06:30"]);
    }

    #[test]
    fn every_minute_skips_second_pass_of_repeated_hour() {
        let every_minute = schedule("* * * * *", "Europe/Berlin");

        // 00:59 UTC is 02:59 CEST; 01:00 UTC is 02:00 CET, a repeat.
        let fired = fires(&every_minute, "2026-10-25 00:58", "2026-10-25 02:01");

        assert_eq!(
            fired,
            ["2026-10-25 00:59", "2026-10-25 02:00", "2026-10-25 02:01"]
        );
    }

    #[test]
    fn start_inside_repeated_hour_skips_to_next_new_time() {
        let every_minute = schedule("* * * * *", "Europe/Berlin");

        // 01:30 UTC is the second 02:30 in Berlin; its matches fired during the first pass.
        let next = every_minute.next_after(utc("2026-10-25 01:30"));

        assert_eq!(next, Some(utc("2026-10-25 02:00")));
    }

    #[test]
    fn daily_eight_am_in_kolkata_is_always_0230_utc() {
        let daily = schedule("0 8 * * *", "Asia/Kolkata");

        let fired = fires(&daily, "2026-03-27 00:00", "2026-03-30 00:00");

        assert_eq!(
            fired,
            ["2026-03-27 02:30", "2026-03-28 02:30", "2026-03-29 02:30"]
        );
    }

    #[test]
    fn daily_eight_am_in_berlin_follows_dst() {
        let daily = schedule("0 8 * * *", "Europe/Berlin");

        let spring = fires(&daily, "2026-03-28 00:00", "2026-03-30 00:00");
        let autumn = fires(&daily, "2026-10-24 00:00", "2026-10-26 00:00");

        assert_eq!(spring, ["2026-03-28 07:00", "2026-03-29 06:00"]);
        assert_eq!(autumn, ["2026-10-24 06:00", "2026-10-25 07:00"]);
    }

    #[test]
    fn next_after_is_strictly_after() {
        let daily = schedule("0 8 * * *", "UTC");

        assert_eq!(
            daily.next_after(utc("2026-06-01 08:00")),
            Some(utc("2026-06-02 08:00"))
        );
        assert_eq!(
            daily.next_after(utc("2026-06-01 07:59")),
            Some(utc("2026-06-01 08:00"))
        );
    }

    #[test]
    fn fires_between_respects_limit_and_end() {
        let hourly = schedule("0 * * * *", "UTC");

        let limited = hourly.fires_between(utc("2026-06-01 00:00"), utc("2026-06-02 00:00"), 3);
        let bounded = hourly.fires_between(utc("2026-06-01 00:00"), utc("2026-06-01 02:00"), 9);

        assert_eq!(limited.len(), 3);
        assert_eq!(bounded, [utc("2026-06-01 01:00"), utc("2026-06-01 02:00")]);
        assert!(hourly
            .fires_between(utc("2026-06-01 00:00"), utc("2026-06-02 00:00"), 0)
            .is_empty());
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        let daily = schedule("0 8 * * *", "Asia/Tokyo");

        assert_eq!(daily.next_after(DateTime::<Utc>::MAX_UTC), None);
        assert_eq!(daily.next_after(utc("2100-12-31 12:00")), None);
        assert_eq!(
            daily.next_after(DateTime::<Utc>::MIN_UTC),
            Some(utc("1969-12-31 23:00"))
        );
    }

    #[test]
    fn unknown_time_zone_is_rejected() {
        let err = Schedule::new("0 8 * * *", "Europe/Atlantis").unwrap_err();

        assert!(
            matches!(err, ScheduleError::UnknownTimeZone(ref zone) if zone == "Europe/Atlantis")
        );
        assert_eq!(err.to_string(), "unknown time zone `Europe/Atlantis`");
    }

    #[test]
    fn never_firing_expression_is_rejected_by_schedule() {
        let err = Schedule::new("0 0 30 2 *", "UTC").unwrap_err();

        assert_eq!(err.to_string(), "cron expression `0 0 30 2 *` never fires");
    }
}
