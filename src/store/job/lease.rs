//! Leases: renewal by their holder, rescue when they expire, and the maintenance checks
//! that keep runnable rows runnable.

use super::*;

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

/// Takes back every job whose lease expired: `RETRY` within 2 s while attempts remain, else
/// `DEAD_LETTER`. The lost attempt counts as a failed one. A `PROCESSING` row without a lease
/// (left by an older system) has no holder and is taken back too.
///
/// # Errors
///
/// The database failed; nothing was rescued.
pub async fn rescue_expired(db: &Db, now: DateTime<Utc>) -> Result<Vec<Rescued>, StoreError> {
    // Each rescued job is due at its own moment within 2 s: with one `run_at` for all, the
    // claim (by priority, run_at, id) would batch the same jobs together again, and a job that
    // kills its process would take the same batch-mates down on every attempt.
    let spread = match db {
        Db::Postgres(_) => "$1 + random() * interval '2 seconds'",
        Db::Sqlite(_) => {
            "strftime('%Y-%m-%dT%H:%M:%fZ', $1,
                      '+' || (abs(random() % 2000) / 1000.0) || ' seconds')"
        }
    };
    let sql = format!(
        "UPDATE job_queue
         SET status = CASE WHEN attempts >= max_attempts THEN 'DEAD_LETTER' ELSE 'RETRY' END,
             processed_at = CASE WHEN attempts >= max_attempts THEN $1 END,
             error = 'lease expired: node ' || COALESCE(locked_by, 'unknown')
                 || ' stopped renewing attempt ' || attempts,
             run_at = {spread},
             updated_at = $1,
             lease_id = NULL,
             lease_expires_at = NULL
         WHERE status = 'PROCESSING' AND (lease_expires_at < $1 OR lease_expires_at IS NULL)
         RETURNING id, job_type, status, locked_by"
    );
    let sql = sql.as_str();
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
