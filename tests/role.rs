//! The service under the role of `docs/postgres-role.md`: a database migrated by an owner role,
//! the grants of `docs/postgres-role.sql`, and a service role with nothing more.

mod common;

use std::time::Duration;

use a1c_jobs::job::JobStatus;
use a1c_jobs::store::pool_control::{self, ControlChange};
use a1c_jobs::store::{job as jobs, Db};
use chrono::Utc;
use common::{
    admin_url, audit_log, config_for, start, status_of, wait_until, work, Recorder, TEST_WORK,
};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(20);

/// `admin_url` with another user and database.
fn url_as(user: &str, database: &str) -> String {
    let admin = admin_url();
    let host = admin
        .split_once('@')
        .map_or("127.0.0.1:5432/postgres", |(_, h)| h);
    let host = host.rsplit_once('/').map_or(host, |(h, _)| h);
    format!("postgres://{user}@{host}/{database}")
}

struct Roles {
    owner: String,
    service: String,
    database: String,
}

impl Roles {
    /// Creates the owner, the service role and the owner's database, as the docs say.
    async fn create() -> Self {
        let tag = &Uuid::new_v4().simple().to_string()[..12];
        let roles = Self {
            owner: format!("a1c_owner_{tag}"),
            service: format!("a1c_service_{tag}"),
            database: format!("a1c_test_role_{tag}"),
        };
        let mut admin = PgConnection::connect(&admin_url()).await.expect("connect");
        for sql in [
            format!("CREATE ROLE {} LOGIN", roles.owner),
            format!(
                "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT",
                roles.service
            ),
            format!("CREATE DATABASE {} OWNER {}", roles.database, roles.owner),
        ] {
            sqlx::query(&sql)
                .execute(&mut admin)
                .await
                .expect("create role or database");
        }
        admin.close().await.ok();
        roles
    }

    /// Migrates as the owner, then runs the documented grants as the owner.
    async fn migrate_and_grant(&self) {
        let owner_url = url_as(&self.owner, &self.database);
        let db = Db::open(&config_for(&owner_url, "").database).expect("open");
        db.migrate().await.expect("owner migrates");
        db.close().await;
        let grants = include_str!("../docs/postgres-role.sql")
            .replace("a1c_service", &self.service)
            .replace("a1c_owner", &self.owner)
            .replace("DATABASE a1c ", &format!("DATABASE {} ", self.database));
        let mut owner = PgConnection::connect(&owner_url)
            .await
            .expect("connect as owner");
        sqlx::raw_sql(&grants)
            .execute(&mut owner)
            .await
            .expect("grants");
        owner.close().await.ok();
    }

    async fn drop(self) {
        let Ok(mut admin) = PgConnection::connect(&admin_url()).await else {
            return;
        };
        for sql in [
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database),
            format!("DROP ROLE IF EXISTS {}", self.service),
            format!("DROP ROLE IF EXISTS {}", self.owner),
        ] {
            sqlx::query(&sql).execute(&mut admin).await.ok();
        }
    }
}

#[actix_rt::test]
async fn the_service_runs_under_the_documented_service_role() {
    let roles = Roles::create().await;
    roles.migrate_and_grant().await;
    let url = url_as(&roles.service, &roles.database);
    // Pools poll once an hour: only LISTEN wakes them for the jobs and controls below.
    let extra = format!(
        r#"[service]
        poll_interval = "1h"
        [schedules.tick]
        cron = "* * * * * *"
        job_type = "{TEST_WORK}"
        catch_up = "none"
        payload = {{ ms = 0, tag = "tick" }}"#
    );
    let config = config_for(&url, &extra);
    let db = Db::open(&config.database).expect("open as service");
    let recorder = Recorder::default();

    let service = start(config, &recorder).await;
    wait_until(WAIT, "a schedule fires and its job completes", || async {
        recorder.runs().iter().any(|r| r.tag == "tick")
    })
    .await;
    let id = jobs::insert_by(&db, &work(0, "ok", "enqueued"), Utc::now(), "token:ops")
        .await
        .expect("enqueue as service");
    wait_until(WAIT, "a notified job completes", || async {
        status_of(&db, id).await == JobStatus::Completed
    })
    .await;
    pool_control::apply(
        &db,
        TEST_WORK,
        ControlChange::Pause,
        "token:ops",
        Utc::now(),
    )
    .await
    .expect("pause as service");
    wait_until(WAIT, "a notified pause applies", || async {
        service
            .pool_state(TEST_WORK)
            .await
            .is_some_and(|s| s.paused)
    })
    .await;
    let log = audit_log(&db, None).await;
    let create = match &db {
        Db::Postgres(pool) => {
            sqlx::query("CREATE TABLE intruder (a int)")
                .execute(pool)
                .await
        }
        Db::Sqlite(_) => unreachable!("a PostgreSQL test"),
    };
    service.shutdown().await;
    db.close().await;
    roles.drop().await;

    assert_eq!(log.len(), 2, "the enqueue and the pause are audited");
    let err = create
        .expect_err("the service role cannot create tables")
        .to_string();
    assert!(err.contains("permission denied"), "{err}");
}
