//! The stretch of time a report covers: whole local days in the user's time zone.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use crate::job::payload::ReportType;
use crate::schedule::{previous_period, wall_clock_instant, PeriodKind};

/// Why a period could not be placed on the time line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeriodError {
    /// The last day comes before the first.
    #[error("period ends on {end}, before it starts on {start}")]
    EndBeforeStart { start: NaiveDate, end: NaiveDate },
    /// A day at the edge of chrono's calendar, whose midnight has no instant.
    #[error("no instant for local midnight of {0}")]
    OutOfRange(NaiveDate),
}

/// Local days `first_day..=last_day` in `zone`, i.e. the instants `[from, to)` from local
/// midnight of the first day to local midnight after the last.
///
/// A midnight skipped by a DST change (some zones change at 00:00) is taken at the end of the
/// gap, and a midnight that happens twice at its first occurrence, so consecutive periods
/// neither overlap nor leave a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportPeriod {
    pub report_type: ReportType,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub zone: Tz,
    /// Local midnight starting `first_day`, included.
    pub from: DateTime<Utc>,
    /// Local midnight after `last_day`, excluded.
    pub to: DateTime<Utc>,
}

impl ReportPeriod {
    /// The period of local days `first_day..=last_day` in `zone`.
    ///
    /// # Errors
    ///
    /// [`PeriodError::EndBeforeStart`], or [`PeriodError::OutOfRange`] at the calendar's ends.
    pub fn new(
        report_type: ReportType,
        first_day: NaiveDate,
        last_day: NaiveDate,
        zone: Tz,
    ) -> Result<Self, PeriodError> {
        if last_day < first_day {
            return Err(PeriodError::EndBeforeStart {
                start: first_day,
                end: last_day,
            });
        }
        let after = last_day
            .succ_opt()
            .ok_or(PeriodError::OutOfRange(last_day))?;
        Ok(Self {
            report_type,
            first_day,
            last_day,
            zone,
            from: midnight(first_day, zone)?,
            to: midnight(after, zone)?,
        })
    }

    /// The period this one is compared with: for a weekly report the 7 days before its first
    /// day; for a monthly or quarterly one the whole calendar month or quarter before the one
    /// its first day falls in ([`previous_period`]).
    ///
    /// # Errors
    ///
    /// [`PeriodError::OutOfRange`] at the calendar's start.
    pub fn previous(&self) -> Result<Self, PeriodError> {
        let out_of_range = PeriodError::OutOfRange(self.first_day);
        let (first, last) = match self.report_type {
            ReportType::Weekly => {
                let first = self.first_day.checked_sub_days(Days::new(7));
                let last = self.first_day.pred_opt();
                first.zip(last).ok_or(out_of_range)?
            }
            ReportType::Monthly => {
                previous_period(PeriodKind::Monthly, self.first_day).ok_or(out_of_range)?
            }
            ReportType::Quarterly => {
                previous_period(PeriodKind::Quarterly, self.first_day).ok_or(out_of_range)?
            }
        };
        Self::new(self.report_type, first, last, self.zone)
    }

    /// Local calendar days covered, both ends included.
    pub fn num_days(&self) -> u32 {
        let days = (self.last_day - self.first_day).num_days() + 1;
        u32::try_from(days).unwrap_or(u32::MAX)
    }

    /// Real minutes from `from` to `to`: a day with a DST change has 23 or 25 hours.
    pub fn num_minutes(&self) -> u64 {
        u64::try_from((self.to - self.from).num_minutes()).unwrap_or(0)
    }

    /// Whether the instant lies in `[from, to)`.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }

    /// The local calendar day of an instant, in the period's zone.
    pub fn local_day(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.zone).date_naive()
    }
}

/// The instant local midnight of `day` stands for in `zone`.
fn midnight(day: NaiveDate, zone: Tz) -> Result<DateTime<Utc>, PeriodError> {
    wall_clock_instant(zone, day.and_time(NaiveTime::MIN)).ok_or(PeriodError::OutOfRange(day))
}

#[cfg(test)]
mod tests {
    use chrono_tz::{America, Europe, UTC};

    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("test date should parse")
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test time should parse")
            .to_utc()
    }

    fn period(kind: ReportType, first: &str, last: &str, zone: Tz) -> ReportPeriod {
        ReportPeriod::new(kind, day(first), day(last), zone).expect("a valid period")
    }

    #[test]
    fn report_period_runs_from_local_midnight_to_the_midnight_after() {
        let week = period(
            ReportType::Weekly,
            "2024-03-25",
            "2024-03-31",
            Europe::Berlin,
        );

        assert_eq!(week.from, utc("2024-03-24T23:00:00Z"));
        // Clocks spring forward on 2024-03-31, so the week ends at 22:00 UTC and is an hour
        // short.
        assert_eq!(week.to, utc("2024-03-31T22:00:00Z"));
        assert_eq!(week.num_days(), 7);
        assert_eq!(week.num_minutes(), 7 * 1440 - 60);
        assert!(week.contains(week.from));
        assert!(!week.contains(week.to));
    }

    #[test]
    fn report_period_with_a_skipped_midnight_starts_when_the_gap_ends() {
        // Santiago moved clocks from 00:00 to 01:00 on 2022-09-11.
        let days = period(
            ReportType::Weekly,
            "2022-09-11",
            "2022-09-11",
            America::Santiago,
        );

        assert_eq!(days.from, utc("2022-09-11T04:00:00Z"));
        assert_eq!(days.num_minutes(), 23 * 60);
    }

    #[test]
    fn previous_report_periods_by_kind() {
        let weekly = period(ReportType::Weekly, "2016-10-26", "2016-11-01", UTC);
        let monthly = period(ReportType::Monthly, "2024-03-01", "2024-03-31", UTC);
        let quarterly = period(ReportType::Quarterly, "2024-01-01", "2024-03-31", UTC);

        let weekly = weekly.previous().expect("a previous week");
        let monthly = monthly.previous().expect("a previous month");
        let quarterly = quarterly.previous().expect("a previous quarter");

        assert_eq!(
            (weekly.first_day, weekly.last_day),
            (day("2016-10-19"), day("2016-10-25"))
        );
        assert_eq!(
            (monthly.first_day, monthly.last_day),
            (day("2024-02-01"), day("2024-02-29"))
        );
        assert_eq!(
            (quarterly.first_day, quarterly.last_day),
            (day("2023-10-01"), day("2023-12-31"))
        );
    }

    #[test]
    fn report_period_refuses_reversed_days_and_calendar_ends() {
        let reversed = ReportPeriod::new(
            ReportType::Weekly,
            day("2024-01-02"),
            day("2024-01-01"),
            UTC,
        );
        let at_end = ReportPeriod::new(ReportType::Weekly, NaiveDate::MAX, NaiveDate::MAX, UTC);

        assert!(matches!(reversed, Err(PeriodError::EndBeforeStart { .. })));
        assert_eq!(at_end, Err(PeriodError::OutOfRange(NaiveDate::MAX)));
    }
}
