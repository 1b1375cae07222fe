//! Sensitive payload fields: sealed in the row, plain in the handler, refused without a key.

use std::time::Duration;

use a1c_jobs::job::sensitive::{PayloadKey, Sensitive};
use a1c_jobs::job::JobStatus;
use a1c_jobs::service::StartError;
use a1c_jobs::store::{job as jobs, Db};
use a1c_jobs::{Config, Service};
use chrono::Utc;
use uuid::Uuid;

use crate::common::{start, status_of, wait_until, work, Recorder, TestDb, TEST_WORK};

const KEY: &str = "5f0c5e9d1b7a43e2a6c8d0f1e2b3c4d5a6b7c8d9e0f1a2b3c4d5e6f708192a3b";
const OTHER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const SECRET: &str = "ann@example.com";
const WAIT: Duration = Duration::from_secs(20);

fn config(t: &TestDb, key: Option<&str>) -> Config {
    let mut config = t.config(&format!(
        "[pools.{TEST_WORK}]\nsensitive_fields = [\"tag\"]"
    ));
    config.payload_key = key.map(|k| PayloadKey::parse(k).expect("test key"));
    config
}

/// Enqueues a job whose `tag` is the secret, sealed as the CLI and the API seal it.
async fn enqueue_sealed(db: &Db, config: &Config) -> Uuid {
    let mut job = work(0, "ok", SECRET);
    Sensitive::from_config(config)
        .seal(TEST_WORK, &mut job.payload)
        .expect("seal");
    jobs::insert(db, &job, Utc::now()).await.expect("insert")
}

async fn stored_payload(db: &Db, id: Uuid) -> String {
    let sql = "SELECT CAST(payload AS TEXT) FROM job_queue WHERE id = $1";
    match db {
        Db::Postgres(pool) => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await,
        Db::Sqlite(pool) => {
            sqlx::query_scalar(sql)
                .bind(id.to_string())
                .fetch_one(pool)
                .await
        }
    }
    .expect("read payload")
}

async fn the_row_holds_no_plain_value_and_the_handler_gets_it(t: &TestDb) {
    let db = t.open();
    let config = config(t, Some(KEY));
    let id = enqueue_sealed(&db, &config).await;
    let stored = stored_payload(&db, id).await;
    let recorder = Recorder::default();

    let service = start(config, &recorder).await;
    wait_until(WAIT, "job completed", || async {
        status_of(&db, id).await == JobStatus::Completed
    })
    .await;
    service.shutdown().await;
    db.close().await;

    assert!(!stored.contains(SECRET), "stored in the clear: {stored}");
    assert!(stored.contains("enc:v1:"), "{stored}");
    let runs = recorder.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].tag, SECRET, "the handler gets the plain value");
}

async fn a_field_sealed_with_another_key_fails_the_job(t: &TestDb) {
    let db = t.open();
    let id = enqueue_sealed(&db, &config(t, Some(OTHER_KEY))).await;
    let recorder = Recorder::default();

    let service = start(config(t, Some(KEY)), &recorder).await;
    wait_until(WAIT, "job failed", || async {
        status_of(&db, id).await == JobStatus::Failed
    })
    .await;
    let job = jobs::get(&db, id).await.expect("get").expect("job");
    service.shutdown().await;
    db.close().await;

    let error = job.error.unwrap_or_default();
    assert!(error.contains("\"tag\" cannot be decrypted"), "{error}");
    assert!(recorder.runs().is_empty(), "the handler never ran");
}

async fn a_row_inserted_in_the_clear_still_runs(t: &TestDb) {
    let db = t.open();
    let id = jobs::insert(&db, &work(0, "ok", "plain"), Utc::now())
        .await
        .expect("insert");
    let recorder = Recorder::default();

    let service = start(config(t, Some(KEY)), &recorder).await;
    wait_until(WAIT, "job completed", || async {
        status_of(&db, id).await == JobStatus::Completed
    })
    .await;
    service.shutdown().await;
    db.close().await;

    assert_eq!(recorder.runs()[0].tag, "plain");
}

async fn the_service_refuses_to_start_without_the_key(t: &TestDb) {
    let started = Service::start(config(t, None), Recorder::default().handlers()).await;

    let Err(StartError::PayloadKey(err)) = started else {
        panic!("started without a payload key");
    };
    assert!(err.to_string().contains("A1C_JOBS_PAYLOAD_KEY"), "{err}");
}

crate::on_both_backends!(
    the_row_holds_no_plain_value_and_the_handler_gets_it,
    a_field_sealed_with_another_key_fails_the_job,
    a_row_inserted_in_the_clear_still_runs,
    the_service_refuses_to_start_without_the_key,
);
