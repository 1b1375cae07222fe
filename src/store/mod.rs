//! Storage: one API over PostgreSQL (production, many nodes) and SQLite (embedded, one node).
//!
//! Each table has its own file with one function per query. Functions take the [`Db`] and bind
//! `now` as a parameter where time matters, so tests control time.
//!
//! On SQLite, ids are hyphenated UUID text and timestamps are UTC text of fixed width
//! (`YYYY-MM-DDTHH:MM:SS.sssZ`), so comparing the text compares the times.

pub mod alert;
pub mod audit;
pub mod cleanup;
pub mod estimate;
pub mod fault_probe;
pub mod job;
pub mod node;
pub mod notification;
pub mod pool_control;
pub mod reading;
pub mod reminder;
pub mod report;
pub mod schedule_run;
pub mod stats;
pub mod throughput;
pub mod user;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use uuid::Uuid;

use crate::config::DatabaseConfig;

static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL names no database we support.
    #[error("unsupported database url {0:?}: use sqlite://FILE or postgres://...")]
    UnsupportedUrl(String),
    /// The database refused or failed a statement.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    /// A stored value could not be read back.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Another live job holds the unique key.
    #[error("a live job already holds unique key {key:?}: {existing}")]
    UniqueKeyTaken { key: String, existing: Uuid },
    /// The row asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A value given to the store is out of its range.
    #[error("{0}")]
    Invalid(String),
}

// The source goes into the message, so it is not also exposed as `source()`: error chains
// would print it twice.
impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        Self::Database(err)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        Self::Migrate(err)
    }
}

/// A handle to one database, cheap to clone.
#[derive(Debug, Clone)]
pub enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// The backend of `url`.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnsupportedUrl`] for anything but `sqlite:` and `postgres(ql):`.
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }
}

impl Db {
    /// Opens a pool; on PostgreSQL connections are made when first needed, so a service
    /// starts (and waits) while the database is down.
    ///
    /// # Errors
    ///
    /// The URL is unsupported or malformed.
    pub fn open(config: &DatabaseConfig) -> Result<Self, StoreError> {
        Self::open_with(config, config.max_connections)
    }

    /// As [`Db::open`] with another pool size.
    ///
    /// # Errors
    ///
    /// As [`Db::open`].
    pub fn open_with(config: &DatabaseConfig, max_connections: u32) -> Result<Self, StoreError> {
        Self::open_pool(config, max_connections, false)
    }

    /// A small pool for a job pool's own statements: its cycles, lease renewals and control
    /// reads, at most one of each at a time. On PostgreSQL its connections plan every
    /// prepared statement once (`plan_cache_mode = force_generic_plan`): the cycle statement's
    /// plan does not depend on its parameters, and planning it anew each time cost about a
    /// quarter of a millisecond of an idle pool's pickup.
    ///
    /// # Errors
    ///
    /// As [`Db::open`].
    pub fn open_queue(config: &DatabaseConfig) -> Result<Self, StoreError> {
        Self::open_pool(config, 3, true)
    }

    fn open_pool(
        config: &DatabaseConfig,
        max_connections: u32,
        generic_plans: bool,
    ) -> Result<Self, StoreError> {
        let url = config.url.as_str();
        match Backend::of_url(url)? {
            Backend::Postgres => {
                let mut options = PgConnectOptions::from_str(url)?;
                if generic_plans {
                    options = options.options([("plan_cache_mode", "force_generic_plan")]);
                }
                let pool = PgPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(config.acquire_timeout)
                    .connect_lazy_with(options);
                Ok(Self::Postgres(pool))
            }
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(config.acquire_timeout)
                    .connect_lazy_with(options);
                Ok(Self::Sqlite(pool))
            }
        }
    }

    /// Brings the schema up to date (idempotent; safe for several nodes at once). A schema
    /// that is current is left alone without taking the migrator's lock or touching its
    /// table, so a service role without `CREATE` on the schema starts against a database its
    /// owner migrated.
    ///
    /// # Errors
    ///
    /// The database is unreachable or a migration fails.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if self.is_migrated().await.unwrap_or(false) {
            return Ok(());
        }
        match self {
            Self::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
            Self::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Whether every migration this build knows has been applied.
    ///
    /// # Errors
    ///
    /// The database is unreachable.
    pub async fn is_migrated(&self) -> Result<bool, StoreError> {
        let (applied, known) = match self {
            Self::Postgres(pool) => {
                let applied: i64 =
                    sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
                        .fetch_one(pool)
                        .await?;
                (applied, POSTGRES_MIGRATIONS.iter().count())
            }
            Self::Sqlite(pool) => {
                let applied: i64 =
                    sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
                        .fetch_one(pool)
                        .await?;
                (applied, SQLITE_MIGRATIONS.iter().count())
            }
        };
        Ok(usize::try_from(applied).unwrap_or(0) >= known)
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Closes every connection and waits for them to go.
    pub async fn close(&self) {
        match self {
            Self::Postgres(pool) => pool.close().await,
            Self::Sqlite(pool) => pool.close().await,
        }
    }
}

/// A time as SQLite stores it.
///
/// SQLite compares times as text, so every stored time has a four-digit year. Past year 9999
/// the text would read "+10000-…", which sorts before every four-digit year: a retry backed
/// off that far would be due at once. Before year 1 it would read "-0001-…", which no reader
/// takes back. Such times are held at the first instant of year 1 or the last of 9999.
pub(crate) fn ts(at: DateTime<Utc>) -> String {
    let first = NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(DateTime::<Utc>::MIN_UTC, |t| t.and_utc());
    let last = NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 999))
        .map_or(DateTime::<Utc>::MAX_UTC, |t| t.and_utc());
    at.clamp(first, last)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A UUID read from SQLite text.
pub(crate) fn uuid_of(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|err| StoreError::Corrupt(format!("uuid {text:?}: {err}")))
}

/// A UTC time read from SQLite text: ours, RFC 3339, or SQLite's own `YYYY-MM-DD HH:MM:SS`
/// (which is UTC), including the years before 1 that SQLite writes as `-001-…`.
pub(crate) fn time_of(text: &str) -> Result<DateTime<Utc>, StoreError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    naive_time_of(text)
        .or_else(|| {
            // SQLite prints year -1 as "-001": read the year apart from the rest.
            let (year, rest) = text.strip_prefix('-')?.split_once('-')?;
            let year: i32 = year.parse().ok()?;
            naive_time_of(&format!("2000-{rest}"))?.with_year(-year)
        })
        .map(|naive| naive.and_utc())
        .ok_or_else(|| StoreError::Corrupt(format!("time {text:?} is not a UTC time")))
}

fn naive_time_of(text: &str) -> Option<chrono::NaiveDateTime> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
}

/// An optional UTC time read from SQLite text.
pub(crate) fn opt_time_of(text: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    text.as_deref().map(time_of).transpose()
}

/// `at + d`, saturating at the latest representable time.
pub(crate) fn add(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::TimeDelta::from_std(d)
        .ok()
        .and_then(|delta| at.checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `at - d`, saturating at the earliest representable time.
pub(crate) fn sub(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    at.checked_sub_signed(delta(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A std duration as a chrono delta, saturating.
pub(crate) fn delta(d: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    use super::*;

    #[test]
    fn times_past_year_9999_still_sort_after_now() {
        let now = Utc::now();
        let far = add(now, Duration::from_secs(u64::MAX));

        assert!(ts(far) > ts(now), "{} <= {}", ts(far), ts(now));
        assert_eq!(ts(far), "9999-12-31T23:59:59.999Z");
        assert!(time_of(&ts(far)).is_ok_and(|t| t > now));
    }

    #[test]
    fn times_before_year_1_are_stored_readable_and_due() {
        let now = Utc::now();
        let ancient = DateTime::<Utc>::MIN_UTC;

        assert_eq!(ts(ancient), "0001-01-01T00:00:00.000Z");
        assert!(ts(ancient) < ts(now));
        assert!(time_of(&ts(ancient)).is_ok_and(|t| t < now));
    }

    #[test]
    fn sqlite_years_before_1_are_read() {
        let read = time_of("-001-03-01T12:30:00.000Z").unwrap();
        let leap = time_of("-004-02-29 00:00:00").unwrap();

        assert_eq!((read.year(), read.month(), read.hour()), (-1, 3, 12));
        assert_eq!((leap.year(), leap.day()), (-4, 29));
        assert!(time_of("-001-02-30T00:00:00.000Z").is_err());
        assert!(time_of("1999-13-01T00:00:00.000Z").is_err());
    }
}
