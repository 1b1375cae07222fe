//! The report as one self-contained HTML page: inline CSS and SVG, no scripts, no external
//! resources, every text that comes from users escaped.

use std::fmt::Write as _;

use super::agp_chart;
use super::range_bar::{self, BAND_COLOURS, BAND_LABELS};
use super::stats::{PeriodSummary, ReportStats};
use super::targets::{self, TargetCheck};
use crate::cgm::RangeShares;

/// The sentence a page shows for a period without readings.
pub const NO_READINGS: &str = "No readings in this period";

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2733;
 max-width:900px;margin:24px auto;padding:0 16px;line-height:1.4}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.15em;margin:28px 0 8px}
.meta{color:#566573;margin:0 0 16px}
.notice{padding:10px 14px;border-radius:6px;margin:12px 0}
.notice.warn{background:#fff4e0;border:1px solid #f0b45a}
.notice.empty{background:#eef2f6;border:1px solid #b8c4d0;font-size:1.1em}
table{border-collapse:collapse;width:100%;margin:4px 0}
th,td{padding:5px 10px;border-bottom:1px solid #dde3ea;text-align:right}
th:first-child,td:first-child{text-align:left}
thead th{background:#f3f6f9;font-weight:600}
.met{color:#1e7a37;font-weight:600}.missed{color:#b3261e;font-weight:600}.na{color:#8a96a3}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px}
svg{display:block;max-width:100%;height:auto;font-size:12px}
svg .target{fill:#2b9348;fill-opacity:.13}
svg .grid{stroke:#c9d1da;stroke-width:1}
svg .frame{fill:none;stroke:#8a96a3}
svg .band-outer{fill:#9cc3e6;fill-opacity:.75}
svg .band-inner{fill:#3b7dc4;fill-opacity:.8}
svg .median{fill:none;stroke:#0b2545;stroke-width:2.5;stroke-linejoin:round}
svg .median-dot,svg .median-key{fill:#0b2545}
svg .tick,svg .axis{fill:#566573}
svg .leader{stroke:#8a96a3;stroke-width:1}
svg .range-label{fill:#1d2733;font-size:14px}svg .pct{font-weight:700}
footer{margin-top:32px;color:#566573;font-size:.85em}
";

/// Renders the page of `stats`; `prepared_for` (the user's e-mail, say) is shown escaped.
pub fn render(stats: &ReportStats, prepared_for: Option<&str>) -> String {
    let mut page = String::with_capacity(32 * 1024);
    let title = format!("{} glucose report", capitalised(&stats.report_type));
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} {} to {}</title><style>{STYLE}</style></head><body>",
        escape(&title),
        stats.period_start,
        stats.period_end,
    );
    heading(&mut page, stats, &title, prepared_for);
    if stats.summary.num_readings == 0 {
        let _ = write!(page, "<p class=\"notice empty\">{NO_READINGS}.</p>");
    } else {
        body(&mut page, stats);
    }
    footer(&mut page);
    page.push_str("</body></html>\n");
    page
}

fn heading(page: &mut String, stats: &ReportStats, title: &str, prepared_for: Option<&str>) {
    let days = (stats.period_end - stats.period_start).num_days() + 1;
    let _ = write!(
        page,
        "<h1>{}</h1><p class=\"meta\">{} to {} ({days} days), times in {}",
        escape(title),
        stats.period_start,
        stats.period_end,
        escape(&stats.time_zone),
    );
    if let Some(who) = prepared_for.filter(|w| !w.trim().is_empty()) {
        let _ = write!(page, " · for {}", escape(who));
    }
    page.push_str("</p>");
}

fn body(page: &mut String, stats: &ReportStats) {
    // The band shares as the page shows them, rounded to tenths that add up to 100.0, so the
    // bar, the table and the targets never disagree in the last digit.
    let shown = stats.ranges.as_ref().map(range_bar::displayed);
    if !stats.coverage.is_sufficient {
        insufficient(page, stats);
    }
    statistics_table(page, stats, shown.as_ref());
    let shown_targets = targets::check(shown.as_ref(), stats.cv_percent);
    targets_table(page, &stats.targets, &shown_targets);
    page.push_str("<h2>Ambulatory glucose profile</h2>");
    page.push_str(&agp_chart::chart(&stats.agp));
    page.push_str(
        "<p class=\"meta\">All readings folded onto one day by local clock hour: the median \
         line, the 25–75 % and 5–95 % bands; the green area is the target range 70–180 \
         mg/dL.</p>",
    );
    if let Some(ranges) = &stats.ranges {
        page.push_str("<h2>Time in ranges</h2>");
        page.push_str(&range_bar::chart(ranges));
    }
}

fn insufficient(page: &mut String, stats: &ReportStats) {
    let _ = write!(
        page,
        "<p class=\"notice warn\"><strong>Not enough data.</strong> {} readings on {} days \
         cover {:.1} % of the possible readings; the consensus asks for at least 70 % of them \
         over at least 14 days. These statistics are not sufficient to judge glucose \
         control.</p>",
        stats.summary.num_readings, stats.summary.days_with_data, stats.coverage.coverage_percent,
    );
}

fn statistics_table(page: &mut String, stats: &ReportStats, shown: Option<&RangeShares>) {
    page.push_str("<h2>Statistics</h2><table><thead><tr><th>Measure</th><th>This period</th>");
    if let Some(p) = &stats.previous {
        let _ = write!(
            page,
            "<th>{} to {}</th><th>Change</th>",
            p.period_start, p.period_end
        );
    }
    page.push_str("</tr></thead><tbody>");
    let mut table = Rows {
        page,
        with_previous: stats.previous.is_some(),
    };
    table.summary_rows(stats, shown);
    if let Some(ranges) = shown {
        table.range_rows(ranges);
    }
    page.push_str("</tbody></table>");
}

/// The rows of the statistics table, with or without the previous period's columns.
struct Rows<'a> {
    page: &'a mut String,
    with_previous: bool,
}

impl Rows<'_> {
    /// One row; `label` is trusted markup, the cells are our own formatted numbers.
    fn row(&mut self, label: &str, now: &str, before: Option<String>, change: Option<String>) {
        let _ = write!(self.page, "<tr><td>{label}</td><td>{now}</td>");
        if self.with_previous {
            let _ = write!(
                self.page,
                "<td>{}</td><td>{}</td>",
                before.as_deref().unwrap_or(""),
                change.as_deref().unwrap_or("")
            );
        }
        self.page.push_str("</tr>");
    }

    /// Counts, coverage, mean, variability and the A1C estimates, with the previous period's
    /// values and the change where they are compared.
    fn summary_rows(&mut self, stats: &ReportStats, shown: Option<&RangeShares>) {
        let (now, change) = (&stats.summary, stats.change.as_ref());
        let before = stats.previous.as_ref().map(|p| &p.summary);
        let count = |s: &PeriodSummary| s.num_readings.to_string();
        let days = |s: &PeriodSummary| s.days_with_data.to_string();
        let mean = |s: &PeriodSummary| number(s.mean_mg_dl, 1, " mg/dL");
        let gmi = |s: &PeriodSummary| number(s.gmi_percent, 2, " %");
        let tir = |s: &PeriodSummary| number(s.in_range_percent, 1, " %");

        self.row("Readings", &count(now), before.map(count), None);
        self.row("Days with data", &days(now), before.map(days), None);
        let coverage = number(Some(stats.coverage.coverage_percent), 1, " %");
        self.row("Sensor coverage", &coverage, None, None);
        let mean_change = change.map(|c| signed(c.mean_mg_dl, 1, " mg/dL"));
        self.row("Mean glucose", &mean(now), before.map(mean), mean_change);
        let sd = number(stats.sd_mg_dl, 1, " mg/dL");
        self.row("Standard deviation", &sd, None, None);
        let cv = number(stats.cv_percent, 1, " %");
        self.row("Coefficient of variation", &cv, None, None);
        let gmi_change = change.map(|c| signed(c.gmi_percent, 2, " %"));
        self.row("GMI", &gmi(now), before.map(gmi), gmi_change);
        let ea1c = number(stats.estimated_a1c_percent, 2, " %");
        self.row("Estimated A1C (ADAG)", &ea1c, None, None);
        let tir_now = number(shown.map(|r| r.in_range_percent), 1, " %");
        let tir_change = change.map(|c| signed(c.in_range_percent, 1, " pts"));
        self.row(
            "Time in range 70–180",
            &tir_now,
            before.map(tir),
            tir_change,
        );
    }

    /// The five bands, very high first, each with its colour.
    fn range_rows(&mut self, ranges: &RangeShares) {
        for (band, share) in range_bar::shares_of(ranges).iter().enumerate().rev() {
            let label = format!(
                "<span class=\"swatch\" style=\"background:{}\"></span>{}",
                BAND_COLOURS[band],
                escape(BAND_LABELS[band])
            );
            self.row(&label, &number(Some(*share), 1, " %"), None, None);
        }
    }
}

/// The targets with their verdicts from `targets` (exact values) and the values shown from
/// `shown` (the same targets checked on the displayed shares).
fn targets_table(page: &mut String, targets: &[TargetCheck], shown: &[TargetCheck]) {
    page.push_str(
        "<h2>Consensus targets</h2><table><thead><tr><th>Target</th><th>Goal</th>\
         <th>This period</th><th>Met</th></tr></thead><tbody>",
    );
    for (t, display) in targets.iter().zip(shown) {
        let verdict = match t.is_met {
            Some(true) => "<span class=\"met\">✓ met</span>",
            Some(false) => "<span class=\"missed\">✗ not met</span>",
            None => "<span class=\"na\">no data</span>",
        };
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{} {} %</td><td>{}</td><td>{verdict}</td></tr>",
            escape(&t.label),
            t.bound.symbol(),
            t.limit_percent,
            number(display.value_percent, 1, " %"),
        );
    }
    page.push_str("</tbody></table>");
}

fn footer(page: &mut String) {
    page.push_str(
        "<footer>Each reading counts once; percentages are shares of readings. SD is the \
         sample SD (n − 1) and CV = SD / mean. GMI = 3.31 + 0.02392 × mean (Bergenstal 2018); \
         estimated A1C = (mean + 46.7) / 28.7 (ADAG, Nathan 2008). Targets and ranges: \
         International Consensus on Time in Range (Battelino 2019). Not medical advice.</footer>",
    );
}

/// A number with `decimals` places and a unit, or a dash for `None`.
fn number(value: Option<f64>, decimals: usize, unit: &str) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.decimals$}{unit}"),
        _ => "–".to_owned(),
    }
}

/// A change with its sign.
fn signed(value: f64, decimals: usize, unit: &str) -> String {
    format!("{value:+.decimals$}{unit}")
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Text made safe for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}
