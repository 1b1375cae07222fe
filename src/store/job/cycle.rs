//! A pool's round trip: claiming runnable jobs and recording how attempts ended.

use super::unreadable::{self, payload_of, Claimed, Unreadable};
use super::*;

/// Takes up to `limit` runnable jobs of one type under a fresh lease each, and up to
/// `prefetch` more that never ran (see [`ClaimRequest::prefetch`]).
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
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let jobs = claim_sqlite(&mut tx, request, now).await?;
            tx.commit().await?;
            jobs
        }
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

fn claimed_from_pg(row: &PgRow) -> Result<Claimed, StoreError> {
    let (id, lease_id) = (row.try_get("id")?, row.try_get("lease_id")?);
    let text: String = row.try_get("payload")?;
    let payload = match payload_of(text.as_bytes()) {
        Ok(payload) => payload,
        Err(error) => {
            return Ok(Err(Unreadable {
                id,
                lease_id,
                error,
                bad_time: None,
            }))
        }
    };
    Ok(Ok(ClaimedJob {
        id,
        job_type: row.try_get("job_type")?,
        payload,
        priority: row.try_get("priority")?,
        attempt: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        created_at: row.try_get("created_at")?,
        run_at: row.try_get("run_at")?,
        lease_id,
    }))
}

async fn claim_sqlite(
    conn: &mut sqlx::SqliteConnection,
    request: &ClaimRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<ClaimedJob>, StoreError> {
    // The caller holds the write lock (BEGIN IMMEDIATE): nothing changes between the two
    // statements.
    let picked: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, status
         FROM job_queue
         WHERE job_type = ?1
           AND status IN ('PENDING', 'RETRY')
           AND run_at <= ?2
           AND priority <= ?3
           AND attempts < max_attempts
         ORDER BY priority, run_at, id
         LIMIT ?4",
    )
    .bind(request.job_type)
    .bind(ts(now))
    .bind(request.max_priority)
    .bind(i64::from(request.limit) + i64::from(request.prefetch))
    .fetch_all(&mut *conn)
    .await?;
    let ids = prefetch_cut(picked, request.limit);
    let rows = take_sqlite(conn, request, &ids, now).await?;
    let claimed = rows
        .iter()
        .map(claimed_from_sqlite)
        .collect::<Result<_, _>>()?;
    let (jobs, unreadable) = unreadable::split(claimed);
    unreadable::fail_sqlite(conn, &unreadable, now).await?;
    Ok(jobs)
}

/// The ids of `picked` (in claim order) a claim takes: the first `limit`, then `PENDING` ones
/// up to the first `RETRY` job (see [`ClaimRequest::prefetch`]).
fn prefetch_cut(picked: Vec<(String, String)>, limit: u32) -> Vec<String> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    picked
        .into_iter()
        .enumerate()
        .take_while(|(i, (_, status))| *i < limit || status == "PENDING")
        .map(|(_, (id, _))| id)
        .collect()
}

/// Leases the jobs `ids`, counting an attempt for each.
async fn take_sqlite(
    conn: &mut sqlx::SqliteConnection,
    request: &ClaimRequest<'_>,
    ids: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<SqliteRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Each row gets its own random lease token.
    Ok(sqlx::query(
        "UPDATE job_queue
         SET status = 'PROCESSING',
             attempts = attempts + 1,
             started_at = ?1,
             updated_at = ?1,
             locked_by = ?2,
             lease_id = lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'
                 || substr(hex(randomblob(2)), 2) || '-a'
                 || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
             lease_expires_at = ?3
         WHERE id IN (SELECT value FROM json_each(?4))
         RETURNING id, job_type, payload, priority, attempts, max_attempts, created_at, run_at,
                   lease_id",
    )
    .bind(ts(now))
    .bind(request.node)
    .bind(ts(add(now, request.lease_ttl)))
    .bind(serde_json::to_string(ids).unwrap_or_default())
    .fetch_all(&mut *conn)
    .await?)
}

fn claimed_from_sqlite(row: &SqliteRow) -> Result<Claimed, StoreError> {
    let id = uuid_of(row.try_get("id")?)?;
    let lease_id = uuid_of(row.try_get("lease_id")?)?;
    let unreadable = |error, bad_time| {
        Ok(Err(Unreadable {
            id,
            lease_id,
            error,
            bad_time,
        }))
    };
    let payload = match payload_of(row.try_get("payload")?) {
        Ok(payload) => payload,
        Err(error) => return unreadable(error, None),
    };
    // SQLite keeps whatever text a row was given; a time no reader takes back fails its own
    // job instead of the whole claim.
    let (created_at, run_at) = match (time_in(row, "created_at"), time_in(row, "run_at")) {
        (Ok(created_at), Ok(run_at)) => (created_at, run_at),
        (Err((error, column)), _) | (_, Err((error, column))) => {
            return unreadable(error, Some(column))
        }
    };
    Ok(Ok(ClaimedJob {
        id,
        job_type: row.try_get("job_type")?,
        payload,
        priority: row.try_get("priority")?,
        attempt: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        created_at,
        run_at,
        lease_id,
    }))
}

/// The time in `column` of a SQLite row, or why it cannot be read, with the column.
fn time_in(row: &SqliteRow, column: &'static str) -> Result<DateTime<Utc>, (String, &'static str)> {
    let text: &str = row.try_get(column).map_err(|e| (e.to_string(), column))?;
    time_of(text).map_err(|_| {
        let error = format!("unreadable {column}: {text:?} is not a UTC time");
        (error, column)
    })
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
    if settlements.is_empty() && request.limit == 0 && request.prefetch == 0 {
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
                 started_at = COALESCE(s.started_at, j.started_at),
                 run_at = COALESCE(s.run_at, j.run_at),
                 error = s.error,
                 result = s.result::jsonb,
                 processed_at = CASE
                     WHEN s.status IN ('COMPLETED', 'FAILED', 'DEAD_LETTER', 'CANCELLED')
                         THEN COALESCE(s.ended_at, $2)
                 END,
                 updated_at = $2,
                 lease_id = NULL,
                 lease_expires_at = NULL
             FROM unnest($7::uuid[], $8::uuid[], $9::text[], $10::timestamptz[], $11::text[],
                         $12::text[], $13::bool[], $15::timestamptz[], $16::timestamptz[])
                 AS s(id, lease_id, status, run_at, error, result, refund, started_at, ended_at)
             WHERE j.id = s.id AND j.lease_id = s.lease_id AND j.status = 'PROCESSING'
             RETURNING j.id
         ),
         -- Locks the chosen rows first; SKIP LOCKED lets other nodes claim the rows after
         -- them instead of queueing behind this statement.
         picked AS (
             SELECT id, status, priority, run_at
             FROM job_queue
             WHERE job_type = $1
               AND status IN ('PENDING', 'RETRY')
               AND run_at <= $2
               AND priority <= $3
               AND attempts < max_attempts
             ORDER BY priority, run_at, id
             LIMIT $4 + $14
             FOR UPDATE SKIP LOCKED
         ),
         -- The first $4, then PENDING jobs up to the first RETRY one (see
         -- ClaimRequest::prefetch).
         ranked AS (
             SELECT id, status, row_number() OVER (ORDER BY priority, run_at, id) AS n
             FROM picked
         ),
         chosen AS (
             SELECT id
             FROM ranked
             WHERE n <= $4
                OR n < (SELECT COALESCE(min(n), $4 + $14 + 1)
                        FROM ranked
                        WHERE n > $4 AND status = 'RETRY')
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
             FROM chosen
             WHERE j.id = chosen.id
             RETURNING j.id, j.job_type, j.payload::text AS payload, j.priority, j.attempts,
                       j.max_attempts, j.created_at, j.run_at, j.lease_id
         )
         SELECT false AS is_claim, id, NULL::text AS job_type, NULL::text AS payload,
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
    .bind(i64::from(request.prefetch))
    .bind(&columns.started_ats)
    .bind(&columns.ended_ats)
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
    let (claimed, unreadable) = unreadable::split(claimed);
    unreadable::fail_pg(pool, &unreadable, now).await?;
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
    started_ats: Vec<Option<DateTime<Utc>>>,
    ended_ats: Vec<Option<DateTime<Utc>>>,
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
            started_ats: settlements.iter().map(|s| s.started_at).collect(),
            ended_ats: settlements.iter().map(|s| s.ended_at).collect(),
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
        prefetch: 0,
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
        let processed_at = s
            .status
            .is_terminal()
            .then(|| ts(s.ended_at.unwrap_or(now)));
        let done = sqlx::query(
            "UPDATE job_queue
             SET status = ?1,
                 attempts = attempts - ?2,
                 started_at = COALESCE(?10, started_at),
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
        .bind(s.started_at.map(ts))
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 1 {
            applied.push(s.id);
        }
    }
    Ok(applied)
}
