//! SEND_REMINDER and the default sweeps on both backends: slots in the user's zone (Kolkata,
//! Berlin across DST, weekly, custom), the reminder sweep enqueuing once, skipping after a recent
//! reading, in-app rows, email through a real SMTP sink process and the file outbox, signed push
//! to a real local HTTP receiver, and the report sweep. Time is driven through `now` arguments.

mod common;

use std::time::Duration;

use a1c_jobs::config::RemindersConfig;
use a1c_jobs::handlers::send_reminder::{Attempt, SendReminder};
use a1c_jobs::handlers::{sweep_reminders, sweep_reports};
use a1c_jobs::job::payload::{NotificationMethod, ReminderType, ReportType};
use a1c_jobs::job::{
    Job, JobStatus, NewJob, Outcome, CALCULATE_A1C, GENERATE_REPORT, SEND_REMINDER,
};
use a1c_jobs::store::job::{self as jobs, ListFilter};
use a1c_jobs::store::reading::{self, NewReading};
use a1c_jobs::store::reminder::{self, NewPreference, Preference};
use a1c_jobs::store::{notification, user, Db};
use a1c_jobs::Config;
use chrono::{DateTime, TimeDelta, Utc};
use common::smtp::SmtpSink;
use common::TestDb;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

/// The first of a job's four attempts.
const FIRST: Attempt = Attempt { number: 1, max: 4 };

#[track_caller]
fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().expect("a valid RFC 3339 time")
}

async fn new_user(db: &Db, zone: &str, email: Option<&str>) -> Uuid {
    let id = Uuid::new_v4();
    user::ensure(db, id, zone).await.expect("create user");
    user::update_profile(db, id, email, None)
        .await
        .expect("set email");
    id
}

fn preference(user_id: Uuid, kind: ReminderType, method: NotificationMethod) -> NewPreference {
    NewPreference {
        user_id,
        reminder_type: kind,
        method,
        local_time: "08:00".to_owned(),
        weekday: None,
        cron: None,
        time_zone: None,
        enabled: true,
    }
}

/// Saves `new` as of `now` and returns the stored preference.
async fn save(db: &Db, new: &NewPreference, now: DateTime<Utc>) -> Preference {
    sweep_reminders::save_preference(db, new, now)
        .await
        .expect("save preference");
    stored(db, new).await
}

async fn stored(db: &Db, new: &NewPreference) -> Preference {
    reminder::find(db, new.user_id, new.reminder_type, new.method)
        .await
        .expect("find preference")
        .expect("preference exists")
}

fn payload(new: &NewPreference) -> Value {
    json!({
        "user_id": new.user_id,
        "reminder_type": new.reminder_type,
        "notification_method": new.method,
    })
}

/// Runs SEND_REMINDER for `new` at `now` with `config`.
async fn remind(
    db: &Db,
    config: &RemindersConfig,
    new: &NewPreference,
    now: DateTime<Utc>,
) -> Outcome {
    SendReminder::new(config.clone())
        .run_at(db, &payload(new), now, FIRST)
        .await
        .unwrap_or_else(|err| err.into_outcome())
}

/// As [`remind`], as attempt `number` of four.
async fn remind_attempt(
    db: &Db,
    config: &RemindersConfig,
    new: &NewPreference,
    now: DateTime<Utc>,
    number: i32,
) -> Outcome {
    let attempt = Attempt { number, max: 4 };
    SendReminder::new(config.clone())
        .run_at(db, &payload(new), now, attempt)
        .await
        .unwrap_or_else(|err| err.into_outcome())
}

#[track_caller]
fn completed(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Complete(value) => value,
        other => panic!("expected completion, got {other:?}"),
    }
}

async fn jobs_of_type(db: &Db, job_type: &str) -> Vec<Job> {
    let filter = ListFilter {
        job_type: Some(job_type.to_owned()),
        limit: 1000,
        ..ListFilter::default()
    };
    jobs::list(db, &filter).await.expect("list jobs")
}

async fn add_reading(db: &Db, user_id: Uuid, measured_at: DateTime<Utc>) {
    let readings = [NewReading {
        measured_at,
        value_mg_dl: 120.0,
    }];
    let job = NewJob::new(CALCULATE_A1C, json!({"user_id": user_id}));
    reading::import(db, user_id, "manual", &readings, &job, measured_at)
        .await
        .expect("store reading");
}

fn in_app_config() -> RemindersConfig {
    RemindersConfig::default()
}

async fn kolkata_daily_reminder_lands_at_0230_utc(test: &TestDb) {
    let db = test.open();
    let user_id = new_user(&db, "Asia/Kolkata", None).await;
    let new = preference(user_id, ReminderType::Daily, NotificationMethod::InApp);

    let pref = save(&db, &new, at("2026-01-10T00:00:00Z")).await;
    let result = completed(remind(&db, &in_app_config(), &new, at("2026-01-10T02:30:00Z")).await);

    assert_eq!(pref.next_reminder_at, Some(at("2026-01-10T02:30:00Z")));
    assert_eq!(result["sent"], "in_app");
    let after = stored(&db, &new).await;
    assert_eq!(after.next_reminder_at, Some(at("2026-01-11T02:30:00Z")));
    assert_eq!(after.last_sent_at, Some(at("2026-01-10T02:30:00Z")));
}

async fn berlin_daily_reminder_stays_at_local_eight_across_dst(test: &TestDb) {
    let db = test.open();
    let user_id = new_user(&db, "Europe/Berlin", None).await;
    let new = preference(user_id, ReminderType::Daily, NotificationMethod::InApp);

    // Saturday 2026-03-28 is CET (UTC+1); clocks spring forward on Sunday the 29th.
    let pref = save(&db, &new, at("2026-03-28T00:00:00Z")).await;
    completed(remind(&db, &in_app_config(), &new, at("2026-03-28T07:00:00Z")).await);

    assert_eq!(pref.next_reminder_at, Some(at("2026-03-28T07:00:00Z")));
    let after = stored(&db, &new).await;
    assert_eq!(after.next_reminder_at, Some(at("2026-03-29T06:00:00Z")));
}

async fn weekly_and_custom_reminders_follow_their_rules(test: &TestDb) {
    let db = test.open();
    let user_id = new_user(&db, "UTC", None).await;
    let weekly = NewPreference {
        local_time: "19:45".to_owned(),
        weekday: Some(1),
        ..preference(user_id, ReminderType::Weekly, NotificationMethod::InApp)
    };
    let custom = NewPreference {
        cron: Some("30 7 * * 1-5".to_owned()),
        time_zone: Some("America/New_York".to_owned()),
        ..preference(user_id, ReminderType::Custom, NotificationMethod::InApp)
    };

    // Saturday 2026-01-10.
    let weekly = save(&db, &weekly, at("2026-01-10T00:00:00Z")).await;
    let custom = save(&db, &custom, at("2026-01-10T00:00:00Z")).await;

    assert_eq!(weekly.next_reminder_at, Some(at("2026-01-12T19:45:00Z")));
    // Monday 07:30 EST is 12:30 UTC.
    assert_eq!(custom.next_reminder_at, Some(at("2026-01-12T12:30:00Z")));
    assert_eq!(custom.zone, "America/New_York");
}

async fn sweep_enqueues_each_slot_once(test: &TestDb) {
    let db = test.open();
    let user_id = new_user(&db, "UTC", None).await;
    let new = preference(user_id, ReminderType::Daily, NotificationMethod::InApp);
    save(&db, &new, at("2026-01-10T00:00:00Z")).await;
    let now = at("2026-01-10T08:00:30Z");

    let first = sweep_reminders::sweep(&db, now).await.expect("sweep");
    let second = sweep_reminders::sweep(&db, now).await.expect("sweep");
    let (a, b) = tokio::join!(
        sweep_reminders::sweep(&db, now),
        sweep_reminders::sweep(&db, now)
    );

    assert_eq!(first.enqueued, 1);
    assert_eq!(second.enqueued, 0);
    assert_eq!(a.expect("sweep").enqueued + b.expect("sweep").enqueued, 0);
    let queued = jobs_of_type(&db, SEND_REMINDER).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].payload["slot"], "2026-01-10T08:00:00Z");

    // Once served, the slot is not due any more, even though its job no longer holds the key.
    completed(remind(&db, &in_app_config(), &new, now).await);
    jobs::cancel(&db, queued[0].id, now, "test")
        .await
        .expect("end the job");
    let later = sweep_reminders::sweep(&db, now).await.expect("sweep");
    assert_eq!(later.enqueued, 0);
}

async fn sweep_schedules_preferences_the_app_wrote(test: &TestDb) {
    let db = test.open();
    let user_id = new_user(&db, "Asia/Kolkata", None).await;
    let new = preference(user_id, ReminderType::Daily, NotificationMethod::InApp);
    reminder::upsert(&db, &new, None, at("2026-01-10T00:00:00Z"))
        .await
        .expect("insert without a slot");

    let swept = sweep_reminders::sweep(&db, at("2026-01-10T00:00:00Z"))
        .await
        .expect("sweep");

    assert_eq!(swept.scheduled, 1);
    assert_eq!(swept.enqueued, 0);
    let pref = stored(&db, &new).await;
    assert_eq!(pref.next_reminder_at, Some(at("2026-01-10T02:30:00Z")));
}

async fn recent_reading_skips_the_reminder(test: &TestDb) {
    let db = test.open();
    let user_id = new_user(&db, "UTC", None).await;
    let new = preference(user_id, ReminderType::Daily, NotificationMethod::InApp);
    save(&db, &new, at("2026-01-10T00:00:00Z")).await;
    add_reading(&db, user_id, at("2026-01-10T07:00:00Z")).await;

    let result = completed(remind(&db, &in_app_config(), &new, at("2026-01-10T08:00:00Z")).await);

    assert_eq!(result["skipped"], "recent_reading");
    let rows = notification::list_for_user(&db, user_id)
        .await
        .expect("list");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "SKIPPED");
    let after = stored(&db, &new).await;
    assert_eq!(after.next_reminder_at, Some(at("2026-01-11T08:00:00Z")));
}

async fn a_reading_dated_in_the_future_does_not_skip_the_reminder(test: &TestDb) {
    let db = test.open();
    let user_id = new_user(&db, "UTC", None).await;
    let new = preference(user_id, ReminderType::Daily, NotificationMethod::InApp);
    save(&db, &new, at("2026-01-10T00:00:00Z")).await;
    add_reading(&db, user_id, at("2026-03-01T07:00:00Z")).await;

    let result = completed(remind(&db, &in_app_config(), &new, at("2026-01-10T08:00:00Z")).await);

    assert!(result.get("skipped").is_none(), "{result}");
    let rows = notification::list_for_user(&db, user_id)
        .await
        .expect("list");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "SENT");
}

async fn in_app_reminder_records_one_row_however_often_it_runs(test: &TestDb) {
    let db = test.open();
    let user_id = new_user(&db, "UTC", None).await;
    let new = preference(user_id, ReminderType::Daily, NotificationMethod::InApp);
    let pref = save(&db, &new, at("2026-01-10T00:00:00Z")).await;
    let job = json!({"user_id": user_id, "reminder_type": "daily",
                     "notification_method": "in_app", "slot": "2026-01-10T08:00:00Z"});
    let handler = SendReminder::new(in_app_config());

    let first = handler
        .run_at(&db, &job, at("2026-01-10T08:00:00Z"), FIRST)
        .await;
    let again = handler
        .run_at(&db, &job, at("2026-01-10T08:01:00Z"), FIRST)
        .await;

    assert_eq!(completed(first.expect("runs"))["sent"], "in_app");
    assert_eq!(completed(again.expect("runs"))["skipped"], "already_done");
    let rows = notification::list_for_user(&db, user_id)
        .await
        .expect("list");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].channel, "in_app");
    assert_eq!(rows[0].status, "SENT");
    let key = format!("reminder:{}:2026-01-10T08:00:00Z", pref.id);
    assert_eq!(rows[0].dedupe_key.as_deref(), Some(key.as_str()));
}

async fn disabled_and_unknown_preferences(test: &TestDb) {
    let db = test.open();
    let user_id = new_user(&db, "UTC", None).await;
    let new = NewPreference {
        enabled: false,
        ..preference(user_id, ReminderType::Daily, NotificationMethod::InApp)
    };
    save(&db, &new, at("2026-01-10T00:00:00Z")).await;
    let unknown = preference(user_id, ReminderType::Weekly, NotificationMethod::Push);

    let disabled = remind(&db, &in_app_config(), &new, at("2026-01-10T08:00:00Z")).await;
    let missing = remind(&db, &in_app_config(), &unknown, at("2026-01-10T08:00:00Z")).await;

    assert_eq!(completed(disabled)["skipped"], "disabled");
    assert!(matches!(missing, Outcome::Fail(_)), "{missing:?}");
}

async fn email_reaches_a_real_smtp_server(test: &TestDb) {
    let db = test.open();
    let user_id = new_user(&db, "UTC", Some("pat@example.org")).await;
    let new = preference(user_id, ReminderType::Daily, NotificationMethod::Email);
    save(&db, &new, at("2026-01-10T00:00:00Z")).await;
    let sink = SmtpSink::start().await;
    let layer = format!(
        "[reminders.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"",
        sink.port
    );
    let config = Config::from_toml_layers(&[&layer]).expect("config");

    let outcome = remind(&db, &config.reminders, &new, at("2026-01-10T08:00:00Z")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let printed = sink.output();

    assert_eq!(completed(outcome)["sent"], "email");
    assert!(printed.contains("pat@example.org"), "{printed}");
    assert!(printed.contains("Time to log your glucose"), "{printed}");
    let rows = notification::list_for_user(&db, user_id)
        .await
        .expect("list");
    assert_eq!(rows[0].status, "SENT");
}

async fn email_goes_to_the_outbox_without_smtp(test: &TestDb) {
    let db = test.open();
    let user_id = new_user(&db, "UTC", Some("sam@example.org")).await;
    let new = preference(user_id, ReminderType::Daily, NotificationMethod::Email);
    save(&db, &new, at("2026-01-10T00:00:00Z")).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = RemindersConfig {
        outbox_dir: dir.path().join("outbox"),
        ..RemindersConfig::default()
    };

    let outcome = remind(&db, &config, &new, at("2026-01-10T08:00:00Z")).await;

    assert_eq!(completed(outcome)["sent"], "email");
    let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
        .expect("outbox exists")
        .map(|entry| entry.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(&files[0]).expect("read message");
    assert!(text.contains("sam@example.org"), "{text}");
}

/// One request as the receiver saw it.
struct Received {
    headers: String,
    body: Vec<u8>,
}

/// A one-shot HTTP receiver on 127.0.0.1 answering `status`; returns its URL and the request.
async fn receiver(status: u16) -> (String, tokio::task::JoinHandle<Received>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let url = format!("http://{}/push", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("a push request");
        answer(&mut stream, |_| status).await
    });
    (url, task)
}

/// Reads one request from `stream` and answers it with the status `status_of(body)` gives.
async fn answer(stream: &mut tokio::net::TcpStream, status_of: impl Fn(&[u8]) -> u16) -> Received {
    let (headers, body) = common::read_request(stream).await;
    let status = status_of(&body);
    let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    stream.write_all(reply.as_bytes()).await.expect("answer");
    Received { headers, body }
}

/// An HTTP receiver on 127.0.0.1 answering every request with `status_of(body)`.
async fn receiver_by_body(status_of: fn(&[u8]) -> u16) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let url = format!("http://{}/push", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move { answer(&mut stream, status_of).await });
        }
    });
    url
}

fn push_config(url: &str) -> RemindersConfig {
    let layer = format!("[reminders.push]\nurl = \"{url}\"\nsecret = \"s3cret\"\ntimeout = \"5s\"");
    Config::from_toml_layers(&[&layer])
        .expect("config")
        .reminders
}

async fn push_is_signed_and_classified(test: &TestDb) {
    let db = test.open();
    let user_id = new_user(&db, "UTC", None).await;
    let new = preference(user_id, ReminderType::Daily, NotificationMethod::Push);
    save(&db, &new, at("2026-01-10T00:00:00Z")).await;

    let (url, request) = receiver(500).await;
    let retry = remind(&db, &push_config(&url), &new, at("2026-01-10T08:00:00Z")).await;
    request.await.expect("receiver");
    let (url, request) = receiver(204).await;
    let config = push_config(&url);
    let sent = remind_attempt(&db, &config, &new, at("2026-01-10T08:01:00Z"), 2).await;
    let received = request.await.expect("receiver");

    assert!(matches!(retry, Outcome::Retry(_)), "{retry:?}");
    assert_eq!(completed(sent)["sent"], "push");
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").expect("any key");
    mac.update(&received.body);
    let expected = format!(
        "x-a1c-signature: sha256={}",
        hex::encode(mac.finalize().into_bytes())
    );
    assert!(
        received.headers.to_lowercase().contains(&expected),
        "{}",
        received.headers
    );
    let body: Value = serde_json::from_slice(&received.body).expect("json body");
    assert_eq!(body["user_id"], json!(user_id));
    assert_eq!(body["slot"], "2026-01-10T08:00:00Z");
}

async fn push_that_never_answers_is_retried(test: &TestDb) {
    let db = test.open();
    let user_id = new_user(&db, "UTC", None).await;
    let new = preference(user_id, ReminderType::Daily, NotificationMethod::Push);
    save(&db, &new, at("2026-01-10T00:00:00Z")).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let url = format!("http://{}/push", listener.local_addr().expect("addr"));
    // Accepts the connection and keeps it open without a word.
    let silent = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("a push request");
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        drop(stream);
    });
    let layer = format!("[reminders.push]\nurl = \"{url}\"\nsecret = \"s\"\ntimeout = \"300ms\"");
    let config = Config::from_toml_layers(&[&layer])
        .expect("config")
        .reminders;

    let outcome = remind(&db, &config, &new, at("2026-01-10T08:00:00Z")).await;

    assert!(matches!(outcome, Outcome::Retry(_)), "{outcome:?}");
    silent.abort();
}

async fn push_answered_400_fails_for_good(test: &TestDb) {
    let db = test.open();
    let user_id = new_user(&db, "UTC", None).await;
    let new = preference(user_id, ReminderType::Daily, NotificationMethod::Push);
    save(&db, &new, at("2026-01-10T00:00:00Z")).await;
    let (url, request) = receiver(400).await;

    let outcome = remind(&db, &push_config(&url), &new, at("2026-01-10T08:00:00Z")).await;
    request.await.expect("receiver");

    assert!(matches!(outcome, Outcome::Fail(_)), "{outcome:?}");
    let rows = notification::list_for_user(&db, user_id)
        .await
        .expect("list");
    assert_eq!(rows[0].status, "FAILED");
    // The slot is given up, so the sweep does not enqueue it again.
    let after = stored(&db, &new).await;
    assert_eq!(after.next_reminder_at, Some(at("2026-01-11T08:00:00Z")));
}

async fn report_sweep_enqueues_once_per_user_with_readings(test: &TestDb) {
    let db = test.open();
    let active = new_user(&db, "Asia/Kolkata", None).await;
    let earlier = new_user(&db, "UTC", None).await;
    let _silent = new_user(&db, "UTC", None).await;
    add_reading(&db, active, at("2026-01-07T10:00:00Z")).await;
    add_reading(&db, earlier, at("2025-12-01T10:00:00Z")).await;
    // Monday 2026-01-12 07:00 in Kolkata, 01:30 UTC: the week of Jan 5-11 just ended there.
    let now = at("2026-01-12T01:30:00Z");

    let first = sweep_reports::sweep(&db, ReportType::Weekly, now)
        .await
        .expect("sweep");
    let again = sweep_reports::sweep(&db, ReportType::Weekly, now)
        .await
        .expect("sweep");

    assert_eq!(first.enqueued, 1);
    assert_eq!(again.enqueued, 0);
    let queued = jobs_of_type(&db, GENERATE_REPORT).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].payload["user_id"], json!(active));
    assert_eq!(queued[0].payload["report_type"], "weekly");
    assert_eq!(queued[0].payload["date_range"]["start"], "2026-01-05");
    assert_eq!(queued[0].payload["date_range"]["end"], "2026-01-11");
    // Before 06:00 local on Monday, nothing is due yet.
    let early = at("2026-01-12T00:00:00Z");
    let none = sweep_reports::sweep(&db, ReportType::Weekly, early)
        .await
        .expect("sweep");
    assert_eq!(none.enqueued, 0);
}

async fn sweep_jobs_run_in_the_service(test: &TestDb) {
    let config = test.config("");
    let db = test.open();
    let user_id = new_user(&db, "UTC", None).await;
    let new = preference(user_id, ReminderType::Daily, NotificationMethod::InApp);
    save(&db, &new, Utc::now() - TimeDelta::days(1)).await;
    let handlers = a1c_jobs::Handlers::from_config(&config);
    let service = a1c_jobs::Service::start(config, handlers)
        .await
        .expect("service starts");

    jobs::insert(&db, &NewJob::new("SWEEP_REMINDERS", json!({})), Utc::now())
        .await
        .expect("enqueue sweep");
    common::wait_until(Duration::from_secs(20), "the in-app reminder", || async {
        let rows = notification::list_for_user(&db, user_id)
            .await
            .expect("list");
        rows.iter().any(|r| r.status == "SENT")
    })
    .await;

    service.shutdown().await;
}

async fn slot_is_given_up_when_its_attempts_run_out(test: &TestDb) {
    let db = test.open();
    let user_id = new_user(&db, "UTC", None).await;
    let new = preference(user_id, ReminderType::Daily, NotificationMethod::Push);
    save(&db, &new, at("2026-01-10T00:00:00Z")).await;
    let (url, request) = receiver(503).await;
    let config = push_config(&url);

    let last = remind_attempt(&db, &config, &new, at("2026-01-10T08:00:00Z"), 4).await;
    request.await.expect("receiver");

    assert!(matches!(last, Outcome::Fail(_)), "{last:?}");
    let after = stored(&db, &new).await;
    assert_eq!(after.next_reminder_at, Some(at("2026-01-11T08:00:00Z")));
}

async fn new_job_for_an_unsettled_slot_gives_it_up(test: &TestDb) {
    let db = test.open();
    let user_id = new_user(&db, "UTC", None).await;
    let new = preference(user_id, ReminderType::Daily, NotificationMethod::Push);
    save(&db, &new, at("2026-01-10T00:00:00Z")).await;
    let (url, request) = receiver(503).await;
    let config = push_config(&url);
    let retry = remind(&db, &config, &new, at("2026-01-10T08:00:00Z")).await;
    request.await.expect("receiver");

    // The job dead-lettered without the handler (timeouts); the sweep enqueues a new one.
    let fresh = remind(&db, &config, &new, at("2026-01-10T09:00:00Z")).await;

    assert!(matches!(retry, Outcome::Retry(_)), "{retry:?}");
    assert!(matches!(fresh, Outcome::Fail(_)), "{fresh:?}");
    let rows = notification::list_for_user(&db, user_id)
        .await
        .expect("list");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "FAILED");
    let after = stored(&db, &new).await;
    assert_eq!(after.next_reminder_at, Some(at("2026-01-11T08:00:00Z")));
}

/// Answers 400 to reminders of weekly preferences and 500 to the others.
fn weekly_refused(body: &[u8]) -> u16 {
    if String::from_utf8_lossy(body).contains("\"weekly\"") {
        400
    } else {
        500
    }
}

async fn push_answers_become_retry_and_failed_jobs(test: &TestDb) {
    let url = receiver_by_body(weekly_refused).await;
    let layer = format!("[reminders.push]\nurl = \"{url}\"\nsecret = \"s3cret\"");
    let config = test.config(&layer);
    let db = test.open();
    let user_id = new_user(&db, "UTC", None).await;
    let daily = preference(user_id, ReminderType::Daily, NotificationMethod::Push);
    let weekly = NewPreference {
        weekday: Some(1),
        ..preference(user_id, ReminderType::Weekly, NotificationMethod::Push)
    };
    let a_week_ago = Utc::now() - TimeDelta::days(8);
    save(&db, &daily, a_week_ago).await;
    save(&db, &weekly, a_week_ago).await;
    let handlers = a1c_jobs::Handlers::from_config(&config);
    let service = a1c_jobs::Service::start(config, handlers)
        .await
        .expect("service starts");

    let now = Utc::now();
    let retried = jobs::insert(&db, &NewJob::new(SEND_REMINDER, payload(&daily)), now).await;
    let failed = jobs::insert(&db, &NewJob::new(SEND_REMINDER, payload(&weekly)), now).await;
    let (retried, failed) = (retried.expect("enqueue"), failed.expect("enqueue"));
    common::wait_until(Duration::from_secs(20), "both attempts to end", || async {
        common::status_of(&db, retried).await == JobStatus::Retry
            && common::status_of(&db, failed).await == JobStatus::Failed
    })
    .await;

    service.shutdown().await;
}

on_both_backends!(
    kolkata_daily_reminder_lands_at_0230_utc,
    berlin_daily_reminder_stays_at_local_eight_across_dst,
    weekly_and_custom_reminders_follow_their_rules,
    sweep_enqueues_each_slot_once,
    sweep_schedules_preferences_the_app_wrote,
    recent_reading_skips_the_reminder,
    a_reading_dated_in_the_future_does_not_skip_the_reminder,
    in_app_reminder_records_one_row_however_often_it_runs,
    disabled_and_unknown_preferences,
    email_reaches_a_real_smtp_server,
    email_goes_to_the_outbox_without_smtp,
    push_is_signed_and_classified,
    push_answered_400_fails_for_good,
    push_that_never_answers_is_retried,
    report_sweep_enqueues_once_per_user_with_readings,
    sweep_jobs_run_in_the_service,
    push_answers_become_retry_and_failed_jobs,
    slot_is_given_up_when_its_attempts_run_out,
    new_job_for_an_unsettled_slot_gives_it_up,
);
