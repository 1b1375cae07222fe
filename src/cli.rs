//! The command line: `serve` runs the service; the other commands are operator tools that
//! talk to the same database.

pub mod ops;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::config::Config;
use crate::handlers::Handlers;
use crate::job::request::JobRequest;
use crate::job::sensitive::Sensitive;
use crate::job::{JobStatus, NewJob};
use crate::store::job::{self as jobs, ListFilter};
use crate::store::{audit, estimate, stats, Db};
use crate::{http, intake, telemetry, Service};

/// a1c-jobs: the job queue service of the A1C Estimator.
#[derive(Debug, Parser)]
#[command(name = "a1c-jobs", version, about)]
pub struct Cli {
    /// Configuration file laid over the built-in defaults.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (and its HTTP API) until SIGTERM or Ctrl-C.
    Serve,
    /// Make a new bearer token for the HTTP API and print it with its config line.
    Token,
    /// Create or update the schema, then exit.
    Migrate,
    /// Add a job.
    Enqueue {
        /// CALCULATE_A1C, SEND_REMINDER, GENERATE_REPORT or CLEANUP_DATA.
        job_type: String,
        /// The payload as JSON, or `@FILE` to read it from a file (`@-`: standard input).
        #[arg(long)]
        payload: String,
        /// 0 (most urgent) to 9; default 5, or what the payload implies.
        #[arg(long)]
        priority: Option<i16>,
        /// Not before this time (RFC 3339, e.g. 2030-01-01T08:00:00Z).
        #[arg(long, value_parser = parse_time)]
        run_at: Option<DateTime<Utc>>,
        /// At most one live job per key.
        #[arg(long)]
        unique_key: Option<String>,
        /// Runs allowed in all; default from the type's pool.
        #[arg(long)]
        max_attempts: Option<i32>,
    },
    /// Show one job.
    Job { id: Uuid },
    /// List jobs, newest first.
    Jobs {
        #[arg(long)]
        status: Option<JobStatus>,
        #[arg(long = "type")]
        job_type: Option<String>,
        #[arg(long, default_value_t = 50, value_parser = limit_range())]
        limit: u32,
    },
    /// The seed's monitoring queries: status summary (24 h) and failures (7 days).
    Stats,
    /// Requeue a failed, dead-lettered or cancelled job, or every dead letter.
    Retry {
        /// The job to requeue.
        #[arg(
            required_unless_present = "dead_letter",
            conflicts_with = "dead_letter"
        )]
        id: Option<Uuid>,
        /// Requeue every DEAD_LETTER job (of --type, if given).
        #[arg(long)]
        dead_letter: bool,
        #[arg(long = "type", requires = "dead_letter")]
        job_type: Option<String>,
    },
    /// Cancel a job that has not ended.
    Cancel { id: Uuid },
    /// Pause, resume or resize the pool of a job type on every node.
    Pool {
        #[command(subcommand)]
        command: ops::PoolCommand,
    },
    /// Who created, retried, cancelled or requeued which job, and who changed which pool.
    Audit {
        /// Only the entries of this job.
        #[arg(long)]
        job: Option<Uuid>,
        #[arg(long, default_value_t = 50, value_parser = limit_range())]
        limit: u32,
    },
    /// The next fire times of every schedule.
    Schedules {
        #[arg(long, default_value_t = 3)]
        count: usize,
    },
    /// Import a Dexcom Clarity, LibreView or plain `timestamp,glucose_mg_dl` CSV file for a
    /// user (created if new) and enqueue one batch CALCULATE_A1C.
    ImportReadings {
        file: PathBuf,
        #[arg(long)]
        user: Uuid,
        /// IANA zone of the file's local times, for a new user (default UTC) or to override
        /// the user's own.
        #[arg(long)]
        timezone: Option<String>,
    },
    /// A user's A1C estimates, newest first.
    Estimates { user: Uuid },
    /// One mode of the side-by-side benchmark driver (see `bench/run.sh`).
    Bench {
        /// setup, enqueue, work, latency-worker or latency-producer.
        mode: String,
    },
    /// A stored report: its statistics as JSON, or its HTML page alone.
    Report {
        id: Uuid,
        /// Print only the HTML page, e.g. `a1c-jobs report ID --html > report.html`.
        #[arg(long)]
        html: bool,
    },
}

/// Runs a command.
///
/// # Errors
///
/// Any failure, with a message for the operator.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if matches!(cli.command, Command::Token) {
        return token();
    }
    let config = Config::load(cli.config.as_deref())?;
    if matches!(cli.command, Command::Serve) {
        telemetry::init(&config.log);
        return actix_rt::System::new().block_on(serve(config));
    }
    if let Command::Bench { mode } = &cli.command {
        return crate::bench::run(mode, config);
    }
    if matches!(cli.command, Command::Schedules { .. }) {
        return schedules(&config, &cli.command);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(operate(config, cli.command))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let db = Db::open(&config.database)?;
    wait_for_database(&db).await?;
    db.close().await;
    let handlers = Handlers::from_config(&config);
    let http_config = config.http.clone();
    // The port is taken before any pool starts, so a port in use stops nothing half-started.
    let listener = http_config
        .enabled
        .then(|| std::net::TcpListener::bind(http_config.bind.as_str()))
        .transpose()
        .with_context(|| format!("cannot listen on {}", http_config.bind))?;
    let shared = Arc::new(config.clone());
    let service = Service::start(config, handlers).await?;
    let http = if let Some(listener) = listener {
        let started = Db::open(&shared.database)
            .map_err(anyhow::Error::from)
            .and_then(|db| Ok(http::AppState::new(db, shared, service.pools().clone())?))
            .and_then(|state| {
                http::start_on(state, listener)
                    .with_context(|| format!("cannot listen on {}", http_config.bind))
            });
        match started {
            Ok(running) => Some(running),
            Err(err) => {
                // Hand back what the pools claimed before saying why the process stops.
                service.shutdown().await;
                return Err(err);
            }
        }
    } else {
        None
    };
    shutdown_signal().await;
    if let Some(running) = http {
        running.stop().await;
    }
    service.shutdown().await;
    Ok(())
}

/// Prints a new token and the config line that admits it.
fn token() -> anyhow::Result<()> {
    let token = http::new_token();
    let hash = http::hash_token(&token);
    write_out(&format!(
        "token (give it to the client; it is not stored anywhere):\n  {token}\n\n\
         add its hash to the config:\n  [http]\n  tokens = [\"{hash}\"]\n\n\
         or set A1C_JOBS__HTTP__TOKENS='[\"{hash}\"]'\n\n\
         use it as: Authorization: Bearer {token}"
    ))
}

/// Migrates, waiting while the database is unreachable (logged once).
async fn wait_for_database(db: &Db) -> anyhow::Result<()> {
    let mut logged = false;
    loop {
        match db.migrate().await {
            Ok(()) => return Ok(()),
            Err(crate::store::StoreError::Migrate(err)) => bail!("migration failed: {err}"),
            Err(err) => {
                if !logged {
                    tracing::error!(error = %err, "database unreachable; waiting");
                    logged = true;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = tokio::signal::ctrl_c() => bail!("interrupted waiting for the database"),
                }
            }
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn operate(config: Config, command: Command) -> anyhow::Result<()> {
    let creates = matches!(
        command,
        Command::Migrate
            | Command::Enqueue { .. }
            | Command::ImportReadings { .. }
            | Command::Pool { .. }
    );
    if let Some(path) = sqlite_file(&config.database.url).filter(|p| !creates && !p.exists()) {
        bail!(
            "no database at {} (run `a1c-jobs migrate` or `serve` to create it)",
            path.display()
        );
    }
    let db = Db::open(&config.database)?;
    db.migrate()
        .await
        .with_context(|| format!("cannot open database {}", redact(&config.database.url)))?;
    let result = dispatch(&config, &db, command).await;
    db.close().await;
    result
}

async fn dispatch(config: &Config, db: &Db, command: Command) -> anyhow::Result<()> {
    let now = Utc::now();
    let actor = audit::cli_actor();
    let sensitive = Sensitive::from_config(config);
    match command {
        Command::Serve | Command::Token | Command::Schedules { .. } | Command::Bench { .. } => {
            Ok(())
        }
        Command::Migrate => print(&json!({"migrated": true})),
        Command::Enqueue {
            job_type,
            payload,
            priority,
            run_at,
            unique_key,
            max_attempts,
        } => {
            let args = EnqueueArgs {
                job_type,
                payload,
                priority,
                run_at,
                unique_key,
                max_attempts,
            };
            let mut job = new_job(config, args)?;
            sensitive.seal(&job.job_type, &mut job.payload)?;
            let id = jobs::insert_by(db, &job, now, &actor).await?;
            print(&json!({"id": id, "job_type": job.job_type, "priority": job.priority}))
        }
        Command::Job { id } => match jobs::get(db, id).await? {
            Some(job) => print(&ops::shown(&sensitive, job)?),
            None => bail!("job {id} not found"),
        },
        Command::Jobs {
            status,
            job_type,
            limit,
        } => {
            let filter = ListFilter {
                status,
                job_type,
                limit,
                after: None,
            };
            let list = jobs::list(db, &filter).await?;
            let shown: anyhow::Result<Vec<Value>> = list
                .into_iter()
                .map(|j| ops::shown(&sensitive, j))
                .collect();
            print(&Value::Array(shown?))
        }
        Command::Stats => print(&json!({
            "status_summary": stats::status_summary(db).await?,
            "failed_jobs": stats::failed_jobs(db).await?,
        })),
        Command::Retry {
            id,
            dead_letter,
            job_type,
        } => {
            if dead_letter {
                let requeued =
                    jobs::requeue_dead_letters(db, job_type.as_deref(), now, &actor).await?;
                return print(&json!({"requeued": requeued.len()}));
            }
            let id = id.context("a job id or --dead-letter is required")?;
            if !jobs::requeue(db, id, now, &actor).await? {
                bail!("job {id} is not FAILED, DEAD_LETTER or CANCELLED (or does not exist)");
            }
            print(&json!({"requeued": id}))
        }
        Command::Cancel { id } => {
            if !jobs::cancel(db, id, now, &actor).await? {
                bail!("job {id} has already ended (or does not exist)");
            }
            print(&json!({"cancelled": id}))
        }
        Command::Pool { command } => print(&ops::pool(config, db, command).await?),
        Command::Audit { job, limit } => print(&ops::audit_log(db, job, limit).await?),
        Command::ImportReadings {
            file,
            user,
            timezone,
        } => {
            let summary = import_readings(db, &file, user, timezone.as_deref()).await?;
            print(&summary)
        }
        Command::Estimates { user } => print(&serde_json::to_value(
            estimate::list_for_user(db, user).await?,
        )?),
        Command::Report { id, html } => show_report(db, id, html).await,
    }
}

/// Prints a report's statistics (with its period and ids) as JSON, or with `html` its page.
async fn show_report(db: &Db, id: Uuid, html: bool) -> anyhow::Result<()> {
    let Some(report) = crate::store::report::get(db, id).await? else {
        bail!("report {id} not found");
    };
    if html {
        // Written as is, without a panic when the reader goes away (`| head`).
        use std::io::Write as _;
        std::io::stdout().lock().write_all(report.html.as_bytes())?;
        return Ok(());
    }
    let mut value = serde_json::to_value(&report.summary)?;
    value["stats"] = report.stats;
    print(&value)
}

struct EnqueueArgs {
    job_type: String,
    payload: String,
    priority: Option<i16>,
    run_at: Option<DateTime<Utc>>,
    unique_key: Option<String>,
    max_attempts: Option<i32>,
}

fn limit_range() -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(1..=10_000)
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|err| format!("{err}: expected an RFC 3339 time such as 2030-01-01T08:00:00Z"))
}

/// The `--payload` text: given inline, or read from `@FILE` (`@-` for standard input).
fn payload_text(arg: &str) -> anyhow::Result<String> {
    match arg.strip_prefix('@') {
        Some("-") => std::io::read_to_string(std::io::stdin()).context("cannot read stdin"),
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {path}")),
        None => Ok(arg.to_owned()),
    }
}

fn new_job(config: &Config, args: EnqueueArgs) -> anyhow::Result<NewJob> {
    let text = payload_text(&args.payload)?;
    let payload: Value = serde_json::from_str(&text).context("--payload is not JSON")?;
    let request = JobRequest {
        job_type: args.job_type,
        payload,
        priority: args.priority,
        run_at: args.run_at,
        unique_key: args.unique_key,
        max_attempts: args.max_attempts,
    };
    Ok(request.into_new_job(&config.pools)?)
}

/// Reads `file`, stores its readings for `user_id` and enqueues one batch CALCULATE_A1C, in
/// one transaction (see [`crate::intake::import_file`]). A broken file writes nothing.
///
/// # Errors
///
/// The file cannot be read or parsed (the message names the line), the zone is unknown, or
/// the database failed.
pub async fn import_readings(
    db: &Db,
    file: &Path,
    user_id: Uuid,
    timezone: Option<&str>,
) -> anyhow::Result<Value> {
    let data = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let summary = intake::import_file(db, &data, user_id, timezone)
        .await
        .map_err(|err| match err {
            intake::IntakeError::File(err) => {
                anyhow::anyhow!("cannot import {}: {err}", file.display())
            }
            other => other.into(),
        })?;
    Ok(serde_json::to_value(summary)?)
}

fn schedules(config: &Config, command: &Command) -> anyhow::Result<()> {
    let Command::Schedules { count } = command else {
        return Ok(());
    };
    let now = Utc::now();
    let mut out = Vec::new();
    let handlers = Handlers::from_config(config);
    for (name, schedule) in &config.schedules {
        if schedule.enabled && handlers.get(&schedule.job_type).is_none() {
            bail!(
                "schedules.{name}.job_type: no handler serves job type {:?}",
                schedule.job_type
            );
        }
        out.push(crate::schedule::upcoming(name, schedule, now, *count)?);
    }
    print(&serde_json::to_value(out)?)
}

fn print(value: &Value) -> anyhow::Result<()> {
    write_out(&serde_json::to_string_pretty(value)?)
}

/// Writes a line to standard output; a reader that went away (`| head`) is not an error.
fn write_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
        _ => Ok(()),
    }
}

/// The file a `sqlite:` URL names, if it names one.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
