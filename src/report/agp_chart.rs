//! The ambulatory glucose profile (AGP) as inline SVG: the 5–95 % and 25–75 % bands and the
//! median by local clock hour over the shaded target range. Every number drawn is formatted
//! here; no text from users reaches it.

use std::fmt::Write as _;

use crate::cgm::{AgpPercentiles, HourProfile};

const AGP_WIDTH: f64 = 860.0;
const AGP_HEIGHT: f64 = 400.0;
/// Plot area inside the AGP: left, top, right, bottom edges.
const PLOT: (f64, f64, f64, f64) = (56.0, 16.0, 840.0, 350.0);

/// The AGP: 5–95 % and 25–75 % bands and the median line by local hour, over the shaded
/// target range 70–180 mg/dL. Hours without readings leave a gap.
pub fn chart(agp: &[HourProfile]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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

        let svg = chart(&agp);

        assert_eq!(hour_runs(&agp), vec![(0, 11), (13, 23)]);
        assert_eq!(svg.matches("<polygon class=\"band-outer\"").count(), 2);
        assert_eq!(svg.matches("<polygon class=\"band-inner\"").count(), 2);
        assert_eq!(svg.matches("<polyline class=\"median\"").count(), 2);
        // The runs touching midnight reach the axis ends at 0 h and 24 h.
        assert!(svg.contains(&format!("{:.1},", PLOT.0)));
        assert!(svg.contains(&format!("{:.1},", PLOT.2)));
    }
}
