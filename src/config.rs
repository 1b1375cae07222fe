//! Configuration: `config/default.toml` (built into the binary), a file given with `--config`,
//! then `A1C_JOBS__SECTION__KEY` environment variables, then `DATABASE_URL`.
//!
//! Values are checked at start-up; a bad one stops the service with a message naming its key.

pub mod alerts;
pub mod cleanup;
pub mod http;
pub mod reminders;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::job::sensitive::{PayloadKey, KEY_ENV};
use crate::job::{payload, Backoff};
use crate::schedule::Schedule;

pub use alerts::AlertsConfig;
pub use cleanup::CleanupConfig;
pub use http::HttpConfig;
pub use reminders::RemindersConfig;

/// The configuration every a1c-jobs process starts from.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "A1C_JOBS__";

/// The most jobs a pool may claim ahead of its free slots.
const MAX_PREFETCH: u32 = 10_000;

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {error}")]
    Read { path: String, error: std::io::Error },
    /// The file is not valid TOML.
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: String, message: String },
    /// A key has a value of the wrong type or form.
    #[error("invalid config value at `{key}`: {message}")]
    Invalid { key: String, message: String },
}

impl ConfigError {
    fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Everything a process needs to know.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub database: DatabaseConfig,
    #[serde(default)]
    pub node: NodeConfig,
    pub service: ServiceConfig,
    pub maintenance: MaintenanceConfig,
    #[serde(default)]
    pub log: LogConfig,
    /// One pool per job type, keyed by job type.
    #[serde(default)]
    pub pools: BTreeMap<String, PoolConfig>,
    /// Recurring jobs, keyed by schedule name.
    #[serde(default)]
    pub schedules: BTreeMap<String, ScheduleConfig>,
    /// How `CLEANUP_DATA` works through old rows.
    #[serde(default)]
    pub cleanup: CleanupConfig,
    /// How `SEND_REMINDER` decides and delivers.
    #[serde(default)]
    pub reminders: RemindersConfig,
    /// The HTTP API.
    #[serde(default)]
    pub http: HttpConfig,
    /// The key of sensitive payload fields, from `A1C_JOBS_PAYLOAD_KEY` (never from a file).
    #[serde(skip)]
    pub payload_key: Option<PayloadKey>,
    /// Alert rules maintenance evaluates, and where firing alerts go.
    #[serde(default)]
    pub alerts: AlertsConfig,
}

/// Where the jobs live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://FILE` (created if missing) or `postgres://...`; `DATABASE_URL` overrides it.
    pub url: String,
    /// Connections per pool actor (each actor has its own small pool).
    #[serde(default = "default_connections")]
    pub max_connections: u32,
    /// How long a statement may wait for a connection.
    #[serde(default = "default_acquire_timeout", with = "duration")]
    pub acquire_timeout: Duration,
}

fn default_connections() -> u32 {
    4
}

fn default_acquire_timeout() -> Duration {
    Duration::from_secs(10)
}

/// This process among the nodes sharing one database.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Name written into `locked_by`; empty means `<hostname>-<pid>`.
    #[serde(default)]
    pub name: String,
}

/// Service-wide timings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// How often an idle pool looks for due jobs when no notification arrives.
    #[serde(with = "duration")]
    pub poll_interval: Duration,
    /// How long shutdown waits for running jobs before handing them back.
    #[serde(with = "duration")]
    pub shutdown_grace: Duration,
    /// How often the scheduler looks for fire times that are due.
    #[serde(with = "duration")]
    pub scheduler_tick: Duration,
}

/// Rescue, dead-lettering and unknown job types.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceConfig {
    /// How often maintenance runs.
    #[serde(with = "duration")]
    pub interval: Duration,
    /// A runnable job of a type no handler knows is failed once it is this old.
    #[serde(with = "duration")]
    pub unknown_type_after: Duration,
}

/// Log output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    #[serde(default = "default_log_format")]
    pub format: String,
    /// A `tracing` filter such as `info` or `a1c_jobs=debug`; `RUST_LOG` overrides it.
    #[serde(default = "default_log_filter")]
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: default_log_format(),
            filter: default_log_filter(),
        }
    }
}

fn default_log_format() -> String {
    "text".to_owned()
}

fn default_log_filter() -> String {
    "info,sqlx=warn".to_owned()
}

/// One job type's pool on this node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// Whether this node runs the pool at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Jobs in flight on this node at most.
    pub concurrency: u32,
    /// Slots only jobs of priority `<= reserved_priority` may use.
    #[serde(default)]
    pub reserved: u32,
    /// The priority that counts as urgent for `reserved` (lower is more urgent).
    #[serde(default = "default_reserved_priority")]
    pub reserved_priority: i16,
    /// An attempt running longer than this fails (and may be retried).
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Runs allowed in all for jobs this node enqueues without their own limit.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: i32,
    #[serde(default)]
    pub backoff: Backoff,
    /// A failure of a job created longer ago than this is not retried (the seed's 24 h rule).
    #[serde(default, with = "optional_duration")]
    pub retry_window: Option<Duration>,
    /// Jobs started per second at most on this node; none means unlimited.
    #[serde(default)]
    pub rate_limit: Option<f64>,
    /// Jobs taken per claim at most.
    pub batch_size: u32,
    /// Jobs a claim may take beyond the free slots, to start as slots free; 0 (the default)
    /// claims only for free slots. Not used while `reserved` is above 0 or `rate_limit` is set.
    #[serde(default)]
    pub prefetch: u32,
    /// How long a claim holds a job without renewal; renewed every third of it.
    #[serde(with = "duration")]
    pub lease_ttl: Duration,
    /// Top-level payload fields encrypted at rest with `A1C_JOBS_PAYLOAD_KEY`.
    #[serde(default)]
    pub sensitive_fields: Vec<String>,
}

fn yes() -> bool {
    true
}

fn default_reserved_priority() -> i16 {
    3
}

fn default_max_attempts() -> i32 {
    crate::job::DEFAULT_MAX_ATTEMPTS
}

/// What to do with fire times missed while no node was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatchUp {
    /// Skip them.
    None,
    /// Fire the most recent one once.
    Latest,
    /// Fire every one within `catch_up_window`.
    All,
}

/// A recurring job.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Crontab expression: 5 fields, or 6 with seconds first; Sunday is 0 or 7.
    pub cron: String,
    /// IANA zone the expression is read in.
    #[serde(default = "default_zone")]
    pub time_zone: String,
    pub job_type: String,
    /// Payload template: the strings `${period.start}`, `${period.end}` and `${fire_at}` are
    /// replaced at each fire.
    #[serde(default = "empty_object")]
    pub payload: Value,
    /// `weekly`, `monthly` or `quarterly`: the period `${period.*}` names, the one just ended.
    #[serde(default)]
    pub period: Option<String>,
    #[serde(default = "default_schedule_priority")]
    pub priority: i16,
    #[serde(default = "default_catch_up")]
    pub catch_up: CatchUp,
    /// How far back `catch_up = "all"` (and `latest`) looks.
    #[serde(default = "default_catch_up_window", with = "duration")]
    pub catch_up_window: Duration,
}

fn default_zone() -> String {
    "UTC".to_owned()
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

fn default_schedule_priority() -> i16 {
    crate::job::DEFAULT_PRIORITY
}

fn default_catch_up() -> CatchUp {
    CatchUp::Latest
}

fn default_catch_up_window() -> Duration {
    Duration::from_secs(24 * 3600)
}

impl Config {
    /// The built-in defaults, a file over them, the environment over both.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the file or key at fault.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_with_env(file, &env)
    }

    /// As [`Config::load`], with the environment given (for tests).
    ///
    /// # Errors
    ///
    /// As [`Config::load`].
    pub fn load_with_env(
        file: Option<&Path>,
        env: &[(String, String)],
    ) -> Result<Self, ConfigError> {
        let mut tree = parse_toml("config/default.toml", DEFAULT_TOML)?;
        if let Some(path) = file {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
                path: shown.clone(),
                error,
            })?;
            merge(&mut tree, parse_toml(&shown, &text)?);
        }
        apply_env(&mut tree, env)?;
        let mut config = Self::from_tree(tree)?;
        if let Some((_, text)) = env.iter().find(|(name, _)| name == KEY_ENV) {
            let key = PayloadKey::parse(text)
                .map_err(|err| ConfigError::invalid(KEY_ENV, err.to_string()))?;
            config.payload_key = Some(key);
        }
        Ok(config)
    }

    /// Parses and checks configuration layers given as TOML text, each over the ones before,
    /// all over the defaults (for tests and embedding).
    ///
    /// # Errors
    ///
    /// As [`Config::load`].
    pub fn from_toml_layers(layers: &[&str]) -> Result<Self, ConfigError> {
        let mut tree = parse_toml("config/default.toml", DEFAULT_TOML)?;
        for layer in layers {
            merge(&mut tree, parse_toml("config", layer)?);
        }
        Self::from_tree(tree)
    }

    fn from_tree(tree: toml::Table) -> Result<Self, ConfigError> {
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(tree)).map_err(|err| {
                let key = err.path().to_string();
                let mut message = err.into_inner().to_string();
                // The built-in pools get every setting from the defaults; a pool of another
                // job type starts from nothing.
                let whole_pool = key.strip_prefix("pools.").is_some_and(|t| !t.contains('.'));
                if whole_pool && message.starts_with("missing field") {
                    let first = message.lines().next().unwrap_or_default();
                    message = format!(
                        "{first}; a pool of a job type without built-in settings must give \
                         every setting (see the built-in pools in config/default.toml)"
                    );
                }
                ConfigError::invalid(key, message)
            })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.database.max_connections == 0 {
            return Err(ConfigError::invalid(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&self.log.filter) {
            return Err(ConfigError::invalid("log.filter", err.to_string()));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(ConfigError::invalid(
                "log.format",
                "must be \"text\" or \"json\"",
            ));
        }
        for (key, value) in [
            ("service.poll_interval", self.service.poll_interval),
            ("service.scheduler_tick", self.service.scheduler_tick),
            ("maintenance.interval", self.maintenance.interval),
        ] {
            if value.is_zero() {
                return Err(ConfigError::invalid(key, "must be greater than zero"));
            }
        }
        for (job_type, pool) in &self.pools {
            pool.validate(&format!("pools.{job_type}"))?;
        }
        for (name, schedule) in &self.schedules {
            schedule.validate(&format!("schedules.{name}"))?;
        }
        self.cleanup.validate()?;
        self.reminders.validate()?;
        self.http.validate()?;
        self.alerts.validate()?;
        Ok(())
    }

    /// The node name: the configured one, or `<hostname>-<pid>`.
    pub fn node_name(&self) -> String {
        if !self.node.name.trim().is_empty() {
            return self.node.name.trim().to_owned();
        }
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "node".to_owned());
        format!("{host}-{}", std::process::id())
    }
}

impl PoolConfig {
    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let field = |name: &str| format!("{key}.{name}");
        if self.concurrency == 0 {
            return Err(ConfigError::invalid(
                field("concurrency"),
                "must be at least 1",
            ));
        }
        if self.reserved >= self.concurrency {
            return Err(ConfigError::invalid(
                field("reserved"),
                format!("must be less than concurrency ({})", self.concurrency),
            ));
        }
        if !(0..=9).contains(&self.reserved_priority) {
            return Err(ConfigError::invalid(
                field("reserved_priority"),
                "must be 0 to 9",
            ));
        }
        if self.sensitive_fields.iter().any(|f| f.trim().is_empty()) {
            return Err(ConfigError::invalid(
                field("sensitive_fields"),
                "names must not be empty",
            ));
        }
        if self.batch_size == 0 {
            return Err(ConfigError::invalid(
                field("batch_size"),
                "must be at least 1",
            ));
        }
        if self.prefetch > MAX_PREFETCH {
            return Err(ConfigError::invalid(
                field("prefetch"),
                format!("must be at most {MAX_PREFETCH}"),
            ));
        }
        if self.max_attempts < 1 {
            return Err(ConfigError::invalid(
                field("max_attempts"),
                "must be at least 1",
            ));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::invalid(
                field("timeout"),
                "must be greater than zero",
            ));
        }
        if self.lease_ttl < Duration::from_millis(300) {
            return Err(ConfigError::invalid(
                field("lease_ttl"),
                "must be at least 300ms",
            ));
        }
        if let Some(rate) = self.rate_limit {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(ConfigError::invalid(
                    field("rate_limit"),
                    "must be above zero",
                ));
            }
        }
        let jitter = self.backoff.jitter;
        if !(0.0..=1.0).contains(&jitter) {
            return Err(ConfigError::invalid(
                field("backoff.jitter"),
                "must be 0.0 to 1.0",
            ));
        }
        if self.backoff.max < self.backoff.base {
            return Err(ConfigError::invalid(
                field("backoff.max"),
                "must be at least base",
            ));
        }
        Ok(())
    }
}

impl ScheduleConfig {
    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let field = |name: &str| format!("{key}.{name}");
        self.schedule().map_err(|err| {
            let key = match err {
                crate::schedule::ScheduleError::UnknownTimeZone(_) => "time_zone",
                _ => "cron",
            };
            ConfigError::invalid(field(key), err.to_string())
        })?;
        if !(0..=9).contains(&self.priority) {
            return Err(ConfigError::invalid(field("priority"), "must be 0 to 9"));
        }
        if let Some(period) = &self.period {
            if crate::schedule::PeriodKind::parse(period).is_err() {
                return Err(ConfigError::invalid(
                    field("period"),
                    "must be weekly, monthly or quarterly",
                ));
            }
        }
        // Job types beyond the four are checked against the handlers when the service starts.
        let sample = crate::actors::scheduler::render_payload(self, chrono::Utc::now());
        match payload::validate(&self.job_type, &sample) {
            Ok(()) | Err(payload::PayloadError::UnknownJobType(_)) => Ok(()),
            Err(err) => Err(ConfigError::invalid(field("payload"), err.to_string())),
        }
    }

    /// The parsed cron expression in its zone.
    ///
    /// # Errors
    ///
    /// The cron expression or the zone is invalid.
    pub fn schedule(&self) -> Result<Schedule, crate::schedule::ScheduleError> {
        Schedule::new(&self.cron, &self.time_zone)
    }
}

fn parse_toml(path: &str, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|err| ConfigError::Syntax {
            path: path.to_owned(),
            message: err.to_string(),
        })
}

/// Lays `over` onto `base`, table by table; other values are replaced whole.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(over_inner)) => {
                merge(inner, over_inner)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Applies `A1C_JOBS__SECTION__KEY=value` and `DATABASE_URL`.
///
/// Path segments match existing keys without regard to case (job types are upper case, other
/// keys lower case); the value is read as TOML (`8`, `true`, `"1s"`, `[..]`) or else as a string.
fn apply_env(tree: &mut toml::Table, env: &[(String, String)]) -> Result<(), ConfigError> {
    for (name, raw) in env {
        if name == "DATABASE_URL" && !raw.is_empty() {
            set_path(tree, &["database", "url"], toml::Value::String(raw.clone()))?;
            continue;
        }
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let segments: Vec<&str> = rest.split("__").collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(ConfigError::invalid(name.clone(), "empty key segment"));
        }
        set_path(tree, &segments, env_value(raw))?;
    }
    Ok(())
}

fn env_value(raw: &str) -> toml::Value {
    let probe = format!("v = {raw}");
    match probe.parse::<toml::Table>() {
        Ok(mut table) => table
            .remove("v")
            .unwrap_or(toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

fn set_path(tree: &mut toml::Table, path: &[&str], value: toml::Value) -> Result<(), ConfigError> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut table = tree;
    for segment in parents {
        let key = matching_key(table, segment);
        let entry = table
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry.as_table_mut().ok_or_else(|| {
            ConfigError::invalid(path.join("."), format!("`{key}` is not a section"))
        })?;
    }
    let key = matching_key(table, last);
    table.insert(key, value);
    Ok(())
}

fn matching_key(table: &toml::Table, segment: &str) -> String {
    table
        .keys()
        .find(|k| k.eq_ignore_ascii_case(segment))
        .cloned()
        .unwrap_or_else(|| segment.to_ascii_lowercase())
}

/// Parses `250ms`, `1.5s`, `10s`, `5m`, `2h`, `1d` (a bare number is seconds).
///
/// # Errors
///
/// A message saying what form is expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 250ms, 10s, 5m, 2h or 1d"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        other => return Err(format!("unknown duration unit {other:?} in {text:?}")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("duration {text:?} is out of range"))
}

/// Serde adapter for durations written as strings such as `"10s"`.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    /// Deserializes a duration string or a number of seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Seconds(f64),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Text(text) => text,
            Raw::Seconds(seconds) => seconds.to_string(),
        };
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde adapter for optional durations; an empty string or `"none"` means none.
pub mod optional_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    /// Deserializes an optional duration string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = String::deserialize(d)?;
        if text.is_empty() || text.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        super::parse_duration(&text)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

/// Asserts that each TOML layer of `cases` is refused with an error naming its key.
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_refused(cases: &[(&str, &str)]) {
    for (layer, key) in cases {
        match Config::from_toml_layers(&[layer]) {
            Ok(_) => panic!("accepted: {layer}"),
            Err(err) => assert!(err.to_string().contains(key), "{layer}: {err}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_load_and_cover_every_job_type() {
        let config = Config::load_with_env(None, &[]).unwrap();

        for job_type in [
            "CALCULATE_A1C",
            "SEND_REMINDER",
            "GENERATE_REPORT",
            "CLEANUP_DATA",
        ] {
            assert!(config.pools.contains_key(job_type), "{job_type}");
        }
        assert!(config.database.url.starts_with("sqlite:"));
    }

    #[test]
    fn environment_overrides_nested_keys() {
        let vars = env(&[
            ("A1C_JOBS__POOLS__CALCULATE_A1C__CONCURRENCY", "9"),
            ("A1C_JOBS__SERVICE__POLL_INTERVAL", "250ms"),
            ("DATABASE_URL", "postgres://x@127.0.0.1/db"),
        ]);

        let config = Config::load_with_env(None, &vars).unwrap();

        assert_eq!(config.pools["CALCULATE_A1C"].concurrency, 9);
        assert_eq!(config.service.poll_interval, Duration::from_millis(250));
        assert_eq!(config.database.url, "postgres://x@127.0.0.1/db");
    }

    #[test]
    fn a_pool_of_another_type_is_told_to_give_every_setting() {
        let err = Config::from_toml_layers(&["[pools.NOPE]\nconcurrency = 2\n"])
            .unwrap_err()
            .to_string();

        assert!(err.contains("pools.NOPE"), "{err}");
        assert!(err.contains("must give every setting"), "{err}");
    }

    #[test]
    fn invalid_value_names_its_key() {
        let cases = [
            (
                "A1C_JOBS__POOLS__CALCULATE_A1C__CONCURRENCY",
                "lots",
                "pools.CALCULATE_A1C.concurrency",
            ),
            (
                "A1C_JOBS__POOLS__CALCULATE_A1C__CONCURRENCY",
                "0",
                "pools.CALCULATE_A1C.concurrency",
            ),
            (
                "A1C_JOBS__SERVICE__POLL_INTERVAL",
                "soon",
                "service.poll_interval",
            ),
            (
                "A1C_JOBS__SCHEDULES__CLEANUP__CRON",
                "0 0 30 2 *",
                "schedules.cleanup.cron",
            ),
            (
                "A1C_JOBS__POOLS__CALCULATE_A1C__RESERVED",
                "64",
                "pools.CALCULATE_A1C.reserved",
            ),
            (
                "A1C_JOBS__POOLS__SEND_REMINDER__PREFETCH",
                "10001",
                "pools.SEND_REMINDER.prefetch",
            ),
        ];

        for (name, value, key) in cases {
            let err = Config::load_with_env(None, &env(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(key), "{name}={value}: {err}");
        }
    }

    #[test]
    fn zone_and_log_filter_errors_name_their_keys() {
        let cases = [
            (
                "A1C_JOBS__SCHEDULES__CLEANUP__TIME_ZONE",
                "Mars/Base",
                "schedules.cleanup.time_zone",
            ),
            ("A1C_JOBS__LOG__FILTER", "[[[garbage", "log.filter"),
        ];

        for (name, value, key) in cases {
            let err = Config::load_with_env(None, &env(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(key), "{name}={value}: {err}");
        }
    }

    #[test]
    fn parses_durations_and_refuses_nonsense() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        for bad in ["", "ms", "5 weeks", "-1s", "1e999s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
