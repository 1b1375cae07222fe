//! The operator commands of the binary: pool controls, the audit log, redacted payloads.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_a1c-jobs");
const KEY: &str = "5f0c5e9d1b7a43e2a6c8d0f1e2b3c4d5a6b7c8d9e0f1a2b3c4d5e6f708192a3b";

fn a1c(dir: &Path, key: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(["--config", "ops.toml"])
        .args(args)
        .current_dir(dir)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("jobs.db").display()),
        )
        .env("USER", "ops-tester")
        .env_remove("A1C_JOBS_PAYLOAD_KEY")
        .env_remove("RUST_LOG");
    if let Some(key) = key {
        command.env("A1C_JOBS_PAYLOAD_KEY", key);
    }
    command.output().expect("run a1c-jobs")
}

#[track_caller]
fn json_of(output: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = "[pools.SEND_REMINDER]\nsensitive_fields = [\"email\", \"note\"]\n";
    std::fs::write(dir.path().join("ops.toml"), config).expect("write config");
    dir
}

#[test]
fn an_operator_pauses_and_resizes_a_pool_and_it_is_audited() {
    let dir = setup();
    let d = dir.path();

    let paused = json_of(&a1c(d, None, &["pool", "pause", "CALCULATE_A1C"]));
    let resized = json_of(&a1c(
        d,
        None,
        &["pool", "concurrency", "CALCULATE_A1C", "2"],
    ));
    let zero = a1c(d, None, &["pool", "concurrency", "CALCULATE_A1C", "0"]);
    let unknown = a1c(d, None, &["pool", "pause", "MAKE_COFFEE"]);
    let listed = json_of(&a1c(d, None, &["pool", "list"]));
    let log = json_of(&a1c(d, None, &["audit"]));

    assert_eq!(paused["paused"], true);
    assert_eq!(resized["concurrency"], 2);
    assert!(String::from_utf8_lossy(&zero.stderr).contains("concurrency must be 1 to"));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("MAKE_COFFEE"));
    let a1c_pool = listed
        .as_array()
        .and_then(|pools| pools.iter().find(|p| p["job_type"] == "CALCULATE_A1C"))
        .expect("CALCULATE_A1C listed");
    assert_eq!(a1c_pool["paused"], true);
    assert_eq!(a1c_pool["concurrency"], 2);
    assert_eq!(a1c_pool["configured_concurrency"], 4);
    let actions: Vec<(&str, &str)> = log
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or(""),
                e["actor"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("pool.concurrency", "cli:ops-tester"),
            ("pool.pause", "cli:ops-tester")
        ]
    );
}

#[test]
fn sensitive_fields_are_sealed_on_enqueue_and_shown_redacted() {
    let dir = setup();
    let d = dir.path();
    let payload = r#"{"user_id": "6b1f0a47-08ce-4a37-9d3e-0c6f3f3b1f11", "reminder_type": "daily",
        "notification_method": "email", "email": "ann@example.com", "note": "insulin pump"}"#;

    let refused = a1c(d, None, &["enqueue", "SEND_REMINDER", "--payload", payload]);
    let made = json_of(&a1c(
        d,
        Some(KEY),
        &["enqueue", "SEND_REMINDER", "--payload", payload],
    ));
    let id = made["id"].as_str().expect("id").to_owned();
    let shown = json_of(&a1c(d, None, &["job", &id]));
    let listed = json_of(&a1c(d, None, &["jobs"]));
    let log = json_of(&a1c(d, None, &["audit", "--job", &id]));
    let raw = std::fs::read(d.join("jobs.db")).expect("read db");
    let wal = std::fs::read(d.join("jobs.db-wal")).unwrap_or_default();

    let refusal = String::from_utf8_lossy(&refused.stderr);
    assert!(refusal.contains("A1C_JOBS_PAYLOAD_KEY"), "{refusal}");
    assert_eq!(shown["payload"]["email"], "[redacted]");
    assert_eq!(shown["payload"]["note"], "[redacted]");
    assert_eq!(shown["payload"]["reminder_type"], "daily");
    assert_eq!(listed[0]["payload"]["email"], "[redacted]");
    assert_eq!(log[0]["action"], "job.create");
    assert_eq!(log[0]["actor"], "cli:ops-tester");
    for bytes in [&raw, &wal] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("ann@example.com") && !text.contains("insulin pump"));
    }
}
