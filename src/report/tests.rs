//! Statistics and pages of small hand-made periods, with expected values worked out by hand.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::{Europe, UTC};

use super::*;
use crate::job::payload::ReportType;

fn day(text: &str) -> NaiveDate {
    text.parse().expect("test date should parse")
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("test time should parse")
        .to_utc()
}

fn close(actual: Option<f64>, expected: f64) -> bool {
    actual.is_some_and(|a| (a - expected).abs() < 1e-9)
}

/// The week 2024-05-01..=07 in Berlin (UTC+2), from 2024-04-30T22:00Z to 2024-05-07T22:00Z.
fn berlin_week() -> ReportPeriod {
    ReportPeriod::new(
        ReportType::Weekly,
        day("2024-05-01"),
        day("2024-05-07"),
        Europe::Berlin,
    )
    .expect("a valid period")
}

/// Five readings inside the Berlin week, one either side of it.
fn berlin_readings() -> Vec<(DateTime<Utc>, f64)> {
    vec![
        (utc("2024-04-30T21:59:59Z"), 400.0), // 23:59:59 local on 04-30: before
        (utc("2024-04-30T22:00:00Z"), 50.0),  // 00:00 local on 05-01
        (utc("2024-05-01T06:00:00Z"), 60.0),  // 08:00 local
        (utc("2024-05-02T06:10:00Z"), 100.0), // 08:10 local
        (utc("2024-05-03T22:30:00Z"), 200.0), // 00:30 local on 05-04
        (utc("2024-05-07T21:59:00Z"), 300.0), // 23:59 local on 05-07
        (utc("2024-05-07T22:00:00Z"), 40.0),  // 00:00 local on 05-08: after
    ]
}

fn previous_readings() -> Vec<(DateTime<Utc>, f64)> {
    vec![
        (utc("2024-04-25T12:00:00Z"), 100.0),
        (utc("2024-04-26T12:00:00Z"), 180.0),
    ]
}

fn berlin_stats() -> ReportStats {
    let period = berlin_week();
    let previous = period.previous().expect("a previous week");
    compute(
        &period,
        &berlin_readings(),
        Some((&previous, &previous_readings())),
    )
}

#[test]
fn report_stats_match_hand_computed_values() {
    let stats = berlin_stats();

    // 50, 60, 100, 200, 300: mean 142; squared deviations 8464 + 6724 + 1764 + 3364 + 24964.
    let sd = (45_280.0_f64 / 4.0).sqrt();
    assert_eq!(stats.summary.num_readings, 5);
    assert_eq!(stats.summary.days_with_data, 4);
    assert!(close(stats.summary.mean_mg_dl, 142.0));
    assert!(close(stats.sd_mg_dl, sd));
    assert!(close(stats.cv_percent, 100.0 * sd / 142.0));
    assert!(close(stats.summary.gmi_percent, 3.31 + 0.02392 * 142.0));
    assert!(close(stats.estimated_a1c_percent, (142.0 + 46.7) / 28.7));
    let ranges = stats.ranges.expect("ranges of five readings");
    for share in [
        ranges.very_low_percent,
        ranges.low_percent,
        ranges.in_range_percent,
        ranges.high_percent,
        ranges.very_high_percent,
    ] {
        assert!((share - 20.0).abs() < 1e-9);
    }
}

#[test]
fn report_agp_and_coverage_use_local_time() {
    let stats = berlin_stats();

    let median = |hour: usize| stats.agp[hour].percentiles.map(|p| p.p50);
    assert_eq!(stats.agp.len(), 24);
    assert_eq!(median(0), Some(125.0));
    assert_eq!(median(8), Some(80.0));
    assert_eq!(median(23), Some(300.0));
    assert_eq!(stats.agp[22].percentiles, None);
    // Gaps of hours: a 15-minute sensor, 7 × 96 possible readings.
    assert_eq!(stats.coverage.interval_minutes, 15);
    assert_eq!(stats.coverage.num_expected, 672);
    assert!((stats.coverage.coverage_percent - 500.0 / 672.0).abs() < 1e-9);
    assert!(!stats.coverage.is_sufficient);
    assert_eq!(stats.from, utc("2024-04-30T22:00:00Z"));
    assert_eq!(stats.time_zone, "Europe/Berlin");
}

#[test]
fn report_change_is_against_the_previous_period() {
    let stats = berlin_stats();

    let previous = stats.previous.expect("a previous period");
    let change = stats.change.expect("both periods have readings");
    assert_eq!(previous.period_start, day("2024-04-24"));
    assert_eq!(previous.period_end, day("2024-04-30"));
    assert_eq!(previous.summary.num_readings, 2);
    assert!((change.mean_mg_dl - 2.0).abs() < 1e-9);
    assert!((change.gmi_percent - 0.02392 * 2.0).abs() < 1e-9);
    assert!((change.in_range_percent - (20.0 - 100.0)).abs() < 1e-9);
}

#[test]
fn report_without_previous_readings_has_no_change() {
    let period = berlin_week();
    let previous = period.previous().expect("a previous week");

    let stats = compute(&period, &berlin_readings(), Some((&previous, &[])));

    assert_eq!(stats.previous.map(|p| p.summary.num_readings), Some(0));
    assert_eq!(stats.change, None);
}

#[test]
fn report_of_an_empty_period_says_so_and_draws_nothing() {
    let stats = compute(&berlin_week(), &[], None);

    let page = render(&stats, None);

    assert_eq!(stats.summary.num_readings, 0);
    assert_eq!(stats.summary.mean_mg_dl, None);
    assert_eq!(stats.ranges, None);
    assert!(stats.targets.iter().all(|t| t.is_met.is_none()));
    assert!(page.contains(NO_READINGS));
    assert!(!page.contains("<svg"));
}

#[test]
fn report_page_has_both_charts_and_warns_when_data_is_short() {
    let page = render(&berlin_stats(), None);

    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(page.matches("<svg").count(), 2);
    assert!(page.contains("class=\"median\""));
    assert!(page.contains("not sufficient"));
    assert!(!page.contains("src=") && !page.contains("href="));
}

#[test]
fn report_with_enough_data_is_sufficient() {
    let february = ReportPeriod::new(
        ReportType::Monthly,
        day("2024-02-01"),
        day("2024-02-29"),
        UTC,
    )
    .expect("a valid period");
    // Every 5 minutes for 25 of the 29 days: 86 % coverage on 25 days.
    let start = utc("2024-02-01T00:00:00Z");
    let readings: Vec<(DateTime<Utc>, f64)> = (0..25 * 288)
        .map(|i| (start + TimeDelta::minutes(5 * i), 120.0))
        .collect();

    let stats = compute(&february, &readings, None);
    let page = render(&stats, None);

    assert_eq!(stats.coverage.num_expected, 29 * 288);
    assert!(stats.coverage.is_sufficient);
    assert!(!page.contains("not sufficient"));
}

#[test]
fn report_page_escapes_user_text() {
    let who = "<script>alert('x')</script> & \"co\"";

    let page = render(&berlin_stats(), Some(who));

    assert!(!page.contains("<script>"));
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;"));
    assert_eq!(escape("a<b>&'\""), "a&lt;b&gt;&amp;&#39;&quot;");
}

#[test]
fn report_stats_serialise_to_json_and_back() {
    let stats = berlin_stats();

    let json = serde_json::to_value(&stats).expect("stats serialise");
    let back: ReportStats = serde_json::from_value(json.clone()).expect("stats deserialise");

    assert_eq!(json["num_readings"], 5);
    assert_eq!(json["coverage"]["is_sufficient"], false);
    assert_eq!(back.summary.num_readings, 5);
    assert_eq!(back.agp.len(), 24);
}

#[test]
fn report_page_shows_one_rounding_of_the_band_shares() {
    // Thirds: 33.333… each; the page shows 33.4 for very low and 33.3 for the other two,
    // the same in the table, the targets and the bar.
    let readings = vec![
        (utc("2024-05-01T08:00:00Z"), 40.0),
        (utc("2024-05-01T09:00:00Z"), 60.0),
        (utc("2024-05-01T10:00:00Z"), 100.0),
    ];
    let stats = compute(&berlin_week(), &readings, None);

    let page = render(&stats, None);

    assert_eq!(
        page.matches("33.4 %").count(),
        3,
        "table, target below 54, bar"
    );
    assert!(
        page.contains("66.7 %"),
        "target below 70 is the sum of the two shown"
    );
}

#[test]
fn report_page_escapes_the_band_names_it_writes() {
    let page = render(&berlin_stats(), None);

    assert!(page.contains("Very low (&lt;54)") && page.contains("Very high (&gt;250)"));
    assert!(!page.contains("(<54)") && !page.contains("(>250)"));
}
