//! The `a1c-jobs` binary as an operator uses it, on an embedded SQLite file.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_a1c-jobs");

fn a1c(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("jobs.db").display()),
        )
        .env_remove("RUST_LOG")
        .output()
        .expect("run a1c-jobs")
}

#[track_caller]
fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_invalid_config_value_stops_start_up_naming_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env("A1C_JOBS__POOLS__CALCULATE_A1C__CONCURRENCY", "lots")
        .output()
        .unwrap();

    assert!(!output.status.success());
    assert!(stderr_of(&output).contains("pools.CALCULATE_A1C.concurrency"));
}

#[test]
fn a_bad_payload_is_refused_and_nothing_is_inserted() {
    let dir = tempfile::tempdir().unwrap();

    let bad = a1c(
        dir.path(),
        &["enqueue", "CALCULATE_A1C", "--payload", r#"{"user_id": 7}"#],
    );
    let unknown = a1c(dir.path(), &["enqueue", "MAKE_COFFEE", "--payload", "{}"]);
    let not_json = a1c(
        dir.path(),
        &["enqueue", "CALCULATE_A1C", "--payload", "{user"],
    );
    let user = format!(r#"{{"user_id": "{}"}}"#, uuid::Uuid::new_v4());
    let ancient = a1c(
        dir.path(),
        &[
            "enqueue",
            "CALCULATE_A1C",
            "--payload",
            &user,
            "--run-at",
            "0000-06-01T00:00:00Z",
        ],
    );
    let listed = json_of(&a1c(dir.path(), &["jobs"]));

    assert!(
        stderr_of(&ancient).contains("`run_at`"),
        "{}",
        stderr_of(&ancient)
    );
    assert!(
        stderr_of(&bad).contains("field `user_id`"),
        "{}",
        stderr_of(&bad)
    );
    assert!(stderr_of(&unknown).contains("unknown job type"));
    assert!(stderr_of(&not_json).contains("not JSON"));
    assert_eq!(listed, Value::Array(vec![]));
}

#[test]
fn an_operator_enqueues_inspects_cancels_and_retries_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let user = uuid::Uuid::new_v4().to_string();
    let payload = format!(r#"{{"user_id": "{user}", "calculation_type": "batch"}}"#);

    let created = json_of(&a1c(
        dir.path(),
        &["enqueue", "CALCULATE_A1C", "--payload", &payload],
    ));
    let id = created["id"].as_str().unwrap().to_owned();
    let shown = json_of(&a1c(dir.path(), &["job", &id]));
    json_of(&a1c(dir.path(), &["cancel", &id]));
    let cancelled = json_of(&a1c(dir.path(), &["job", &id]));
    json_of(&a1c(dir.path(), &["retry", &id]));
    let retried = json_of(&a1c(dir.path(), &["jobs", "--status", "pending"]));
    let stats = json_of(&a1c(dir.path(), &["stats"]));
    let cancel_again = a1c(dir.path(), &["cancel", "not-a-uuid"]);

    assert_eq!(
        created["priority"], 7,
        "batch calculations rank below immediate ones"
    );
    assert_eq!(shown["status"], "PENDING");
    assert_eq!(cancelled["status"], "CANCELLED");
    assert!(cancelled["processed_at"].is_string());
    assert_eq!(retried[0]["id"], id.as_str());
    assert!(stats["status_summary"].is_array());
    assert!(!cancel_again.status.success());
}

#[test]
fn schedules_lists_next_fire_times_in_their_zone() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("extra.toml");
    std::fs::write(
        &config,
        "[schedules.morning]\ncron = \"0 8 * * 1-5\"\ntime_zone = \"Asia/Kolkata\"\n\
         job_type = \"CALCULATE_A1C\"\n\
         payload = { user_id = \"00000000-0000-4000-8000-000000000000\" }\n",
    )
    .unwrap();

    let listed = json_of(&a1c(
        dir.path(),
        &["--config", config.to_str().unwrap(), "schedules"],
    ));

    let morning = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["schedule"] == "morning")
        .unwrap();
    let next = morning["next"].as_array().unwrap();
    assert_eq!(next.len(), 3);
    for fire in next {
        assert!(
            fire["utc"].as_str().unwrap().contains("T02:30:00"),
            "{fire}"
        );
        assert!(
            fire["local"].as_str().unwrap().contains("T08:00:00+05:30"),
            "{fire}"
        );
    }
}

#[test]
fn sigterm_stops_serve_within_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("jobs.db").display()),
        )
        .env("A1C_JOBS__SERVICE__SHUTDOWN_GRACE", "1s")
        .env("A1C_JOBS__LOG__FORMAT", "json")
        .env("A1C_JOBS__HTTP__BIND", "127.0.0.1:0")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let started = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("service started"));
    assert!(started, "serve logged its start");

    let sent = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(2),
            "serve outlived grace + 1 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    };

    assert!(status.success(), "{status}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("shutdown complete")),
        "{rest:?}"
    );
}

#[test]
fn importing_a_missing_or_broken_file_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.csv");
    std::fs::write(
        &broken,
        "timestamp,glucose_mg_dl\n2024-01-01T08:00:00Z,110\nyesterday,120\n",
    )
    .unwrap();
    let user = uuid::Uuid::new_v4().to_string();

    let missing = a1c(
        dir.path(),
        &["import-readings", "nope.csv", "--user", &user],
    );
    let bad = a1c(
        dir.path(),
        &["import-readings", broken.to_str().unwrap(), "--user", &user],
    );
    let listed = json_of(&a1c(dir.path(), &["jobs"]));

    assert!(stderr_of(&missing).contains("cannot read nope.csv"));
    assert!(stderr_of(&bad).contains("line 3"), "{}", stderr_of(&bad));
    assert_eq!(listed, Value::Array(vec![]));
}

/// The benchmark's steps on SQLite, three times over: every job is processed, and the service
/// it starts and stops leaves no work behind that panics as its threads end.
#[test]
fn the_benchmark_runs_on_sqlite_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("result.json");
    for _ in 0..3 {
        for mode in ["setup", "enqueue", "work"] {
            let output = Command::new(BIN)
                .args(["bench", mode])
                .current_dir(dir.path())
                .env(
                    "DATABASE_URL",
                    format!("sqlite://{}", dir.path().join("bench.db").display()),
                )
                .env("N", "1000")
                .env("RESULT_FILE", &results)
                .env_remove("RUST_LOG")
                .output()
                .expect("run a1c-jobs bench");
            let log = stderr_of(&output);
            assert!(output.status.success(), "bench {mode}: {log}");
            assert!(!log.contains("panicked"), "bench {mode}: {log}");
        }
        let text = std::fs::read_to_string(&results).expect("result written");
        let run: Value = serde_json::from_str(text.trim()).expect("one JSON object");
        assert_eq!(run["phase"], "work", "{run}");
        assert_eq!(run["handled"], 1000, "{run}");
        assert_eq!(run["left_after"], 0, "{run}");
    }
}
