//! Database outages as the whole process sees them: one `database unavailable` line when the
//! first actor finds the database gone, one `database reachable again` line when every actor
//! that found it gone has reached it again, whatever the number of pools.
//!
//! Each actor keeps its own failing flag and reports only its transitions: [`failed`] when its
//! first query of a streak fails for want of the database, [`reached`] when one succeeds again.
//! Errors that are not about reaching the database (a statement refused, a corrupt row) are the
//! actor's own to log.

use std::collections::BTreeSet;
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
    let first = lock().failed(actor, Instant::now());
    if first {
        error!(actor, operation, error = %err, "database unavailable");
    } else {
        debug!(actor, operation, error = %err, "database still unavailable");
    }
}

/// `actor`, which had found the database gone, reached it again.
pub fn reached(actor: &str) {
    if let Some(down) = lock().reached(actor, Instant::now()) {
        let elapsed_ms = u64::try_from(down.as_millis()).unwrap_or(u64::MAX);
        info!(elapsed_ms, "database reachable again");
    }
}

fn lock() -> std::sync::MutexGuard<'static, Outage> {
    OUTAGE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The actors that found the database gone, and since when.
struct Outage {
    since: Option<Instant>,
    actors: BTreeSet<String>,
}

impl Outage {
    const fn new() -> Self {
        Self {
            since: None,
            actors: BTreeSet::new(),
        }
    }

    /// Records `actor` as cut off; true if this begins the outage.
    fn failed(&mut self, actor: &str, now: Instant) -> bool {
        self.actors.insert(actor.to_owned());
        let first = self.since.is_none();
        self.since.get_or_insert(now);
        first
    }

    /// Records `actor` as connected; the outage's length if this ends it.
    fn reached(&mut self, actor: &str, now: Instant) -> Option<Duration> {
        if !self.actors.remove(actor) || !self.actors.is_empty() {
            return None;
        }
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
        assert!(outage.failed("pool A", t0));
        assert!(!outage.failed("maintenance", t0));
        assert!(!outage.failed("pool A", t0));
        assert_eq!(outage.reached("pool A", t0), None);
        let later = t0 + Duration::from_secs(3);
        assert_eq!(
            outage.reached("maintenance", later),
            Some(Duration::from_secs(3))
        );
        // An actor that never failed ends nothing; the next failure is a new outage.
        assert_eq!(outage.reached("scheduler", later), None);
        assert!(outage.failed("scheduler", later));
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
