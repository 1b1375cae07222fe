//! What operators and the CLI do with jobs: read, list, requeue, cancel, notify.

use super::*;
use crate::store::audit::{self, AuditAction, NewAuditEntry};

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
    /// Only jobs after this one in the list's order (`created_at` and `id` of the last job of
    /// the previous page).
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

/// Jobs, newest first (ties by id), from `filter.after` on.
///
/// # Errors
///
/// The database failed.
pub async fn list(db: &Db, filter: &ListFilter) -> Result<Vec<Job>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM job_queue
         WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR job_type = $2)
           AND ($4 IS NULL OR created_at < $4 OR (created_at = $4 AND id > $5))
         ORDER BY created_at DESC, id
         LIMIT $3"
    );
    let status = filter.status.map(JobStatus::as_str);
    let limit = i64::from(filter.limit.max(1));
    let (after_at, after_id) = filter.after.unzip();
    match db {
        Db::Postgres(pool) => {
            let sql = sql
                .replace("$1 IS NULL", "$1::text IS NULL")
                .replace("$2 IS NULL", "$2::text IS NULL")
                .replace("$4 IS NULL", "$4::timestamptz IS NULL");
            let rows = sqlx::query(&sql)
                .bind(status)
                .bind(filter.job_type.as_deref())
                .bind(limit)
                .bind(after_at)
                .bind(after_id)
                .fetch_all(pool)
                .await?;
            Ok(readable(rows.iter().map(job_from_pg)))
        }
        Db::Sqlite(pool) => {
            let rows = sqlx::query(&sql)
                .bind(status)
                .bind(filter.job_type.as_deref())
                .bind(limit)
                .bind(after_at.map(ts))
                .bind(after_id.map(|id| id.to_string()))
                .fetch_all(pool)
                .await?;
            Ok(readable(rows.iter().map(job_from_sqlite)))
        }
    }
}

/// The jobs of a page that can be read. A row written by hand with a value no reader takes
/// back (SQLite keeps any text) is left out with a warning, so one such row cannot hide all
/// the others.
// TODO(#5): a page that left a row out may end a listing early, as the caller sees fewer rows
// than it asked for; fetching rows past the unreadable ones would keep the page full.
fn readable(rows: impl Iterator<Item = Result<Job, StoreError>>) -> Vec<Job> {
    rows.filter_map(|row| {
        row.map_err(|err| tracing::warn!(error = %err, "unreadable job row left out of a list"))
            .ok()
    })
    .collect()
}

/// The update that puts a job back to `PENDING` with its attempts reset (`$1` is now).
macro_rules! requeue_set {
    () => {
        "UPDATE job_queue
         SET status = 'PENDING', attempts = 0, run_at = $1, updated_at = $1,
             processed_at = NULL, error = NULL, result = NULL
         "
    };
}

/// Puts a `FAILED`, `DEAD_LETTER` or `CANCELLED` job back to `PENDING` with its attempts
/// reset, recorded in `audit_log` as done by `actor` in the same transaction. Returns whether
/// it was in such a state.
///
/// # Errors
///
/// The database failed.
pub async fn requeue(
    db: &Db,
    id: Uuid,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<bool, StoreError> {
    let sql = concat!(
        requeue_set!(),
        "WHERE id = $2 AND status IN ('FAILED', 'DEAD_LETTER', 'CANCELLED')
         RETURNING id, job_type"
    );
    let done = change_one(db, sql, id, now, actor, AuditAction::JobRetry).await?;
    if let Some(job_type) = &done {
        notify(db, job_type).await?;
    }
    Ok(done.is_some())
}

/// Requeues every dead-lettered job, of one type or of all, each recorded in `audit_log` as
/// done by `actor` in the same transaction. Returns the job type of each job requeued.
///
/// # Errors
///
/// The database failed.
pub async fn requeue_dead_letters(
    db: &Db,
    job_type: Option<&str>,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<Vec<String>, StoreError> {
    let sql = concat!(
        requeue_set!(),
        "WHERE status = 'DEAD_LETTER' AND ($2 IS NULL OR job_type = $2)
         RETURNING id, job_type"
    );
    let action = AuditAction::JobRequeueDeadLetter;
    let moved: Vec<(Uuid, String)> = match db {
        Db::Postgres(pool) => {
            let sql = sql.replace("$2 IS NULL", "$2::text IS NULL");
            let mut tx = pool.begin().await?;
            let moved: Vec<(Uuid, String)> = sqlx::query_as(&sql)
                .bind(now)
                .bind(job_type)
                .fetch_all(&mut *tx)
                .await?;
            audit::record_pg(&mut tx, &entries(&moved, actor, action), now).await?;
            tx.commit().await?;
            moved
        }
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let rows: Vec<(String, String)> = sqlx::query_as(sql)
                .bind(ts(now))
                .bind(job_type)
                .fetch_all(&mut *tx)
                .await?;
            let moved = rows
                .into_iter()
                .map(|(id, t)| Ok((uuid_of(&id)?, t)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            audit::record_sqlite(&mut tx, &entries(&moved, actor, action), now).await?;
            tx.commit().await?;
            moved
        }
    };
    let types: Vec<String> = moved.into_iter().map(|(_, t)| t).collect();
    let mut distinct = types.clone();
    distinct.sort();
    distinct.dedup();
    for t in &distinct {
        notify(db, t).await?;
    }
    Ok(types)
}

/// Cancels a job that has not ended, recorded in `audit_log` as done by `actor` in the same
/// transaction. A running attempt goes on, but its outcome is no longer recorded. Returns
/// whether the job was live.
///
/// # Errors
///
/// The database failed.
pub async fn cancel(
    db: &Db,
    id: Uuid,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<bool, StoreError> {
    let sql = "UPDATE job_queue
         SET status = 'CANCELLED', processed_at = $1, updated_at = $1,
             lease_id = NULL, lease_expires_at = NULL,
             error = COALESCE(error, 'cancelled by an operator')
         WHERE id = $2 AND status IN ('PENDING', 'RETRY', 'PROCESSING')
         RETURNING id, job_type";
    let done = change_one(db, sql, id, now, actor, AuditAction::JobCancel).await?;
    Ok(done.is_some())
}

/// Runs `sql` (`$1` now, `$2` the job's id, returning its id and type) and records `action` on
/// the job it changed, in one transaction. Returns the job's type if it changed one.
async fn change_one(
    db: &Db,
    sql: &str,
    id: Uuid,
    now: DateTime<Utc>,
    actor: &str,
    action: AuditAction,
) -> Result<Option<String>, StoreError> {
    match db {
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            let row: Option<(Uuid, String)> = sqlx::query_as(sql)
                .bind(now)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let moved: Vec<(Uuid, String)> = row.into_iter().collect();
            audit::record_pg(&mut tx, &entries(&moved, actor, action), now).await?;
            tx.commit().await?;
            Ok(moved.into_iter().next().map(|(_, t)| t))
        }
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let row: Option<(String, String)> = sqlx::query_as(sql)
                .bind(ts(now))
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
            let moved: Vec<(Uuid, String)> = row.into_iter().map(|(_, t)| (id, t)).collect();
            audit::record_sqlite(&mut tx, &entries(&moved, actor, action), now).await?;
            tx.commit().await?;
            Ok(moved.into_iter().next().map(|(_, t)| t))
        }
    }
}

/// One audit entry per changed job.
fn entries<'a>(
    moved: &'a [(Uuid, String)],
    actor: &'a str,
    action: AuditAction,
) -> Vec<NewAuditEntry<'a>> {
    moved
        .iter()
        .map(|(id, job_type)| NewAuditEntry {
            actor,
            action,
            job_id: Some(*id),
            job_type: Some(job_type),
            detail: serde_json::json!({}),
        })
        .collect()
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

fn job_from_pg(row: &PgRow) -> Result<Job, StoreError> {
    // jsonb holds deeper nesting than the JSON parser follows; such a job is still shown.
    let payload = row
        .try_get("payload")
        .unwrap_or_else(|err| Value::String(format!("unreadable payload: {err}")));
    Ok(Job {
        id: row.try_get("id")?,
        job_type: row.try_get("job_type")?,
        payload,
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
        // SQLite keeps any bytes: text that is not UTF-8 is shown with replacement characters.
        payload: json_of(&String::from_utf8_lossy(row.try_get("payload")?)),
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
