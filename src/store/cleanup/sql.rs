//! The statements of each table cleanup may touch, fixed at compile time.
//!
//! Every table name here is a literal in this file: [`of`] maps a variant of the allow-list to
//! its statements, so no name from a payload is ever formatted into SQL.
//!
//! Placeholders: the first is the batch size (on SQLite, the JSON array of ids for the `_ids`
//! statements); the cutoff times follow in the order of [`cutoff_times`]; on PostgreSQL the
//! archive time comes last.

use chrono::{DateTime, Utc};

use super::Cutoff;
use crate::job::payload::CleanupTable;

/// The statements of one table.
pub(super) struct TableSql {
    /// PostgreSQL: moves one batch into the archive, returning how many rows left the source.
    pub pg_archive: &'static str,
    /// PostgreSQL: deletes one batch.
    pub pg_delete: &'static str,
    /// PostgreSQL: `VACUUM (ANALYZE)` of the source.
    pub pg_vacuum: &'static str,
    /// PostgreSQL: `VACUUM (ANALYZE)` of the source and its archive.
    pub pg_vacuum_with_archive: &'static str,
    /// SQLite: the ids of one batch, oldest first.
    pub sqlite_batch_ids: &'static str,
    /// SQLite: copies the rows of the given ids into the archive.
    pub sqlite_archive_ids: &'static str,
    /// SQLite: deletes the rows of the given ids.
    pub sqlite_delete_ids: &'static str,
}

/// The statements of `table`.
pub(super) fn of(table: CleanupTable) -> &'static TableSql {
    match table {
        CleanupTable::GlucoseReadings => &GLUCOSE_READINGS,
        CleanupTable::JobQueue => &JOB_QUEUE,
        CleanupTable::Notifications => &NOTIFICATIONS,
    }
}

/// The cutoff times `table`'s statements bind, in placeholder order.
pub(super) fn cutoff_times(table: CleanupTable, cutoff: &Cutoff) -> Vec<DateTime<Utc>> {
    match table {
        CleanupTable::GlucoseReadings | CleanupTable::Notifications => vec![cutoff.before],
        CleanupTable::JobQueue => vec![
            cutoff.completed_before,
            cutoff.cancelled_before,
            cutoff.failed_before,
            cutoff.dead_letter_before,
        ],
    }
}

/// Builds a [`TableSql`] from literals. Both backends pick a batch with the same shape; on
/// PostgreSQL `FOR UPDATE SKIP LOCKED` lets two nodes clean at once without waiting on each
/// other, and the data-modifying CTEs make delete and archive insert one statement.
// rustfmt would put each `concat!` fragment on a line of its own and hide the SQL's shape.
#[rustfmt::skip]
macro_rules! table_sql {
    (
        source: $source:literal,
        archive: $archive:literal,
        columns: $columns:literal,
        oldest_first: $order:literal,
        pg_eligible: $pg_eligible:literal,
        pg_archived_at: $archived_at:literal,
        sqlite_eligible: $sqlite_eligible:literal $(,)?
    ) => {
        TableSql {
            pg_archive: concat!(
                "WITH picked AS (
                     SELECT id
                     FROM ", $source, "
                     WHERE ", $pg_eligible, "
                     ORDER BY ", $order, "
                     LIMIT $1
                     FOR UPDATE SKIP LOCKED
                 ),
                 moved AS (
                     DELETE FROM ", $source, "
                     WHERE id IN (SELECT id FROM picked)
                     RETURNING ", $columns, "
                 ),
                 archived AS (
                     INSERT INTO ", $archive, " (", $columns, ", archived_at)
                     SELECT ", $columns, ", ", $archived_at, "
                     FROM moved
                     ON CONFLICT (id) DO NOTHING
                 )
                 SELECT count(*) FROM moved"
            ),
            pg_delete: concat!(
                "DELETE FROM ", $source, "
                 WHERE id IN (
                     SELECT id
                     FROM ", $source, "
                     WHERE ", $pg_eligible, "
                     ORDER BY ", $order, "
                     LIMIT $1
                     FOR UPDATE SKIP LOCKED
                 )"
            ),
            pg_vacuum: concat!("VACUUM (ANALYZE) ", $source),
            pg_vacuum_with_archive: concat!("VACUUM (ANALYZE) ", $source, ", ", $archive),
            sqlite_batch_ids: concat!(
                "SELECT id
                 FROM ", $source, "
                 WHERE ", $sqlite_eligible, "
                 ORDER BY ", $order, "
                 LIMIT ?1"
            ),
            sqlite_archive_ids: concat!(
                "INSERT INTO ", $archive, " (", $columns, ", archived_at)
                 SELECT ", $columns, ", ?2
                 FROM ", $source, "
                 WHERE id IN (SELECT value FROM json_each(?1))
                 ON CONFLICT (id) DO NOTHING"
            ),
            sqlite_delete_ids: concat!(
                "DELETE FROM ", $source, "
                 WHERE id IN (SELECT value FROM json_each(?1))"
            ),
        }
    };
}

static GLUCOSE_READINGS: TableSql = table_sql! {
    source: "glucose_readings",
    archive: "glucose_readings_archive",
    columns: "id, user_id, value_mg_dl, measured_at, source, created_at",
    oldest_first: "measured_at",
    pg_eligible: "measured_at < $2",
    pg_archived_at: "$3",
    sqlite_eligible: "measured_at < ?2",
};

// Only terminal jobs, each against its own status's cutoff. The leading status test repeats
// what the branches say so that the partial index on terminal jobs is used, and so that no
// edit of a branch can ever let a live job through.
static JOB_QUEUE: TableSql = table_sql! {
    source: "job_queue",
    archive: "job_queue_archive",
    columns: "id, job_type, payload, status, created_at, updated_at, processed_at, error, \
              priority, attempts, max_attempts, run_at, started_at, locked_by, lease_id, \
              lease_expires_at, unique_key, result",
    oldest_first: "processed_at",
    pg_eligible: "status IN ('COMPLETED', 'FAILED', 'CANCELLED', 'DEAD_LETTER')
                  AND ((status = 'COMPLETED' AND processed_at < $2)
                    OR (status = 'CANCELLED' AND processed_at < $3)
                    OR (status = 'FAILED' AND processed_at < $4)
                    OR (status = 'DEAD_LETTER' AND processed_at < $5))",
    pg_archived_at: "$6",
    sqlite_eligible: "status IN ('COMPLETED', 'FAILED', 'CANCELLED', 'DEAD_LETTER')
                      AND ((status = 'COMPLETED' AND processed_at < ?2)
                        OR (status = 'CANCELLED' AND processed_at < ?3)
                        OR (status = 'FAILED' AND processed_at < ?4)
                        OR (status = 'DEAD_LETTER' AND processed_at < ?5))",
};

static NOTIFICATIONS: TableSql = table_sql! {
    source: "notifications",
    archive: "notifications_archive",
    columns: "id, user_id, channel, kind, status, title, body, data, dedupe_key, error, \
              created_at, sent_at",
    oldest_first: "created_at",
    pg_eligible: "created_at < $2",
    pg_archived_at: "$3",
    sqlite_eligible: "created_at < ?2",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_sql_reads_its_own_table_and_archive() {
        for table in CleanupTable::ALL {
            let sql = of(table);
            let archive = format!("{}_archive", table.as_str());

            for statement in [sql.pg_archive, sql.sqlite_archive_ids] {
                assert!(statement.contains(&archive), "{statement}");
            }
            for statement in [
                sql.pg_archive,
                sql.pg_delete,
                sql.sqlite_batch_ids,
                sql.sqlite_archive_ids,
                sql.sqlite_delete_ids,
            ] {
                let source = format!("FROM {}\n", table.as_str());
                assert!(statement.contains(&source), "{statement}");
            }
        }
    }

    #[test]
    fn cleanup_binds_as_many_cutoffs_as_the_sql_names() {
        let now = Utc::now();
        let cutoff = Cutoff {
            before: now,
            completed_before: now,
            cancelled_before: now,
            failed_before: now,
            dead_letter_before: now,
        };

        for table in CleanupTable::ALL {
            let sql = of(table);
            let cutoffs = cutoff_times(table, &cutoff).len();

            let last = cutoffs + 1;
            assert!(sql.pg_delete.contains(&format!("${last}")), "{table:?}");
            assert!(
                !sql.pg_delete.contains(&format!("${}", last + 1)),
                "{table:?}"
            );
            assert!(
                sql.pg_archive.contains(&format!("${}", last + 1)),
                "{table:?}"
            );
            assert!(
                sql.sqlite_batch_ids.contains(&format!("?{last}")),
                "{table:?}"
            );
            assert!(!sql.sqlite_batch_ids.contains(&format!("?{}", last + 1)));
        }
    }
}
