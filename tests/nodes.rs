//! Several nodes on one database: no job runs twice at once, no fire time fires twice.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use a1c_jobs::actors::scheduler::{entries, fire_due};
use a1c_jobs::job::{JobStatus, NewJob};
use a1c_jobs::store::{job as jobs, schedule_run, Db};
use a1c_jobs::Config;
use chrono::{TimeDelta, Utc};
use common::{count_status, start, wait_until, work, Recorder, TestDb, TEST_WORK};
use futures_util::future::join_all;

fn node(t: &TestDb, name: &str, extra: &str) -> Config {
    let mut config = t.config(extra);
    config.node.name = name.to_owned();
    config
}

async fn two_nodes_never_hold_the_same_job(t: &TestDb) {
    let db = t.open();
    let batch: Vec<NewJob> = (0..300).map(|i| work(2, "ok", &i.to_string())).collect();
    jobs::insert_many(&db, &batch, Utc::now()).await.unwrap();
    let recorder = Recorder::default();

    let a = start(node(t, "node-a", ""), &recorder).await;
    let b = start(node(t, "node-b", ""), &recorder).await;
    wait_until(Duration::from_secs(30), "all completed", || async {
        count_status(&db, JobStatus::Completed).await == 300
    })
    .await;

    let runs = recorder.runs();
    let mut per_job: HashMap<_, usize> = HashMap::new();
    for run in &runs {
        *per_job.entry(run.job_id).or_default() += 1;
    }
    assert_eq!(per_job.len(), 300);
    assert!(per_job.values().all(|&n| n == 1), "a job ran twice");
    let nodes: BTreeMap<&str, usize> = runs.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.node.as_str()).or_default() += 1;
        m
    });
    eprintln!("jobs per node: {nodes:?}");
    a.shutdown().await;
    b.shutdown().await;
    db.close().await;
}

async fn racing_schedulers_enqueue_each_fire_time_once(t: &TestDb) {
    let text = format!(
        r#"[schedules.tick]
        cron = "* * * * * *"
        job_type = "{TEST_WORK}"
        catch_up = "none""#
    );
    let config = t.config(&text);
    let entry = entries(&config.schedules)
        .unwrap()
        .into_iter()
        .find(|e| e.name == "tick")
        .unwrap();
    let now = Utc::now();
    let since = now - TimeDelta::seconds(5);
    let handles: Vec<Db> = (0..6).map(|_| t.open()).collect();

    let fired = join_all(handles.iter().map(|db| fire_due(db, &entry, since, now))).await;

    let total: usize = fired.into_iter().map(|r| r.unwrap().len()).sum();
    let db = t.open();
    assert_eq!(
        total, 5,
        "five fire times, each enqueued by exactly one racer"
    );
    assert_eq!(schedule_run::count(&db, "tick").await.unwrap(), 5);
    assert_eq!(count_status(&db, JobStatus::Pending).await, 5);
    for db in handles.iter().chain([&db]) {
        db.close().await;
    }
}

async fn two_running_nodes_fire_a_schedule_once_per_fire_time(t: &TestDb) {
    let text = format!(
        r#"[schedules.tick]
        cron = "* * * * * *"
        job_type = "{TEST_WORK}"
        payload = {{ ms = 0, tag = "${{fire_at}}" }}"#
    );
    let recorder = Recorder::default();
    let a = start(node(t, "node-a", &text), &recorder).await;
    let b = start(node(t, "node-b", &text), &recorder).await;
    let db = t.open();

    wait_until(Duration::from_secs(10), "three fires", || async {
        schedule_run::count(&db, "tick").await.unwrap() >= 3
    })
    .await;
    a.shutdown().await;
    b.shutdown().await;

    let fires = schedule_run::count(&db, "tick").await.unwrap();
    let jobs_made = jobs::list(
        &db,
        &jobs::ListFilter {
            limit: 1000,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut tags: Vec<String> = jobs_made
        .iter()
        .map(|j| j.payload["tag"].as_str().unwrap().to_owned())
        .collect();
    tags.sort();
    tags.dedup();
    assert_eq!(
        i64::try_from(jobs_made.len()).unwrap(),
        fires,
        "one job per fire time"
    );
    assert_eq!(tags.len(), jobs_made.len(), "no fire time twice");
    db.close().await;
}

async fn catch_up_fires_what_was_missed_by_policy(t: &TestDb) {
    let db = t.open();
    let ten_minutes_ago = Utc::now() - TimeDelta::minutes(10);
    for name in ["latest", "all", "none"] {
        let seed = work(0, "ok", "seed");
        schedule_run::fire(&db, name, ten_minutes_ago, &seed, Utc::now())
            .await
            .unwrap();
    }
    let mut text = String::new();
    for name in ["latest", "all", "none"] {
        text.push_str(&format!(
            "[schedules.{name}]\ncron = \"* * * * *\"\njob_type = \"{TEST_WORK}\"\n\
             catch_up = \"{name}\"\npayload = {{ ms = 60000 }}\n"
        ));
    }
    let config = t.config(&text);
    let service = start(config, &Recorder::default()).await;

    wait_until(Duration::from_secs(5), "catch-up done", || async {
        schedule_run::count(&db, "all").await.unwrap() >= 10
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    service.shutdown_within(Duration::from_millis(100)).await;

    let all = schedule_run::count(&db, "all").await.unwrap();
    assert!(
        (10..=11).contains(&all),
        "all: one per missed minute, got {all}"
    );
    let latest = schedule_run::count(&db, "latest").await.unwrap();
    assert!(
        (2..=3).contains(&latest),
        "latest: the newest missed minute only, got {latest}"
    );
    let none = schedule_run::count(&db, "none").await.unwrap();
    assert!(none <= 2, "none: nothing missed, got {none}");
    db.close().await;
}

on_both_backends!(
    two_nodes_never_hold_the_same_job,
    racing_schedulers_enqueue_each_fire_time_once,
    two_running_nodes_fire_a_schedule_once_per_fire_time,
    catch_up_fires_what_was_missed_by_policy,
);
