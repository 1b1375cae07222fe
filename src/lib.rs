//! a1c-jobs: the job queue service of the A1C Estimator.
//!
//! Jobs live in the `job_queue` table (PostgreSQL, or an embedded SQLite file); a
//! [`actors::supervisor::Supervisor`] runs one pool per job type, a scheduler for recurring
//! jobs, a listener for notifications and maintenance. See `README.md` for the service and
//! the `job` module for the vocabulary and the job lifecycle.

pub mod actors;
pub mod alerts;
pub mod bench;
pub mod cgm;
pub mod cli;
pub mod config;
pub mod handlers;
pub mod http;
pub mod intake;
pub mod job;
pub mod metrics;
pub mod notify;
pub mod report;
pub mod schedule;
pub mod service;
pub mod store;
pub mod telemetry;

pub use config::Config;
pub use handlers::Handlers;
pub use service::Service;
