//! The consensus targets for most adults with type 1 or type 2 diabetes (Battelino 2019,
//! Table 1 of the International Consensus on Time in Range) and whether a period meets them.

use serde::{Deserialize, Serialize};

use crate::cgm::RangeShares;

/// How a value must compare with a target's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// Strictly above the limit.
    Above,
    /// Strictly below the limit.
    Below,
    /// At or below the limit.
    AtMost,
}

impl Bound {
    /// The comparison as a symbol, for display.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Above => ">",
            Self::Below => "<",
            Self::AtMost => "≤",
        }
    }

    fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Self::Above => value > limit,
            Self::Below => value < limit,
            Self::AtMost => value <= limit,
        }
    }
}

/// One consensus target and the period's value against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetCheck {
    /// Stable key, e.g. `time_in_range`.
    pub key: String,
    /// What is measured, for display.
    pub label: String,
    pub bound: Bound,
    /// The limit, in percent.
    pub limit_percent: f64,
    /// The period's value in percent; `None` when it cannot be computed.
    pub value_percent: Option<f64>,
    /// Whether the value meets the target; `None` without a value.
    pub is_met: Option<bool>,
}

/// A target: key, label, bound, limit in percent, and how to read the value.
type Target = (
    &'static str,
    &'static str,
    Bound,
    f64,
    fn(&RangeShares) -> f64,
);

/// The five time-in-range targets, in the consensus's order.
const RANGE_TARGETS: [Target; 5] = [
    (
        "time_in_range",
        "Time in range 70–180 mg/dL",
        Bound::Above,
        70.0,
        |r| r.in_range_percent,
    ),
    (
        "time_below_70",
        "Time below 70 mg/dL",
        Bound::Below,
        4.0,
        RangeShares::below_range_percent,
    ),
    (
        "time_below_54",
        "Time below 54 mg/dL",
        Bound::Below,
        1.0,
        |r| r.very_low_percent,
    ),
    (
        "time_above_180",
        "Time above 180 mg/dL",
        Bound::Below,
        25.0,
        RangeShares::above_range_percent,
    ),
    (
        "time_above_250",
        "Time above 250 mg/dL",
        Bound::Below,
        5.0,
        |r| r.very_high_percent,
    ),
];

/// The variability target: CV at most 36 %.
const CV_LIMIT_PERCENT: f64 = 36.0;

/// Checks the six consensus targets: the five ranges and CV ≤ 36 %.
pub fn check(ranges: Option<&RangeShares>, cv_percent: Option<f64>) -> Vec<TargetCheck> {
    let mut checks: Vec<TargetCheck> = RANGE_TARGETS
        .iter()
        .map(|&(key, label, bound, limit, read)| target(key, label, bound, limit, ranges.map(read)))
        .collect();
    checks.push(target(
        "cv",
        "Glucose variability (CV)",
        Bound::AtMost,
        CV_LIMIT_PERCENT,
        cv_percent,
    ));
    checks
}

fn target(key: &str, label: &str, bound: Bound, limit: f64, value: Option<f64>) -> TargetCheck {
    TargetCheck {
        key: key.to_owned(),
        label: label.to_owned(),
        bound,
        limit_percent: limit,
        value_percent: value,
        is_met: value.map(|v| bound.holds(v, limit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(very_low: f64, low: f64, in_range: f64, high: f64, very_high: f64) -> RangeShares {
        RangeShares {
            num_readings: 100,
            very_low_percent: very_low,
            low_percent: low,
            in_range_percent: in_range,
            high_percent: high,
            very_high_percent: very_high,
        }
    }

    fn met(checks: &[TargetCheck]) -> Vec<(&str, Option<bool>)> {
        checks.iter().map(|c| (c.key.as_str(), c.is_met)).collect()
    }

    #[test]
    fn report_targets_are_met_only_strictly_inside_their_limits() {
        // TIR exactly 70 is not "> 70"; below 70 at 3 + 1 = 4 is not "< 4"; CV 36 is "≤ 36".
        let ranges = shares(1.0, 3.0, 70.0, 21.0, 5.0);

        let checks = check(Some(&ranges), Some(36.0));

        assert_eq!(
            met(&checks),
            vec![
                ("time_in_range", Some(false)),
                ("time_below_70", Some(false)),
                ("time_below_54", Some(false)),
                ("time_above_180", Some(false)),
                ("time_above_250", Some(false)),
                ("cv", Some(true)),
            ]
        );
    }

    #[test]
    fn report_targets_without_data_are_unknown() {
        let good = shares(0.5, 2.0, 80.0, 15.0, 2.5);

        let checks = check(Some(&good), None);
        let empty = check(None, None);

        assert!(checks[..5].iter().all(|c| c.is_met == Some(true)));
        assert_eq!(checks[5].is_met, None);
        assert!(empty.iter().all(|c| c.is_met.is_none()));
    }
}
