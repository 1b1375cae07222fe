//! The report's two charts as inline SVG: the ambulatory glucose profile (AGP) and the
//! time-in-range bar. Every number drawn is formatted here; no text from users reaches SVG.

use std::fmt::Write as _;

use crate::cgm::{AgpPercentiles, HourProfile, RangeShares};

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

const AGP_WIDTH: f64 = 860.0;
const AGP_HEIGHT: f64 = 400.0;
/// Plot area inside the AGP: left, top, right, bottom edges.
const PLOT: (f64, f64, f64, f64) = (56.0, 16.0, 840.0, 350.0);

/// The AGP: 5–95 % and 25–75 % bands and the median line by local hour, over the shaded
/// target range 70–180 mg/dL. Hours without readings leave a gap.
pub fn agp_chart(agp: &[HourProfile]) -> String {
    let y_max = agp_y_max(agp);
    let scale = Scale { y_max };
    let mut svg = format!(
        "<svg class=\"agp\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {AGP_WIDTH} \
         {AGP_HEIGHT}\" width=\"{AGP_WIDTH}\" height=\"{AGP_HEIGHT}\" role=\"img\" \
         aria-label=\"Ambulatory glucose profile\">"
    );
    agp_axes(&mut svg, &scale);
    for run in hour_runs(agp) {
        let points = run_points(agp, &run);
        band(&mut svg, &scale, &points, |p| (p.p5, p.p95), "band-outer");
        band(&mut svg, &scale, &points, |p| (p.p25, p.p75), "band-inner");
        median(&mut svg, &scale, &points);
    }
    agp_legend(&mut svg);
    svg.push_str("</svg>");
    svg
}

/// Maps hours and mg/dL onto the plot area.
struct Scale {
    y_max: f64,
}

impl Scale {
    fn x(&self, hour: f64) -> f64 {
        PLOT.0 + (PLOT.2 - PLOT.0) * hour / 24.0
    }

    fn y(&self, mg_dl: f64) -> f64 {
        let clamped = mg_dl.clamp(0.0, self.y_max);
        PLOT.3 - (PLOT.3 - PLOT.1) * clamped / self.y_max
    }
}

/// Top of the y axis: 350 mg/dL, or the highest 95th percentile rounded up to 50.
fn agp_y_max(agp: &[HourProfile]) -> f64 {
    let highest = agp
        .iter()
        .filter_map(|h| h.percentiles)
        .map(|p| p.p95)
        .fold(0.0, f64::max);
    ((highest / 50.0).ceil() * 50.0).clamp(350.0, 1000.0)
}

fn agp_axes(svg: &mut String, s: &Scale) {
    let (left, top, right, bottom) = PLOT;
    let (y70, y180) = (s.y(70.0), s.y(180.0));
    let _ = write!(
        svg,
        "<rect class=\"target\" x=\"{left}\" y=\"{y180:.1}\" width=\"{:.1}\" \
         height=\"{:.1}\"/>",
        right - left,
        y70 - y180
    );
    for mg_dl in [54.0, 70.0, 180.0, 250.0, s.y_max] {
        let y = s.y(mg_dl);
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{left}\" y1=\"{y:.1}\" x2=\"{right}\" y2=\"{y:.1}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{mg_dl}</text>",
            left - 6.0,
            y + 4.0
        );
    }
    for hour in (0..=24).step_by(3) {
        let x = s.x(f64::from(hour));
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{bottom}\"/>\
             <text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">\
             {hour:02}:00</text>",
            bottom + 16.0
        );
    }
    let _ = write!(
        svg,
        "<rect class=\"frame\" x=\"{left}\" y=\"{top}\" width=\"{:.1}\" height=\"{:.1}\"/>\
         <text class=\"axis\" x=\"14\" y=\"{:.1}\" transform=\"rotate(-90 14 {:.1})\" \
         text-anchor=\"middle\">mg/dL</text>",
        right - left,
        bottom - top,
        (top + bottom) / 2.0,
        (top + bottom) / 2.0
    );
}

/// Runs of consecutive hours with percentiles, as `first..=last` hour indexes.
fn hour_runs(agp: &[HourProfile]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, hour) in agp.iter().enumerate() {
        match (hour.percentiles.is_some(), start) {
            (true, None) => start = Some(i),
            (false, Some(first)) => {
                runs.push((first, i - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(first) = start {
        runs.push((first, agp.len().saturating_sub(1)));
    }
    runs
}

/// The points of a run: one per hour at its middle (hour + 0.5). A run touching midnight gets
/// an end point at 0 or 24 h, the average of hours 23 and 0, when both have data, so a day
/// with data all round spans the whole axis.
fn run_points(agp: &[HourProfile], &(first, last): &(usize, usize)) -> Vec<(f64, AgpPercentiles)> {
    let at = |i: usize| agp.get(i).and_then(|h| h.percentiles);
    let midnight = match (at(agp.len().saturating_sub(1)), at(0)) {
        (Some(late), Some(early)) if agp.len() == 24 => Some(average(&late, &early)),
        _ => None,
    };
    let mut points = Vec::new();
    if let (0, Some(edge)) = (first, midnight) {
        points.push((0.0, edge));
    }
    let mut hour = 0.5;
    for i in 0..agp.len() {
        if let (true, Some(p)) = ((first..=last).contains(&i), at(i)) {
            points.push((hour, p));
        }
        hour += 1.0;
    }
    if let (23, Some(edge)) = (last, midnight) {
        points.push((24.0, edge));
    }
    points
}

fn average(a: &AgpPercentiles, b: &AgpPercentiles) -> AgpPercentiles {
    AgpPercentiles {
        p5: (a.p5 + b.p5) / 2.0,
        p25: (a.p25 + b.p25) / 2.0,
        p50: (a.p50 + b.p50) / 2.0,
        p75: (a.p75 + b.p75) / 2.0,
        p95: (a.p95 + b.p95) / 2.0,
    }
}

/// A band between two percentiles: along the upper edge, then back along the lower one.
fn band(
    svg: &mut String,
    s: &Scale,
    points: &[(f64, AgpPercentiles)],
    edges: fn(&AgpPercentiles) -> (f64, f64),
    class: &str,
) {
    let upper = points.iter().map(|(h, p)| (*h, edges(p).1));
    let lower = points.iter().rev().map(|(h, p)| (*h, edges(p).0));
    let path = polyline_points(s, upper.chain(lower));
    let _ = write!(svg, "<polygon class=\"{class}\" points=\"{path}\"/>");
}

fn median(svg: &mut String, s: &Scale, points: &[(f64, AgpPercentiles)]) {
    let path = polyline_points(s, points.iter().map(|(h, p)| (*h, p.p50)));
    let _ = write!(svg, "<polyline class=\"median\" points=\"{path}\"/>");
    if let [(hour, p)] = points {
        // A lone hour has no line to draw: mark its median with a dot.
        let _ = write!(
            svg,
            "<circle class=\"median-dot\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\"/>",
            s.x(*hour),
            s.y(p.p50)
        );
    }
}

fn polyline_points(s: &Scale, points: impl Iterator<Item = (f64, f64)>) -> String {
    points
        .map(|(hour, mg_dl)| format!("{:.1},{:.1}", s.x(hour), s.y(mg_dl)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn agp_legend(svg: &mut String) {
    let items = [
        ("band-outer", "5–95 %"),
        ("band-inner", "25–75 %"),
        ("median-key", "Median"),
        ("target", "Target 70–180"),
    ];
    let mut x = PLOT.0;
    let y = AGP_HEIGHT - 8.0;
    for (class, label) in items {
        let _ = write!(
            svg,
            "<rect class=\"{class}\" x=\"{x}\" y=\"{:.1}\" width=\"18\" height=\"10\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{y:.1}\">{label}</text>",
            y - 9.0,
            x + 24.0
        );
        x += 150.0;
    }
}

const BAR_WIDTH: f64 = 420.0;
const BAR_HEIGHT: f64 = 320.0;
/// The bar's column: left, top, width, height.
const BAR: (f64, f64, f64, f64) = (20.0, 10.0, 60.0, 300.0);
/// Least vertical distance between two labels.
const LABEL_GAP: f64 = 18.0;

/// The time-in-range bar: five segments stacked from very low (bottom) to very high (top),
/// their heights in proportion to the shares, each labelled with its share.
pub fn range_bar(ranges: &RangeShares) -> String {
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
            BAND_LABELS[band]
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
        let svg = range_bar(&ranges([0, 0, 5, 0, 0]));

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

    #[test]
    fn report_agp_has_both_bands_and_a_median_per_run_of_hours() {
        let p = AgpPercentiles {
            p5: 60.0,
            p25: 90.0,
            p50: 120.0,
            p75: 150.0,
            p95: 220.0,
        };
        let agp: Vec<HourProfile> = (0..24)
            .map(|hour| HourProfile {
                hour,
                num_readings: usize::from(hour != 12),
                percentiles: (hour != 12).then_some(p),
            })
            .collect();

        let svg = agp_chart(&agp);

        assert_eq!(hour_runs(&agp), vec![(0, 11), (13, 23)]);
        assert_eq!(svg.matches("<polygon class=\"band-outer\"").count(), 2);
        assert_eq!(svg.matches("<polygon class=\"band-inner\"").count(), 2);
        assert_eq!(svg.matches("<polyline class=\"median\"").count(), 2);
        // The runs touching midnight reach the axis ends at 0 h and 24 h.
        assert!(svg.contains(&format!("{:.1},", PLOT.0)));
        assert!(svg.contains(&format!("{:.1},", PLOT.2)));
    }
}
