//! `FAULT_PROBE`: the fault suite's test job. Every run is recorded in `fault_probe_runs`
//! (job id, attempt, node, start, end), so runs can be counted from outside the process and a
//! job that runs twice shows up twice.
//!
//! Off unless the config has a `[pools.FAULT_PROBE]` section: a node without one serves no such
//! handler, and maintenance fails any `FAULT_PROBE` row as of an unknown type.
//!
//! Payload: `{"ms": N, "mode": M, "tag": any}`, all optional. The run sleeps `ms` milliseconds,
//! then by `mode`: `ok` completes (default); `panic` panics; `hang` never ends (the pool's
//! timeout stops it); `abort` aborts the whole process (at once, before sleeping);
//! `nul_result` completes with a NUL character in its result; `nul_error` fails with one in
//! its error.

use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::warn;
use uuid::Uuid;

use super::{Handler, JobContext};
use crate::job::{payload, Outcome};
use crate::store::{fault_probe, Db, StoreError};

/// The job type of the probe.
pub const FAULT_PROBE: &str = "FAULT_PROBE";

/// How long a run keeps trying to record its start or end while the database is away.
const RECORD_FOR: Duration = Duration::from_secs(30);

/// What a run does after recording its start.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    #[default]
    Ok,
    Panic,
    Hang,
    Abort,
    NulResult,
    NulError,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Probe {
    #[serde(default)]
    ms: u64,
    #[serde(default)]
    mode: Mode,
    /// Free-form, for the suite (a schedule puts its fire time here).
    #[serde(default, rename = "tag")]
    _tag: Option<Value>,
}

/// The handler.
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultProbe;

impl Handler for FaultProbe {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Outcome> {
        run(ctx).boxed()
    }
}

async fn run(ctx: JobContext) -> Outcome {
    let probe: Probe = match payload::parse(FAULT_PROBE, &ctx.job.payload) {
        Ok(probe) => probe,
        Err(err) => return Outcome::Fail(err.to_string()),
    };
    let (job, node) = (&ctx.job, &*ctx.node);
    let started = retrying(|| fault_probe::start(&ctx.db, job.id, job.attempt, node, Utc::now()));
    let run_id = match started.await {
        Ok(id) => id,
        Err(err) => return Outcome::Retry(format!("probe could not record its start: {err}")),
    };
    if matches!(probe.mode, Mode::Abort) {
        std::process::abort();
    }
    tokio::time::sleep(Duration::from_millis(probe.ms)).await;
    let outcome = match probe.mode {
        Mode::Panic => panic!("probe asked to panic"),
        Mode::Hang => std::future::pending().await,
        Mode::NulResult => Outcome::Complete(json!({"text": "before\u{0}after"})),
        Mode::NulError => Outcome::Fail("probe failed with a NUL: before\u{0}after".to_owned()),
        Mode::Ok | Mode::Abort => Outcome::Complete(json!({"slept_ms": probe.ms, "node": node})),
    };
    record_end(&ctx.db, run_id).await;
    outcome
}

async fn record_end(db: &Db, run_id: Uuid) {
    if let Err(err) = retrying(|| fault_probe::end(db, run_id, Utc::now())).await {
        warn!(error = %err, "probe could not record its end");
    }
}

/// Calls `op` until it succeeds or [`RECORD_FOR`] has passed, so a short database outage
/// does not cost the run.
async fn retrying<T, F, Fut>(op: F) -> Result<T, StoreError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let deadline = Instant::now() + RECORD_FOR;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(err) if Instant::now() >= deadline => return Err(err),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
