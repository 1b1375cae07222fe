//! Summary statistics over glucose readings in mg/dL: mean, SD, CV, GMI, estimated A1C, time in
//! ranges and type-7 percentiles.
//!
//! Every function takes one `f64` per reading, in mg/dL, and gives each reading one vote: there is
//! no time weighting, as in iglu and cgmquantify. **Non-finite values (NaN, ±∞) are skipped** by
//! every function here, the way iglu drops `NA` with `na.rm = TRUE`. A function that needs data
//! returns `None` when no finite value is left.

use serde::{Deserialize, Serialize};

/// Readings below this value (mg/dL) are "very low" (TBR level 2, < 54).
pub const VERY_LOW_BELOW_MG_DL: f64 = 54.0;
/// Readings below this value (mg/dL) and at least [`VERY_LOW_BELOW_MG_DL`] are "low" (TBR level 1).
pub const LOW_BELOW_MG_DL: f64 = 70.0;
/// Readings up to and including this value (mg/dL), and at least [`LOW_BELOW_MG_DL`], are in
/// range (TIR, 70–180 inclusive).
pub const IN_RANGE_UP_TO_MG_DL: f64 = 180.0;
/// Readings above [`IN_RANGE_UP_TO_MG_DL`] and up to and including this value (mg/dL) are "high"
/// (TAR level 1); readings above it are "very high" (TAR level 2).
pub const HIGH_UP_TO_MG_DL: f64 = 250.0;

/// The five consensus glucose bands (Battelino 2019), with iglu's boundaries: `< 54`,
/// `[54, 70)`, `[70, 180]`, `(180, 250]` and `> 250` mg/dL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GlucoseBand {
    /// Below 54 mg/dL (TBR level 2).
    VeryLow,
    /// 54 mg/dL up to, but not including, 70 mg/dL (TBR level 1).
    Low,
    /// 70 to 180 mg/dL, both included (TIR).
    InRange,
    /// Above 180 mg/dL, up to and including 250 mg/dL (TAR level 1).
    High,
    /// Above 250 mg/dL (TAR level 2).
    VeryHigh,
}

impl GlucoseBand {
    /// The band a reading in mg/dL falls in, or `None` for a non-finite value.
    pub fn of(value_mg_dl: f64) -> Option<Self> {
        if !value_mg_dl.is_finite() {
            return None;
        }
        let band = if value_mg_dl < VERY_LOW_BELOW_MG_DL {
            Self::VeryLow
        } else if value_mg_dl < LOW_BELOW_MG_DL {
            Self::Low
        } else if value_mg_dl <= IN_RANGE_UP_TO_MG_DL {
            Self::InRange
        } else if value_mg_dl <= HIGH_UP_TO_MG_DL {
            Self::High
        } else {
            Self::VeryHigh
        };
        Some(band)
    }
}

/// The share of readings in each [`GlucoseBand`], in percent of the finite readings.
///
/// The shares are counted, not time-weighted. Each one is `100 × count / num_readings`, computed
/// from integer counts, so no error accumulates per reading. The five add up to 100 up to float
/// rounding (a few units in the last place, well under 1e-9); round for display with care, or
/// use the counts behind them (`share × num_readings / 100`) when an exact total matters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RangeShares {
    /// Number of finite readings the shares are computed over; always at least 1.
    pub num_readings: usize,
    /// Percent of readings below 54 mg/dL.
    pub very_low_percent: f64,
    /// Percent of readings in `[54, 70)` mg/dL.
    pub low_percent: f64,
    /// Percent of readings in `[70, 180]` mg/dL.
    pub in_range_percent: f64,
    /// Percent of readings in `(180, 250]` mg/dL.
    pub high_percent: f64,
    /// Percent of readings above 250 mg/dL.
    pub very_high_percent: f64,
}

impl RangeShares {
    /// Percent of readings below 70 mg/dL (very low plus low; target < 4 %).
    pub fn below_range_percent(&self) -> f64 {
        self.very_low_percent + self.low_percent
    }

    /// Percent of readings above 180 mg/dL (high plus very high; target < 25 %).
    pub fn above_range_percent(&self) -> f64 {
        self.high_percent + self.very_high_percent
    }
}

/// Arithmetic mean of the finite values, or `None` if there are none.
pub fn mean(values: &[f64]) -> Option<f64> {
    let (count, sum) = finite(values).fold((0_usize, 0.0), |(n, s), v| (n + 1, s + v));
    (count > 0).then(|| sum / count_as_f64(count))
}

/// Sample standard deviation (divisor n − 1, as iglu and R's `sd()`) of the finite values, or
/// `None` with fewer than two finite values.
pub fn sd(values: &[f64]) -> Option<f64> {
    let count = finite(values).count();
    if count < 2 {
        return None;
    }

    // Two passes (mean first) keep the sum of squares accurate for values far from zero.
    let mean = mean(values)?;
    let squares: f64 = finite(values).map(|v| (v - mean).powi(2)).sum();
    Some((squares / count_as_f64(count - 1)).sqrt())
}

/// Coefficient of variation in percent, `100 × sd / mean`, with the sample SD of [`sd`].
///
/// `None` with fewer than two finite values, or if the mean is not positive.
pub fn cv_percent(values: &[f64]) -> Option<f64> {
    let mean = mean(values).filter(|m| *m > 0.0)?;
    Some(100.0 * sd(values)? / mean)
}

/// Glucose Management Indicator in NGSP percent from a mean glucose in mg/dL (Bergenstal 2018):
/// `3.31 + 0.02392 × mean`. The consensus wants the mean from at least 14 days of data.
pub fn gmi_percent(mean_mg_dl: f64) -> f64 {
    3.31 + 0.02392 * mean_mg_dl
}

/// Estimated A1C in NGSP percent from a mean glucose in mg/dL, the ADAG regression solved for
/// A1C (Nathan 2008): `(mean + 46.7) / 28.7`. GMI is the preferred term for CGM data.
pub fn estimated_a1c_percent(mean_mg_dl: f64) -> f64 {
    (mean_mg_dl + 46.7) / 28.7
}

/// Share of the finite readings in each consensus band, or `None` if there are none.
pub fn time_in_ranges(values: &[f64]) -> Option<RangeShares> {
    let mut counts = [0_usize; 5];
    for band in values.iter().filter_map(|v| GlucoseBand::of(*v)) {
        let slot = match band {
            GlucoseBand::VeryLow => 0,
            GlucoseBand::Low => 1,
            GlucoseBand::InRange => 2,
            GlucoseBand::High => 3,
            GlucoseBand::VeryHigh => 4,
        };
        counts[slot] += 1;
    }

    let num_readings: usize = counts.iter().sum();
    if num_readings == 0 {
        return None;
    }
    let share = |count: usize| 100.0 * count_as_f64(count) / count_as_f64(num_readings);
    let [very_low, low, in_range, high, very_high] = counts;
    Some(RangeShares {
        num_readings,
        very_low_percent: share(very_low),
        low_percent: share(low),
        in_range_percent: share(in_range),
        high_percent: share(high),
        very_high_percent: share(very_high),
    })
}

/// The `p`-quantile (`p` in `[0, 1]`) of values sorted in ascending order, by R's type 7 (numpy's
/// and pandas' default "linear", Excel's `PERCENTILE.INC`).
///
/// With the finite values `x₀ ≤ … ≤ xₙ₋₁` and `h = (n − 1)·p`, the result is
/// `x⌊h⌋ + (h − ⌊h⌋)(x⌊h⌋+1 − x⌊h⌋)`. Non-finite entries are skipped. Returns `None` if no finite
/// value is left, if `p` is outside `[0, 1]` or NaN, or if the finite values are not in ascending
/// order (sort with `f64::total_cmp` first).
pub fn percentile_type7(sorted: &[f64], p: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&p) {
        return None;
    }
    let values: Vec<f64> = finite(sorted).collect();
    if values.windows(2).any(|pair| pair[0] > pair[1]) {
        return None;
    }

    let last = values.len().checked_sub(1)?;
    let h = count_as_f64(last) * p;
    let lower = h.floor();
    // `h` is finite and within [0, last], so the cast neither truncates nor saturates.
    let index = lower as usize;
    let below = *values.get(index)?;
    let above = values.get(index + 1).copied().unwrap_or(below);
    // Rounding could step past `above` when `h` is just below the next index; keep it inside.
    Some((below + (h - lower) * (above - below)).min(above))
}

/// The finite values of a slice, in order.
fn finite(values: &[f64]) -> impl Iterator<Item = f64> + '_ {
    values.iter().copied().filter(|v| v.is_finite())
}

/// A count as `f64`; exact for every count below 2^53, far beyond any CGM history.
fn count_as_f64(count: usize) -> f64 {
    count as f64
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() < 1e-9
    }

    #[test]
    fn mean_sd_and_cv_match_hand_computed_values() {
        let values = [100.0, 120.0, 140.0, 160.0];

        // mean 130; squared deviations 900 + 100 + 100 + 900 = 2000; 2000 / 3 = 666.67
        assert_eq!(mean(&values), Some(130.0));
        assert!(close(sd(&values).unwrap(), (2000.0_f64 / 3.0).sqrt()));
        assert!(close(
            cv_percent(&values).unwrap(),
            100.0 * 25.819_888_974_716_11 / 130.0
        ));
    }

    #[test]
    fn empty_and_single_inputs_give_none() {
        assert_eq!(mean(&[]), None);
        assert_eq!(sd(&[]), None);
        assert_eq!(sd(&[120.0]), None);
        assert_eq!(cv_percent(&[120.0]), None);
        assert_eq!(time_in_ranges(&[]), None);
        assert_eq!(percentile_type7(&[], 0.5), None);
    }

    #[test]
    fn non_finite_values_are_skipped() {
        let values = [f64::NAN, 100.0, f64::INFINITY, 200.0, f64::NEG_INFINITY];

        assert_eq!(mean(&values), Some(150.0));
        assert!(close(sd(&values).unwrap(), 5000.0_f64.sqrt()));
        assert_eq!(time_in_ranges(&values).unwrap().num_readings, 2);
        assert_eq!(mean(&[f64::NAN]), None);
        assert_eq!(sd(&[f64::NAN, 100.0]), None);
    }

    #[test]
    fn gmi_and_estimated_a1c_follow_the_published_formulas() {
        assert!(close(gmi_percent(150.0), 3.31 + 3.588));
        assert!(close(estimated_a1c_percent(154.0), 200.7 / 28.7));
        // ADAG's own table: A1C 7 % ↔ eAG 154 mg/dL (28.7 × 7 − 46.7 = 154.2).
        assert!(close(estimated_a1c_percent(154.2), 7.0));
    }

    #[test]
    fn band_boundaries_follow_iglu() {
        let cases = [
            (53.0, GlucoseBand::VeryLow),
            (53.9, GlucoseBand::VeryLow),
            (54.0, GlucoseBand::Low),
            (69.0, GlucoseBand::Low),
            (69.9, GlucoseBand::Low),
            (70.0, GlucoseBand::InRange),
            (180.0, GlucoseBand::InRange),
            (180.1, GlucoseBand::High),
            (181.0, GlucoseBand::High),
            (250.0, GlucoseBand::High),
            (250.1, GlucoseBand::VeryHigh),
            (251.0, GlucoseBand::VeryHigh),
        ];

        for (value, band) in cases {
            assert_eq!(GlucoseBand::of(value), Some(band), "value {value}");
        }
        assert_eq!(GlucoseBand::of(f64::NAN), None);
    }

    #[test]
    fn time_in_ranges_counts_each_band() {
        let values = [53.0, 54.0, 69.0, 70.0, 180.0, 181.0, 250.0, 251.0];

        let shares = time_in_ranges(&values).unwrap();

        assert_eq!(shares.num_readings, 8);
        assert!(close(shares.very_low_percent, 12.5));
        assert!(close(shares.low_percent, 25.0));
        assert!(close(shares.in_range_percent, 25.0));
        assert!(close(shares.high_percent, 25.0));
        assert!(close(shares.very_high_percent, 12.5));
        assert!(close(shares.below_range_percent(), 37.5));
        assert!(close(shares.above_range_percent(), 37.5));
    }

    #[test]
    fn percentiles_match_numpy_linear() {
        let values = [1.0, 2.0, 3.0, 4.0];

        assert_eq!(percentile_type7(&values, 0.25), Some(1.75));
        assert_eq!(percentile_type7(&values, 0.5), Some(2.5));
        assert_eq!(percentile_type7(&values, 0.75), Some(3.25));
        assert_eq!(percentile_type7(&values, 0.0), Some(1.0));
        assert_eq!(percentile_type7(&values, 1.0), Some(4.0));
        // numpy.percentile([10, 20, 30, 40, 50], [5, 95]) == [12., 48.]
        let five = [10.0, 20.0, 30.0, 40.0, 50.0];
        assert!(close(percentile_type7(&five, 0.05).unwrap(), 12.0));
        assert!(close(percentile_type7(&five, 0.95).unwrap(), 48.0));
        assert_eq!(percentile_type7(&[7.0], 0.3), Some(7.0));
    }

    #[test]
    fn percentile_rejects_bad_arguments() {
        assert_eq!(percentile_type7(&[1.0, 2.0], -0.1), None);
        assert_eq!(percentile_type7(&[1.0, 2.0], 1.1), None);
        assert_eq!(percentile_type7(&[1.0, 2.0], f64::NAN), None);
        assert_eq!(percentile_type7(&[2.0, 1.0], 0.5), None);
    }

    proptest! {
        #[test]
        fn range_shares_add_up_to_100(values in prop::collection::vec(0.0_f64..600.0, 1..300)) {
            let shares = time_in_ranges(&values).unwrap();

            let total = shares.very_low_percent + shares.low_percent + shares.in_range_percent
                + shares.high_percent + shares.very_high_percent;
            prop_assert!((total - 100.0).abs() < 1e-9);
        }

        #[test]
        fn percentiles_stay_ordered_and_within_bounds(
            mut values in prop::collection::vec(-1e6_f64..1e6, 1..100),
            p in 0.0_f64..=1.0,
            q in 0.0_f64..=1.0,
        ) {
            values.sort_by(f64::total_cmp);
            let (low_p, high_p) = if p <= q { (p, q) } else { (q, p) };

            let low = percentile_type7(&values, low_p).unwrap();
            let high = percentile_type7(&values, high_p).unwrap();

            prop_assert!(low <= high);
            prop_assert!(values[0] <= low && high <= values[values.len() - 1]);
        }
    }
}
