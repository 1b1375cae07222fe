//! `a1c-jobs token` and the HTTP API of a real `serve` process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_a1c-jobs");

/// The token and its hash, as `a1c-jobs token` prints them.
fn make_token() -> (String, String) {
    let output = Command::new(BIN).arg("token").output().expect("run token");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let word = |prefix: &str| {
        text.split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '[')
            .find(|w| w.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {text}"))
            .trim_end_matches([']', '"'])
            .to_owned()
    };
    (word("a1c_"), word("sha256:"))
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn serve(dir: &std::path::Path, port: u16, tokens: &str) -> (Child, Vec<String>) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .current_dir(dir)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("jobs.db").display()),
        )
        .env("A1C_JOBS__HTTP__BIND", format!("127.0.0.1:{port}"))
        .env("A1C_JOBS__HTTP__TOKENS", tokens)
        .env("A1C_JOBS__SERVICE__SHUTDOWN_GRACE", "1s")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let mut reader = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let lines = reader
        .by_ref()
        .map_while(Result::ok)
        .take_while(|l| !l.contains("http listening"))
        .collect();
    // Keep reading, so the process never writes into a closed pipe.
    std::thread::spawn(move || reader.map_while(Result::ok).for_each(drop));
    (child, lines)
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[actix_rt::test]
async fn serve_answers_with_the_token_that_token_made() {
    let dir = tempfile::tempdir().unwrap();
    let (token, hash) = make_token();
    let port = free_port();
    let (child, _) = serve(dir.path(), port, &format!("[\"{hash}\"]"));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

    let health = client.get(format!("{base}/health")).send().await.unwrap();
    let anonymous = client.get(format!("{base}/api/jobs")).send().await.unwrap();
    let jobs = client
        .get(format!("{base}/api/jobs"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (health, anonymous, jobs) = (health.status(), anonymous.status(), jobs.status());
    stop(child);

    assert_eq!(health, reqwest::StatusCode::OK);
    assert_eq!(anonymous, reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(jobs, reqwest::StatusCode::OK);
}

#[test]
fn serve_without_a_token_starts_and_says_how_to_add_one() {
    let dir = tempfile::tempdir().unwrap();

    let (child, lines) = serve(dir.path(), free_port(), "[]");
    stop(child);

    assert!(
        lines.iter().any(|l| l.contains("a1c-jobs token")),
        "{lines:?}"
    );
}

/// A port another process holds: `serve` says which address it cannot listen on and exits with
/// an error before any pool starts, without a panic.
#[test]
fn serve_stops_cleanly_when_its_port_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().unwrap().port();
    let mut child = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("jobs.db").display()),
        )
        .env("A1C_JOBS__HTTP__BIND", format!("127.0.0.1:{port}"))
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let exited = child.try_wait().ok().flatten();
    if exited.is_none() {
        let _ = child.kill();
    }
    let output = child.wait_with_output().expect("output");
    let log = String::from_utf8_lossy(&output.stderr);
    drop(holder);

    let status = exited.expect("serve exits when it cannot listen");
    assert!(!status.success());
    assert!(
        log.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{log}"
    );
    assert!(
        !log.contains("pool started"),
        "no pool starts before the port is taken: {log}"
    );
    assert!(!log.contains("panicked"), "{log}");
}
