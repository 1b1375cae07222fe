//! Ambulatory Glucose Profile (AGP), hourly variant: all days folded onto one 24-hour day by
//! local clock hour, with the 5th, 25th, 50th, 75th and 95th percentiles of each hour.
//!
//! This is the "simpler variant" of the formulas doc: the percentiles of the raw readings in each
//! local clock hour 0–23, by R's type 7 ([`percentile_type7`]). There is no interpolation onto a
//! grid (iglu's `CGMS2DayByDay`) and no smoothing, so each reading is one vote and an hour's
//! curve leans towards the days with the most readings in it. The caller chooses the time zone
//! by converting instants to local wall-clock time first ([`local_clock_readings`]).

use chrono::{NaiveDateTime, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::import::ParsedReading;
use super::stats::percentile_type7;

/// The five AGP percentiles of one hour's readings, in mg/dL.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AgpPercentiles {
    /// 5th percentile.
    pub p5: f64,
    /// 25th percentile (lower quartile).
    pub p25: f64,
    /// 50th percentile (median).
    pub p50: f64,
    /// 75th percentile (upper quartile).
    pub p75: f64,
    /// 95th percentile.
    pub p95: f64,
}

/// The readings of one local clock hour, e.g. hour 7 covers 07:00:00 to 07:59:59.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HourProfile {
    /// Local clock hour, 0–23.
    pub hour: u32,
    /// Finite readings in this hour, over all days.
    pub num_readings: usize,
    /// The percentiles, or `None` for an hour without readings.
    pub percentiles: Option<AgpPercentiles>,
}

/// Groups readings by local clock hour and returns the AGP percentiles of each hour, indexed by
/// hour (element 0 is 00:00–00:59).
///
/// `readings` are pairs of local wall-clock time and glucose in mg/dL, in any order. Non-finite
/// values are skipped.
pub fn agp_by_hour(readings: &[(NaiveDateTime, f64)]) -> [HourProfile; 24] {
    let mut by_hour: [Vec<f64>; 24] = std::array::from_fn(|_| Vec::new());
    for (time, value) in readings.iter().filter(|(_, v)| v.is_finite()) {
        let slot = usize::try_from(time.hour())
            .ok()
            .and_then(|hour| by_hour.get_mut(hour));
        if let Some(values) = slot {
            values.push(*value);
        }
    }

    let mut hour = 0;
    by_hour.map(|mut values| {
        values.sort_by(f64::total_cmp);
        let profile = HourProfile {
            hour,
            num_readings: values.len(),
            percentiles: percentiles(&values),
        };
        hour += 1;
        profile
    })
}

/// Converts imported readings to `(local wall-clock time, mg/dL)` pairs in `zone`, the input of
/// [`agp_by_hour`].
pub fn local_clock_readings(readings: &[ParsedReading], zone: Tz) -> Vec<(NaiveDateTime, f64)> {
    readings
        .iter()
        .map(|r| {
            (
                r.measured_at.with_timezone(&zone).naive_local(),
                r.value_mg_dl,
            )
        })
        .collect()
}

/// The five AGP percentiles of sorted finite values, or `None` if there are none.
fn percentiles(sorted: &[f64]) -> Option<AgpPercentiles> {
    Some(AgpPercentiles {
        p5: percentile_type7(sorted, 0.05)?,
        p25: percentile_type7(sorted, 0.25)?,
        p50: percentile_type7(sorted, 0.50)?,
        p75: percentile_type7(sorted, 0.75)?,
        p95: percentile_type7(sorted, 0.95)?,
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn local(day: u32, hour: u32, minute: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2024, 5, day)
            .and_then(|d| d.and_hms_opt(hour, minute, 0))
            .unwrap()
    }

    #[test]
    fn readings_are_grouped_by_local_clock_hour() {
        let readings = [
            (local(1, 7, 0), 100.0),
            (local(2, 7, 30), 140.0),
            (local(3, 7, 59), 120.0),
            (local(1, 8, 0), 200.0),
            (local(1, 23, 59), f64::NAN),
        ];

        let profile = agp_by_hour(&readings);

        assert_eq!(profile[7].hour, 7);
        assert_eq!(profile[7].num_readings, 3);
        let seven = profile[7].percentiles.unwrap();
        assert_eq!(seven.p50, 120.0);
        assert_eq!(seven.p25, 110.0);
        assert_eq!(seven.p75, 130.0);
        assert!((seven.p5 - 102.0).abs() < 1e-9);
        assert!((seven.p95 - 138.0).abs() < 1e-9);
        assert_eq!(profile[8].percentiles.unwrap().p95, 200.0);
    }

    #[test]
    fn hours_without_readings_have_no_percentiles() {
        let profile = agp_by_hour(&[(local(1, 12, 0), 150.0)]);

        assert_eq!(
            profile.iter().filter(|h| h.percentiles.is_some()).count(),
            1
        );
        assert_eq!(profile[23].hour, 23);
        assert_eq!(profile[23].num_readings, 0);
        assert_eq!(profile[23].percentiles, None);
        assert_eq!(profile[0].percentiles, None);
    }

    #[test]
    fn local_clock_readings_use_the_given_zone() {
        let instant = chrono::DateTime::parse_from_rfc3339("2024-01-15T12:00:00Z").unwrap();
        let reading = ParsedReading {
            measured_at: instant.to_utc(),
            value_mg_dl: 111.0,
            line: 2,
        };

        let local = local_clock_readings(&[reading], chrono_tz::America::New_York);

        assert_eq!(local, vec![(local_at_seven(), 111.0)]);
    }

    fn local_at_seven() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2024, 1, 15)
            .and_then(|d| d.and_hms_opt(7, 0, 0))
            .unwrap()
    }
}
