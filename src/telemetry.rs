//! Logging through `tracing`.
//!
//! Messages are short, lower case and constant; data goes in fields, always under these names:
//! `job_id`, `job_type`, `attempt`, `max_attempts`, `status`, `lease_owner`, `schedule`,
//! `error`, `elapsed_ms`, `queue_ms`. Every job attempt runs in a `job` span carrying
//! `job_id`, `job_type`, `attempt` and `max_attempts`.

use tracing_subscriber::EnvFilter;

use crate::config::LogConfig;

/// Installs the global subscriber: `RUST_LOG` if set, else the configured filter; text or
/// JSON lines on standard error. A second call does nothing.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
