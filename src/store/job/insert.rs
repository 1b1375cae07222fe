//! Inserting jobs, one or many, with their unique keys.

use super::*;
use crate::store::audit::{self, AuditAction, NewAuditEntry};

/// Inserts one job and returns its id.
///
/// # Errors
///
/// [`StoreError::UniqueKeyTaken`] when a live job holds its unique key.
pub async fn insert(db: &Db, job: &NewJob, now: DateTime<Utc>) -> Result<Uuid, StoreError> {
    let ids = insert_many(db, std::slice::from_ref(job), now).await?;
    ids.into_iter()
        .next()
        .ok_or_else(|| StoreError::Corrupt("insert returned no id".to_owned()))
}

/// Inserts jobs in one statement (PostgreSQL) or one transaction (SQLite): all or nothing.
///
/// # Errors
///
/// As [`insert`]; nothing is inserted on error.
pub async fn insert_many(
    db: &Db,
    jobs: &[NewJob],
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    insert_recorded(db, jobs, now, None).await
}

/// [`insert`] by an operator: the job and its `audit_log` entry (as created by `actor`) are
/// written in one transaction.
///
/// # Errors
///
/// As [`insert`].
pub async fn insert_by(
    db: &Db,
    job: &NewJob,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<Uuid, StoreError> {
    let ids = insert_many_by(db, std::slice::from_ref(job), now, actor).await?;
    ids.into_iter()
        .next()
        .ok_or_else(|| StoreError::Corrupt("insert returned no id".to_owned()))
}

/// [`insert_many`] by an operator: the jobs and one `audit_log` entry each (as created by
/// `actor`) are written in one transaction, all or nothing.
///
/// # Errors
///
/// As [`insert_many`].
pub async fn insert_many_by(
    db: &Db,
    jobs: &[NewJob],
    now: DateTime<Utc>,
    actor: &str,
) -> Result<Vec<Uuid>, StoreError> {
    insert_recorded(db, jobs, now, Some(actor)).await
}

async fn insert_recorded(
    db: &Db,
    jobs: &[NewJob],
    now: DateTime<Utc>,
    actor: Option<&str>,
) -> Result<Vec<Uuid>, StoreError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let result = match db {
        Db::Postgres(pool) => match actor {
            None => insert_many_pg(pool, jobs, now).await,
            Some(actor) => {
                async {
                    let mut tx = pool.begin().await?;
                    let ids = insert_many_pg(&mut *tx, jobs, now).await?;
                    audit::record_pg(&mut tx, &created(jobs, &ids, actor), now).await?;
                    tx.commit().await?;
                    Ok(ids)
                }
                .await
            }
        },
        Db::Sqlite(pool) => {
            async {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let ids = insert_many_sqlite(&mut tx, jobs, now).await?;
                if let Some(actor) = actor {
                    audit::record_sqlite(&mut tx, &created(jobs, &ids, actor), now).await?;
                }
                tx.commit().await?;
                Ok(ids)
            }
            .await
        }
    };
    match result {
        Err(StoreError::Database(err)) if is_unique_key_violation(&err) => {
            Err(unique_key_error(db, jobs).await)
        }
        Ok(ids) => {
            crate::metrics::global().enqueued_all(jobs.iter().map(|j| j.job_type.as_str()));
            Ok(ids)
        }
        other => other,
    }
}

/// The `job.create` entries of jobs just inserted.
fn created<'a>(jobs: &'a [NewJob], ids: &[Uuid], actor: &'a str) -> Vec<NewAuditEntry<'a>> {
    jobs.iter()
        .zip(ids)
        .map(|(job, id)| NewAuditEntry {
            actor,
            action: AuditAction::JobCreate,
            job_id: Some(*id),
            job_type: Some(&job.job_type),
            detail: serde_json::json!({"priority": job.priority}),
        })
        .collect()
}

/// [`insert_many`] on any PostgreSQL executor, so callers can add jobs to their transaction.
pub(crate) async fn insert_many_pg<'e, E: sqlx::PgExecutor<'e>>(
    executor: E,
    jobs: &[NewJob],
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    let ids: Vec<Uuid> = jobs.iter().map(|_| Uuid::now_v7()).collect();
    let types: Vec<&str> = jobs.iter().map(|j| j.job_type.as_str()).collect();
    let payloads: Vec<String> = jobs
        .iter()
        .map(|j| clean_json(j.payload.clone()).to_string())
        .collect();
    let priorities: Vec<i16> = jobs.iter().map(|j| j.priority).collect();
    let max_attempts: Vec<i32> = jobs.iter().map(|j| j.max_attempts).collect();
    let run_ats: Vec<DateTime<Utc>> = jobs.iter().map(|j| j.run_at.unwrap_or(now)).collect();
    let keys: Vec<Option<&str>> = jobs.iter().map(|j| j.unique_key.as_deref()).collect();
    sqlx::query(
        "INSERT INTO job_queue
            (id, job_type, payload, priority, max_attempts, run_at, unique_key,
             created_at, updated_at)
         SELECT id, job_type, payload::jsonb, priority, max_attempts, run_at, unique_key, $8, $8
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int2[], $5::int4[],
                     $6::timestamptz[], $7::text[])
             AS t(id, job_type, payload, priority, max_attempts, run_at, unique_key)",
    )
    .bind(&ids)
    .bind(&types)
    .bind(&payloads)
    .bind(&priorities)
    .bind(&max_attempts)
    .bind(&run_ats)
    .bind(&keys)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(ids)
}

/// [`insert_many`] inside a SQLite transaction the caller holds.
pub(crate) async fn insert_many_sqlite(
    conn: &mut sqlx::SqliteConnection,
    jobs: &[NewJob],
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    let mut ids = Vec::with_capacity(jobs.len());
    for job in jobs {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO job_queue
                (id, job_type, payload, priority, max_attempts, run_at, unique_key,
                 created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        )
        .bind(id.to_string())
        .bind(&job.job_type)
        .bind(clean_json(job.payload.clone()).to_string())
        .bind(job.priority)
        .bind(job.max_attempts)
        .bind(ts(job.run_at.unwrap_or(now)))
        .bind(job.unique_key.as_deref())
        .bind(ts(now))
        .execute(&mut *conn)
        .await?;
        ids.push(id);
    }
    Ok(ids)
}

fn is_unique_key_violation(err: &sqlx::Error) -> bool {
    err.as_database_error().is_some_and(|db_err| {
        db_err.constraint() == Some("job_queue_one_live_per_unique_key")
            || db_err.message().contains("job_queue.unique_key")
    })
}

async fn unique_key_error(db: &Db, jobs: &[NewJob]) -> StoreError {
    for key in jobs.iter().filter_map(|j| j.unique_key.as_deref()) {
        if let Ok(Some(existing)) = live_with_unique_key(db, key).await {
            return StoreError::UniqueKeyTaken {
                key: key.to_owned(),
                existing,
            };
        }
    }
    StoreError::UniqueKeyTaken {
        key: String::new(),
        existing: Uuid::nil(),
    }
}

/// The live job holding `key`, if any.
///
/// # Errors
///
/// The database failed.
pub async fn live_with_unique_key(db: &Db, key: &str) -> Result<Option<Uuid>, StoreError> {
    let sql = "SELECT id FROM job_queue
               WHERE unique_key = $1 AND status IN ('PENDING', 'RETRY', 'PROCESSING')";
    match db {
        Db::Postgres(pool) => Ok(sqlx::query_scalar(sql)
            .bind(key)
            .fetch_optional(pool)
            .await?),
        Db::Sqlite(pool) => {
            let id: Option<String> = sqlx::query_scalar(sql)
                .bind(key)
                .fetch_optional(pool)
                .await?;
            id.as_deref().map(uuid_of).transpose()
        }
    }
}
