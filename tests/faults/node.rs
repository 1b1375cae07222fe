//! A real `a1c-jobs serve` process: started, killed with SIGKILL, stopped with SIGTERM,
//! restarted, its log kept in a file.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The service binary this test target was built with.
const BINARY: &str = env!("CARGO_BIN_EXE_a1c-jobs");

/// One node: a name, a config file, a database and, while it runs, a process.
pub struct Node {
    pub name: String,
    url: String,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    /// How many times the process was started.
    pub starts: u32,
}

impl Node {
    /// A node named `name` serving `url` with `config`; its log goes beside the config.
    pub fn new(name: &str, url: &str, config: &Path) -> Self {
        let dir = config.parent().expect("config file in a directory");
        Self {
            name: name.to_owned(),
            url: url.to_owned(),
            config: config.to_owned(),
            log: dir.join(format!("{name}.log")),
            child: None,
            starts: 0,
        }
    }

    /// Starts the process (the log is appended to across restarts).
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} is running already", self.name);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open node log");
        let err = log.try_clone().expect("clone log handle");
        let child = Command::new(BINARY)
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .env("DATABASE_URL", &self.url)
            .env("A1C_JOBS__NODE__NAME", &self.name)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("start a1c-jobs serve");
        self.child = Some(child);
        self.starts += 1;
    }

    /// Waits until this start of the process logged that the service runs.
    pub async fn wait_started(&self) {
        let want = usize::try_from(self.starts).unwrap_or(usize::MAX);
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.log_count("service started") < want {
            assert!(Instant::now() < deadline, "{} did not start", self.name);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("node is running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reap killed node");
    }

    /// Sends SIGTERM; the process keeps running until it has drained.
    pub fn terminate(&self) {
        let child = self.child.as_ref().expect("node is running");
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM failed");
    }

    /// The exit status once the process ended, waiting at most `limit`; `None` if it runs on.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            let child = self.child.as_mut()?;
            if let Some(status) = child.try_wait().expect("poll node") {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Whether the process has ended on its own (reaping it if so).
    pub fn has_exited(&mut self) -> bool {
        let Some(child) = self.child.as_mut() else {
            return true;
        };
        match child.try_wait().expect("poll node") {
            Some(_) => {
                self.child = None;
                true
            }
            None => false,
        }
    }

    /// Lines of the log that contain `text`.
    pub fn log_count(&self, text: &str) -> usize {
        self.log_text().lines().filter(|l| l.contains(text)).count()
    }

    /// The whole log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- last lines of {} ---", self.name);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}
