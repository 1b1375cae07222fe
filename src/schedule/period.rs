//! Report periods: the week, month or quarter a scheduled report covers.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, NaiveDate};

use super::ScheduleError;

/// The length of period a scheduled report summarises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeriodKind {
    /// An ISO week, Monday to Sunday.
    Weekly,
    /// A calendar month.
    Monthly,
    /// A calendar quarter: January-March, April-June, July-September or October-December.
    Quarterly,
}

impl PeriodKind {
    /// Parses `weekly`, `monthly` or `quarterly`, ignoring ASCII case.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::UnknownPeriodKind`] for any other text.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        [Self::Weekly, Self::Monthly, Self::Quarterly]
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| ScheduleError::UnknownPeriodKind(text.to_owned()))
    }

    /// The lowercase name, as [`PeriodKind::parse`] accepts it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
            Self::Quarterly => "quarterly",
        }
    }

    /// The first day of the period that contains `date`.
    fn start_of(self, date: NaiveDate) -> Option<NaiveDate> {
        match self {
            Self::Weekly => {
                let since_monday = date.weekday().num_days_from_monday();
                date.checked_sub_days(Days::new(u64::from(since_monday)))
            }
            Self::Monthly => date.with_day(1),
            Self::Quarterly => {
                let first_month = (date.month0() / 3) * 3 + 1;
                NaiveDate::from_ymd_opt(date.year(), first_month, 1)
            }
        }
    }
}

impl FromStr for PeriodKind {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for PeriodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first and last date (both inclusive) of the whole period before the one containing
/// `local_date`.
///
/// For Monday 2024-01-08 and [`PeriodKind::Weekly`] that is 2024-01-01 to 2024-01-07, whatever
/// the weekday of `local_date`. Returns `None` only when that period would start before
/// chrono's earliest representable date.
pub fn previous_period(kind: PeriodKind, local_date: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let last = kind.start_of(local_date)?.pred_opt()?;
    let first = kind.start_of(last)?;
    Some((first, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().expect("test date should parse")
    }

    fn period(kind: PeriodKind, on: &str) -> (String, String) {
        let (first, last) = previous_period(kind, date(on)).expect("period should exist");
        (first.to_string(), last.to_string())
    }

    fn expect(first: &str, last: &str) -> (String, String) {
        (first.to_owned(), last.to_owned())
    }

    #[test]
    fn parses_known_kinds_in_any_case() {
        assert_eq!(PeriodKind::parse("weekly").ok(), Some(PeriodKind::Weekly));
        assert_eq!(PeriodKind::parse("Monthly").ok(), Some(PeriodKind::Monthly));
        assert_eq!(
            "QUARTERLY".parse::<PeriodKind>().ok(),
            Some(PeriodKind::Quarterly)
        );
    }

    #[test]
    fn rejects_unknown_kind() {
        let err = PeriodKind::parse("daily").unwrap_err();

        assert_eq!(
            err.to_string(),
            "unknown report period `daily`, expected weekly, monthly or quarterly"
        );
    }

    #[test]
    fn weekly_covers_previous_iso_week() {
        assert_eq!(
            period(PeriodKind::Weekly, "2024-01-08"),
            expect("2024-01-01", "2024-01-07")
        );
        assert_eq!(
            period(PeriodKind::Weekly, "2024-01-14"),
            expect("2024-01-01", "2024-01-07")
        );
    }

    #[test]
    fn weekly_crosses_year_boundary() {
        assert_eq!(
            period(PeriodKind::Weekly, "2021-01-04"),
            expect("2020-12-28", "2021-01-03")
        );
        assert_eq!(
            period(PeriodKind::Weekly, "2025-01-01"),
            expect("2024-12-23", "2024-12-29")
        );
    }

    #[test]
    fn monthly_covers_previous_month_including_leap_february() {
        assert_eq!(
            period(PeriodKind::Monthly, "2024-03-01"),
            expect("2024-02-01", "2024-02-29")
        );
        assert_eq!(
            period(PeriodKind::Monthly, "2023-03-31"),
            expect("2023-02-01", "2023-02-28")
        );
        assert_eq!(
            period(PeriodKind::Monthly, "2100-03-15"),
            expect("2100-02-01", "2100-02-28")
        );
    }

    #[test]
    fn monthly_crosses_year_boundary() {
        assert_eq!(
            period(PeriodKind::Monthly, "2024-01-01"),
            expect("2023-12-01", "2023-12-31")
        );
    }

    #[test]
    fn quarterly_covers_previous_quarter() {
        assert_eq!(
            period(PeriodKind::Quarterly, "2024-04-01"),
            expect("2024-01-01", "2024-03-31")
        );
        assert_eq!(
            period(PeriodKind::Quarterly, "2024-06-30"),
            expect("2024-01-01", "2024-03-31")
        );
        assert_eq!(
            period(PeriodKind::Quarterly, "2024-12-31"),
            expect("2024-07-01", "2024-09-30")
        );
    }

    #[test]
    fn quarterly_crosses_year_boundary() {
        assert_eq!(
            period(PeriodKind::Quarterly, "2024-01-01"),
            expect("2023-10-01", "2023-12-31")
        );
    }

    #[test]
    fn date_extremes_do_not_panic() {
        for kind in [
            PeriodKind::Weekly,
            PeriodKind::Monthly,
            PeriodKind::Quarterly,
        ] {
            assert_eq!(previous_period(kind, NaiveDate::MIN), None);
            assert!(previous_period(kind, NaiveDate::MAX).is_some());
        }
    }
}
