//! The readings, users and reports routes, and "why is this job not running?", against a
//! running server on both backends.

mod common;

use std::time::Duration;

use a1c_jobs::job::payload::ReportType;
use a1c_jobs::job::JobStatus;
use a1c_jobs::store::notification::{self, NewNotification};
use a1c_jobs::store::report::{self, NewReport};
use a1c_jobs::store::user;
use chrono::{NaiveDate, Utc};
use common::api::{job_count, Api};
use common::{Recorder, TestDb, TEST_WORK};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

async fn logs_a_reading_with_its_calculation(db: &TestDb) {
    let api = Api::start(db).await;
    let user = Uuid::new_v4();
    let reading = json!({"user_id": user, "measured_at": "2026-01-05T08:00:00Z",
                         "value_mg_dl": 123.0});

    let (created, body) = api.post("/api/readings", &reading).await;
    let (duplicate, _) = api.post("/api/readings", &reading).await;
    let mut zero = reading.clone();
    zero["value_mg_dl"] = json!(0);
    let (bad_value, value_error) = api.post("/api/readings", &zero).await;
    let mut late = reading.clone();
    late["measured_at"] = json!("yesterday");
    let (bad_time, time_error) = api.post("/api/readings", &late).await;
    let job_id = body["job_id"].as_str().unwrap();
    let (_, job) = api.get(&format!("/api/jobs/{job_id}")).await;

    assert_eq!(created, StatusCode::CREATED, "{body}");
    assert_eq!(job["job_type"], "CALCULATE_A1C");
    assert_eq!(job["priority"], 3);
    assert_eq!(job["payload"]["reading_id"], body["reading_id"]);
    assert_eq!(duplicate, StatusCode::CONFLICT);
    assert_eq!(bad_value, StatusCode::BAD_REQUEST);
    assert!(value_error["error"]
        .as_str()
        .unwrap()
        .contains("value_mg_dl"));
    assert_eq!(bad_time, StatusCode::BAD_REQUEST);
    assert!(time_error["error"]
        .as_str()
        .unwrap()
        .contains("measured_at"));
    assert_eq!(job_count(&api.db).await, 1);
    api.stop().await;
}

async fn imports_a_file_or_nothing_of_it(db: &TestDb) {
    let api = Api::start(db).await;
    let user = Uuid::new_v4();
    let file = std::fs::read("tests/fixtures/dexcom_clarity_export.csv").unwrap();
    let broken = "timestamp,glucose_mg_dl\n2026-01-01T00:00:00Z,100\nnot a time,120\n";
    let path = format!("/api/readings/import?user_id={user}&timezone=Europe/Berlin");
    let send = |body: Vec<u8>| {
        api.request(Method::POST, &path)
            .header("Content-Type", "text/csv")
            .body(body)
            .send()
    };

    let (refused, error) = common::api::read(send(broken.into()).await.unwrap()).await;
    let count_after_refusal = job_count(&api.db).await;
    let (imported, summary) = common::api::read(send(file).await.unwrap()).await;
    let (no_user, _) = api.post("/api/readings/import", &json!({})).await;

    assert_eq!(refused, StatusCode::BAD_REQUEST);
    assert!(
        error["error"].as_str().unwrap().contains("line 3"),
        "{error}"
    );
    assert_eq!(count_after_refusal, 0);
    assert_eq!(imported, StatusCode::CREATED, "{summary}");
    assert_eq!(summary["format"], "dexcom");
    assert!(summary["inserted"].as_u64().unwrap() > 0);
    assert_eq!(no_user, StatusCode::BAD_REQUEST);
    let stored = user::get(&api.db, user).await.unwrap().unwrap();
    assert_eq!(stored.timezone, "Europe/Berlin");
    api.stop().await;
}

async fn serves_estimates_reports_and_notifications(db: &TestDb) {
    let api = Api::start(db).await;
    let user = Uuid::new_v4();
    user::ensure(&api.db, user, "UTC").await.unwrap();
    let report_id = report::upsert(&api.db, &new_report(user), Utc::now())
        .await
        .unwrap();
    let note = NewNotification {
        user_id: user,
        channel: "in_app".to_owned(),
        kind: "a1c_threshold".to_owned(),
        title: "Your estimate crossed 5.7 %".to_owned(),
        body: "See the app".to_owned(),
        data: json!({}),
        dedupe_key: Some(format!("t:{user}")),
        status: "SENT",
    };
    notification::record(&api.db, &note, Utc::now())
        .await
        .unwrap();

    let (estimates, list) = api.get(&format!("/api/users/{user}/estimates")).await;
    let (_, reports) = api.get(&format!("/api/users/{user}/reports")).await;
    let (_, notes) = api.get(&format!("/api/users/{user}/notifications")).await;
    let (_, shown) = api.get(&format!("/api/reports/{report_id}")).await;
    let page = api
        .request(Method::GET, &format!("/api/reports/{report_id}/html"))
        .send()
        .await
        .unwrap();
    let page_type = page.headers()["content-type"].to_str().unwrap().to_owned();
    let page_text = page.text().await.unwrap();
    let (missing, _) = api.get(&format!("/api/reports/{}", Uuid::new_v4())).await;

    assert_eq!(estimates, StatusCode::OK);
    assert_eq!(list, json!([]));
    assert_eq!(reports[0]["id"], report_id.to_string());
    assert_eq!(notes[0]["title"], "Your estimate crossed 5.7 %");
    assert_eq!(shown["stats"]["readings"], 0);
    assert!(page_type.starts_with("text/html"));
    assert_eq!(page_text, "<html><body>no readings</body></html>");
    assert_eq!(missing, StatusCode::NOT_FOUND);
    api.stop().await;
}

fn new_report(user_id: Uuid) -> NewReport {
    NewReport {
        user_id,
        report_type: ReportType::Weekly,
        period_start: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
        period_end: NaiveDate::from_ymd_opt(2026, 1, 11).unwrap(),
        time_zone: "UTC".to_owned(),
        stats: json!({"readings": 0}),
        html: "<html><body>no readings</body></html>".to_owned(),
        job_id: None,
    }
}

async fn says_why_a_job_waits(db: &TestDb) {
    let api = Api::start(db).await;
    let later = (Utc::now() + chrono::TimeDelta::hours(2)).to_rfc3339();
    let body = json!({"job_type": "CALCULATE_A1C", "payload": {"user_id": Uuid::new_v4()},
                      "run_at": later});
    let (_, job) = api.post("/api/jobs", &body).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let urgent = json!({"job_type": "CALCULATE_A1C", "priority": 0,
                        "payload": {"user_id": Uuid::new_v4()}});
    let mut first = urgent.clone();
    first["run_at"] = json!((Utc::now() - chrono::TimeDelta::minutes(1)).to_rfc3339());
    api.post("/api/jobs", &first).await;
    let (_, second) = api.post("/api/jobs", &urgent).await;

    let (status, why) = api.get(&format!("/api/jobs/{id}/why")).await;
    let (_, second_why) = api
        .get(&format!("/api/jobs/{}/why", second["id"].as_str().unwrap()))
        .await;
    api.post(&format!("/api/jobs/{id}/cancel"), &json!({}))
        .await;
    let (_, ended) = api.get(&format!("/api/jobs/{id}/why")).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        codes(&why),
        ["not_due", "higher_priority_ahead", "no_pool"],
        "{why}"
    );
    assert!(why["summary"].as_str().unwrap().contains("not due until"));
    assert_eq!(
        codes(&second_why),
        ["same_priority_ahead", "no_pool"],
        "{second_why}"
    );
    assert_eq!(codes(&ended), ["not_waiting"]);
    assert_eq!(ended["waiting"], false);
    api.stop().await;
}

async fn says_when_the_pool_is_full(db: &TestDb) {
    let recorder = Recorder::default();
    let extra = format!("[pools.{TEST_WORK}]\nconcurrency = 1\n");
    let config = db.config(&extra);
    let service = common::start(config, &recorder).await;
    let api = Api::start_with(db, &extra, service.pools().clone()).await;
    let hang = common::work(0, "hang", "h");
    let hanging = a1c_jobs::store::job::insert(&api.db, &hang, Utc::now())
        .await
        .unwrap();
    common::wait_until(Duration::from_secs(10), "the job runs", || async {
        common::status_of(&api.db, hanging).await == JobStatus::Processing
    })
    .await;
    let waiting = a1c_jobs::store::job::insert(&api.db, &common::work(0, "ok", "w"), Utc::now())
        .await
        .unwrap();

    let (_, why) = api.get(&format!("/api/jobs/{waiting}/why")).await;

    assert_eq!(codes(&why), ["pool_full"], "{why}");
    assert!(why["summary"].as_str().unwrap().contains("1 of 1 running"));
    api.stop().await;
    service.shutdown_within(Duration::from_millis(200)).await;
}

fn codes(why: &Value) -> Vec<String> {
    why["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

on_both_backends!(
    logs_a_reading_with_its_calculation,
    imports_a_file_or_nothing_of_it,
    serves_estimates_reports_and_notifications,
    says_why_a_job_waits,
    says_when_the_pool_is_full,
);
