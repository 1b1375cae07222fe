//! One scenario on both backends: the iglu example readings of five subjects, imported for five
//! users in five time zones, and a simulated clock moved through two weeks that hold a Monday,
//! the 1st of April and the start of a quarter (2015-03-30 to 2015-04-13 UTC). Reminders arrive
//! in each user's local time over email (a real SMTP sink), signed push (a real HTTP receiver)
//! and in-app; weekly, monthly and quarterly reports exist once each, with figures computed
//! here from the CSV; cleanup archives exactly the readings older than its threshold.
//!
//! Time is driven through the `now` arguments of the sweeps, the SEND_REMINDER handler and the
//! job claims; nothing sleeps for time to pass.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use a1c_jobs::config::RemindersConfig;
use a1c_jobs::handlers::generate_report::GenerateReport;
use a1c_jobs::handlers::send_reminder::{Attempt, SendReminder};
use a1c_jobs::handlers::{cleanup_data::CleanupData, sweep_reminders, sweep_reports};
use a1c_jobs::handlers::{Handler, JobContext};
use a1c_jobs::job::payload::{CleanupTable, NotificationMethod, ReminderType, ReportType};
use a1c_jobs::job::SEND_REMINDER;
use a1c_jobs::job::{ClaimedJob, JobStatus, Outcome, CLEANUP_DATA, GENERATE_REPORT};
use a1c_jobs::store::cleanup::{self, Cutoff};
use a1c_jobs::store::job::{self as jobs, ClaimRequest, ListFilter, Settlement};
use a1c_jobs::store::reminder::{method_word, NewPreference};
use a1c_jobs::store::{notification, report, user, Db};
use a1c_jobs::Config;
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use common::smtp::SmtpSink;
use common::TestDb;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

/// The iglu example data (GPL-2.0): read in place, never copied into this repository.
const IGLU: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/cgm/iglu_example_data_5_subject.csv"
);

/// The secret push bodies are signed with.
const PUSH_SECRET: &str = "scenario-s3cret";

/// The node name the scenario claims jobs as.
const NODE: &str = "scenario";

/// One person of the scenario: whose readings, where, and which reminder.
struct Plan {
    subject: &'static str,
    zone: &'static str,
    kind: ReminderType,
    method: NotificationMethod,
    /// Local weekdays (Sunday 0) the reminder falls on, at 08:00.
    days: &'static [u32],
    /// Reminders expected in the window, counted by hand (the test also derives them).
    expected: usize,
}

const EVERY_DAY: &[u32] = &[0, 1, 2, 3, 4, 5, 6];

static PLANS: [Plan; 5] = [
    Plan {
        subject: "iglu_subject_1",
        zone: "America/New_York",
        kind: ReminderType::Daily,
        method: NotificationMethod::Email,
        days: EVERY_DAY,
        expected: 14,
    },
    Plan {
        subject: "iglu_subject_2",
        zone: "Europe/Berlin",
        kind: ReminderType::Weekly,
        method: NotificationMethod::Push,
        days: &[1],
        expected: 2,
    },
    Plan {
        subject: "iglu_subject_3",
        zone: "Asia/Kolkata",
        kind: ReminderType::Custom,
        method: NotificationMethod::InApp,
        days: &[1, 2, 3, 4, 5],
        expected: 10,
    },
    // Sydney leaves daylight saving time on 2015-04-05, inside the window.
    Plan {
        subject: "iglu_subject_4",
        zone: "Australia/Sydney",
        kind: ReminderType::Daily,
        method: NotificationMethod::InApp,
        days: EVERY_DAY,
        expected: 14,
    },
    Plan {
        subject: "iglu_subject_5",
        zone: "UTC",
        kind: ReminderType::Custom,
        method: NotificationMethod::InApp,
        days: &[0, 6],
        expected: 4,
    },
];

/// The reports due within the window for users with readings in the period: (subject, type,
/// first day, last day). February's monthly report is still due when the window opens (it
/// stays due until April begins), so subjects 2 and 5, with readings in February, get it.
/// Subject 1's readings are from June, so it gets none; only subject 4 has readings in the
/// week of March 23-29.
const EXPECTED_REPORTS: [(&str, ReportType, &str, &str); 11] = [
    (
        "iglu_subject_2",
        ReportType::Monthly,
        "2015-02-01",
        "2015-02-28",
    ),
    (
        "iglu_subject_5",
        ReportType::Monthly,
        "2015-02-01",
        "2015-02-28",
    ),
    (
        "iglu_subject_2",
        ReportType::Monthly,
        "2015-03-01",
        "2015-03-31",
    ),
    (
        "iglu_subject_2",
        ReportType::Quarterly,
        "2015-01-01",
        "2015-03-31",
    ),
    (
        "iglu_subject_3",
        ReportType::Monthly,
        "2015-03-01",
        "2015-03-31",
    ),
    (
        "iglu_subject_3",
        ReportType::Quarterly,
        "2015-01-01",
        "2015-03-31",
    ),
    (
        "iglu_subject_4",
        ReportType::Weekly,
        "2015-03-23",
        "2015-03-29",
    ),
    (
        "iglu_subject_4",
        ReportType::Monthly,
        "2015-03-01",
        "2015-03-31",
    ),
    (
        "iglu_subject_4",
        ReportType::Quarterly,
        "2015-01-01",
        "2015-03-31",
    ),
    (
        "iglu_subject_5",
        ReportType::Monthly,
        "2015-03-01",
        "2015-03-31",
    ),
    (
        "iglu_subject_5",
        ReportType::Quarterly,
        "2015-01-01",
        "2015-03-31",
    ),
];

const REPORT_TYPES: [ReportType; 3] = [
    ReportType::Weekly,
    ReportType::Monthly,
    ReportType::Quarterly,
];

#[track_caller]
fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().expect("a valid RFC 3339 time")
}

#[track_caller]
fn date(text: &str) -> NaiveDate {
    text.parse().expect("a valid date")
}

fn window() -> (DateTime<Utc>, DateTime<Utc>) {
    (at("2015-03-30T00:00:00Z"), at("2015-04-13T00:00:00Z"))
}

/// One row of the iglu file.
#[derive(Debug, Clone, Copy)]
struct Row {
    at: DateTime<Utc>,
    mg_dl: f64,
}

/// The iglu file's rows by subject, each with its original line for the plain CSV.
fn iglu() -> BTreeMap<String, Vec<(Row, String)>> {
    let path = std::env::var("A1C_IGLU_CSV").unwrap_or_else(|_| IGLU.to_owned());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!("the iglu example data must be at {path} (set A1C_IGLU_CSV): {err}")
    });
    let mut subjects: BTreeMap<String, Vec<(Row, String)>> = BTreeMap::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split(',').collect();
        assert_eq!(cols.len(), 3, "subject_id,timestamp,glucose_mg_dl: {line}");
        let row = Row {
            at: DateTime::parse_from_rfc3339(cols[1])
                .expect("an RFC 3339 time")
                .to_utc(),
            mg_dl: cols[2].parse().expect("a mg/dL value"),
        };
        let plain = format!("{},{}", cols[1], cols[2]);
        subjects
            .entry(cols[0].to_owned())
            .or_default()
            .push((row, plain));
    }
    subjects
}

/// Writes one subject's rows as a plain `timestamp,glucose_mg_dl` CSV under `dir`.
fn plain_csv(dir: &Path, subject: &str, rows: &[(Row, String)]) -> PathBuf {
    let path = dir.join(format!("{subject}.csv"));
    let mut text = String::from("timestamp,glucose_mg_dl\n");
    for (_, line) in rows {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(&path, text).expect("write the plain CSV");
    path
}

/// A user of the scenario after the import.
struct Person {
    plan: &'static Plan,
    id: Uuid,
    zone: Tz,
    email: String,
    rows: Vec<Row>,
}

fn to_rows(rows: &[(Row, String)]) -> Vec<Row> {
    rows.iter().map(|(row, _)| *row).collect()
}

/// Imports each subject's readings for a new user in the plan's zone.
async fn import_everyone(db: &Db) -> Vec<Person> {
    let data = iglu();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut people = Vec::new();
    for plan in &PLANS {
        let rows = data
            .get(plan.subject)
            .unwrap_or_else(|| panic!("{} is in the iglu data", plan.subject));
        let file = plain_csv(dir.path(), plan.subject, rows);
        let id = Uuid::new_v4();
        let summary = a1c_jobs::cli::import_readings(db, &file, id, Some(plan.zone))
            .await
            .expect("import the subject's readings");
        assert_eq!(summary["inserted"], rows.len(), "{}", plan.subject);
        let email = format!("{}@example.org", plan.subject);
        user::update_profile(db, id, Some(&email), None)
            .await
            .expect("set the email address");
        people.push(Person {
            plan,
            id,
            zone: plan.zone.parse().expect("a known zone"),
            email,
            rows: to_rows(rows),
        });
    }
    people
}

fn preference_of(person: &Person) -> NewPreference {
    let plan = person.plan;
    let (weekday, cron) = match plan.kind {
        ReminderType::Weekly => (Some(i16::try_from(plan.days[0]).expect("a weekday")), None),
        ReminderType::Custom => {
            let days: Vec<String> = plan.days.iter().map(u32::to_string).collect();
            (None, Some(format!("0 8 * * {}", days.join(","))))
        }
        ReminderType::Daily => (None, None),
    };
    NewPreference {
        user_id: person.id,
        reminder_type: plan.kind,
        method: plan.method,
        local_time: "08:00".to_owned(),
        weekday,
        cron,
        time_zone: None,
        enabled: true,
    }
}

/// The reminder slots of `plan` in `(from, to]`: local 08:00 on its weekdays, derived here.
fn expected_slots(plan: &Plan, zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let mut day = from.with_timezone(&zone).date_naive() - TimeDelta::days(1);
    let last = to.with_timezone(&zone).date_naive() + TimeDelta::days(1);
    let mut slots = Vec::new();
    while day <= last {
        if plan.days.contains(&day.weekday().num_days_from_sunday()) {
            let local = day.and_hms_opt(8, 0, 0).expect("08:00 exists");
            let slot = zone
                .from_local_datetime(&local)
                .single()
                .expect("08:00 is never in a DST change here")
                .to_utc();
            if from < slot && slot <= to {
                slots.push(slot_text(slot));
            }
        }
        day += TimeDelta::days(1);
    }
    slots
}

fn slot_text(slot: DateTime<Utc>) -> String {
    slot.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One push request as the receiver saw it.
#[derive(Debug, Clone)]
struct Push {
    body: Value,
    signed: bool,
}

/// An HTTP receiver on 127.0.0.1 that checks each request's signature and answers 204.
async fn push_receiver() -> (String, Arc<Mutex<Vec<Push>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let url = format!("http://{}/push", listener.local_addr().expect("addr"));
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let push = answer(&mut stream).await;
                log.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(push);
            });
        }
    });
    (url, received)
}

/// Reads one request, checks its `X-A1C-Signature`, and answers 204.
async fn answer(stream: &mut tokio::net::TcpStream) -> Push {
    let (head, body) = common::read_request(stream).await;
    let head = head.to_lowercase();
    let body = body.as_slice();
    let mut mac = Hmac::<Sha256>::new_from_slice(PUSH_SECRET.as_bytes()).expect("any key");
    mac.update(body);
    let expected = format!(
        "x-a1c-signature: sha256={}",
        hex::encode(mac.finalize().into_bytes())
    );
    let reply = "HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    stream.write_all(reply.as_bytes()).await.expect("answer");
    Push {
        body: serde_json::from_slice(body).expect("a JSON body"),
        signed: head.lines().any(|line| line.trim() == expected),
    }
}

/// SMTP to the sink, push to the receiver, and no skipping after recent readings: a CGM
/// records every few minutes, so with the default two hours every reminder would be skipped.
fn reminders_config(smtp_port: u16, push_url: &str) -> RemindersConfig {
    let layer = format!(
        "[reminders]\nskip_if_reading_within = \"0s\"\n\
         [reminders.smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\ntls = \"none\"\n\
         [reminders.push]\nurl = \"{push_url}\"\nsecret = \"{PUSH_SECRET}\"\ntimeout = \"5s\""
    );
    Config::from_toml_layers(&[&layer])
        .expect("reminders config")
        .reminders
}

/// Claims the `job_type` jobs runnable at `now`, as a pool would.
async fn claim(db: &Db, job_type: &str, now: DateTime<Utc>) -> Vec<ClaimedJob> {
    let request = ClaimRequest {
        job_type,
        node: NODE,
        limit: 100,
        prefetch: 0,
        max_priority: 9,
        lease_ttl: Duration::from_secs(300),
    };
    jobs::claim(db, &request, now).await.expect("claim jobs")
}

/// Records that `job` completed with `result` at `now`.
async fn settle(db: &Db, job: &ClaimedJob, outcome: Outcome, now: DateTime<Utc>) {
    let result = match outcome {
        Outcome::Complete(result) => result,
        other => panic!(
            "{} {} did not complete: {other:?}",
            job.job_type, job.payload
        ),
    };
    let settlement = Settlement {
        id: job.id,
        lease_id: job.lease_id,
        status: JobStatus::Completed,
        run_at: None,
        error: None,
        result: Some(result),
        refund_attempt: false,
        started_at: None,
        ended_at: None,
    };
    let settled = jobs::settle(db, &[settlement], now).await.expect("settle");
    assert_eq!(settled, vec![job.id], "the job's lease still held");
}

/// Runs the SEND_REMINDER jobs due at `now`; returns how many ran.
async fn run_reminders(db: &Db, handler: &SendReminder, now: DateTime<Utc>) -> usize {
    let claimed = claim(db, SEND_REMINDER, now).await;
    for job in &claimed {
        let attempt = Attempt {
            number: job.attempt,
            max: job.max_attempts,
        };
        let outcome = handler
            .run_at(db, &job.payload, now, attempt)
            .await
            .unwrap_or_else(|err| err.into_outcome());
        if let Outcome::Complete(result) = &outcome {
            assert_eq!(
                result["sent"], job.payload["notification_method"],
                "{result}"
            );
        }
        settle(db, job, outcome, now).await;
    }
    claimed.len()
}

/// Runs the GENERATE_REPORT jobs due at `now`.
async fn run_reports(db: &Db, now: DateTime<Utc>) {
    for job in claim(db, GENERATE_REPORT, now).await {
        let ctx = JobContext {
            db: db.clone(),
            job: job.clone(),
            node: NODE.into(),
            claimed_at: now,
        };
        let outcome = GenerateReport.run(ctx).await;
        settle(db, &job, outcome, now).await;
    }
}

/// Moves the clock from `from` to `to` in half-hour steps (every zone here has its 08:00 on a
/// half hour of UTC), sweeping reminders at each step and reports on the hour, as the default
/// schedules do, and running the jobs the sweeps enqueue.
async fn simulate(db: &Db, handler: &SendReminder, from: DateTime<Utc>, to: DateTime<Utc>) {
    let mut now = from;
    while now < to {
        now += TimeDelta::minutes(30);
        let swept = sweep_reminders::sweep(db, now)
            .await
            .expect("sweep reminders");
        if now.minute() == 0 {
            for kind in REPORT_TYPES {
                sweep_reports::sweep(db, kind, now)
                    .await
                    .expect("sweep reports");
            }
        }

        let ran = run_reminders(db, handler, now).await;
        run_reports(db, now).await;

        assert_eq!(usize::try_from(swept.enqueued).ok(), Some(ran), "at {now}");
    }
}

/// The slot of a reminder notification, from its dedupe key `reminder:{preference}:{slot}`.
fn slot_of(key: Option<&str>) -> String {
    let key = key.expect("a reminder has a dedupe key");
    let (_, slot) = key.rsplit_once(":20").expect("the key ends with the slot");
    format!("20{slot}")
}

async fn the_reminders_arrived(
    db: &Db,
    people: &[Person],
    sink: &SmtpSink,
    pushes: &Arc<Mutex<Vec<Push>>>,
) {
    let (start, end) = window();
    for person in people {
        let plan = person.plan;
        let expected = expected_slots(plan, person.zone, start, end);
        let rows = notification::list_for_user(db, person.id)
            .await
            .expect("list notifications");
        let slots: BTreeSet<String> = rows
            .iter()
            .map(|r| slot_of(r.dedupe_key.as_deref()))
            .collect();
        let method = method_word(plan.method);

        assert_eq!(
            expected.len(),
            plan.expected,
            "{}: derived count",
            plan.zone
        );
        assert_eq!(rows.len(), plan.expected, "{}: {rows:?}", plan.zone);
        assert!(rows
            .iter()
            .all(|r| r.status == "SENT" && r.channel == method));
        assert_eq!(slots, expected.iter().cloned().collect(), "{}", plan.zone);
        for slot in &slots {
            let local = at(slot).with_timezone(&person.zone);
            assert_eq!(
                (local.hour(), local.minute()),
                (8, 0),
                "{}: {slot}",
                plan.zone
            );
        }
    }

    let mailed: Vec<&Person> = people
        .iter()
        .filter(|p| p.plan.method == NotificationMethod::Email)
        .collect();
    let emails: usize = mailed.iter().map(|p| p.plan.expected).sum();
    common::wait_until(
        Duration::from_secs(20),
        "the emails at the sink",
        || async { sink.messages().len() >= emails },
    )
    .await;
    let messages = sink.messages();
    assert_eq!(messages.len(), emails, "{}", sink.printed());
    for person in mailed {
        let to_them = messages
            .iter()
            .filter(|m| m.contains(&person.email))
            .count();
        assert_eq!(to_them, person.plan.expected, "emails to {}", person.email);
    }
    assert!(messages
        .iter()
        .all(|m| m.contains("Time to log your glucose")));

    let pushes = pushes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for person in people
        .iter()
        .filter(|p| p.plan.method == NotificationMethod::Push)
    {
        let theirs: Vec<&Push> = pushes
            .iter()
            .filter(|p| p.body["user_id"] == json!(person.id))
            .collect();
        let slots: BTreeSet<String> = theirs
            .iter()
            .map(|p| p.body["slot"].as_str().expect("a slot").to_owned())
            .collect();
        let expected = expected_slots(person.plan, person.zone, start, end);
        assert_eq!(
            theirs.len(),
            person.plan.expected,
            "pushes to {}",
            person.plan.zone
        );
        assert!(theirs.iter().all(|p| p.signed), "{theirs:?}");
        assert_eq!(slots, expected.into_iter().collect());
    }
    let pushed: usize = people
        .iter()
        .filter(|p| p.plan.method == NotificationMethod::Push)
        .map(|p| p.plan.expected)
        .sum();
    assert_eq!(pushes.len(), pushed, "no push to anyone else");
}

/// The user's readings in the local days `first..=last` of their zone.
fn in_period(person: &Person, first: NaiveDate, last: NaiveDate) -> Vec<f64> {
    let midnight = |day: NaiveDate| {
        let local = day.and_hms_opt(0, 0, 0).expect("midnight exists");
        person
            .zone
            .from_local_datetime(&local)
            .earliest()
            .expect("a local midnight")
            .to_utc()
    };
    let (from, to) = (midnight(first), midnight(last + TimeDelta::days(1)));
    person
        .rows
        .iter()
        .filter(|r| from <= r.at && r.at < to)
        .map(|r| r.mg_dl)
        .collect()
}

/// A count as `f64`, exact for any count a test holds.
fn count(n: usize) -> f64 {
    f64::from(u32::try_from(n).expect("a small count"))
}

#[track_caller]
fn assert_close(stats: &Value, pointer: &str, expected: f64, what: &str) {
    let actual = stats.pointer(pointer).and_then(Value::as_f64);
    assert!(
        actual.is_some_and(|a| (a - expected).abs() < 1e-9),
        "{what} {pointer}: {actual:?} != {expected}"
    );
}

async fn the_reports_match_the_csv(db: &Db, people: &[Person]) {
    let mut expected = BTreeSet::new();
    for (subject, kind, first, last) in EXPECTED_REPORTS {
        let person = people
            .iter()
            .find(|p| p.plan.subject == subject)
            .expect("a planned subject");
        let (first, last) = (date(first), date(last));
        let values = in_period(person, first, last);
        let what = format!("{subject} {kind:?} {first}");
        let reports = report::list_for_user(db, person.id).await.expect("list");
        let found: Vec<_> = reports
            .iter()
            .filter(|r| r.report_type == report::type_name(kind) && r.period_start == first)
            .collect();
        assert_eq!(found.len(), 1, "{what}: {reports:?}");
        assert_eq!(found[0].period_end, last, "{what}");
        assert_eq!(found[0].time_zone, person.plan.zone, "{what}");
        let stored = report::get(db, found[0].id)
            .await
            .expect("get report")
            .expect("the report exists");

        let n = count(values.len());
        let mean = values.iter().sum::<f64>() / n;
        let in_range = count(
            values
                .iter()
                .filter(|v| (70.0..=180.0).contains(*v))
                .count(),
        );
        assert!(!values.is_empty(), "{what}: the period has readings");
        assert_eq!(stored.stats["num_readings"], values.len(), "{what}");
        assert_close(&stored.stats, "/mean_mg_dl", mean, &what);
        assert_close(&stored.stats, "/gmi_percent", 3.31 + 0.02392 * mean, &what);
        assert_close(
            &stored.stats,
            "/ranges/in_range_percent",
            100.0 * in_range / n,
            &what,
        );
        expected.insert((person.id, found[0].id));
    }

    let mut all = Vec::new();
    for person in people {
        all.extend(report::list_for_user(db, person.id).await.expect("list"));
    }
    assert_eq!(all.len(), expected.len(), "no other report: {all:?}");
}

/// Rows and summed values per user in `table`, read as text so both backends agree.
async fn per_user(db: &Db, table: &str) -> BTreeMap<Uuid, (usize, f64)> {
    let sql = format!(
        "SELECT CAST(user_id AS TEXT) || ' ' || CAST(count(*) AS TEXT) || ' ' \
         || CAST(sum(value_mg_dl) AS TEXT) FROM {table} GROUP BY user_id"
    );
    let lines: Vec<String> = match db {
        Db::Postgres(pool) => sqlx::query_scalar(&sql).fetch_all(pool).await,
        Db::Sqlite(pool) => sqlx::query_scalar(&sql).fetch_all(pool).await,
    }
    .expect("count readings");
    lines
        .iter()
        .map(|line| {
            let parts: Vec<&str> = line.split(' ').collect();
            let id = Uuid::parse_str(parts[0]).expect("a user id");
            let n = parts[1].parse().expect("a count");
            (id, (n, parts[2].parse().expect("a sum")))
        })
        .collect()
}

/// What `per_user` should read for the rows of each person that `keep` selects.
fn expected_per_user(
    people: &[Person],
    keep: impl Fn(&Row) -> bool,
) -> BTreeMap<Uuid, (usize, f64)> {
    people
        .iter()
        .filter_map(|person| {
            let rows: Vec<&Row> = person.rows.iter().filter(|r| keep(r)).collect();
            let sum = rows.iter().map(|r| r.mg_dl).sum();
            (!rows.is_empty()).then_some((person.id, (rows.len(), sum)))
        })
        .collect()
}

/// Archives the readings older than 30 days at the window's end, batch by batch, as the
/// CLEANUP_DATA handler does but with the simulated `now` (the handler reads the wall clock).
async fn archive_as_of(db: &Db, now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    let before = now - TimeDelta::days(days);
    let cutoff = Cutoff {
        before,
        completed_before: before,
        cancelled_before: before,
        failed_before: before,
        dead_letter_before: before,
    };
    let batch = 1000;
    while cleanup::archive_batch(db, CleanupTable::GlucoseReadings, &cutoff, batch, now)
        .await
        .expect("archive a batch")
        == u64::from(batch)
    {}
    before
}

/// Runs one CLEANUP_DATA attempt, as a pool would.
async fn run_cleanup(db: &Db, payload: Value) -> Value {
    let ctx = common::job_context(db, CLEANUP_DATA, payload, NODE);
    match CleanupData::default().run(ctx).await {
        Outcome::Complete(result) => result,
        other => panic!("cleanup did not complete: {other:?}"),
    }
}

async fn cleanup_archives_only_what_is_older(db: &Db, people: &[Person]) {
    let (_, end) = window();

    // As of the window's end, 30 days: a cutoff inside three subjects' readings.
    let cutoff = archive_as_of(db, end, 30).await;

    let older = expected_per_user(people, |r| r.at < cutoff);
    let newer = expected_per_user(people, |r| r.at >= cutoff);
    assert!(
        older.len() >= 3 && newer.len() >= 3,
        "the cutoff splits the data"
    );
    assert_eq!(per_user(db, "glucose_readings_archive").await, older);
    assert_eq!(per_user(db, "glucose_readings").await, newer);

    // The handler itself, with the threshold that lands on the window's end (the data has no
    // reading from 2015-03-27 to 2015-06-06, so the wall clock's time of day cannot matter).
    let days = (Utc::now() - end).num_days();
    let payload = json!({"cleanup_type": "archive", "older_than_days": days,
                         "tables": ["glucose_readings"]});
    let result = run_cleanup(db, payload).await;

    let older = expected_per_user(people, |r| r.at < end);
    let newer = expected_per_user(people, |r| r.at >= end);
    let between = people
        .iter()
        .flat_map(|p| &p.rows)
        .filter(|r| cutoff <= r.at && r.at < end)
        .count();
    assert_eq!(result["counts"]["glucose_readings"], between, "{result}");
    assert_eq!(per_user(db, "glucose_readings_archive").await, older);
    assert_eq!(per_user(db, "glucose_readings").await, newer);
    assert!(!newer.is_empty(), "the newest readings stay");
}

/// Exactly `expected` jobs of `job_type` were enqueued, and each completed.
async fn every_job_ran_once(db: &Db, job_type: &str, expected: usize) {
    let filter = ListFilter {
        job_type: Some(job_type.to_owned()),
        limit: 1000,
        ..ListFilter::default()
    };
    let all = jobs::list(db, &filter).await.expect("list jobs");

    assert_eq!(all.len(), expected, "{job_type} jobs");
    assert!(
        all.iter().all(|job| job.status == JobStatus::Completed),
        "{job_type}: {all:?}"
    );
}

async fn scenario_two_weeks_and_a_quarter_end(test: &TestDb) {
    let db = test.open();
    let (start, end) = window();
    let people = import_everyone(&db).await;
    for person in &people {
        sweep_reminders::save_preference(&db, &preference_of(person), start)
            .await
            .expect("save the preference");
    }
    let sink = SmtpSink::start().await;
    let (push_url, pushes) = push_receiver().await;
    let handler = SendReminder::new(reminders_config(sink.port, &push_url));

    simulate(&db, &handler, start, end).await;
    let mut again = 0;
    for kind in REPORT_TYPES {
        again += sweep_reports::sweep(&db, kind, end)
            .await
            .expect("sweep")
            .enqueued;
    }

    the_reminders_arrived(&db, &people, &sink, &pushes).await;
    assert_eq!(again, 0, "a second sweep enqueues no report");
    the_reports_match_the_csv(&db, &people).await;
    every_job_ran_once(&db, SEND_REMINDER, PLANS.iter().map(|p| p.expected).sum()).await;
    every_job_ran_once(&db, GENERATE_REPORT, EXPECTED_REPORTS.len()).await;
    cleanup_archives_only_what_is_older(&db, &people).await;
}

on_both_backends!(scenario_two_weeks_and_a_quarter_end);
