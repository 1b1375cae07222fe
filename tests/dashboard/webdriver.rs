//! A small WebDriver client: chromedriver driving headless Chromium, spoken to as JSON over
//! HTTP. It fails (never skips) when either program is missing or does not start.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use tokio::process::{Child, Command};

/// W3C's key for an element reference in a response.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session in it.
pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
}

fn program(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

impl Browser {
    /// Starts chromedriver (`A1C_CHROMEDRIVER`, default `/usr/bin/chromedriver`) and a headless
    /// Chromium session (`A1C_CHROMIUM`, default `/usr/bin/chromium`) that records the
    /// browser's console.
    pub async fn start() -> Self {
        let driver_path = program("A1C_CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = program("A1C_CHROMIUM", "/usr/bin/chromium");
        assert!(
            Path::new(&chromium).exists(),
            "{chromium} is missing: apt-get install -y chromium chromium-driver"
        );
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {driver_path}: {err}"));
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        wait_ready(&http, &base).await;

        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--window-size=1400,1800", "--disable-dev-shm-usage"],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let created = send(
            &http,
            reqwest::Method::POST,
            &format!("{base}/session"),
            capabilities,
        )
        .await
        .unwrap_or_else(|err| panic!("chromium did not start under chromedriver: {err}"));
        let session = created["sessionId"]
            .as_str()
            .expect("new session answer has a session id")
            .to_owned();
        Self {
            driver,
            http,
            session: format!("{base}/session/{session}"),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.session);
        send(&self.http, method, &url, body)
            .await
            .unwrap_or_else(|err| panic!("webdriver {path}: {err}"))
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    /// The first element matching `css`.
    pub async fn find(&self, css: &str) -> String {
        let body = json!({"using": "css selector", "value": css});
        let found = self.call(reqwest::Method::POST, "/element", body).await;
        found[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("no element reference for {css}: {found}"))
            .to_owned()
    }

    /// Clicks an element found by [`Browser::find`].
    pub async fn click(&self, element: &str) {
        let path = format!("/element/{element}/click");
        self.call(reqwest::Method::POST, &path, json!({})).await;
    }

    /// Types `text` into an element.
    pub async fn type_text(&self, element: &str, text: &str) {
        let path = format!("/element/{element}/value");
        self.call(reqwest::Method::POST, &path, json!({"text": text}))
            .await;
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        let body = json!({"script": script, "args": args});
        self.call(reqwest::Method::POST, "/execute/sync", body)
            .await
    }

    /// Waits until `script` returns true; panics naming `what` after `timeout`.
    pub async fn wait_for(&self, timeout: Duration, what: &str, script: &str) {
        let deadline = Instant::now() + timeout;
        while self.execute(script, json!([])).await != Value::Bool(true) {
            assert!(Instant::now() < deadline, "timed out waiting for: {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The page's text inside the element matching `css`.
    pub async fn text_of(&self, css: &str) -> String {
        let script = "const e = document.querySelector(arguments[0]); \
                      return e ? e.innerText : null;";
        let text = self.execute(script, json!([css])).await;
        text.as_str()
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_owned()
    }

    /// Saves a PNG of the window to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let shot = self
            .call(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().expect("screenshot is base64 text"))
            .expect("screenshot decodes");
        std::fs::write(path, png).expect("write screenshot");
    }

    /// The browser console's entries since the last call (each `{level, message, ...}`).
    pub async fn console(&self) -> Vec<Value> {
        let body = json!({"type": "browser"});
        let entries = self.call(reqwest::Method::POST, "/se/log", body).await;
        entries.as_array().cloned().unwrap_or_default()
    }

    /// Ends the session and chromedriver.
    pub async fn quit(mut self) {
        let _ = send(
            &self.http,
            reqwest::Method::DELETE,
            &self.session,
            Value::Null,
        )
        .await;
        let _ = self.driver.kill().await;
    }
}

/// Waits for chromedriver to answer `/status` with `ready`.
async fn wait_ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = send(
            http,
            reqwest::Method::GET,
            &format!("{base}/status"),
            Value::Null,
        )
        .await;
        if status.is_ok_and(|s| s["ready"] == Value::Bool(true)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not start on {base}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One WebDriver command; its `value`, or the error WebDriver gave.
async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Value,
) -> Result<Value, String> {
    let mut request = http.request(method, url).timeout(Duration::from_secs(60));
    if !body.is_null() {
        request = request.json(&body);
    }
    let response = request.send().await.map_err(|err| err.to_string())?;
    let status = response.status();
    let answer: Value = response.json().await.map_err(|err| err.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {}", answer["value"]));
    }
    Ok(answer["value"].clone())
}
