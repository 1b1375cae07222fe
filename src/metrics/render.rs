//! The Prometheus text format (version 0.0.4): `# HELP` and `# TYPE` before each family,
//! one sample per line, label values escaped.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tracing::warn;

use super::{global, Histogram, JobTypeMetrics, Metrics};
use crate::actors::pool::{GetState, PoolState};
use crate::actors::PoolDirectory;
use crate::store::stats::{self, Depth};
use crate::store::Db;

/// The `Content-Type` of the text [`render`] returns.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What a scrape reads besides the registry: the running pools and the database.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// Each running pool's state, by job type.
    pub pools: Vec<(String, PoolState)>,
    /// Jobs per type and status; `None` when the database could not be read.
    pub queue_depth: Option<Vec<Depth>>,
}

/// Every metric of this process as Prometheus text: the registry, the pools in `pools` and
/// the queue depth read from `db`. A database that cannot be read is reported by
/// `a1c_jobs_database_up 0` (and logged), not by failing the scrape.
pub async fn render(db: &Db, pools: &PoolDirectory) -> String {
    let mut scrape = Scrape::default();
    for (job_type, addr) in pools.all() {
        if let Ok(state) = addr.send(GetState).await {
            scrape.pools.push((job_type, state));
        }
    }
    scrape.pools.sort_by(|a, b| a.0.cmp(&b.0));
    match stats::queue_depth(db).await {
        Ok(depth) => scrape.queue_depth = Some(depth),
        Err(err) => warn!(error = %err, "queue depth not read for metrics"),
    }
    render_text(global(), &scrape)
}

/// A family of one series per job type: its name (after `a1c_jobs_`), its help text and how
/// to read it from a job type's metrics.
type Family<T> = (&'static str, &'static str, fn(&JobTypeMetrics) -> &T);

/// The counters of each job type.
const COUNTERS: [Family<AtomicU64>; 6] = [
    ("enqueued_total", "Jobs enqueued by this process.", |m| {
        &m.enqueued
    }),
    ("completed_total", "Attempts recorded as completed.", |m| {
        &m.completed
    }),
    (
        "failed_total",
        "Attempts recorded as failed for good.",
        |m| &m.failed,
    ),
    (
        "retried_total",
        "Attempts that failed and were scheduled to retry.",
        |m| &m.retried,
    ),
    (
        "dead_lettered_total",
        "Jobs dead-lettered: attempts used up.",
        |m| &m.dead_lettered,
    ),
    (
        "rescued_total",
        "Jobs taken back from an expired lease.",
        |m| &m.rescued,
    ),
];

/// `metrics` and `scrape` as Prometheus text.
pub fn render_text(metrics: &Metrics, scrape: &Scrape) -> String {
    let mut out = String::new();
    let types = metrics.job_types();
    for (name, help, read) in COUNTERS {
        family(&mut out, name, "counter", help);
        for (job_type, m) in &types {
            sample(&mut out, name, &[("job_type", job_type)], load(read(m)));
        }
    }
    histograms(&mut out, &types);
    pools(&mut out, &scrape.pools);
    queue_depth(&mut out, scrape.queue_depth.as_deref());
    labelled_counters(
        &mut out,
        "schedule_fires_total",
        "Fires of each schedule that enqueued a job on this node.",
        "schedule",
        &metrics.schedule_fires(),
    );
    labelled_counters(
        &mut out,
        "actor_restarts_total",
        "Actors restarted after their mailbox closed.",
        "actor",
        &metrics.actor_restarts(),
    );
    out
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

fn histograms(out: &mut String, types: &[(String, Arc<JobTypeMetrics>)]) {
    let kinds: [Family<Histogram>; 2] = [
        ("run_seconds", "How long attempts ran.", |m| &m.run_time),
        (
            "queue_seconds",
            "How long jobs waited from run_at to their start.",
            |m| &m.queue_time,
        ),
    ];
    for (name, help, read) in kinds {
        family(out, name, "histogram", help);
        for (job_type, m) in types {
            let snap = read(m).snapshot();
            let bucket = format!("{name}_bucket");
            for (bound, count) in &snap.buckets {
                let le = if bound.is_infinite() {
                    "+Inf".to_owned()
                } else {
                    bound.to_string()
                };
                let labels = [("job_type", job_type.as_str()), ("le", le.as_str())];
                sample(out, &bucket, &labels, *count);
            }
            let labels = [("job_type", job_type.as_str())];
            sample(out, &format!("{name}_sum"), &labels, snap.sum);
            sample(out, &format!("{name}_count"), &labels, snap.count);
        }
    }
}

fn pools(out: &mut String, pools: &[(String, PoolState)]) {
    family(
        out,
        "pool_in_flight",
        "gauge",
        "Attempts running in the pool.",
    );
    for (job_type, state) in pools {
        sample(
            out,
            "pool_in_flight",
            &[("job_type", job_type)],
            state.in_flight,
        );
    }
    family(
        out,
        "pool_concurrency",
        "gauge",
        "Attempts the pool may run at once.",
    );
    for (job_type, state) in pools {
        let labels = [("job_type", job_type.as_str())];
        sample(out, "pool_concurrency", &labels, state.concurrency);
    }
}

fn queue_depth(out: &mut String, depth: Option<&[Depth]>) {
    family(
        out,
        "database_up",
        "gauge",
        "Whether the last scrape could read the database.",
    );
    sample(out, "database_up", &[], u8::from(depth.is_some()));
    family(
        out,
        "queue_depth",
        "gauge",
        "Jobs in job_queue per type and status.",
    );
    for row in depth.unwrap_or_default() {
        let labels = [("job_type", row.job_type.as_str()), ("status", &row.status)];
        sample(out, "queue_depth", &labels, row.count);
    }
}

/// A counter family with one label: `rows` are (label value, count).
fn labelled_counters(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    rows: &[(String, u64)],
) {
    family(out, name, "counter", help);
    for (value, count) in rows {
        sample(out, name, &[(label, value)], *count);
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP a1c_jobs_{name} {help}");
    let _ = writeln!(out, "# TYPE a1c_jobs_{name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    let _ = write!(out, "a1c_jobs_{name}");
    if !labels.is_empty() {
        out.push('{');
        for (i, (key, value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{key}=\"{}\"", escape(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();

        sample(&mut out, "x", &[("job_type", "a\"b\\c\nd")], 1);

        assert_eq!(out, "a1c_jobs_x{job_type=\"a\\\"b\\\\c\\nd\"} 1\n");
    }

    #[test]
    fn every_family_has_help_and_type() {
        let metrics = Metrics::default();
        metrics.enqueued("T", 2);
        metrics.actor_restarted("maintenance");

        let text = render_text(&metrics, &Scrape::default());

        assert!(
            text.contains("a1c_jobs_enqueued_total{job_type=\"T\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("a1c_jobs_run_seconds_bucket{job_type=\"T\",le=\"+Inf\"} 0\n"));
        assert!(text.contains("a1c_jobs_database_up 0\n"), "{text}");
        let helps = text.lines().filter(|l| l.starts_with("# HELP")).count();
        let types = text.lines().filter(|l| l.starts_with("# TYPE")).count();
        assert_eq!(helps, types);
        assert_eq!(helps, 14);
    }
}
