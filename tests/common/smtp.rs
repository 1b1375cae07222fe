//! A real SMTP server for tests: the aiosmtpd sink, run as a process.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A free local port (bound, then released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// The aiosmtpd sink, printing each message it receives to stdout; killed on drop.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd starts (pip install aiosmtpd)");
        let sink = Self { child, port };
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

    /// Stops the sink and returns what it printed.
    pub fn output(mut self) -> String {
        self.child.kill().ok();
        let mut text = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            std::io::Read::read_to_string(&mut out, &mut text).ok();
        }
        self.child.wait().ok();
        text
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
