//! Alert rules on both backends: each kind fires (and is sent once) and resolves against real
//! rows, a rule disabled or taken out of the config resolves, only one of two racing nodes
//! flips an alert, and a running service sends a firing alert to a real local webhook and a
//! real SMTP server once, and once more only after it resolved and fired again.

mod common;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use a1c_jobs::alerts::{self, Notifier};
use a1c_jobs::job::NewJob;
use a1c_jobs::store::alert::{self as alert_store, Alert};
use a1c_jobs::store::job as jobs;
use a1c_jobs::store::Db;
use a1c_jobs::Config;
use chrono::{DateTime, SecondsFormat, SubsecRound, TimeDelta, Utc};
use common::smtp::SmtpSink;
use common::{Recorder, TestDb, TEST_WORK};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

/// The built-in rules, off so that each test sees only its own.
const NO_DEFAULT_RULES: &str = r#"
[alerts.rules.failed_jobs]
enabled = false
[alerts.rules.lease_overrun]
enabled = false
[alerts.rules.backlog]
enabled = false
[alerts.rules.slow_jobs]
enabled = false
"#;

const RULES: &str = r#"
[alerts.rules.fails]
kind = "failed_jobs"
job_type = "ALERT_T"
threshold = 1
[alerts.rules.waiting]
kind = "backlog"
threshold = 2
[alerts.rules.stuck]
kind = "lease_overrun"
grace = "1s"
[alerts.rules.slow]
kind = "p95_run_time"
job_type = "ALERT_T"
over = "2s"
"#;

fn text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn sql_time(at: Option<DateTime<Utc>>) -> String {
    at.map_or("NULL".to_owned(), |t| format!("'{}'", text(t)))
}

async fn execute(db: &Db, sql: &str) {
    match db {
        Db::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        Db::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
    }
    .unwrap_or_else(|err| panic!("{sql}: {err}"));
}

/// A job row as another node would have left it.
struct Row {
    job_type: &'static str,
    status: &'static str,
    run_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    processed_at: Option<DateTime<Utc>>,
    lease_expires_at: Option<DateTime<Utc>>,
}

impl Row {
    fn new(job_type: &'static str, status: &'static str, run_at: DateTime<Utc>) -> Self {
        Self {
            job_type,
            status,
            run_at,
            started_at: None,
            processed_at: None,
            lease_expires_at: None,
        }
    }

    async fn insert(&self, db: &Db) {
        let lease_id = self
            .lease_expires_at
            .map_or("NULL".to_owned(), |_| format!("'{}'", uuid::Uuid::new_v4()));
        let sql = format!(
            "INSERT INTO job_queue
                 (id, job_type, payload, status, attempts, run_at, created_at, updated_at,
                  started_at, processed_at, lease_id, lease_expires_at)
             VALUES ('{id}', '{job_type}', '{{}}', '{status}', 1, {run_at}, {run_at}, {run_at},
                     {started}, {processed}, {lease_id}, {lease})",
            id = uuid::Uuid::new_v4(),
            job_type = self.job_type,
            status = self.status,
            run_at = sql_time(Some(self.run_at)),
            started = sql_time(self.started_at),
            processed = sql_time(self.processed_at),
            lease = sql_time(self.lease_expires_at),
        );
        execute(db, &sql).await;
    }
}

/// A job of `job_type` that ran `seconds` and completed five minutes before `t0`.
fn completed(job_type: &'static str, t0: DateTime<Utc>, seconds: i64) -> Row {
    let end = t0 - TimeDelta::minutes(5);
    Row {
        started_at: Some(end - TimeDelta::seconds(seconds)),
        processed_at: Some(end),
        ..Row::new(job_type, "COMPLETED", end - TimeDelta::minutes(1))
    }
}

async fn rows_for_every_rule(db: &Db, t0: DateTime<Utc>) {
    let failed_at = t0 - TimeDelta::minutes(10);
    for job_type in ["ALERT_T", "ALERT_T", "OTHER", "OTHER", "OTHER"] {
        let row = Row {
            processed_at: Some(failed_at),
            ..Row::new(job_type, "FAILED", failed_at)
        };
        row.insert(db).await;
    }
    for _ in 0..3 {
        Row::new("OTHER", "PENDING", t0 - TimeDelta::minutes(1))
            .insert(db)
            .await;
    }
    let stuck = Row {
        started_at: Some(t0 - TimeDelta::minutes(1)),
        lease_expires_at: Some(t0 - TimeDelta::seconds(5)),
        ..Row::new("OTHER", "PROCESSING", t0 - TimeDelta::minutes(1))
    };
    stuck.insert(db).await;
    for i in 0..20 {
        let seconds = if i < 18 { 1 } else { 10 };
        completed("ALERT_T", t0, seconds).insert(db).await;
        completed("OTHER", t0, 100).insert(db).await;
    }
}

fn by_rule(alerts: &[Alert]) -> Vec<(String, bool, f64)> {
    let mut rows: Vec<_> = alerts
        .iter()
        .map(|a| (a.rule.clone(), a.firing, (a.value * 100.0).round() / 100.0))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

async fn every_rule_fires_and_resolves(test: &TestDb) {
    let db = test.open();
    let (url, received) = webhook().await;
    let hook = format!("[alerts.webhook]\nurl = \"{url}\"\n");
    let config = test.config(&format!("{NO_DEFAULT_RULES}{RULES}{hook}"));
    let notifier = Notifier::new(&config.alerts, "node-a");
    let t0 = Utc::now().trunc_subsecs(3);
    rows_for_every_rule(&db, t0).await;

    let fired = alerts::evaluate(&db, &config.alerts, &notifier, t0)
        .await
        .expect("evaluate");
    let again = alerts::evaluate(&db, &config.alerts, &notifier, t0)
        .await
        .expect("evaluate again");
    let firing = alert_store::list(&db).await.expect("list");
    let active = alerts::active(&db).await.expect("active alerts");
    let sent = rules_sent(&received);
    execute(
        &db,
        &format!(
            "UPDATE job_queue
             SET status = 'CANCELLED', processed_at = {t}, lease_id = NULL,
                 lease_expires_at = NULL
             WHERE status IN ('PENDING', 'PROCESSING')",
            t = sql_time(Some(t0))
        ),
    )
    .await;
    let later = t0 + TimeDelta::hours(2);
    let resolved = alerts::evaluate(&db, &config.alerts, &notifier, later)
        .await
        .expect("evaluate later");
    let quiet = alert_store::list(&db).await.expect("list");
    let active_later = alerts::active(&db).await.expect("active alerts");
    let sent_in_all = rules_sent(&received);

    assert_eq!(fired.len(), 4, "{fired:?}");
    assert!(fired.iter().all(|c| c.firing), "{fired:?}");
    assert!(again.is_empty(), "{again:?}");
    // Each rule sent once though evaluated twice while firing; resolving sends nothing.
    assert_eq!(sent, ["fails", "slow", "stuck", "waiting"]);
    assert_eq!(sent_in_all, sent);
    let expected = |on: bool| {
        vec![
            ("fails".to_owned(), on, 2.0),
            ("slow".to_owned(), on, 10.0),
            ("stuck".to_owned(), on, 1.0),
            ("waiting".to_owned(), on, 3.0),
        ]
    };
    assert_eq!(by_rule(&firing), expected(true));
    assert_eq!(by_rule(&active), expected(true));
    assert!(active_later.is_empty(), "{active_later:?}");
    assert_eq!(resolved.len(), 4, "{resolved:?}");
    assert!(resolved.iter().all(|c| !c.firing), "{resolved:?}");
    assert_eq!(by_rule(&quiet), expected(false));
    assert!(quiet.iter().all(|a| a.resolved_at == Some(later)));
    let slow = fired.iter().find(|c| c.rule == "slow").expect("slow fired");
    assert!(slow.message.contains("10.000s"), "{}", slow.message);
}

async fn only_one_node_flips_an_alert(test: &TestDb) {
    let (node_a, node_b) = (test.open(), test.open());
    let rule = "[alerts.rules.any]\nkind = \"backlog\"\nthreshold = 0\n";
    let config = test.config(&format!("{NO_DEFAULT_RULES}{rule}"));
    let notifier = Notifier::new(&config.alerts, "node");
    let t0 = Utc::now();
    let mut changes = Vec::new();

    for round in 0..6 {
        let status = if round % 2 == 0 {
            "PENDING"
        } else {
            "CANCELLED"
        };
        let processed = if status == "CANCELLED" {
            sql_time(Some(t0))
        } else {
            "NULL".into()
        };
        let sql = format!("UPDATE job_queue SET status = '{status}', processed_at = {processed}");
        if round == 0 {
            Row::new("OTHER", "PENDING", t0).insert(&node_a).await;
        } else {
            execute(&node_a, &sql).await;
        }
        let (a, b) = tokio::join!(
            alerts::evaluate(&node_a, &config.alerts, &notifier, t0),
            alerts::evaluate(&node_b, &config.alerts, &notifier, t0),
        );
        let (a, b) = (a.expect("node a"), b.expect("node b"));
        changes.push(a.len() + b.len());
    }

    assert_eq!(changes, vec![1; 6]);
}

async fn rules_disabled_or_removed_resolve(test: &TestDb) {
    let db = test.open();
    let rule = "[alerts.rules.any]\nkind = \"backlog\"\nthreshold = 0\n";
    let gone = "[alerts.rules.gone]\nkind = \"backlog\"\nthreshold = 0\n";
    let on = test.config(&format!("{NO_DEFAULT_RULES}{gone}{rule}"));
    let off = test.config(&format!("{NO_DEFAULT_RULES}{rule}enabled = false\n"));
    let notifier = Notifier::new(&on.alerts, "node");
    let t0 = Utc::now();
    Row::new("OTHER", "PENDING", t0).insert(&db).await;

    let fired = alerts::evaluate(&db, &on.alerts, &notifier, t0)
        .await
        .expect("evaluate");
    let listed = alerts::active(&db).await.expect("active alerts");
    let resolved = alerts::evaluate(&db, &off.alerts, &notifier, t0)
        .await
        .expect("evaluate");
    let left = alerts::active(&db).await.expect("active alerts");

    assert_eq!(fired.len(), 2, "{fired:?}");
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(resolved.len(), 2, "{resolved:?}");
    assert!(resolved.iter().all(|c| !c.firing), "{resolved:?}");
    assert!(left.is_empty(), "{left:?}");
}

/// A local webhook that answers 200 and keeps every JSON body it receives.
async fn webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind webhook");
    let url = format!("http://{}/alerts", listener.local_addr().expect("addr"));
    let received = Arc::new(Mutex::new(Vec::new()));
    let keep = received.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (_, body) = common::read_request(&mut stream).await;
            let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            keep.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(value);
            let reply = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
            stream.write_all(reply.as_bytes()).await.ok();
        }
    });
    (url, received)
}

/// The rules of the notices received, sorted.
fn rules_sent(received: &Mutex<Vec<Value>>) -> Vec<String> {
    let bodies = received.lock().unwrap_or_else(PoisonError::into_inner);
    let mut rules: Vec<String> = bodies
        .iter()
        .map(|b| b["rule"].as_str().unwrap_or("?").to_owned())
        .collect();
    rules.sort();
    rules
}

fn count(received: &Mutex<Vec<Value>>) -> usize {
    received
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .len()
}

async fn is_firing(db: &Db, rule: &str) -> bool {
    let alerts = alert_store::list(db).await.expect("list alerts");
    alerts.iter().any(|a| a.rule == rule && a.firing)
}

async fn firing_alert_is_sent_once_until_resolved(test: &TestDb) {
    let (url, received) = webhook().await;
    let sink = SmtpSink::start().await;
    let layer = format!(
        r#"
        [pools.{TEST_WORK}]
        enabled = false
        [alerts]
        interval = "100ms"
        [alerts.webhook]
        url = "{url}"
        [alerts.email]
        to = ["ops@example.org"]
        [alerts.smtp]
        host = "127.0.0.1"
        port = {port}
        tls = "none"
        [alerts.rules.waiting]
        kind = "backlog"
        job_type = "{TEST_WORK}"
        threshold = 0
        "#,
        port = sink.port
    );
    let config: Config = test.config(&format!("{NO_DEFAULT_RULES}{layer}"));
    let service = common::start(config, &Recorder::default()).await;
    let db = service.db().clone();
    let job = NewJob::new(TEST_WORK, json!({}));
    let enqueue = || jobs::insert(&db, &job, Utc::now());

    let first = enqueue().await.expect("enqueue");
    common::wait_until(Duration::from_secs(10), "the alert sent", || async {
        count(&received) == 1
    })
    .await;
    // Ten more evaluations while the alert keeps firing.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let while_firing = count(&received);
    let listed = service.active_alerts().await.expect("active alerts");
    jobs::cancel(&db, first, Utc::now(), "test")
        .await
        .expect("cancel");
    common::wait_until(Duration::from_secs(10), "the alert resolved", || async {
        !is_firing(&db, "waiting").await
    })
    .await;
    let after_resolving = count(&received);
    enqueue().await.expect("enqueue again");
    common::wait_until(Duration::from_secs(10), "the alert sent again", || async {
        count(&received) == 2
    })
    .await;
    service.shutdown().await;
    let mail = sink.output();

    assert_eq!((while_firing, after_resolving), (1, 1));
    let listed: Vec<&str> = listed.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(listed, ["waiting"]);
    let bodies = received
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for body in &bodies {
        assert_eq!(body["rule"], "waiting", "{body}");
        assert_eq!(body["state"], "firing", "{body}");
        assert_eq!(body["job_type"], TEST_WORK, "{body}");
        assert_eq!(body["value"], 1.0, "{body}");
        assert!(
            body["node"].as_str().is_some_and(|n| !n.is_empty()),
            "{body}"
        );
    }
    assert_eq!(mail.matches("alert waiting: firing").count(), 2, "{mail}");
    assert!(mail.contains("ops@example.org"), "{mail}");
}

on_both_backends!(
    every_rule_fires_and_resolves,
    only_one_node_flips_an_alert,
    rules_disabled_or_removed_resolve,
    firing_alert_is_sent_once_until_resolved,
);
