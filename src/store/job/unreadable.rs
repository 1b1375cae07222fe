//! Claimed rows that cannot be read: a payload that is not UTF-8 (SQLite stores any bytes) or
//! JSON nested deeper than the parser follows (jsonb and SQLite's JSON go deeper), or, on
//! SQLite, a time column holding text that is not a time.
//! No handler could run such a job, and retrying cannot fix it, so the claim fails it at once
//! under its new lease, with an error that says why; the rest of the batch runs as usual.

use super::*;

/// A claimed row that no handler can be given.
pub(super) struct Unreadable {
    pub id: Uuid,
    pub lease_id: Uuid,
    pub error: String,
    /// The time column (SQLite only) whose text is no time. Failing the job sets it to the
    /// time of failure, so the row reads back everywhere; the error keeps the old text.
    pub bad_time: Option<&'static str>,
}

/// A claimed row: a job to run, or one to fail.
pub(super) type Claimed = Result<ClaimedJob, Unreadable>;

/// The payload a row's text holds, or why it cannot be read.
pub(super) fn payload_of(bytes: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|err| format!("unreadable payload: not valid UTF-8 text ({err})"))?;
    serde_json::from_str(text).map_err(|err| {
        if err.to_string().starts_with("recursion limit exceeded") {
            "unreadable payload: JSON nested more than 128 levels deep".to_owned()
        } else {
            format!("unreadable payload: not JSON ({err})")
        }
    })
}

/// Splits claimed rows into jobs to run and rows to fail.
pub(super) fn split(rows: Vec<Claimed>) -> (Vec<ClaimedJob>, Vec<Unreadable>) {
    let mut jobs = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for row in rows {
        match row {
            Ok(job) => jobs.push(job),
            Err(bad) => unreadable.push(bad),
        }
    }
    (jobs, unreadable)
}

const FAIL: &str = "UPDATE job_queue
     SET status = 'FAILED', error = $1, processed_at = $2, updated_at = $2,
         lease_id = NULL, lease_expires_at = NULL
     WHERE id = $3 AND lease_id = $4 AND status = 'PROCESSING'";

/// Fails `rows` under the lease they were just claimed with.
pub(super) async fn fail_pg(
    pool: &sqlx::PgPool,
    rows: &[Unreadable],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for row in rows {
        tracing::warn!(job_id = %row.id, error = %row.error, "unreadable job row; job failed");
        sqlx::query(FAIL)
            .bind(clean_error(&row.error))
            .bind(now)
            .bind(row.id)
            .bind(row.lease_id)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Fails `rows` under the lease they were just claimed with, inside the claim's transaction.
pub(super) async fn fail_sqlite(
    conn: &mut sqlx::SqliteConnection,
    rows: &[Unreadable],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for row in rows {
        tracing::warn!(job_id = %row.id, error = %row.error, "unreadable job row; job failed");
        sqlx::query(FAIL)
            .bind(clean_error(&row.error))
            .bind(ts(now))
            .bind(row.id.to_string())
            .bind(row.lease_id.to_string())
            .execute(&mut *conn)
            .await?;
        if let Some(column) = row.bad_time {
            sqlx::query(&format!("UPDATE job_queue SET {column} = ?1 WHERE id = ?2"))
                .bind(ts(now))
                .bind(row.id.to_string())
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}
