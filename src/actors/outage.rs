//! Database outages as the whole process sees them: one `database unavailable` line when the
//! first actor finds the database gone, one `database reachable again` line when the first
//! actor reaches it again, whatever the number of pools.
//!
//! Each actor keeps its own failing flag and reports only its transitions: [`failed`] when its
//! first query of a streak fails for want of the database, [`reached`] when one succeeds again.
//! An actor still failing when another has reached the database is already past its first
//! failure and logs nothing more; one whose first failure comes after that opens a new outage.
//! Errors that are not about reaching the database (a statement refused, a corrupt row) are the
//! actor's own to log.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::{debug, error, info};

use crate::store::StoreError;

/// The process's outage, if the database is away.
static OUTAGE: Mutex<Outage> = Mutex::new(Outage::new());

/// Whether `err` means the database cannot be reached: the connection failed or was cut, no
/// connection came in time, or the server is shutting down or starting.
pub fn is_unreachable(err: &StoreError) -> bool {
    let StoreError::Database(err) = err else {
        return false;
    };
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // Class 08: connection exception; 57P0x: shutdown, crash, not accepting connections.
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

/// `actor` could not reach the database while doing `operation`; logged only when no other
/// actor already found it gone.
pub fn failed(actor: &str, operation: &str, err: &StoreError) {
    let first = lock().failed(Instant::now());
    if first {
        error!(actor, operation, error = %err, "database unavailable");
    } else {
        debug!(actor, operation, error = %err, "database still unavailable");
    }
}

/// `actor`, which had found the database gone, reached it again.
pub fn reached(actor: &str) {
    if let Some(down) = lock().reached(Instant::now()) {
        let elapsed_ms = u64::try_from(down.as_millis()).unwrap_or(u64::MAX);
        info!(actor, elapsed_ms, "database reachable again");
    }
}

fn lock() -> std::sync::MutexGuard<'static, Outage> {
    OUTAGE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Since when the database is away, if it is.
struct Outage {
    since: Option<Instant>,
}

impl Outage {
    const fn new() -> Self {
        Self { since: None }
    }

    /// True if this failure begins an outage.
    fn failed(&mut self, now: Instant) -> bool {
        let first = self.since.is_none();
        self.since.get_or_insert(now);
        first
    }

    /// The outage's length, if this success ends one.
    fn reached(&mut self, now: Instant) -> Option<Duration> {
        self.since.take().map(|since| now.duration_since(since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_outage_however_many_actors_see_it() {
        let mut outage = Outage::new();
        let t0 = Instant::now();
        assert!(outage.failed(t0));
        assert!(!outage.failed(t0));
        let later = t0 + Duration::from_secs(3);
        assert_eq!(outage.reached(later), Some(Duration::from_secs(3)));
        // Others reaching it too end nothing more; a later failure is a new outage.
        assert_eq!(outage.reached(later), None);
        assert!(outage.failed(later));
    }

    #[test]
    fn only_connection_errors_are_outages() {
        assert!(is_unreachable(&StoreError::Database(
            sqlx::Error::PoolTimedOut
        )));
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(is_unreachable(&StoreError::Database(sqlx::Error::Io(io))));
        assert!(!is_unreachable(&StoreError::Database(
            sqlx::Error::RowNotFound
        )));
        assert!(!is_unreachable(&StoreError::Corrupt("bad".to_owned())));
    }
}
