//! A real SMTP server for tests: the aiosmtpd sink, run as a process.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// A free local port (bound, then released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// The aiosmtpd sink; what it prints is collected as it arrives; killed on drop.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    printed: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let port = free_port();
        let mut child = Command::new("python3")
            .args(["-u", "-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd starts (pip install aiosmtpd)");
        let printed = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().expect("piped stdout");
        let sink = Arc::clone(&printed);
        let reader = std::thread::spawn(move || {
            let lines = std::io::BufReader::new(stdout).lines();
            for line in lines.map_while(Result::ok) {
                let mut text = sink.lock().unwrap_or_else(PoisonError::into_inner);
                text.push_str(&line);
                text.push('\n');
            }
        });
        let sink = Self {
            child,
            port,
            printed,
            reader: Some(reader),
        };
        super::wait_until(
            Duration::from_secs(20),
            "the SMTP sink to listen",
            || async {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
            },
        )
        .await;
        sink
    }

    /// What the sink printed so far.
    pub fn printed(&self) -> String {
        self.printed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The messages received so far, each as the sink printed it.
    pub fn messages(&self) -> Vec<String> {
        self.printed()
            .split("---------- MESSAGE FOLLOWS ----------")
            .skip(1)
            .map(str::to_owned)
            .collect()
    }

    /// Stops the sink and returns all it printed.
    pub fn output(mut self) -> String {
        self.child.kill().ok();
        self.child.wait().ok();
        if let Some(reader) = self.reader.take() {
            reader.join().ok();
        }
        self.printed()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
