//! Continuous glucose monitor (CGM) data: import of device exports and the consensus glucose
//! statistics computed from them (mean, SD, CV, GMI, estimated A1C, time in ranges, AGP, data
//! sufficiency).
//!
//! - [`import`] turns Dexcom Clarity, LibreView and plain CSV files into readings: a UTC instant
//!   and a value in mg/dL each.
//! - [`stats`] holds the summary statistics, pure functions over mg/dL values.
//! - [`agp`] folds readings onto one day by local clock hour for the AGP percentiles.
//! - [`mod@sufficiency`] says whether 14 days of data are enough for the metrics to be trusted.
//!
//! Conventions, following iglu 4.3.0 unless noted (`docs/cgm-formulas.md` has the sources):
//! - **One reading, one vote**: statistics and range shares count readings; nothing is
//!   time-weighted or interpolated. Duplicate timestamps are kept and counted as often as they
//!   occur; the importer neither sorts nor merges them.
//! - **SD** is the sample SD (n − 1); **CV** = 100 × SD / mean with that SD.
//! - **Non-finite values** (NaN, ±∞) are skipped by every statistic; the importer never produces
//!   them.
//! - **Bands**: `< 54`, `[54, 70)`, `[70, 180]`, `(180, 250]`, `> 250` mg/dL, classified in mg/dL.
//!   Readings entered in mmol/L are converted first, so 10.0 mmol/L (180.16 mg/dL) is above range.
//! - **Units**: 1 mmol/L = 18.0156 mg/dL, kept at full precision.
//! - **Percentiles**: R type 7 (numpy "linear"); the AGP uses raw readings per local clock hour,
//!   unsmoothed.
//! - **Time zones**: device timestamps are wall-clock times in the zone the caller passes to the
//!   importer; time of day for the AGP is taken in the zone the caller converts to.
//! - **Sufficiency**: a 14-day window with both ends included, coverage ≥ 70 % of
//!   `14 × 1440 / interval` readings and a span of at least 13.5 days; calendar days in UTC.

pub mod agp;
pub mod import;
pub mod stats;
pub mod sufficiency;

pub use agp::{agp_by_hour, local_clock_readings, AgpPercentiles, HourProfile};
pub use import::{parse_readings, ImportError, ParsedFile, ParsedReading, SourceFormat};
pub use stats::{
    cv_percent, estimated_a1c_percent, gmi_percent, mean, percentile_type7, sd, time_in_ranges,
    GlucoseBand, RangeShares,
};
pub use sufficiency::{expected_interval_minutes, sufficiency, Sufficiency};

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use chrono::{DateTime, Utc};

    use super::*;

    /// The Dexcom Clarity export shipped as a test fixture (cgmquantify's test file, MIT).
    fn fixture() -> ParsedFile {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dexcom_clarity_export.csv");
        let data = std::fs::read(&path).expect("the Dexcom fixture ships with the repository");
        parse_readings(&data, chrono_tz::UTC).expect("the Dexcom fixture is a valid export")
    }

    fn values(file: &ParsedFile) -> Vec<f64> {
        file.readings.iter().map(|r| r.value_mg_dl).collect()
    }

    /// A data file from the project's `shared/data/cgm`, next to the repository, if present.
    fn shared_data(name: &str) -> Option<Vec<u8>> {
        let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/cgm")
            .join(name);
        std::fs::read(path).ok()
    }

    #[test]
    fn dexcom_fixture_statistics_match_iglu() {
        let file = fixture();
        let values = values(&file);

        let mean = mean(&values).unwrap();
        let sd = sd(&values).unwrap();
        println!(
            "dexcom fixture: n {} mean {mean:.4} sd {sd:.4} cv {:.4} gmi {:.4} ea1c {:.4}",
            values.len(),
            cv_percent(&values).unwrap(),
            gmi_percent(mean),
            estimated_a1c_percent(mean),
        );

        assert_eq!(values.len(), 2148);
        // The exact sample SD is 28.79970 (Python's `statistics.stdev` agrees). The formulas doc
        // quotes iglu-python as 28.8000, which is this value rounded to three decimals.
        assert_eq!(format!("{sd:.4}"), "28.7997");
        assert_eq!(format!("{sd:.3}"), "28.800");
        assert!((gmi_percent(mean) - (3.31 + 0.02392 * mean)).abs() < 1e-12);
    }

    #[test]
    fn dexcom_fixture_ranges_agp_and_sufficiency() {
        let file = fixture();
        let values = values(&file);
        let times: Vec<DateTime<Utc>> = file.readings.iter().map(|r| r.measured_at).collect();

        let shares = time_in_ranges(&values).unwrap();
        let profile = agp_by_hour(&local_clock_readings(&file.readings, chrono_tz::UTC));
        let interval = expected_interval_minutes(&times);
        let last = times.iter().max().copied().unwrap();
        let enough = sufficiency(&times, last, interval);
        println!("dexcom fixture: {shares:?}");
        println!("dexcom fixture: {enough:?}");

        assert_eq!(shares.num_readings, 2148);
        assert!(shares.very_low_percent > 0.0 && shares.very_high_percent > 0.0);
        assert!(profile.iter().all(|hour| hour.percentiles.is_some()));
        assert_eq!(
            profile.iter().map(|hour| hour.num_readings).sum::<usize>(),
            2148
        );
        assert_eq!(interval, 5);
        // About eight days of data: far from the 14 days the consensus asks for.
        assert_eq!(enough.num_readings, 2148);
        assert_eq!(enough.days_with_data, 9);
        assert!(!enough.is_sufficient);
    }

    #[test]
    fn converted_dexcom_file_matches_the_original_export() {
        let Some(data) = shared_data("cgmquantify_dexcom_g6.csv") else {
            return;
        };

        let converted = parse_readings(&data, chrono_tz::UTC).unwrap();
        let original = fixture();

        assert_eq!(converted.format, SourceFormat::Plain);
        let pairs = |file: &ParsedFile| -> Vec<(DateTime<Utc>, f64)> {
            file.readings
                .iter()
                .map(|r| (r.measured_at, r.value_mg_dl))
                .collect()
        };
        assert_eq!(pairs(&converted), pairs(&original));
    }

    #[test]
    fn iglu_example_data_imports_as_plain_csv() {
        // GPL-2.0 data: read from the shared folder when present, never shipped in the repo.
        let Some(data) = shared_data("iglu_example_data_5_subject.csv") else {
            return;
        };

        let file = parse_readings(&data, chrono_tz::UTC).unwrap();
        let values = values(&file);

        assert_eq!(file.readings.len(), 13_866);
        assert_eq!(values.iter().copied().fold(f64::INFINITY, f64::min), 50.0);
        assert_eq!(values.iter().copied().fold(0.0, f64::max), 400.0);
    }
}
