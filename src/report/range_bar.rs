//! The time-in-range bar as inline SVG, and the rounding of the band shares the whole page
//! shows. Every number drawn is formatted here; no text from users reaches it.

use std::fmt::Write as _;

use super::html::escape;
use crate::cgm::RangeShares;

/// Colours of the five bands, from very low to very high.
pub const BAND_COLOURS: [&str; 5] = ["#a4161a", "#e5383b", "#2b9348", "#f4a100", "#e85d04"];
/// Names of the five bands, from very low to very high.
pub const BAND_LABELS: [&str; 5] = [
    "Very low (<54)",
    "Low (54–69)",
    "In range (70–180)",
    "High (181–250)",
    "Very high (>250)",
];

const BAR_WIDTH: f64 = 420.0;
const BAR_HEIGHT: f64 = 320.0;
/// The bar's column: left, top, width, height.
const BAR: (f64, f64, f64, f64) = (20.0, 10.0, 60.0, 300.0);
/// Least vertical distance between two labels.
const LABEL_GAP: f64 = 18.0;

/// The time-in-range bar: five segments stacked from very low (bottom) to very high (top),
/// their heights in proportion to the shares, each labelled with its share.
pub fn chart(ranges: &RangeShares) -> String {
    let shares = shares_of(ranges);
    let labels = display_tenths(&shares);
    let heights = segment_heights(&shares, BAR.3);
    let mut svg = format!(
        "<svg class=\"tir\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {BAR_WIDTH} \
         {BAR_HEIGHT}\" width=\"{BAR_WIDTH}\" height=\"{BAR_HEIGHT}\" role=\"img\" \
         aria-label=\"Time in ranges\">"
    );

    let mut bottom = BAR.1 + BAR.3;
    let mut centres = [0.0; 5];
    for (band, height) in heights.iter().enumerate() {
        let top = bottom - height;
        centres[band] = (top + bottom) / 2.0;
        if *height > 0.0 {
            let _ = write!(
                svg,
                "<rect x=\"{}\" y=\"{top:.2}\" width=\"{}\" height=\"{height:.2}\" \
                 fill=\"{}\"/>",
                BAR.0, BAR.2, BAND_COLOURS[band]
            );
        }
        bottom = top;
    }
    range_labels(&mut svg, &centres, &labels);
    svg.push_str("</svg>");
    svg
}

/// The five shares in percent, from very low to very high.
pub fn shares_of(r: &RangeShares) -> [f64; 5] {
    [
        r.very_low_percent,
        r.low_percent,
        r.in_range_percent,
        r.high_percent,
        r.very_high_percent,
    ]
}

/// The shares as the page shows them: each rounded to a tenth of a percent by
/// [`display_tenths`], so that the five add up to exactly 100.0.
pub fn displayed(r: &RangeShares) -> RangeShares {
    let tenths = display_tenths(&shares_of(r)).map(|t| f64::from(t) / 10.0);
    RangeShares {
        num_readings: r.num_readings,
        very_low_percent: tenths[0],
        low_percent: tenths[1],
        in_range_percent: tenths[2],
        high_percent: tenths[3],
        very_high_percent: tenths[4],
    }
}

/// Segment heights in proportion to `shares`; the last takes what is left, so they add up to
/// `total` exactly whatever the rounding of the shares.
pub fn segment_heights(shares: &[f64; 5], total: f64) -> [f64; 5] {
    let sum: f64 = shares.iter().sum();
    let mut heights = [0.0; 5];
    if sum <= 0.0 {
        return heights;
    }
    let mut used = 0.0;
    for (i, share) in shares.iter().enumerate().take(4) {
        heights[i] = (total * share / sum).min(total - used);
        used += heights[i];
    }
    heights[4] = total - used;
    heights
}

/// The shares in tenths of a percent, rounded so that they add up to exactly 1000 (100.0 %):
/// each is rounded down, and the tenths left over go to the largest remainders.
pub fn display_tenths(shares: &[f64; 5]) -> [u32; 5] {
    let sum: f64 = shares.iter().sum();
    if sum <= 0.0 {
        return [0; 5];
    }
    let scaled = shares.map(|s| (1000.0 * s / sum).clamp(0.0, 1000.0));
    let mut tenths = scaled.map(whole_tenths);
    let mut by_remainder: Vec<usize> = (0..5).collect();
    by_remainder.sort_by(|&a, &b| {
        let rest = |i: usize| scaled[i] - f64::from(tenths[i]);
        rest(b).total_cmp(&rest(a))
    });
    let missing = 1000_u32.saturating_sub(tenths.iter().sum());
    for &i in by_remainder
        .iter()
        .cycle()
        .take(usize::try_from(missing).unwrap_or(0))
    {
        tenths[i] += 1;
    }
    tenths
}

/// `value`, within 0..=1000, rounded down to a whole number.
fn whole_tenths(value: f64) -> u32 {
    // The value is finite and clamped to 0..=1000 by the caller, so the cast is exact after
    // `floor` and can neither wrap nor saturate (there is no `TryFrom<f64>` for integers).
    value.clamp(0.0, 1000.0).floor() as u32
}

/// Labels to the right of the bar, each at its segment's middle where there is room, pushed
/// apart by at least [`LABEL_GAP`] where segments are thin, with a leader line to the segment.
fn range_labels(svg: &mut String, centres: &[f64; 5], tenths: &[u32; 5]) {
    let positions = spread(centres, BAR.1 + 8.0, BAR.1 + BAR.3 - 4.0);
    let bar_right = BAR.0 + BAR.2;
    for band in 0..5 {
        let (from, to) = (centres[band], positions[band]);
        let _ = write!(
            svg,
            "<line class=\"leader\" x1=\"{bar_right}\" y1=\"{from:.1}\" x2=\"{:.1}\" \
             y2=\"{:.1}\"/><text class=\"range-label\" x=\"{:.1}\" y=\"{:.1}\">\
             <tspan class=\"pct\">{}.{} %</tspan> {}</text>",
            bar_right + 24.0,
            to,
            bar_right + 30.0,
            to + 5.0,
            tenths[band] / 10,
            tenths[band] % 10,
            escape(BAND_LABELS[band])
        );
    }
}

/// Label heights near `wanted` (bottom to top: decreasing y), at least [`LABEL_GAP`] apart and
/// inside `top..=bottom`.
fn spread(wanted: &[f64; 5], top: f64, bottom: f64) -> [f64; 5] {
    let mut y = *wanted;
    // Bottom label first; each next one (higher up) must sit a gap above the previous.
    y[0] = y[0].min(bottom);
    for i in 1..5 {
        y[i] = y[i].min(y[i - 1] - LABEL_GAP);
    }
    // If that pushed the top label out, push everything back down from the top.
    y[4] = y[4].max(top);
    for i in (0..4).rev() {
        y[i] = y[i].max(y[i + 1] + LABEL_GAP);
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(counts: [u32; 5]) -> RangeShares {
        let total: u32 = counts.iter().sum();
        let share = |c: u32| 100.0 * f64::from(c) / f64::from(total);
        RangeShares {
            num_readings: usize::try_from(total).unwrap(),
            very_low_percent: share(counts[0]),
            low_percent: share(counts[1]),
            in_range_percent: share(counts[2]),
            high_percent: share(counts[3]),
            very_high_percent: share(counts[4]),
        }
    }

    #[test]
    fn report_range_bar_segments_fill_the_bar_and_labels_sum_to_100() {
        // Thirds do not round to one decimal without a remainder.
        for counts in [
            [1, 1, 1, 0, 0],
            [3, 7, 1000, 200, 11],
            [0, 0, 5, 0, 0],
            [1, 2, 3, 4, 5],
        ] {
            let shares = shares_of(&ranges(counts));

            let heights = segment_heights(&shares, 300.0);
            let tenths = display_tenths(&shares);

            assert!(
                (heights.iter().sum::<f64>() - 300.0).abs() < 1e-9,
                "{counts:?}"
            );
            assert!(heights.iter().all(|h| *h >= 0.0));
            assert_eq!(tenths.iter().sum::<u32>(), 1000, "{counts:?}");
        }
    }

    #[test]
    fn report_range_labels_round_to_the_nearest_tenth_where_possible() {
        let tenths = display_tenths(&[1.0 / 3.0 * 100.0, 100.0 / 3.0, 100.0 / 3.0, 0.0, 0.0]);
        let exact = display_tenths(&[0.5, 2.5, 80.0, 15.0, 2.0]);

        assert_eq!(tenths.iter().filter(|&&t| t == 333).count(), 2);
        assert_eq!(tenths.iter().filter(|&&t| t == 334).count(), 1);
        assert_eq!(exact, [5, 25, 800, 150, 20]);
    }

    #[test]
    fn report_range_bar_draws_only_non_empty_segments_with_every_label() {
        let svg = chart(&ranges([0, 0, 5, 0, 0]));

        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<rect").count(), 1);
        assert_eq!(svg.matches("class=\"range-label\"").count(), 5);
        assert!(svg.contains("100.0 %"));
    }

    #[test]
    fn report_labels_are_spread_apart_inside_the_bar() {
        let y = spread(&[300.0, 299.0, 200.0, 20.0, 19.0], 18.0, 306.0);

        assert!(y
            .windows(2)
            .all(|pair| pair[0] - pair[1] >= LABEL_GAP - 1e-9));
        assert!(y.iter().all(|v| (18.0..=306.0).contains(v)));
    }
}
