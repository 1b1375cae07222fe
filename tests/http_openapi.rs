//! The OpenAPI document: it parses, is OpenAPI 3, and lists every route the server answers;
//! Swagger UI is served from the binary.

mod common;

use common::api::Api;
use common::{Backend, TestDb};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Every route the API serves, as the document writes it.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/ready"),
    ("post", "/api/jobs"),
    ("get", "/api/jobs"),
    ("post", "/api/jobs/batch"),
    ("get", "/api/jobs/{id}"),
    ("post", "/api/jobs/{id}/retry"),
    ("post", "/api/jobs/{id}/cancel"),
    ("get", "/api/jobs/{id}/why"),
    ("post", "/api/dead-letters/requeue"),
    ("get", "/api/stats"),
    ("get", "/api/stats/status-summary"),
    ("get", "/api/stats/failed-jobs"),
    ("get", "/api/stats/queue-depth"),
    ("get", "/api/stats/oldest-runnable"),
    ("get", "/api/stats/throughput"),
    ("get", "/api/schedules"),
    ("get", "/api/nodes"),
    ("post", "/api/readings"),
    ("post", "/api/readings/import"),
    ("get", "/api/users/{id}/estimates"),
    ("get", "/api/users/{id}/reports"),
    ("get", "/api/users/{id}/notifications"),
    ("get", "/api/reports/{id}"),
    ("get", "/api/reports/{id}/html"),
    ("get", "/api/pools"),
    ("post", "/api/pools/{type}/pause"),
    ("post", "/api/pools/{type}/resume"),
    ("put", "/api/pools/{type}/concurrency"),
    ("get", "/api/audit"),
    ("get", "/api/alerts"),
    ("get", "/metrics"),
];

#[actix_rt::test]
async fn document_is_openapi_3_and_lists_every_route() {
    let db = TestDb::new(Backend::Sqlite).await;
    let api = Api::start(&db).await;

    let response = api
        .request(Method::GET, "/api-docs/openapi.json")
        .send()
        .await
        .unwrap();
    let status = response.status();
    let doc: Value = serde_json::from_str(&response.text().await.unwrap()).expect("JSON");
    let ui = api
        .request(Method::GET, "/swagger-ui/")
        .send()
        .await
        .unwrap();
    let ui_status = ui.status();
    let ui_page = ui.text().await.unwrap();

    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string());
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        let operation = &paths.get(*path).unwrap_or_else(|| panic!("{path} missing"))[*method];
        assert!(operation.is_object(), "{method} {path} missing");
        assert!(
            operation["responses"].is_object(),
            "{method} {path} has no responses"
        );
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "the document lists routes the test does not know"
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    validate(&doc);
    assert_eq!(ui_status, StatusCode::OK);
    assert!(ui_page.contains("swagger"), "{ui_page}");
    api.stop().await;
    db.cleanup().await;
}

/// Checks `doc` with `openapi-spec-validator` (PyPI; `.ci/run` installs it), which validates
/// against the OpenAPI schema of the document's version and resolves every `$ref`.
fn validate(doc: &Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, doc.to_string()).expect("write the document");
    let run = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&path)
        .output()
        .expect("python3 runs");
    let said =
        String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "the OpenAPI document does not validate (pip install openapi-spec-validator): {said}"
    );
}

/// Every documented route answers (with a token) something other than "no such route".
#[actix_rt::test]
async fn every_documented_route_is_served() {
    let db = TestDb::new(Backend::Sqlite).await;
    let api = Api::start(&db).await;
    let id = uuid::Uuid::new_v4();

    let mut unserved = Vec::new();
    for (method, path) in ROUTES {
        let path = path.replace("{id}", &id.to_string());
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = api.request(method.clone(), &path).send().await.unwrap();
        let body = response.text().await.unwrap();
        if body.contains("no route") {
            unserved.push(format!("{method} {path}"));
        }
    }

    assert!(
        unserved.is_empty(),
        "documented but not served: {unserved:?}"
    );
    api.stop().await;
    db.cleanup().await;
}
