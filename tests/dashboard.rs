//! The dashboard in headless Chromium against a running service, on both backends: it signs
//! in with a token, loads every section with no console error, and its retry button moves a
//! dead-letter job back to `PENDING`. A screenshot of the board is saved under the target
//! directory for a person to look at.

mod common;
#[path = "dashboard/webdriver.rs"]
mod webdriver;

use std::time::Duration;

use a1c_jobs::store::Db;
use common::api::Api;
use common::{wait_until, TestDb};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;
use webdriver::Browser;

const WAIT: Duration = Duration::from_secs(20);

/// A job made a dead letter in SQL, as if its last attempt failed.
async fn dead_letter(api: &Api) -> Uuid {
    let body = json!({"job_type": "CALCULATE_A1C",
                      "payload": {"user_id": Uuid::new_v4(), "calculation_type": "immediate"}});
    let (status, job) = api.post("/api/jobs", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id: Uuid = job["id"].as_str().expect("id").parse().expect("uuid");
    let sql = "UPDATE job_queue SET status = 'DEAD_LETTER', attempts = max_attempts,
               processed_at = updated_at, error = 'glucose service timed out' WHERE id = $1";
    let changed = match &api.db {
        Db::Postgres(pool) => sqlx::query(sql)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        Db::Sqlite(pool) => {
            let query = sqlx::query(sql).bind(id.to_string());
            query.execute(pool).await.map(|r| r.rows_affected())
        }
    };
    assert_eq!(changed.expect("make a dead letter"), 1);
    id
}

/// Console entries at error level (`SEVERE`), as text.
async fn console_errors(browser: &Browser) -> Vec<String> {
    browser
        .console()
        .await
        .into_iter()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn the_board_loads_and_retries_a_dead_letter(db: &TestDb, backend: &str) {
    let api = Api::start(db).await;
    let dead = dead_letter(&api).await;
    let browser = Browser::start().await;

    browser.goto(&format!("{}/", api.base)).await;
    browser
        .wait_for(
            WAIT,
            "the sign-in form",
            "return !document.getElementById('login').hidden;",
        )
        .await;
    let field = browser.find("#token").await;
    browser.type_text(&field, &api.token).await;
    let sign_in = browser.find("#sign-in").await;
    browser.click(&sign_in).await;
    let row = format!("#jobs tr[data-job=\"{dead}\"]");
    browser
        .wait_for(
            WAIT,
            "the dead letter on the board",
            &format!("return document.querySelector('{row}') !== null;"),
        )
        .await;
    let loaded_errors = console_errors(&browser).await;
    let row_text = browser.text_of(&row).await;
    let pools = browser.text_of("#pools").await;
    let status_line = browser.text_of("#status").await;

    let retry = browser
        .find(&format!(
            "button[data-action=\"retry\"][data-job=\"{dead}\"]"
        ))
        .await;
    browser.click(&retry).await;
    let path = format!("/api/jobs/{dead}");
    wait_until(WAIT, "the retried job to be PENDING", || async {
        api.get(&path).await.1["status"] == "PENDING"
    })
    .await;
    browser
        .wait_for(
            WAIT,
            "the row to leave the board",
            &format!("return document.querySelector('{row}') === null;"),
        )
        .await;
    let shot =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("dashboard-{backend}.png"));
    browser.screenshot(&shot).await;
    let later_errors = console_errors(&browser).await;
    browser.quit().await;
    api.stop().await;

    assert!(
        loaded_errors.is_empty(),
        "console errors on load: {loaded_errors:?}"
    );
    assert!(
        later_errors.is_empty(),
        "console errors after retry: {later_errors:?}"
    );
    assert!(row_text.contains("DEAD_LETTER"), "{row_text}");
    assert!(row_text.contains("glucose service timed out"), "{row_text}");
    assert!(!pools.is_empty(), "the pools section rendered nothing");
    assert!(!status_line.contains("not signed in"), "{status_line}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
}

#[actix_rt::test]
async fn on_postgres_the_board_loads_and_retries_a_dead_letter() {
    let db = TestDb::new(common::Backend::Postgres).await;
    the_board_loads_and_retries_a_dead_letter(&db, "postgres").await;
    db.cleanup().await;
}

#[actix_rt::test]
async fn on_sqlite_the_board_loads_and_retries_a_dead_letter() {
    let db = TestDb::new(common::Backend::Sqlite).await;
    the_board_loads_and_retries_a_dead_letter(&db, "sqlite").await;
    db.cleanup().await;
}
