//! A private PostgreSQL server for the database outage: its own data directory in a temp
//! dir, its own port on 127.0.0.1 and its socket beside its data, so stopping it disturbs
//! nobody else's server. It is stopped and its directory deleted when dropped, also when the
//! scenario panicked.
//!
//! The binaries come from `A1C_PG_BINDIR`, else the newest `/usr/lib/postgresql/<version>/bin`,
//! else `PATH`. PostgreSQL refuses to run as root: under root, the server's commands run as
//! the `postgres` user, which owns the directory.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sqlx::Connection;

/// A private server; stopped and deleted on drop.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    /// Creates the server with `initdb` (trust auth) and starts it.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir for the private server");
        let as_postgres = is_root();
        if as_postgres {
            run(Command::new("chown").arg("postgres:").arg(dir.path()));
        }
        let cluster = Self {
            dir,
            bin: bin_dir(),
            port: free_port(),
            as_postgres,
        };
        cluster.initdb();
        cluster.pg_ctl(&["start", "-w", "-t", "60", "-l"], Some(&cluster.log()));
        cluster.wait_ready().await;
        cluster
    }

    /// The server's `postgres` database, for creating the scenario's database.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (fast shutdown: sessions are cut, as in a restart).
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-w", "-m", "fast"], None);
    }

    /// Starts the server again and waits until it answers.
    pub async fn restart(&self) {
        self.pg_ctl(&["start", "-w", "-t", "60", "-l"], Some(&self.log()));
        self.wait_ready().await;
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn initdb(&self) {
        let data = self.data();
        let mut command = self.command("initdb");
        command
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .arg("-D")
            .arg(&data);
        run(&mut command);
        let settings = format!(
            "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             fsync = off\nmax_connections = 200\n",
            self.port,
            self.dir.path().display()
        );
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("read postgresql.conf");
        text.push_str(&settings);
        std::fs::write(&conf, text).expect("write postgresql.conf");
    }

    fn pg_ctl(&self, args: &[&str], log: Option<&Path>) {
        let mut command = self.command("pg_ctl");
        command.arg("-D").arg(self.data()).args(args);
        if let Some(log) = log {
            command.arg(log);
        }
        run(&mut command);
    }

    /// `program` of the server's binaries, as the user the server runs as.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        };
        // The server's user may not be allowed into the test's working directory.
        command.current_dir(self.dir.path());
        command
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match sqlx::PgConnection::connect(&self.admin_url()).await {
                Ok(conn) => {
                    conn.close().await.ok();
                    return;
                }
                Err(err) => assert!(
                    Instant::now() < deadline,
                    "private PostgreSQL did not answer: {err}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Immediate: nothing of this server needs to survive. Its directory goes with `dir`.
        if self.data().join("postmaster.pid").exists() {
            let mut command = self.command("pg_ctl");
            command
                .arg("-D")
                .arg(self.data())
                .args(["stop", "-w", "-m", "immediate"]);
            if let Err(err) = command.output() {
                eprintln!("private PostgreSQL not stopped: {err}");
            }
        }
    }
}

/// Runs `command`, panicking with its output when it fails.
fn run(command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|err| panic!("{command:?}: {err}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Where `initdb` and `pg_ctl` are.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("A1C_PG_BINDIR") {
        return dir.into();
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|v| Some((v.parse::<u32>().ok()?, v)))
        .max()
        .map(|(_, v)| Path::new("/usr/lib/postgresql").join(v).join("bin"));
    // Empty: the programs are looked up in PATH.
    newest.unwrap_or_default()
}

/// A port on 127.0.0.1 that nothing listens on now.
fn free_port() -> u16 {
    let socket = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    socket.local_addr().expect("local address").port()
}
