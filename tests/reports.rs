//! GENERATE_REPORT on both backends: statistics of the Dexcom fixture checked against values
//! computed here from the CSV itself, one report per period, empty and short periods, bad jobs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use a1c_jobs::job::{JobStatus, NewJob, GENERATE_REPORT};
use a1c_jobs::store::job as jobs;
use a1c_jobs::store::report::{self, Report};
use a1c_jobs::store::{reading, user, Db};
use a1c_jobs::Service;
use chrono::{NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use common::{start, status_of, wait_until, Recorder, TestDb};
use serde_json::{json, Value};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_a1c-jobs");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dexcom_clarity_export.csv")
}

fn report_job(user_id: Uuid, kind: &str, start: &str, end: &str) -> NewJob {
    NewJob::new(
        GENERATE_REPORT,
        json!({"user_id": user_id, "report_type": kind,
               "date_range": {"start": start, "end": end}}),
    )
}

/// Enqueues `job` and waits until it has ended; returns the stored job's status, error and
/// result.
async fn run_job(service: &Service, job: &NewJob) -> (JobStatus, Option<String>, Value) {
    let db = service.db().clone();
    let id = jobs::insert(&db, job, Utc::now()).await.expect("enqueue");
    wait_until(Duration::from_secs(20), "report job to end", || async {
        status_of(&db, id).await.is_terminal()
    })
    .await;
    let stored = jobs::get(&db, id)
        .await
        .expect("get job")
        .expect("job exists");
    (
        stored.status,
        stored.error,
        stored.result.unwrap_or(Value::Null),
    )
}

/// Runs a job that must complete and returns its stored report.
async fn completed_report(service: &Service, job: &NewJob) -> (Value, Report) {
    let (status, error, result) = run_job(service, job).await;
    assert_eq!(status, JobStatus::Completed, "error: {error:?}");
    let id: Uuid = serde_json::from_value(result["report_id"].clone()).expect("a report id");
    let stored = report::get(service.db(), id)
        .await
        .expect("get report")
        .expect("the report exists");
    (result, stored)
}

/// The fixture's EGV readings measured on `first..=last` (UTC days), read straight from the
/// CSV: column 2 the time, column 3 the event type, column 8 mg/dL.
fn fixture_readings(first: NaiveDate, last: NaiveDate) -> Vec<(NaiveDateTime, f64)> {
    let text = std::fs::read_to_string(fixture()).expect("the fixture ships with the repo");
    text.lines()
        .map(|line| line.split(',').collect::<Vec<_>>())
        .filter(|cols| cols.len() >= 8 && cols[2] == "EGV")
        .map(|cols| {
            let at = NaiveDateTime::parse_from_str(cols[1], "%Y-%m-%dT%H:%M:%S").expect("a time");
            (at, cols[7].parse::<f64>().expect("a mg/dL value"))
        })
        .filter(|(at, _)| (first..=last).contains(&at.date()))
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

#[track_caller]
fn assert_close(stats: &Value, pointer: &str, expected: f64) {
    let actual = stats.pointer(pointer).and_then(Value::as_f64);
    assert!(
        actual.is_some_and(|a| (a - expected).abs() < 1e-9),
        "{pointer}: {actual:?} != {expected}"
    );
}

/// A count as `f64`, exact for any count a test holds.
fn count(n: usize) -> f64 {
    f64::from(u32::try_from(n).expect("a small count"))
}

async fn weekly_report_of_the_dexcom_export_matches_the_csv(t: &TestDb) {
    let service = start(t.config(""), &Recorder::default()).await;
    let user_id = Uuid::new_v4();
    a1c_jobs::cli::import_readings(service.db(), &fixture(), user_id, Some("UTC"))
        .await
        .expect("import the fixture");
    let (first, last) = (date("2016-10-24"), date("2016-10-30"));
    let rows = fixture_readings(first, last);
    let values: Vec<f64> = rows.iter().map(|r| r.1).collect();

    let job = report_job(user_id, "weekly", "2016-10-24", "2016-10-30");
    let (result, stored) = completed_report(&service, &job).await;

    // Expected values, computed here from the CSV rows.
    let n = count(values.len());
    let mean = values.iter().sum::<f64>() / n;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let share =
        |keep: fn(f64) -> bool| 100.0 * count(values.iter().filter(|v| keep(**v)).count()) / n;
    let hour = |h: u32| {
        median(
            rows.iter()
                .filter(|r| r.0.hour() == h)
                .map(|r| r.1)
                .collect(),
        )
    };
    let stats = &stored.stats;
    assert_eq!(rows.len(), 1767);
    assert_eq!(result["readings"], 1767);
    assert_eq!(result["sufficient"], false);
    assert_eq!(stats["num_readings"], 1767);
    assert_eq!(stats["days_with_data"], 7);
    assert_close(stats, "/mean_mg_dl", mean);
    assert_close(stats, "/sd_mg_dl", sd);
    assert_close(stats, "/cv_percent", 100.0 * sd / mean);
    assert_close(stats, "/gmi_percent", 3.31 + 0.02392 * mean);
    assert_close(stats, "/estimated_a1c_percent", (mean + 46.7) / 28.7);
    assert_close(stats, "/ranges/very_low_percent", share(|v| v < 54.0));
    assert_close(
        stats,
        "/ranges/low_percent",
        share(|v| (54.0..70.0).contains(&v)),
    );
    assert_close(
        stats,
        "/ranges/in_range_percent",
        share(|v| (70.0..=180.0).contains(&v)),
    );
    assert_close(
        stats,
        "/ranges/high_percent",
        share(|v| v > 180.0 && v <= 250.0),
    );
    assert_close(stats, "/ranges/very_high_percent", share(|v| v > 250.0));
    assert_close(stats, "/agp/3/percentiles/p50", hour(3));
    assert_close(stats, "/agp/15/percentiles/p50", hour(15));
    assert!(stats["change"].is_null(), "the week before has no readings");
    assert_eq!(stats["previous"]["num_readings"], 0);
    assert!(stored.html.contains("<svg"));
    assert!(stored.html.contains("not sufficient"));

    the_cli_prints_the_report(t, stored.summary.id, mean);
    service.shutdown().await;
}

/// `a1c-jobs report ID` prints the statistics without the page; `--html` the page alone.
fn the_cli_prints_the_report(t: &TestDb, id: Uuid, mean: f64) {
    let cli = |extra: &[&str]| {
        let output = Command::new(BIN)
            .args(["report", &id.to_string()])
            .args(extra)
            .env("DATABASE_URL", &t.url)
            .env_remove("RUST_LOG")
            .output()
            .expect("run a1c-jobs");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{stderr}");
        String::from_utf8(output.stdout).expect("UTF-8 output")
    };

    let json: Value = serde_json::from_str(&cli(&[])).expect("JSON on stdout");
    let html = cli(&["--html"]);

    assert_eq!(json["id"], id.to_string());
    assert!(json.get("html").is_none() && json["stats"].get("html").is_none());
    assert_close(&json["stats"], "/mean_mg_dl", mean);
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg"));
}

async fn running_a_report_twice_leaves_one_report(t: &TestDb) {
    let service = start(t.config(""), &Recorder::default()).await;
    let user_id = Uuid::new_v4();
    a1c_jobs::cli::import_readings(service.db(), &fixture(), user_id, Some("UTC"))
        .await
        .expect("import the fixture");
    let job = report_job(user_id, "weekly", "2016-10-24", "2016-10-30");

    let (first, _) = completed_report(&service, &job).await;
    let (second, stored) = completed_report(&service, &job).await;
    let listed = report::list_for_user(service.db(), user_id).await.unwrap();

    assert_eq!(first["report_id"], second["report_id"]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, stored.summary.id);
    assert_eq!(listed[0].report_type, "weekly");
    assert_eq!(listed[0].period_start, date("2016-10-24"));
    assert_eq!(listed[0].period_end, date("2016-10-30"));
    assert!(stored.summary.updated_at >= stored.summary.created_at);
    service.shutdown().await;
}

async fn a_period_without_readings_gives_a_report_that_says_so(t: &TestDb) {
    let service = start(t.config(""), &Recorder::default()).await;
    let user_id = Uuid::new_v4();
    user::ensure(service.db(), user_id, "Europe/Berlin")
        .await
        .unwrap();

    let job = report_job(user_id, "monthly", "2024-02-01", "2024-02-29");
    let (result, stored) = completed_report(&service, &job).await;

    assert_eq!(result["readings"], 0);
    assert_eq!(result["sufficient"], false);
    assert!(stored.html.contains("No readings in this period"));
    assert_eq!(stored.summary.time_zone, "Europe/Berlin");
    assert!(stored.stats["mean_mg_dl"].is_null());
    service.shutdown().await;
}

async fn a_period_with_few_readings_is_not_sufficient(t: &TestDb) {
    let service = start(t.config(""), &Recorder::default()).await;
    let user_id = Uuid::new_v4();
    user::ensure(service.db(), user_id, "America/New_York")
        .await
        .unwrap();
    // 00:30 local on 2024-03-04 in New York (UTC−5), then hourly: 12 readings on one day, and
    // one a minute before the month starts locally, which must not count.
    let start_at = Utc.with_ymd_and_hms(2024, 3, 4, 5, 30, 0).unwrap();
    let mut readings: Vec<reading::NewReading> = (0..12)
        .map(|i| reading::NewReading {
            measured_at: start_at + chrono::TimeDelta::hours(i),
            value_mg_dl: 100.0 + 10.0 * f64::from(u8::try_from(i).unwrap()),
        })
        .collect();
    readings.push(reading::NewReading {
        measured_at: Utc.with_ymd_and_hms(2024, 3, 1, 4, 59, 0).unwrap(),
        value_mg_dl: 300.0,
    });
    store_readings(service.db(), user_id, &readings).await;

    let job = report_job(user_id, "monthly", "2024-03-01", "2024-03-31");
    let (result, stored) = completed_report(&service, &job).await;

    assert_eq!(result["readings"], 12);
    assert_eq!(result["sufficient"], false);
    assert_eq!(stored.stats["days_with_data"], 1);
    assert_close(&stored.stats, "/mean_mg_dl", 155.0);
    assert!(stored.html.contains("not sufficient"));
    assert!(stored.html.contains("<svg"));
    service.shutdown().await;
}

async fn store_readings(db: &Db, user_id: Uuid, readings: &[reading::NewReading]) {
    // The import enqueues a CALCULATE_A1C job with the readings; it runs alongside.
    let calculation = NewJob::new(
        a1c_jobs::job::CALCULATE_A1C,
        json!({"user_id": user_id, "calculation_type": "batch"}),
    );
    reading::import(db, user_id, "test", readings, &calculation, Utc::now())
        .await
        .expect("store readings");
}

async fn bad_report_jobs_fail_with_a_clear_error(t: &TestDb) {
    let service = start(t.config(""), &Recorder::default()).await;
    let known = Uuid::new_v4();
    user::ensure(service.db(), known, "UTC").await.unwrap();
    let stranger = Uuid::new_v4();

    let reversed = report_job(known, "weekly", "2024-01-07", "2024-01-01");
    let unknown = report_job(stranger, "weekly", "2024-01-01", "2024-01-07");
    let bad_kind = report_job(known, "daily", "2024-01-01", "2024-01-01");

    let (reversed_status, reversed_error, _) = run_job(&service, &reversed).await;
    let (unknown_status, unknown_error, _) = run_job(&service, &unknown).await;
    let (bad_kind_status, bad_kind_error, _) = run_job(&service, &bad_kind).await;

    assert_eq!(reversed_status, JobStatus::Failed);
    assert_eq!(
        reversed_error.as_deref(),
        Some("invalid payload: field `date_range`: end is before start")
    );
    assert_eq!(unknown_status, JobStatus::Failed);
    assert_eq!(unknown_error, Some(format!("unknown user {stranger}")));
    assert_eq!(bad_kind_status, JobStatus::Failed);
    assert!(bad_kind_error
        .unwrap_or_default()
        .contains("field `report_type`"));
    assert!(report::list_for_user(service.db(), known)
        .await
        .unwrap()
        .is_empty());
    service.shutdown().await;
}

fn date(text: &str) -> NaiveDate {
    text.parse().expect("test date should parse")
}

on_both_backends!(
    weekly_report_of_the_dexcom_export_matches_the_csv,
    running_a_report_twice_leaves_one_report,
    a_period_without_readings_gives_a_report_that_says_so,
    a_period_with_few_readings_is_not_sufficient,
    bad_report_jobs_fail_with_a_clear_error,
);
