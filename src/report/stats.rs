//! The statistics of a report: what the period's readings say, measured against the consensus
//! targets and compared with the period before.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::period::ReportPeriod;
use super::targets::{self, TargetCheck};
use crate::cgm::sufficiency::{MIN_COVERAGE_PERCENT, WINDOW_DAYS};
use crate::cgm::{self, HourProfile, RangeShares};
use crate::store::report::type_name;

/// Readings as the store hands them out: `(measured_at, mg/dL)`.
pub type Readings = [(DateTime<Utc>, f64)];

/// Everything a report states about its period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportStats {
    /// `weekly`, `monthly` or `quarterly`.
    pub report_type: String,
    /// First local day covered, included.
    pub period_start: NaiveDate,
    /// Last local day covered, included.
    pub period_end: NaiveDate,
    /// IANA zone the days and hours are read in.
    pub time_zone: String,
    /// Start of the period (local midnight), included.
    pub from: DateTime<Utc>,
    /// End of the period (local midnight after the last day), excluded.
    pub to: DateTime<Utc>,
    #[serde(flatten)]
    pub summary: PeriodSummary,
    /// Data sufficiency over the whole period.
    pub coverage: Coverage,
    /// Sample SD (n − 1) in mg/dL; `None` with fewer than two readings.
    pub sd_mg_dl: Option<f64>,
    /// 100 × SD / mean; `None` with fewer than two readings.
    pub cv_percent: Option<f64>,
    /// ADAG estimated A1C in percent, `(mean + 46.7) / 28.7`.
    pub estimated_a1c_percent: Option<f64>,
    /// Share of readings in each consensus band; `None` without readings.
    pub ranges: Option<RangeShares>,
    /// AGP percentiles by local clock hour, 0 to 23.
    pub agp: Vec<HourProfile>,
    /// Each consensus target and whether the period meets it.
    pub targets: Vec<TargetCheck>,
    /// The period compared with, and its summary.
    pub previous: Option<PreviousPeriod>,
    /// This period minus the previous one; `None` when either has no readings.
    pub change: Option<Change>,
}

/// The figures compared between periods.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PeriodSummary {
    /// Readings in the period.
    pub num_readings: usize,
    /// Distinct local calendar days with at least one reading.
    pub days_with_data: usize,
    /// Mean glucose in mg/dL; `None` without readings.
    pub mean_mg_dl: Option<f64>,
    /// GMI in percent, `3.31 + 0.02392 × mean`.
    pub gmi_percent: Option<f64>,
    /// Percent of readings in 70–180 mg/dL.
    pub in_range_percent: Option<f64>,
}

/// The period before, as compared with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PreviousPeriod {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    #[serde(flatten)]
    pub summary: PeriodSummary,
}

/// This period's value minus the previous period's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub mean_mg_dl: f64,
    pub gmi_percent: f64,
    /// In percentage points.
    pub in_range_percent: f64,
}

/// How much of the period the readings cover.
///
/// Sufficient means at least [`MIN_COVERAGE_PERCENT`] of the possible readings of the period and
/// data on at least [`WINDOW_DAYS`] local days (the consensus's 14 days worn with 70 % of the
/// data). A weekly report can therefore never be sufficient, which is what the consensus says
/// of one week of data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// The sensor's reading interval, guessed by [`cgm::expected_interval_minutes`].
    pub interval_minutes: u32,
    /// Possible readings: real minutes of the period ÷ interval, rounded down, at least 1.
    pub num_expected: u32,
    /// `100 × readings / expected`, capped at 100.
    pub coverage_percent: f64,
    pub is_sufficient: bool,
}

/// The statistics of `readings` over `period`, compared with `previous` (its period and
/// readings) when given. Readings outside their period are ignored.
pub fn compute(
    period: &ReportPeriod,
    readings: &Readings,
    previous: Option<(&ReportPeriod, &Readings)>,
) -> ReportStats {
    let inside = within(period, readings);
    let values: Vec<f64> = inside.iter().map(|r| r.1).collect();
    let summary = summarise(period, &inside);
    let ranges = cgm::time_in_ranges(&values);
    let cv_percent = cgm::cv_percent(&values);
    let previous = previous.map(|(p, r)| PreviousPeriod {
        period_start: p.first_day,
        period_end: p.last_day,
        summary: summarise(p, &within(p, r)),
    });

    ReportStats {
        report_type: type_name(period.report_type).to_owned(),
        period_start: period.first_day,
        period_end: period.last_day,
        time_zone: period.zone.name().to_owned(),
        from: period.from,
        to: period.to,
        summary,
        coverage: coverage(period, &inside, summary.days_with_data),
        sd_mg_dl: cgm::sd(&values),
        cv_percent,
        estimated_a1c_percent: summary.mean_mg_dl.map(cgm::estimated_a1c_percent),
        ranges,
        agp: agp(period, &inside),
        targets: targets::check(ranges.as_ref(), cv_percent),
        change: previous.and_then(|p| change(&summary, &p.summary)),
        previous,
    }
}

/// The readings inside the period.
fn within(period: &ReportPeriod, readings: &Readings) -> Vec<(DateTime<Utc>, f64)> {
    readings
        .iter()
        .copied()
        .filter(|(at, value)| period.contains(*at) && value.is_finite())
        .collect()
}

fn summarise(period: &ReportPeriod, readings: &Readings) -> PeriodSummary {
    let values: Vec<f64> = readings.iter().map(|r| r.1).collect();
    let days: BTreeSet<NaiveDate> = readings.iter().map(|r| period.local_day(r.0)).collect();
    let mean = cgm::mean(&values);
    PeriodSummary {
        num_readings: values.len(),
        days_with_data: days.len(),
        mean_mg_dl: mean,
        gmi_percent: mean.map(cgm::gmi_percent),
        in_range_percent: cgm::time_in_ranges(&values).map(|r| r.in_range_percent),
    }
}

fn coverage(period: &ReportPeriod, readings: &Readings, days_with_data: usize) -> Coverage {
    let times: Vec<DateTime<Utc>> = readings.iter().map(|r| r.0).collect();
    let interval_minutes = cgm::expected_interval_minutes(&times).max(1);
    let possible = period.num_minutes() / u64::from(interval_minutes);
    let num_expected = u32::try_from(possible).unwrap_or(u32::MAX).max(1);
    let num_readings = u32::try_from(readings.len()).unwrap_or(u32::MAX);
    let share = 100.0 * f64::from(num_readings) / f64::from(num_expected);
    let coverage_percent = share.min(100.0);
    let enough_days = u32::try_from(days_with_data).unwrap_or(u32::MAX) >= WINDOW_DAYS;
    Coverage {
        interval_minutes,
        num_expected,
        coverage_percent,
        is_sufficient: coverage_percent >= MIN_COVERAGE_PERCENT && enough_days,
    }
}

fn agp(period: &ReportPeriod, readings: &Readings) -> Vec<HourProfile> {
    let local: Vec<(NaiveDateTime, f64)> = readings
        .iter()
        .map(|(at, value)| (at.with_timezone(&period.zone).naive_local(), *value))
        .collect();
    cgm::agp_by_hour(&local).to_vec()
}

fn change(now: &PeriodSummary, before: &PeriodSummary) -> Option<Change> {
    Some(Change {
        mean_mg_dl: now.mean_mg_dl? - before.mean_mg_dl?,
        gmi_percent: now.gmi_percent? - before.gmi_percent?,
        in_range_percent: now.in_range_percent? - before.in_range_percent?,
    })
}
