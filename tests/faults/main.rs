//! The fault suite: real `a1c-jobs serve` processes, killed, stopped, cut off from their
//! database and fed bad input, each scenario on a fresh database. Jobs are `FAULT_PROBE`
//! jobs, which record every run in `fault_probe_runs`, so double runs show.
//!
//! `cargo test --test faults` runs a CI-sized suite; `A1C_FAULTS_SOAK=1` runs the full
//! numbers (2,000 jobs and 20 kills, 100,000 jobs on three nodes, a cron minute). Each
//! scenario prints its figures as a line `FAULTS {json}` (see `docs/reliability.md`).
//! `A1C_FAULTS_PREFETCH=N` runs the probe's pool with `prefetch = N`.

mod audit;
mod backoff;
mod bad_input;
mod cluster;
#[path = "../common/mod.rs"]
mod common;
mod database;
mod kill;
mod long_jobs;
mod node;
mod nodes;
mod poison;
mod setup;
mod sigterm;

use common::Backend;

macro_rules! scenarios {
    ($backend:expr; $($name:ident: $body:path),* $(,)?) => {$(
        #[actix_rt::test]
        async fn $name() {
            $body($backend).await;
        }
    )*};
}

mod postgres {
    use super::*;

    scenarios!(Backend::Postgres;
        kill_nine: kill::kill_nine_loses_nothing,
        sigterm: sigterm::sigterm_finishes_or_hands_back,
        three_nodes: nodes::three_nodes_share_without_double_runs,
        cron_across_a_kill: nodes::cron_fires_once_per_second_across_a_kill,
        long_jobs: long_jobs::long_jobs_keep_their_lease,
        poison: poison::poison_jobs_are_dead_lettered,
        bad_input: bad_input::bad_rows_end_failed_with_a_reason,
        backoff_extremes: backoff::extreme_backoff_never_runs_early,
        database_outages: database::database_outages_are_survived,
    );
}

mod sqlite {
    use super::*;

    scenarios!(Backend::Sqlite;
        kill_nine: kill::kill_nine_loses_nothing,
        sigterm: sigterm::sigterm_finishes_or_hands_back,
        long_jobs: long_jobs::long_jobs_keep_their_lease,
        poison: poison::poison_jobs_are_dead_lettered,
        bad_input: bad_input::bad_rows_end_failed_with_a_reason,
        backoff_extremes: backoff::extreme_backoff_never_runs_early,
    );
}
