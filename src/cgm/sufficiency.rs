//! Whether there is enough CGM data for the consensus metrics: 14 days with at least 70 % of the
//! possible readings (Battelino 2019; the 14 days from Riddlesworth 2018).
//!
//! Terms:
//! - **window**: the 14 days ending at `window_end`, both ends included, as in iglu's
//!   `active_percent` with a manual window. A reading at exactly `window_end − 14 days` counts.
//! - **interval**: the sensor's reading interval in minutes, 5 for Dexcom and Libre 2/3 live data,
//!   15 for Libre historic data. [`expected_interval_minutes`] guesses it from the readings.
//! - **coverage**: readings in the window ÷ possible readings (`14 × 1440 / interval`), in
//!   percent, capped at 100. Duplicate timestamps count as often as they occur.
//! - **span**: from the first to the last reading inside the window.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// Length of the sufficiency window in days.
pub const WINDOW_DAYS: u32 = 14;
/// Minimum coverage, in percent of the possible readings, for the data to be sufficient.
pub const MIN_COVERAGE_PERCENT: f64 = 70.0;
/// Minimum span of the readings inside the window, in minutes (13.5 days), for the data to be
/// sufficient.
pub const MIN_SPAN_MINUTES: i64 = 13 * 1440 + 720;

const MINUTES_PER_DAY: u32 = 1440;
/// Median intervals below this many seconds mean a 5-minute sensor, others a 15-minute one.
const FIVE_MINUTE_SENSOR_BELOW_SECS: i64 = 600;

/// How much CGM data the 14-day window ending at `window_end` holds, and whether it is enough.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sufficiency {
    /// Start of the window, `window_end − 14 days`, included.
    pub window_start: DateTime<Utc>,
    /// End of the window, included.
    pub window_end: DateTime<Utc>,
    /// The reading interval used, in minutes (at least 1).
    pub interval_minutes: u32,
    /// Possible readings in the window: `14 × 1440 / interval_minutes`, rounded down, at least 1.
    pub num_expected: u32,
    /// Readings whose time lies in the window.
    pub num_readings: usize,
    /// `100 × num_readings / num_expected`, capped at 100.
    pub coverage_percent: f64,
    /// Distinct UTC calendar days with at least one reading in the window (at most 15, since a
    /// window that does not start at midnight touches 15 days).
    pub days_with_data: usize,
    /// Earliest reading in the window, if any.
    pub first_reading_at: Option<DateTime<Utc>>,
    /// Latest reading in the window, if any.
    pub last_reading_at: Option<DateTime<Utc>>,
    /// The verdict: see [`sufficiency`] for the rule.
    pub is_sufficient: bool,
}

impl Sufficiency {
    /// Time from the first to the last reading in the window, or `None` without readings.
    pub fn span(&self) -> Option<TimeDelta> {
        Some(self.last_reading_at? - self.first_reading_at?)
    }
}

/// Measures the data in the 14 days ending at `window_end` (both ends included) against a sensor
/// that reads every `interval_minutes` minutes.
///
/// **Rule**: the data are sufficient when both hold:
/// 1. coverage is at least [`MIN_COVERAGE_PERCENT`] (70 %) of the possible readings, the
///    consensus's "≥ 70 % of the possible data from 14 days"; and
/// 2. the readings inside the window span at least 13.5 days ([`MIN_SPAN_MINUTES`]), the
///    consensus's "14 days worn". Without it, ten dense days at the end of the window would
///    pass; the 12 hours of slack allow for a sensor session that starts or stops within half a
///    day of the window's edges.
///
/// Readings outside the window are ignored; the order of `times` does not matter. To judge an
/// export by itself, pass its last reading's time as `window_end`. An `interval_minutes` of 0 is
/// treated as 1.
pub fn sufficiency(
    times: &[DateTime<Utc>],
    window_end: DateTime<Utc>,
    interval_minutes: u32,
) -> Sufficiency {
    let window_start = window_end
        .checked_sub_signed(TimeDelta::days(i64::from(WINDOW_DAYS)))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let in_window: Vec<DateTime<Utc>> = times
        .iter()
        .copied()
        .filter(|t| (window_start..=window_end).contains(t))
        .collect();

    let interval_minutes = interval_minutes.max(1);
    let num_expected = (WINDOW_DAYS * MINUTES_PER_DAY / interval_minutes).max(1);
    let coverage_percent = coverage(in_window.len(), num_expected);
    let days: BTreeSet<NaiveDate> = in_window.iter().map(DateTime::date_naive).collect();
    let first_reading_at = in_window.iter().min().copied();
    let last_reading_at = in_window.iter().max().copied();

    let span_minutes = match (first_reading_at, last_reading_at) {
        (Some(first), Some(last)) => (last - first).num_minutes(),
        _ => 0,
    };
    let is_sufficient =
        coverage_percent >= MIN_COVERAGE_PERCENT && span_minutes >= MIN_SPAN_MINUTES;
    Sufficiency {
        window_start,
        window_end,
        interval_minutes,
        num_expected,
        num_readings: in_window.len(),
        coverage_percent,
        days_with_data: days.len(),
        first_reading_at,
        last_reading_at,
        is_sufficient,
    }
}

/// Guesses the sensor's reading interval: 5 minutes if the median gap between consecutive
/// readings (after sorting; duplicates give gaps of 0) is under 10 minutes, 15 otherwise.
///
/// With fewer than two readings there is no gap to measure, and it answers 5: the stricter
/// assumption, since it expects more readings.
pub fn expected_interval_minutes(times: &[DateTime<Utc>]) -> u32 {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let mut gaps: Vec<i64> = sorted
        .windows(2)
        .map(|pair| (pair[1] - pair[0]).num_seconds())
        .collect();
    gaps.sort_unstable();

    match twice_median(&gaps) {
        Some(twice) if twice >= 2 * FIVE_MINUTE_SENSOR_BELOW_SECS => 15,
        _ => 5,
    }
}

/// Twice the median of sorted values (so that it stays an integer), or `None` if empty.
fn twice_median(sorted: &[i64]) -> Option<i64> {
    let middle = sorted.len() / 2;
    let upper = *sorted.get(middle)?;
    let lower = if sorted.len().is_multiple_of(2) {
        *sorted.get(middle - 1)?
    } else {
        upper
    };
    Some(lower.saturating_add(upper))
}

/// `100 × readings / expected`, capped at 100.
fn coverage(num_readings: usize, num_expected: u32) -> f64 {
    // Counts are far below 2^53, so the conversion is exact.
    let share = 100.0 * num_readings as f64 / f64::from(num_expected);
    share.min(100.0)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, day, hour, minute, 0).unwrap()
    }

    /// Readings every `step` minutes from `start` for `count` readings.
    fn series(start: DateTime<Utc>, step: i64, count: i64) -> Vec<DateTime<Utc>> {
        (0..count)
            .map(|i| start + TimeDelta::minutes(step * i))
            .collect()
    }

    #[test]
    fn full_fourteen_days_at_five_minutes_are_sufficient() {
        let end = at(15, 0, 0);
        let times = series(at(1, 0, 0), 5, 4033);

        let result = sufficiency(&times, end, 5);

        assert_eq!(result.window_start, at(1, 0, 0));
        assert_eq!(result.num_expected, 4032);
        assert_eq!(result.num_readings, 4033);
        assert_eq!(result.coverage_percent, 100.0);
        assert_eq!(result.days_with_data, 15);
        assert_eq!(result.span(), Some(TimeDelta::days(14)));
        assert!(result.is_sufficient);
    }

    #[test]
    fn dense_data_on_too_few_days_is_not_sufficient() {
        let end = at(15, 0, 0);
        // 12 days at 5 minutes: 3456 readings, 85.7 % coverage, but a span of only 12 days.
        let times = series(at(3, 0, 0), 5, 3456);

        let result = sufficiency(&times, end, 5);

        assert!(result.coverage_percent > 85.0);
        assert_eq!(result.days_with_data, 12);
        assert!(!result.is_sufficient);
    }

    #[test]
    fn sparse_data_over_the_whole_window_is_not_sufficient() {
        let end = at(15, 0, 0);
        // Every 10 minutes at a 5-minute sensor: 50 % coverage.
        let times = series(at(1, 0, 0), 10, 2017);

        let result = sufficiency(&times, end, 5);

        assert!((result.coverage_percent - 100.0 * 2017.0 / 4032.0).abs() < 1e-9);
        assert!(!result.is_sufficient);
        assert!(sufficiency(&times, end, 15).is_sufficient);
    }

    #[test]
    fn readings_outside_the_window_are_ignored() {
        let end = at(15, 0, 0);
        let times = vec![
            at(1, 0, 0) - TimeDelta::seconds(1),
            at(1, 0, 0),
            end,
            at(15, 0, 1),
        ];

        let result = sufficiency(&times, end, 15);

        assert_eq!(result.num_expected, 1344);
        assert_eq!(result.num_readings, 2);
        assert_eq!(result.first_reading_at, Some(at(1, 0, 0)));
        assert_eq!(result.last_reading_at, Some(end));
    }

    #[test]
    fn empty_input_and_zero_interval_do_not_fail() {
        let result = sufficiency(&[], at(15, 0, 0), 0);

        assert_eq!(result.interval_minutes, 1);
        assert_eq!(result.num_expected, 20_160);
        assert_eq!(result.coverage_percent, 0.0);
        assert_eq!(result.span(), None);
        assert!(!result.is_sufficient);
        assert!(!sufficiency(&[], DateTime::<Utc>::MIN_UTC, u32::MAX).is_sufficient);
    }

    #[test]
    fn interval_is_guessed_from_the_median_gap() {
        assert_eq!(expected_interval_minutes(&series(at(1, 0, 0), 5, 10)), 5);
        assert_eq!(expected_interval_minutes(&series(at(1, 0, 0), 15, 10)), 15);
        assert_eq!(expected_interval_minutes(&[]), 5);
        assert_eq!(expected_interval_minutes(&[at(1, 0, 0)]), 5);

        // Gaps 5, 15, 15 (unsorted input): median 15.
        let times = [at(1, 0, 35), at(1, 0, 0), at(1, 0, 5), at(1, 0, 20)];
        assert_eq!(expected_interval_minutes(&times), 15);
        // Gaps 5, 14: median 9.5 minutes.
        assert_eq!(
            expected_interval_minutes(&[at(1, 0, 0), at(1, 0, 5), at(1, 0, 19)]),
            5
        );
    }
}
