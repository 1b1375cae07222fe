//! The operator routes against a running service, on both backends: pools paused, resized and
//! resumed with the audit log of who did it; `/metrics` parsed as Prometheus text; alerts,
//! nodes, schedules and throughput as the dashboard reads them; the dashboard's files.

mod common;
#[path = "metrics/prometheus.rs"]
mod prometheus;

use std::time::Duration;

use a1c_jobs::alerts::{self, Notifier};
use a1c_jobs::job::JobStatus;
use a1c_jobs::store::job as jobs;
use chrono::Utc;
use common::api::{read, Api};
use common::{count_status, start, wait_until, work, Recorder, TestDb, TEST_WORK};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(20);

/// Only the `backlog` rule `any`, which fires on a single waiting job.
const ONE_RULE: &str = r#"
[alerts.rules.failed_jobs]
enabled = false
[alerts.rules.lease_overrun]
enabled = false
[alerts.rules.backlog]
enabled = false
[alerts.rules.slow_jobs]
enabled = false
[alerts.rules.any]
kind = "backlog"
threshold = 0
"#;

async fn put(api: &Api, path: &str, body: &Value) -> (StatusCode, Value) {
    read(
        api.request(Method::PUT, path)
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn codes(why: &Value) -> Vec<String> {
    why["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|r| r["code"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn pools_are_paused_resized_and_resumed(db: &TestDb) {
    let service = start(db.config(""), &Recorder::default()).await;
    let api = Api::start_with(db, "", service.pools().clone()).await;
    let path = |action: &str| format!("/api/pools/{TEST_WORK}/{action}");

    let (listed, pools) = api.get("/api/pools").await;
    let (paused, paused_body) = api.post(&path("pause"), &json!({})).await;
    wait_until(WAIT, "the pool applies the pause", || async {
        service
            .pool_state(TEST_WORK)
            .await
            .is_some_and(|s| s.paused)
    })
    .await;
    let ids = jobs::insert_many(&api.db, &[work(0, "ok", "held")], Utc::now())
        .await
        .unwrap();
    let (_, why) = api.get(&format!("/api/jobs/{}/why", ids[0])).await;
    let (resized, resized_body) = put(&api, &path("concurrency"), &json!({"concurrency": 3})).await;
    let (zero, zero_body) = put(&api, &path("concurrency"), &json!({"concurrency": 0})).await;
    let (word, _) = put(&api, &path("concurrency"), &json!({"concurrency": "many"})).await;
    let (empty, empty_body) = put(&api, &path("concurrency"), &json!({})).await;
    let (unknown, unknown_body) = api.post("/api/pools/NO_SUCH_TYPE/pause", &json!({})).await;
    let (resumed, resumed_body) = api.post(&path("resume"), &json!({})).await;
    wait_until(WAIT, "the held job runs after resume", || async {
        count_status(&api.db, JobStatus::Completed).await == 1
    })
    .await;
    let (_, audit) = api.get("/api/audit?limit=10").await;
    let (bad_limit, _) = api.get("/api/audit?limit=0").await;
    let token = api.token.clone();
    api.stop().await;
    service.shutdown().await;

    assert_eq!(listed, StatusCode::OK);
    let ours = pools
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["job_type"] == TEST_WORK)
        .expect("TEST_WORK listed");
    assert_eq!(ours["paused"], false);
    assert!(
        ours["in_flight"].is_number(),
        "this node runs the pool: {ours}"
    );
    assert_eq!(
        (paused, &paused_body["paused"]),
        (StatusCode::OK, &json!(true))
    );
    assert!(codes(&why).contains(&"paused".to_owned()), "{why}");
    assert_eq!(
        (resized, &resized_body["concurrency"]),
        (StatusCode::OK, &json!(3))
    );
    assert_eq!(zero, StatusCode::BAD_REQUEST);
    assert!(
        zero_body["error"].as_str().unwrap().contains("concurrency"),
        "{zero_body}"
    );
    assert_eq!(word, StatusCode::BAD_REQUEST);
    assert_eq!(
        empty,
        StatusCode::BAD_REQUEST,
        "an empty body resets nothing"
    );
    assert!(
        empty_body["error"]
            .as_str()
            .unwrap()
            .contains("concurrency"),
        "{empty_body}"
    );
    assert_eq!(unknown, StatusCode::NOT_FOUND, "{unknown_body}");
    assert_eq!(
        (resumed, &resumed_body["paused"]),
        (StatusCode::OK, &json!(false))
    );
    assert_eq!(bad_limit, StatusCode::BAD_REQUEST);
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["job_type"] == TEST_WORK)
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["pool.resume", "pool.concurrency", "pool.pause"]);
    let actor = audit["entries"][0]["actor"].as_str().unwrap();
    assert!(actor.starts_with("token:"), "{actor}");
    assert!(!actor.contains(&token), "the audit log never holds a token");
}

async fn metrics_nodes_schedules_and_throughput(db: &TestDb) {
    let service = start(db.config(""), &Recorder::default()).await;
    let api = Api::start_with(db, "", service.pools().clone()).await;
    let ids = jobs::insert_many(
        &api.db,
        &[
            work(0, "ok", "a"),
            work(0, "ok", "b"),
            work(0, "fail", "c").max_attempts(1),
        ],
        Utc::now(),
    )
    .await
    .unwrap();
    wait_until(WAIT, "three jobs end", || async {
        let mut ended = 0;
        for id in &ids {
            let job = jobs::get(&api.db, *id).await.unwrap().unwrap();
            ended += usize::from(job.status.is_terminal());
        }
        ended == 3
    })
    .await;
    wait_until(WAIT, "this node's heartbeat", || async {
        let (_, nodes) = api.get("/api/nodes").await;
        nodes
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n["alive"] == true))
    })
    .await;

    let scrape = api.request(Method::GET, "/metrics").send().await.unwrap();
    let (scrape_status, content_type) = (scrape.status(), scrape.headers()["content-type"].clone());
    let text = scrape.text().await.unwrap();
    let anonymous = api.anonymous(Method::GET, "/metrics").send().await.unwrap();
    let (schedules_status, schedules) = api.get("/api/schedules?count=2").await;
    let (too_many, _) = api.get("/api/schedules?count=100000").await;
    let (throughput_status, minutes) = api.get("/api/stats/throughput?minutes=5").await;
    let (no_minutes, _) = api.get("/api/stats/throughput?minutes=0").await;
    api.stop().await;
    service.shutdown().await;

    assert_eq!(scrape_status, StatusCode::OK);
    assert!(content_type
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let parsed = prometheus::parse(&text).unwrap_or_else(|err| panic!("{err}\n{text}"));
    let depth = [("job_type", TEST_WORK), ("status", "COMPLETED")];
    assert_eq!(
        parsed.value("a1c_jobs_queue_depth", &depth),
        Some(2.0),
        "{text}"
    );
    assert_eq!(parsed.value("a1c_jobs_database_up", &[]), Some(1.0));
    // The counters are the process's, shared by both backends' tests in this binary.
    let completed = parsed.value("a1c_jobs_completed_total", &[("job_type", TEST_WORK)]);
    assert!(completed.is_some_and(|n| n >= 2.0), "{text}");
    assert!(
        !parsed.samples("a1c_jobs_pool_in_flight").is_empty(),
        "{text}"
    );
    let limit = parsed.value("a1c_jobs_pool_concurrency", &[("job_type", TEST_WORK)]);
    assert!(limit.is_some_and(|l| l >= 1.0), "{text}");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(schedules_status, StatusCode::OK);
    let schedules = schedules.as_array().unwrap();
    assert!(!schedules.is_empty());
    for schedule in schedules.iter().filter(|s| s["enabled"] == true) {
        assert_eq!(schedule["next"].as_array().unwrap().len(), 2, "{schedule}");
    }
    assert_eq!(too_many, StatusCode::BAD_REQUEST);
    assert_eq!(throughput_status, StatusCode::OK);
    let minutes = minutes["minutes"].as_array().unwrap();
    assert_eq!(minutes.len(), 5);
    let sum = |key: &str| {
        minutes
            .iter()
            .map(|m| m[key].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!((sum("completed"), sum("failed")), (2, 1));
    assert_eq!(no_minutes, StatusCode::BAD_REQUEST);
}

async fn alerts_are_listed_while_they_fire(db: &TestDb) {
    let api = Api::start_with(db, ONE_RULE, Default::default()).await;
    let config = db.config(ONE_RULE);
    let notifier = Notifier::new(&config.alerts, "node-a");
    let body = json!({"job_type": "CALCULATE_A1C",
                      "payload": {"user_id": Uuid::new_v4(), "calculation_type": "immediate"}});
    let (_, job) = api.post("/api/jobs", &body).await;
    let (_, before) = api.get("/api/alerts").await;

    alerts::evaluate(&api.db, &config.alerts, &notifier, Utc::now())
        .await
        .expect("evaluate");
    let (firing_status, firing) = api.get("/api/alerts").await;
    let id = job["id"].as_str().unwrap();
    api.post(&format!("/api/jobs/{id}/cancel"), &json!({}))
        .await;
    alerts::evaluate(&api.db, &config.alerts, &notifier, Utc::now())
        .await
        .expect("evaluate again");
    let (_, after) = api.get("/api/alerts").await;
    let (_, history) = api.get("/api/alerts?all=true").await;
    let (bad, bad_body) = api.get("/api/alerts?all=perhaps").await;
    api.stop().await;

    assert_eq!(before, json!([]));
    assert_eq!(firing_status, StatusCode::OK);
    assert_eq!(firing.as_array().unwrap().len(), 1, "{firing}");
    assert_eq!(firing[0]["rule"], "any");
    assert_eq!(firing[0]["firing"], true);
    assert!(
        firing[0]["message"].as_str().unwrap().contains("1"),
        "{firing}"
    );
    assert_eq!(after, json!([]));
    assert_eq!(history[0]["rule"], "any");
    assert_eq!(history[0]["firing"], false);
    assert!(history[0]["resolved_at"].is_string());
    assert_eq!(bad, StatusCode::BAD_REQUEST);
    assert!(
        bad_body["error"].as_str().unwrap().contains("all"),
        "{bad_body}"
    );
}

async fn the_dashboard_files_are_open(db: &TestDb) {
    let api = Api::start(db).await;
    let mut served = Vec::new();
    for (path, kind) in [
        ("/", "text/html"),
        ("/dashboard.js", "javascript"),
        ("/dashboard.css", "text/css"),
    ] {
        let response = api.anonymous(Method::GET, path).send().await.unwrap();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let status = response.status();
        let body = response.text().await.unwrap();
        served.push((path, status, content_type.contains(kind), body.len() > 100));
    }
    api.stop().await;

    for (path, status, right_type, has_body) in served {
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(right_type, "{path} content type");
        assert!(has_body, "{path} body");
    }
}

on_both_backends!(
    pools_are_paused_resized_and_resumed,
    metrics_nodes_schedules_and_throughput,
    alerts_are_listed_while_they_fire,
    the_dashboard_files_are_open,
);
