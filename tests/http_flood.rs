//! A flood of 10,000 malformed requests: the server stays up, every answer is a 4xx JSON
//! error, and nothing is written.

mod common;

use common::api::{job_count, Api};
use common::TestDb;
use futures_util::StreamExt as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

const REQUESTS: usize = 10_000;
const BODY_LIMIT: usize = 16 * 1024;

/// The `i`-th malformed request: method, path, body, and whether it carries the token.
fn malformed(i: usize) -> (Method, String, Vec<u8>, bool) {
    let user = Uuid::new_v4();
    let post = |path: &str, body: Vec<u8>| (Method::POST, path.to_owned(), body, true);
    match i % 16 {
        0 => post(
            "/api/jobs",
            br#"{"job_type": "CALCULATE_A1C", "payload": {"#.to_vec(),
        ),
        1 => post("/api/jobs", br#"{"job_type": 5, "payload": []}"#.to_vec()),
        2 => {
            let huge = json!({"job_type": "CALCULATE_A1C", "payload": {"user_id": user,
                              "pad": "x".repeat(4 * BODY_LIMIT)}});
            post("/api/jobs", huge.to_string().into_bytes())
        }
        3 => post(
            "/api/jobs",
            br#"{"job_type": "CALCULATE_A1C", "payload": {"user_id": "\u0000"}}"#.to_vec(),
        ),
        4 => post("/api/jobs", b"{\0\"job_type\0\": \0}".to_vec()),
        5 => post(
            "/api/jobs",
            br#"{"job_type": "NO_SUCH_TYPE", "payload": {}}"#.to_vec(),
        ),
        6 => (
            Method::GET,
            format!("/api/jobs/not-a-uuid-{i}"),
            Vec::new(),
            true,
        ),
        7 => post(&format!("/api/jobs/{i}/retry"), Vec::new()),
        8 => {
            let batch = json!({"jobs": [
                {"job_type": "CALCULATE_A1C", "payload": {"user_id": user}},
                {"job_type": "CALCULATE_A1C", "payload": {"user_id": "nobody"}},
            ]});
            post("/api/jobs/batch", batch.to_string().into_bytes())
        }
        9 => {
            let reading = json!({"user_id": user, "measured_at": "2026-01-01T00:00:00Z",
                                 "value_mg_dl": -1});
            post("/api/readings", reading.to_string().into_bytes())
        }
        10 => post(
            &format!("/api/readings/import?user_id={user}"),
            vec![0xff, 0xfe, 0x00, b',', 0x80, b'\n', 0x00],
        ),
        11 => (
            Method::GET,
            "/api/jobs?limit=lots&status=DONE".to_owned(),
            Vec::new(),
            true,
        ),
        12 => post("/api/jobs", vec![0xff, 0xfe, 0xfd]),
        13 => post("/api/jobs", "[".repeat(10_000).into_bytes()),
        14 => {
            let cleanup = json!({"job_type": "CLEANUP_DATA", "payload": {
                "cleanup_type": "delete", "older_than_days": 1, "tables": ["users"]}});
            post("/api/jobs", cleanup.to_string().into_bytes())
        }
        _ => {
            let valid = json!({"job_type": "CALCULATE_A1C", "payload": {"user_id": user}});
            (
                Method::POST,
                "/api/jobs".to_owned(),
                valid.to_string().into_bytes(),
                false,
            )
        }
    }
}

async fn malformed_flood_leaves_the_service_up_and_writes_nothing(db: &TestDb) {
    let extra = format!("[http]\nbody_limit = {BODY_LIMIT}\n");
    let api = Api::start_with(db, &extra, Default::default()).await;
    let before = job_count(&api.db).await;

    let answers: Vec<(usize, StatusCode, String)> = futures_util::stream::iter(0..REQUESTS)
        .map(|i| {
            let (method, path, body, with_token) = malformed(i);
            let request = if with_token {
                api.request(method, &path)
            } else {
                api.anonymous(method, &path)
            };
            async move {
                let response = request
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap_or_else(|err| panic!("request {i} got no answer: {err}"));
                let status = response.status();
                (i, status, response.text().await.unwrap_or_default())
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let (health, _) =
        common::api::read(api.anonymous(Method::GET, "/health").send().await.unwrap()).await;

    assert_eq!(answers.len(), REQUESTS);
    for (i, status, body) in &answers {
        assert!(status.is_client_error(), "request {i}: {status} {body}");
        let value: Value = serde_json::from_str(body)
            .unwrap_or_else(|err| panic!("request {i}: {status} body not JSON ({err}): {body}"));
        assert!(value["error"].is_string(), "request {i}: {body}");
    }
    assert!(answers
        .iter()
        .any(|(_, s, _)| *s == StatusCode::PAYLOAD_TOO_LARGE));
    assert!(answers
        .iter()
        .any(|(_, s, _)| *s == StatusCode::UNAUTHORIZED));
    assert_eq!(health, StatusCode::OK);
    assert_eq!(job_count(&api.db).await, before);
    assert_eq!(rows(&api.db, "users").await, 0);
    assert_eq!(rows(&api.db, "glucose_readings").await, 0);
    api.stop().await;
}

async fn rows(db: &a1c_jobs::store::Db, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    match db {
        a1c_jobs::store::Db::Postgres(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await,
        a1c_jobs::store::Db::Sqlite(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await,
    }
    .expect("count rows")
}

on_both_backends!(malformed_flood_leaves_the_service_up_and_writes_nothing);
