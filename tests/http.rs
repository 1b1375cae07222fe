//! The HTTP API against a running server on both backends: auth, jobs, validation, batches,
//! operator verbs and health.

mod common;

use a1c_jobs::job::JobStatus;
use a1c_jobs::store::job as jobs;
use common::api::{job_count, read, Api};
use common::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

fn calculation(user: Uuid) -> Value {
    json!({"job_type": "CALCULATE_A1C",
           "payload": {"user_id": user, "calculation_type": "immediate"}})
}

async fn health_is_open_and_every_other_route_needs_a_token(db: &TestDb) {
    let api = Api::start(db).await;

    let (health, body) = read(api.anonymous(Method::GET, "/health").send().await.unwrap()).await;
    let mut refusals = Vec::new();
    for (method, path) in [
        (Method::GET, "/api/jobs"),
        (Method::POST, "/api/jobs"),
        (Method::GET, "/ready"),
        (Method::GET, "/no/such/route"),
        (Method::GET, "/api-docs/openapi.json"),
    ] {
        let anonymous = api.anonymous(method.clone(), path).send().await.unwrap();
        let wrong = api
            .anonymous(method.clone(), path)
            .bearer_auth("a1c_not-a-token")
            .send()
            .await
            .unwrap();
        let basic = api
            .anonymous(method, path)
            .header("Authorization", format!("Basic {}", api.token))
            .send()
            .await
            .unwrap();
        refusals.push(read(anonymous).await);
        refusals.push(read(wrong).await);
        refusals.push(read(basic).await);
    }
    let (ready, _) = api.get("/ready").await;
    let (unknown, unknown_body) = api.get("/no/such/route").await;

    assert_eq!(health, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    for (status, body) in refusals {
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, json!({"error": "unauthorized"}));
    }
    assert_eq!(ready, StatusCode::OK);
    assert_eq!(unknown, StatusCode::NOT_FOUND);
    assert!(unknown_body["error"].is_string());
    api.stop().await;
}

async fn creates_gets_and_lists_jobs_a_page_at_a_time(db: &TestDb) {
    let api = Api::start(db).await;
    let user = Uuid::new_v4();

    let (created, job) = api.post("/api/jobs", &calculation(user)).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let (got, fetched) = api.get(&format!("/api/jobs/{id}")).await;
    for i in 0..4 {
        let body = json!({"job_type": "CLEANUP_DATA", "payload": {
            "cleanup_type": "delete", "older_than_days": 30 + i, "tables": ["notifications"]}});
        assert_eq!(api.post("/api/jobs", &body).await.0, StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut path = "/api/jobs?type=CLEANUP_DATA&status=PENDING&limit=3".to_owned();
    loop {
        let (status, page) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for job in page["jobs"].as_array().unwrap() {
            seen.push(job["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/jobs?type=CLEANUP_DATA&limit=3&cursor={cursor}");
            }
            None => break,
        }
    }
    let (bad_cursor, _) = api.get("/api/jobs?cursor=nonsense").await;
    let (bad_status, status_error) = api.get("/api/jobs?status=DONE").await;
    let (bad_limit, _) = api.get("/api/jobs?limit=0").await;

    assert_eq!(created, StatusCode::CREATED, "{job}");
    assert_eq!(job["priority"], 3);
    assert_eq!(got, StatusCode::OK);
    assert_eq!(fetched["status"], "PENDING");
    assert_eq!(fetched["attempts"], 0);
    assert!(fetched["error"].is_null() && fetched["processed_at"].is_null());
    assert_eq!(fetched["payload"]["user_id"], user.to_string());
    assert_eq!(seen.len(), 4, "{seen:?}");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4, "a page repeated a job");
    assert_eq!(bad_cursor, StatusCode::BAD_REQUEST);
    assert_eq!(bad_status, StatusCode::BAD_REQUEST);
    assert!(status_error["error"].as_str().unwrap().contains("status"));
    assert_eq!(bad_limit, StatusCode::BAD_REQUEST);
    api.stop().await;
}

async fn invalid_jobs_are_refused_naming_the_field_and_write_nothing(db: &TestDb) {
    let api = Api::start(db).await;
    let starting = |run_at: &str| {
        let mut job = calculation(Uuid::new_v4());
        job["run_at"] = json!(run_at);
        job
    };
    let cases = [
        (
            json!({"job_type": "CALCULATE_A1C", "payload": {"user_id": 5}}),
            "user_id",
        ),
        (
            json!({"job_type": "CALCULATE_A1C", "payload": {}}),
            "user_id",
        ),
        (
            json!({"job_type": "SEND_REMINDER", "payload": {"user_id": Uuid::new_v4(),
            "reminder_type": "daily", "notification_method": "pigeon"}}),
            "notification_method",
        ),
        (
            json!({"job_type": "NO_SUCH_TYPE", "payload": {}}),
            "unknown job type",
        ),
        (json!({"job_type": 7, "payload": {}}), "job_type"),
        (json!({"payload": {}}), "job_type"),
        (
            json!({"job_type": "CALCULATE_A1C", "payload": {"user_id": Uuid::new_v4()},
            "priority": 12}),
            "priority",
        ),
        (
            json!({"job_type": "CALCULATE_A1C", "payload": {"user_id": Uuid::new_v4()},
            "colour": "red"}),
            "colour",
        ),
        (starting("-0001-01-01T00:00:00Z"), "run_at"),
        (starting("0000-12-31T23:59:59Z"), "run_at"),
        (starting("9999-12-31T23:59:60Z"), "run_at"),
    ];

    let mut answers = Vec::new();
    for (body, _) in &cases {
        answers.push(api.post("/api/jobs", body).await);
    }
    let (bad_id, bad_id_body) = api.get("/api/jobs/not-a-uuid").await;
    let (missing, _) = api.get(&format!("/api/jobs/{}", Uuid::new_v4())).await;

    for ((status, body), (_, field)) in answers.iter().zip(&cases) {
        assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(field), "{error:?} does not name {field}");
    }
    assert_eq!(bad_id, StatusCode::BAD_REQUEST);
    assert!(bad_id_body["error"].is_string());
    assert_eq!(missing, StatusCode::NOT_FOUND);
    assert_eq!(job_count(&api.db).await, 0);
    api.stop().await;
}

async fn a_batch_is_written_whole_or_not_at_all(db: &TestDb) {
    let api = Api::start(db).await;
    let valid: Vec<Value> = (0..3).map(|_| calculation(Uuid::new_v4())).collect();
    let mut broken = valid.clone();
    broken.push(json!({"job_type": "CALCULATE_A1C", "payload": {"user_id": "x"}}));
    let mut ancient = valid.clone();
    ancient[1]["run_at"] = json!("-0044-03-15T12:00:00Z");
    let keyed = |key: &str| {
        let mut job = calculation(Uuid::new_v4());
        job["unique_key"] = json!(key);
        job
    };

    let (created, ids) = api.post("/api/jobs/batch", &json!({"jobs": valid})).await;
    let (refused, error) = api.post("/api/jobs/batch", &json!({"jobs": broken})).await;
    let (taken, _) = api
        .post(
            "/api/jobs/batch",
            &json!({"jobs": [keyed("k1"), keyed("k1")]}),
        )
        .await;
    let (empty, _) = api.post("/api/jobs/batch", &json!({"jobs": []})).await;
    let (too_old, old_error) = api.post("/api/jobs/batch", &json!({"jobs": ancient})).await;

    assert_eq!(created, StatusCode::CREATED, "{ids}");
    assert_eq!(ids["ids"].as_array().unwrap().len(), 3);
    assert_eq!(refused, StatusCode::BAD_REQUEST);
    assert!(
        error["error"].as_str().unwrap().contains("jobs[3]"),
        "{error}"
    );
    assert!(
        error["error"].as_str().unwrap().contains("user_id"),
        "{error}"
    );
    assert_eq!(taken, StatusCode::CONFLICT);
    assert_eq!(empty, StatusCode::BAD_REQUEST);
    assert_eq!(too_old, StatusCode::BAD_REQUEST);
    let old_error = old_error["error"].as_str().unwrap();
    assert!(
        old_error.contains("jobs[1]") && old_error.contains("run_at"),
        "{old_error}"
    );
    assert_eq!(job_count(&api.db).await, 3);
    api.stop().await;
}

async fn retries_cancels_and_requeues_dead_letters(db: &TestDb) {
    let api = Api::start(db).await;
    let (_, job) = api.post("/api/jobs", &calculation(Uuid::new_v4())).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let mut dead = Vec::new();
    for _ in 0..2 {
        let (_, job) = api.post("/api/jobs", &calculation(Uuid::new_v4())).await;
        dead.push(job["id"].as_str().unwrap().parse::<Uuid>().unwrap());
    }
    kill(&api, &dead).await;

    let (cancelled, body) = api
        .post(&format!("/api/jobs/{id}/cancel"), &json!({}))
        .await;
    let (again, _) = api
        .post(&format!("/api/jobs/{id}/cancel"), &json!({}))
        .await;
    let (retried, retried_body) = api.post(&format!("/api/jobs/{id}/retry"), &json!({})).await;
    let (pending_retry, _) = api.post(&format!("/api/jobs/{id}/retry"), &json!({})).await;
    let (missing, _) = api
        .post(&format!("/api/jobs/{}/retry", Uuid::new_v4()), &json!({}))
        .await;
    let (other_type, none) = api
        .post("/api/dead-letters/requeue?type=SEND_REMINDER", &json!({}))
        .await;
    let (requeued, count) = api
        .post("/api/dead-letters/requeue?type=CALCULATE_A1C", &json!({}))
        .await;

    assert_eq!(cancelled, StatusCode::OK);
    assert_eq!(body["status"], "CANCELLED");
    assert_eq!(again, StatusCode::CONFLICT);
    assert_eq!(retried, StatusCode::OK);
    assert_eq!(retried_body["status"], "PENDING");
    assert_eq!(pending_retry, StatusCode::CONFLICT);
    assert_eq!(missing, StatusCode::NOT_FOUND);
    assert_eq!(
        (other_type, none["requeued"].clone()),
        (StatusCode::OK, json!(0))
    );
    assert_eq!(
        (requeued, count["requeued"].clone()),
        (StatusCode::OK, json!(2))
    );
    for id in dead {
        assert_eq!(common::status_of(&api.db, id).await, JobStatus::Pending);
    }
    api.stop().await;
}

/// Dead-letters `ids` as an exhausted retry would.
async fn kill(api: &Api, ids: &[Uuid]) {
    let sql = "UPDATE job_queue SET status = 'DEAD_LETTER', processed_at = updated_at,
               error = 'gave up' WHERE id = $1";
    for id in ids {
        match &api.db {
            a1c_jobs::store::Db::Postgres(pool) => {
                sqlx::query(sql).bind(id).execute(pool).await.unwrap();
            }
            a1c_jobs::store::Db::Sqlite(pool) => {
                sqlx::query(sql)
                    .bind(id.to_string())
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
    }
}

async fn serves_the_seed_monitoring_queries_and_queue_depth(db: &TestDb) {
    let api = Api::start(db).await;
    for _ in 0..3 {
        api.post("/api/jobs", &calculation(Uuid::new_v4())).await;
    }
    let (_, job) = api.post("/api/jobs", &calculation(Uuid::new_v4())).await;
    kill(&api, &[job["id"].as_str().unwrap().parse().unwrap()]).await;

    let (all, both) = api.get("/api/stats").await;
    let (_, summary) = api.get("/api/stats/status-summary").await;
    let (_, failed) = api.get("/api/stats/failed-jobs").await;
    let (_, depth) = api.get("/api/stats/queue-depth").await;
    let (_, oldest) = api.get("/api/stats/oldest-runnable").await;

    assert_eq!(all, StatusCode::OK);
    assert_eq!(both["status_summary"], summary);
    assert!(failed.as_array().unwrap().is_empty(), "{failed}");
    assert_eq!(
        depth,
        json!([
            {"job_type": "CALCULATE_A1C", "status": "DEAD_LETTER", "count": 1},
            {"job_type": "CALCULATE_A1C", "status": "PENDING", "count": 3},
        ])
    );
    let summary_pending = summary
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == "PENDING")
        .unwrap();
    assert_eq!(summary_pending["count"], 3);
    assert_eq!(oldest[0]["job_type"], "CALCULATE_A1C");
    assert_eq!(oldest[0]["runnable"], 3);
    assert!(oldest[0]["age_seconds"].as_f64().unwrap() >= 0.0);
    api.stop().await;
}

async fn ready_answers_503_when_the_database_is_gone(db: &TestDb) {
    let api = Api::start(db).await;
    let (before, _) = api.get("/ready").await;

    api.db.close().await;
    let (after, body) = api.get("/ready").await;
    let (health, _) = read(api.anonymous(Method::GET, "/health").send().await.unwrap()).await;

    assert_eq!(before, StatusCode::OK);
    assert_eq!(after, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "database unreachable");
    assert_eq!(health, StatusCode::OK);
    api.stop().await;
}

async fn stored_jobs_match_the_store(db: &TestDb) {
    let api = Api::start(db).await;
    let (_, job) = api.post("/api/jobs", &calculation(Uuid::new_v4())).await;
    let id: Uuid = job["id"].as_str().unwrap().parse().unwrap();

    let stored = jobs::get(&api.db, id).await.unwrap().unwrap();

    assert_eq!(serde_json::to_value(&stored).unwrap(), job);
    api.stop().await;
}

on_both_backends!(
    health_is_open_and_every_other_route_needs_a_token,
    creates_gets_and_lists_jobs_a_page_at_a_time,
    invalid_jobs_are_refused_naming_the_field_and_write_nothing,
    a_batch_is_written_whole_or_not_at_all,
    retries_cancels_and_requeues_dead_letters,
    serves_the_seed_monitoring_queries_and_queue_depth,
    ready_answers_503_when_the_database_is_gone,
    stored_jobs_match_the_store,
);
