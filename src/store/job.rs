//! `job_queue`: insert, claim, renew, settle, rescue and the operator's verbs.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::{add, opt_time_of, time_of, ts, uuid_of, Db, StoreError};
use crate::job::{clean_error, clean_json, ClaimedJob, Job, JobStatus, NewJob};

/// How a pool leaves a job it claimed.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub id: Uuid,
    pub lease_id: Uuid,
    pub status: JobStatus,
    /// The next run for `RETRY` and released jobs.
    pub run_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub result: Option<Value>,
    /// Give the attempt back (the job was released or snoozed, not run to an end).
    pub refund_attempt: bool,
}

/// What a claim asks for.
#[derive(Debug, Clone)]
pub struct ClaimRequest<'a> {
    pub job_type: &'a str,
    pub node: &'a str,
    pub limit: u32,
    /// Only jobs of this priority or more urgent (lower).
    pub max_priority: i16,
    pub lease_ttl: Duration,
}

/// A job taken back from a node that stopped renewing its lease.
#[derive(Debug, Clone)]
pub struct Rescued {
    pub id: Uuid,
    pub job_type: String,
    pub status: JobStatus,
    pub locked_by: Option<String>,
}

const COLUMNS: &str = "id, job_type, payload, status, priority, attempts, max_attempts, run_at, \
    created_at, updated_at, started_at, processed_at, error, locked_by, lease_id, \
    lease_expires_at, unique_key, result";

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
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let result = match db {
        Db::Postgres(pool) => insert_many_pg(pool, jobs, now).await,
        Db::Sqlite(pool) => {
            async {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let ids = insert_many_sqlite(&mut tx, jobs, now).await?;
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
        other => other,
    }
}

/// [`insert_many`] on any PostgreSQL executor, so callers can add jobs to their transaction.
pub(crate) async fn insert_many_pg<'e, E: sqlx::PgExecutor<'e>>(
    executor: E,
    jobs: &[NewJob],
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    let ids: Vec<Uuid> = jobs.iter().map(|_| Uuid::new_v4()).collect();
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
        let id = Uuid::new_v4();
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

/// Takes up to `limit` runnable jobs of one type under a fresh lease each.
///
/// Jobs come in claim order: priority, then `run_at`, then id.
///
/// # Errors
///
/// The database failed; nothing was claimed.
pub async fn claim(
    db: &Db,
    request: &ClaimRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<ClaimedJob>, StoreError> {
    let mut jobs = match db {
        Db::Postgres(pool) => claim_pg(pool, request, now).await?,
        Db::Sqlite(pool) => claim_sqlite(&mut *pool.acquire().await?, request, now).await?,
    };
    jobs.sort_by_key(|j| (j.priority, j.run_at, j.id));
    Ok(jobs)
}

async fn claim_pg(
    pool: &sqlx::PgPool,
    request: &ClaimRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<ClaimedJob>, StoreError> {
    Ok(settle_and_claim_pg(pool, &[], request, now).await?.1)
}

fn claimed_from_pg(row: &PgRow) -> Result<ClaimedJob, StoreError> {
    Ok(ClaimedJob {
        id: row.try_get("id")?,
        job_type: row.try_get("job_type")?,
        payload: row.try_get("payload")?,
        priority: row.try_get("priority")?,
        attempt: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        created_at: row.try_get("created_at")?,
        run_at: row.try_get("run_at")?,
        lease_id: row.try_get("lease_id")?,
    })
}

async fn claim_sqlite(
    conn: &mut sqlx::SqliteConnection,
    request: &ClaimRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<ClaimedJob>, StoreError> {
    // One statement: SQLite runs one writer at a time, so the subquery and the update see the
    // same rows. Each row gets its own random lease token.
    let rows = sqlx::query(
        "UPDATE job_queue
         SET status = 'PROCESSING',
             attempts = attempts + 1,
             started_at = ?2,
             updated_at = ?2,
             locked_by = ?5,
             lease_id = lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'
                 || substr(hex(randomblob(2)), 2) || '-a'
                 || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
             lease_expires_at = ?6
         WHERE id IN (
             SELECT id
             FROM job_queue
             WHERE job_type = ?1
               AND status IN ('PENDING', 'RETRY')
               AND run_at <= ?2
               AND priority <= ?3
               AND attempts < max_attempts
             ORDER BY priority, run_at, id
             LIMIT ?4
         )
         RETURNING id, job_type, payload, priority, attempts, max_attempts, created_at, run_at,
                   lease_id",
    )
    .bind(request.job_type)
    .bind(ts(now))
    .bind(request.max_priority)
    .bind(i64::from(request.limit))
    .bind(request.node)
    .bind(ts(add(now, request.lease_ttl)))
    .fetch_all(conn)
    .await?;
    rows.iter().map(claimed_from_sqlite).collect()
}

fn claimed_from_sqlite(row: &SqliteRow) -> Result<ClaimedJob, StoreError> {
    Ok(ClaimedJob {
        id: uuid_of(row.try_get("id")?)?,
        job_type: row.try_get("job_type")?,
        payload: json_of(row.try_get("payload")?),
        priority: row.try_get("priority")?,
        attempt: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        created_at: time_of(row.try_get("created_at")?)?,
        run_at: time_of(row.try_get("run_at")?)?,
        lease_id: uuid_of(row.try_get("lease_id")?)?,
    })
}

/// JSON text as a value; text that is not JSON is kept as a string for the handler to refuse.
fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Records how attempts ended, in one statement. Returns the ids whose lease was still
/// current; the others were rescued meanwhile and are left as they are.
///
/// # Errors
///
/// The database failed; nothing was recorded.
pub async fn settle(
    db: &Db,
    settlements: &[Settlement],
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    if settlements.is_empty() {
        return Ok(Vec::new());
    }
    match db {
        Db::Postgres(pool) => settle_pg(pool, settlements, now).await,
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let applied = settle_sqlite(&mut tx, settlements, now).await?;
            tx.commit().await?;
            Ok(applied)
        }
    }
}

/// Records outcomes and claims more jobs in one round trip (one statement on PostgreSQL, one
/// transaction on SQLite): a pool's whole cycle costs one commit. Returns the ids whose outcome
/// was recorded (see [`settle`]) and the jobs claimed (see [`claim`]).
///
/// # Errors
///
/// The database failed; nothing was recorded or claimed.
pub async fn settle_and_claim(
    db: &Db,
    settlements: &[Settlement],
    request: &ClaimRequest<'_>,
    now: DateTime<Utc>,
) -> Result<(Vec<Uuid>, Vec<ClaimedJob>), StoreError> {
    if settlements.is_empty() && request.limit == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let (applied, mut claimed) = match db {
        Db::Postgres(pool) => settle_and_claim_pg(pool, settlements, request, now).await?,
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let applied = settle_sqlite(&mut tx, settlements, now).await?;
            let claimed = claim_sqlite(&mut tx, request, now).await?;
            tx.commit().await?;
            (applied, claimed)
        }
    };
    claimed.sort_by_key(|j| (j.priority, j.run_at, j.id));
    Ok((applied, claimed))
}

async fn settle_and_claim_pg(
    pool: &sqlx::PgPool,
    settlements: &[Settlement],
    request: &ClaimRequest<'_>,
    now: DateTime<Utc>,
) -> Result<(Vec<Uuid>, Vec<ClaimedJob>), StoreError> {
    let columns = SettleColumns::of(settlements);
    // One statement serves settling, claiming or both (an empty array settles nothing, a
    // limit of 0 claims nothing). Both parts read one snapshot: the settled rows are
    // PROCESSING in it, so the claim never picks a row the same statement settles.
    let rows = sqlx::query(
        "WITH settled AS (
             UPDATE job_queue AS j
             SET status = s.status,
                 attempts = j.attempts - CASE WHEN s.refund THEN 1 ELSE 0 END,
                 run_at = COALESCE(s.run_at, j.run_at),
                 error = s.error,
                 result = s.result::jsonb,
                 processed_at = CASE
                     WHEN s.status IN ('COMPLETED', 'FAILED', 'DEAD_LETTER', 'CANCELLED') THEN $2
                 END,
                 updated_at = $2,
                 lease_id = NULL,
                 lease_expires_at = NULL
             FROM unnest($7::uuid[], $8::uuid[], $9::text[], $10::timestamptz[], $11::text[],
                         $12::text[], $13::bool[])
                 AS s(id, lease_id, status, run_at, error, result, refund)
             WHERE j.id = s.id AND j.lease_id = s.lease_id AND j.status = 'PROCESSING'
             RETURNING j.id
         ),
         -- Locks the chosen rows first; SKIP LOCKED lets other nodes claim the rows after
         -- them instead of queueing behind this statement.
         picked AS (
             SELECT id
             FROM job_queue
             WHERE job_type = $1
               AND status IN ('PENDING', 'RETRY')
               AND run_at <= $2
               AND priority <= $3
               AND attempts < max_attempts
             ORDER BY priority, run_at, id
             LIMIT $4
             FOR UPDATE SKIP LOCKED
         ),
         claimed AS (
             UPDATE job_queue AS j
             SET status = 'PROCESSING',
                 attempts = j.attempts + 1,
                 started_at = $2,
                 updated_at = $2,
                 locked_by = $5,
                 lease_id = gen_random_uuid(),
                 lease_expires_at = $6
             FROM picked
             WHERE j.id = picked.id
             RETURNING j.id, j.job_type, j.payload, j.priority, j.attempts, j.max_attempts,
                       j.created_at, j.run_at, j.lease_id
         )
         SELECT false AS is_claim, id, NULL::text AS job_type, NULL::jsonb AS payload,
                NULL::int2 AS priority, NULL::int4 AS attempts, NULL::int4 AS max_attempts,
                NULL::timestamptz AS created_at, NULL::timestamptz AS run_at,
                NULL::uuid AS lease_id
         FROM settled
         UNION ALL
         SELECT true, id, job_type, payload, priority, attempts, max_attempts, created_at,
                run_at, lease_id
         FROM claimed",
    )
    .bind(request.job_type)
    .bind(now)
    .bind(request.max_priority)
    .bind(i64::from(request.limit))
    .bind(request.node)
    .bind(add(now, request.lease_ttl))
    .bind(&columns.ids)
    .bind(&columns.leases)
    .bind(&columns.statuses)
    .bind(&columns.run_ats)
    .bind(&columns.errors)
    .bind(&columns.results)
    .bind(&columns.refunds)
    .fetch_all(pool)
    .await?;
    let mut applied = Vec::new();
    let mut claimed = Vec::new();
    for row in &rows {
        if row.try_get::<bool, _>("is_claim")? {
            claimed.push(claimed_from_pg(row)?);
        } else {
            applied.push(row.try_get("id")?);
        }
    }
    Ok((applied, claimed))
}

/// Settlements as the parallel arrays PostgreSQL unnests.
struct SettleColumns {
    ids: Vec<Uuid>,
    leases: Vec<Uuid>,
    statuses: Vec<&'static str>,
    run_ats: Vec<Option<DateTime<Utc>>>,
    errors: Vec<Option<String>>,
    results: Vec<Option<String>>,
    refunds: Vec<bool>,
}

impl SettleColumns {
    fn of(settlements: &[Settlement]) -> Self {
        Self {
            ids: settlements.iter().map(|s| s.id).collect(),
            leases: settlements.iter().map(|s| s.lease_id).collect(),
            statuses: settlements.iter().map(|s| s.status.as_str()).collect(),
            run_ats: settlements.iter().map(|s| s.run_at).collect(),
            errors: settlements
                .iter()
                .map(|s| s.error.as_deref().map(clean_error))
                .collect(),
            results: settlements
                .iter()
                .map(|s| s.result.clone().map(|v| clean_json(v).to_string()))
                .collect(),
            refunds: settlements.iter().map(|s| s.refund_attempt).collect(),
        }
    }
}

async fn settle_pg(
    pool: &sqlx::PgPool,
    settlements: &[Settlement],
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    let no_claim = ClaimRequest {
        job_type: "",
        node: "",
        limit: 0,
        max_priority: 0,
        lease_ttl: Duration::ZERO,
    };
    Ok(settle_and_claim_pg(pool, settlements, &no_claim, now)
        .await?
        .0)
}

async fn settle_sqlite(
    conn: &mut sqlx::SqliteConnection,
    settlements: &[Settlement],
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    let mut applied = Vec::with_capacity(settlements.len());
    for s in settlements {
        let processed_at = s.status.is_terminal().then(|| ts(now));
        let done = sqlx::query(
            "UPDATE job_queue
             SET status = ?1,
                 attempts = attempts - ?2,
                 run_at = COALESCE(?3, run_at),
                 error = ?4,
                 result = ?5,
                 processed_at = ?6,
                 updated_at = ?7,
                 lease_id = NULL,
                 lease_expires_at = NULL
             WHERE id = ?8 AND lease_id = ?9 AND status = 'PROCESSING'",
        )
        .bind(s.status.as_str())
        .bind(i32::from(s.refund_attempt))
        .bind(s.run_at.map(ts))
        .bind(s.error.as_deref().map(clean_error))
        .bind(s.result.clone().map(|v| clean_json(v).to_string()))
        .bind(processed_at)
        .bind(ts(now))
        .bind(s.id.to_string())
        .bind(s.lease_id.to_string())
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 1 {
            applied.push(s.id);
        }
    }
    Ok(applied)
}

/// Pushes the leases of running attempts forward. Returns the ids still held; a missing id
/// lost its lease (rescued or cancelled) and its attempt should stop.
///
/// # Errors
///
/// The database failed; no lease was renewed.
pub async fn renew(
    db: &Db,
    leases: &[(Uuid, Uuid)],
    lease_ttl: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    if leases.is_empty() {
        return Ok(Vec::new());
    }
    let expires = add(now, lease_ttl);
    match db {
        Db::Postgres(pool) => {
            let ids: Vec<Uuid> = leases.iter().map(|l| l.0).collect();
            let tokens: Vec<Uuid> = leases.iter().map(|l| l.1).collect();
            Ok(sqlx::query_scalar(
                "UPDATE job_queue AS j
                 SET lease_expires_at = $1
                 FROM unnest($2::uuid[], $3::uuid[]) AS l(id, lease_id)
                 WHERE j.id = l.id AND j.lease_id = l.lease_id AND j.status = 'PROCESSING'
                 RETURNING j.id",
            )
            .bind(expires)
            .bind(&ids)
            .bind(&tokens)
            .fetch_all(pool)
            .await?)
        }
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let mut held = Vec::with_capacity(leases.len());
            for (id, lease_id) in leases {
                let done = sqlx::query(
                    "UPDATE job_queue SET lease_expires_at = ?1
                     WHERE id = ?2 AND lease_id = ?3 AND status = 'PROCESSING'",
                )
                .bind(ts(expires))
                .bind(id.to_string())
                .bind(lease_id.to_string())
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 1 {
                    held.push(*id);
                }
            }
            tx.commit().await?;
            Ok(held)
        }
    }
}

/// Takes back every job whose lease expired: `RETRY` at once while attempts remain, else
/// `DEAD_LETTER`. The lost attempt counts as a failed one. A `PROCESSING` row without a lease
/// (left by an older system) has no holder and is taken back too.
///
/// # Errors
///
/// The database failed; nothing was rescued.
pub async fn rescue_expired(db: &Db, now: DateTime<Utc>) -> Result<Vec<Rescued>, StoreError> {
    let sql = "UPDATE job_queue
         SET status = CASE WHEN attempts >= max_attempts THEN 'DEAD_LETTER' ELSE 'RETRY' END,
             processed_at = CASE WHEN attempts >= max_attempts THEN $1 END,
             error = 'lease expired: node ' || COALESCE(locked_by, 'unknown')
                 || ' stopped renewing attempt ' || attempts,
             run_at = $1,
             updated_at = $1,
             lease_id = NULL,
             lease_expires_at = NULL
         WHERE status = 'PROCESSING' AND (lease_expires_at < $1 OR lease_expires_at IS NULL)
         RETURNING id, job_type, status, locked_by";
    match db {
        Db::Postgres(pool) => {
            let rows = sqlx::query(sql).bind(now).fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    Ok(Rescued {
                        id: row.try_get("id")?,
                        job_type: row.try_get("job_type")?,
                        status: status_of(row.try_get("status")?)?,
                        locked_by: row.try_get("locked_by")?,
                    })
                })
                .collect()
        }
        Db::Sqlite(pool) => {
            let rows = sqlx::query(sql).bind(ts(now)).fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    Ok(Rescued {
                        id: uuid_of(row.try_get("id")?)?,
                        job_type: row.try_get("job_type")?,
                        status: status_of(row.try_get("status")?)?,
                        locked_by: row.try_get("locked_by")?,
                    })
                })
                .collect()
        }
    }
}

/// Dead-letters runnable jobs that have no attempt left (an operator lowered
/// `max_attempts`, or an older system wrote the row); the claim never takes them.
///
/// # Errors
///
/// The database failed.
pub async fn discard_exhausted(db: &Db, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let sql = "UPDATE job_queue
         SET status = 'DEAD_LETTER', processed_at = $1, updated_at = $1,
             error = COALESCE(error, 'no attempt left: attempts reached max_attempts')
         WHERE status IN ('PENDING', 'RETRY') AND attempts >= max_attempts";
    let done = match db {
        Db::Postgres(pool) => sqlx::query(sql)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
        Db::Sqlite(pool) => sqlx::query(sql)
            .bind(ts(now))
            .execute(pool)
            .await?
            .rows_affected(),
    };
    Ok(done)
}

/// The job types that have runnable jobs.
///
/// # Errors
///
/// The database failed.
pub async fn runnable_types(db: &Db) -> Result<Vec<String>, StoreError> {
    match db {
        // A skip scan over the runnable index: one index probe per distinct type, however
        // many jobs wait.
        Db::Postgres(pool) => Ok(sqlx::query_scalar(
            "WITH RECURSIVE types AS (
                 (SELECT job_type FROM job_queue
                  WHERE status IN ('PENDING', 'RETRY')
                  ORDER BY job_type LIMIT 1)
                 UNION ALL
                 SELECT (SELECT q.job_type FROM job_queue AS q
                         WHERE q.status IN ('PENDING', 'RETRY') AND q.job_type > t.job_type
                         ORDER BY q.job_type LIMIT 1)
                 FROM types AS t
                 WHERE t.job_type IS NOT NULL
             )
             SELECT job_type FROM types WHERE job_type IS NOT NULL",
        )
        .fetch_all(pool)
        .await?),
        Db::Sqlite(pool) => Ok(sqlx::query_scalar(
            "SELECT DISTINCT job_type FROM job_queue WHERE status IN ('PENDING', 'RETRY')",
        )
        .fetch_all(pool)
        .await?),
    }
}

/// Fails the runnable jobs of `job_type` created before `created_before`, with `error`.
///
/// # Errors
///
/// The database failed.
pub async fn fail_runnable_of_type(
    db: &Db,
    job_type: &str,
    error: &str,
    created_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let sql = "UPDATE job_queue
         SET status = 'FAILED', error = $1, processed_at = $2, updated_at = $2
         WHERE job_type = $3 AND status IN ('PENDING', 'RETRY') AND created_at <= $4";
    let done = match db {
        Db::Postgres(pool) => sqlx::query(sql)
            .bind(error)
            .bind(now)
            .bind(job_type)
            .bind(created_before)
            .execute(pool)
            .await?
            .rows_affected(),
        Db::Sqlite(pool) => sqlx::query(sql)
            .bind(error)
            .bind(ts(now))
            .bind(job_type)
            .bind(ts(created_before))
            .execute(pool)
            .await?
            .rows_affected(),
    };
    Ok(done)
}

/// One job by id.
///
/// # Errors
///
/// The database failed.
pub async fn get(db: &Db, id: Uuid) -> Result<Option<Job>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM job_queue WHERE id = $1");
    match db {
        Db::Postgres(pool) => {
            let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(job_from_pg).transpose()
        }
        Db::Sqlite(pool) => {
            let row = sqlx::query(&sql)
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(job_from_sqlite).transpose()
        }
    }
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<JobStatus>,
    pub job_type: Option<String>,
    pub limit: u32,
}

/// Jobs, newest first.
///
/// # Errors
///
/// The database failed.
pub async fn list(db: &Db, filter: &ListFilter) -> Result<Vec<Job>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM job_queue
         WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR job_type = $2)
         ORDER BY created_at DESC, id
         LIMIT $3"
    );
    let status = filter.status.map(JobStatus::as_str);
    let limit = i64::from(filter.limit.max(1));
    match db {
        Db::Postgres(pool) => {
            let sql = sql
                .replace("$1 IS NULL", "$1::text IS NULL")
                .replace("$2 IS NULL", "$2::text IS NULL");
            let rows = sqlx::query(&sql)
                .bind(status)
                .bind(filter.job_type.as_deref())
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(job_from_pg).collect()
        }
        Db::Sqlite(pool) => {
            let rows = sqlx::query(&sql)
                .bind(status)
                .bind(filter.job_type.as_deref())
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(job_from_sqlite).collect()
        }
    }
}

/// Puts a `FAILED`, `DEAD_LETTER` or `CANCELLED` job back to `PENDING` with its attempts
/// reset. Returns whether it was in such a state.
///
/// # Errors
///
/// The database failed.
pub async fn requeue(db: &Db, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let sql = "UPDATE job_queue
         SET status = 'PENDING', attempts = 0, run_at = $1, updated_at = $1,
             processed_at = NULL, error = NULL, result = NULL
         WHERE id = $2 AND status IN ('FAILED', 'DEAD_LETTER', 'CANCELLED')
         RETURNING job_type";
    let job_type: Option<String> = match db {
        Db::Postgres(pool) => {
            sqlx::query_scalar(sql)
                .bind(now)
                .bind(id)
                .fetch_optional(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            sqlx::query_scalar(sql)
                .bind(ts(now))
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?
        }
    };
    if let Some(job_type) = &job_type {
        notify(db, job_type).await?;
    }
    Ok(job_type.is_some())
}

/// Requeues every dead-lettered job, of one type or of all. Returns how many.
///
/// # Errors
///
/// The database failed.
pub async fn requeue_dead_letters(
    db: &Db,
    job_type: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let sql = "UPDATE job_queue
         SET status = 'PENDING', attempts = 0, run_at = $1, updated_at = $1,
             processed_at = NULL, error = NULL, result = NULL
         WHERE status = 'DEAD_LETTER' AND ($2 IS NULL OR job_type = $2)
         RETURNING job_type";
    let types: Vec<String> = match db {
        Db::Postgres(pool) => {
            let sql = sql.replace("$2 IS NULL", "$2::text IS NULL");
            sqlx::query_scalar(&sql)
                .bind(now)
                .bind(job_type)
                .fetch_all(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            sqlx::query_scalar(sql)
                .bind(ts(now))
                .bind(job_type)
                .fetch_all(pool)
                .await?
        }
    };
    let mut distinct = types.clone();
    distinct.sort();
    distinct.dedup();
    for t in &distinct {
        notify(db, t).await?;
    }
    Ok(types)
}

/// Cancels a job that has not ended. A running attempt goes on, but its outcome is no longer
/// recorded. Returns whether the job was live.
///
/// # Errors
///
/// The database failed.
pub async fn cancel(db: &Db, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let sql = "UPDATE job_queue
         SET status = 'CANCELLED', processed_at = $1, updated_at = $1,
             lease_id = NULL, lease_expires_at = NULL,
             error = COALESCE(error, 'cancelled by an operator')
         WHERE id = $2 AND status IN ('PENDING', 'RETRY', 'PROCESSING')";
    let done = match db {
        Db::Postgres(pool) => sqlx::query(sql)
            .bind(now)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected(),
        Db::Sqlite(pool) => sqlx::query(sql)
            .bind(ts(now))
            .bind(id.to_string())
            .execute(pool)
            .await?
            .rows_affected(),
    };
    Ok(done == 1)
}

/// Wakes the pools of `job_type` on every node (PostgreSQL; SQLite pools poll).
///
/// # Errors
///
/// The database failed.
pub async fn notify(db: &Db, job_type: &str) -> Result<(), StoreError> {
    if let Db::Postgres(pool) = db {
        sqlx::query("SELECT pg_notify('job_queue', $1)")
            .bind(job_type)
            .execute(pool)
            .await?;
    }
    Ok(())
}

fn status_of(text: String) -> Result<JobStatus, StoreError> {
    text.parse()
        .map_err(|err: crate::job::UnknownStatus| StoreError::Corrupt(err.to_string()))
}

fn job_from_pg(row: &PgRow) -> Result<Job, StoreError> {
    Ok(Job {
        id: row.try_get("id")?,
        job_type: row.try_get("job_type")?,
        payload: row.try_get("payload")?,
        status: status_of(row.try_get("status")?)?,
        priority: row.try_get("priority")?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        run_at: row.try_get("run_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        started_at: row.try_get("started_at")?,
        processed_at: row.try_get("processed_at")?,
        error: row.try_get("error")?,
        locked_by: row.try_get("locked_by")?,
        lease_id: row.try_get("lease_id")?,
        lease_expires_at: row.try_get("lease_expires_at")?,
        unique_key: row.try_get("unique_key")?,
        result: row.try_get("result")?,
    })
}

fn job_from_sqlite(row: &SqliteRow) -> Result<Job, StoreError> {
    let lease: Option<String> = row.try_get("lease_id")?;
    let result: Option<String> = row.try_get("result")?;
    Ok(Job {
        id: uuid_of(row.try_get("id")?)?,
        job_type: row.try_get("job_type")?,
        payload: json_of(row.try_get("payload")?),
        status: status_of(row.try_get("status")?)?,
        priority: row.try_get("priority")?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        run_at: time_of(row.try_get("run_at")?)?,
        created_at: time_of(row.try_get("created_at")?)?,
        updated_at: time_of(row.try_get("updated_at")?)?,
        started_at: opt_time_of(row.try_get("started_at")?)?,
        processed_at: opt_time_of(row.try_get("processed_at")?)?,
        error: row.try_get("error")?,
        locked_by: row.try_get("locked_by")?,
        lease_id: lease.as_deref().map(uuid_of).transpose()?,
        lease_expires_at: opt_time_of(row.try_get("lease_expires_at")?)?,
        unique_key: row.try_get("unique_key")?,
        result: result.as_deref().map(json_of),
    })
}
