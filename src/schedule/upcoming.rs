//! A schedule's next fire times, as the CLI and the dashboard show them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ScheduleError;
use crate::config::ScheduleConfig;

/// One configured schedule and its next fire times.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Upcoming {
    /// The schedule's name in `[schedules]`.
    pub schedule: String,
    pub enabled: bool,
    pub cron: String,
    /// The IANA zone the expression is read in.
    pub time_zone: String,
    pub job_type: String,
    /// The next fire times, soonest first.
    pub next: Vec<FireTime>,
    /// The latest fire time some node recorded, when the caller looked it up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_fire_at: Option<DateTime<Utc>>,
}

/// One fire time, as an instant and as the wall-clock time of the schedule's zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FireTime {
    pub utc: DateTime<Utc>,
    /// RFC 3339 with the zone's offset at that instant.
    pub local: String,
}

/// The first `count` fire times of schedule `name` after `now`; fewer when it stops firing
/// before 2101.
///
/// # Errors
///
/// The cron expression or the time zone is invalid.
pub fn upcoming(
    name: &str,
    config: &ScheduleConfig,
    now: DateTime<Utc>,
    count: usize,
) -> Result<Upcoming, ScheduleError> {
    let parsed = config.schedule()?;
    let zone = parsed.time_zone();
    let mut next = Vec::new();
    let mut after = now;
    while next.len() < count {
        let Some(at) = parsed.next_after(after) else {
            break;
        };
        next.push(FireTime {
            utc: at,
            local: at.with_timezone(&zone).to_rfc3339(),
        });
        after = at;
    }
    Ok(Upcoming {
        schedule: name.to_owned(),
        enabled: config.enabled,
        cron: config.cron.clone(),
        time_zone: config.time_zone.clone(),
        job_type: config.job_type.clone(),
        next,
        last_fire_at: None,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn config(cron: &str, time_zone: &str) -> ScheduleConfig {
        let text = format!(
            "[schedules.s]\ncron = \"{cron}\"\ntime_zone = \"{time_zone}\"\n\
             job_type = \"CLEANUP_DATA\"\npayload = {{ cleanup_type = \"archive\", \
             older_than_days = 30, tables = [\"job_queue\"] }}"
        );
        let config = crate::Config::from_toml_layers(&[&text]).expect("config");
        config.schedules["s"].clone()
    }

    #[test]
    fn next_fires_are_read_on_the_zone_wall_clock_across_dst() {
        let now = Utc.with_ymd_and_hms(2026, 3, 27, 12, 0, 0).unwrap();

        let upcoming = upcoming("s", &config("0 6 * * *", "Europe/Berlin"), now, 3).unwrap();

        let local: Vec<&str> = upcoming.next.iter().map(|f| f.local.as_str()).collect();
        assert_eq!(
            local,
            [
                "2026-03-28T06:00:00+01:00",
                "2026-03-29T06:00:00+02:00",
                "2026-03-30T06:00:00+02:00"
            ]
        );
        assert_eq!(
            upcoming.next[0].utc,
            Utc.with_ymd_and_hms(2026, 3, 28, 5, 0, 0).unwrap()
        );
        assert_eq!(upcoming.time_zone, "Europe/Berlin");
    }

    #[test]
    fn a_schedule_that_stops_firing_lists_fewer_times() {
        let now = Utc.with_ymd_and_hms(2100, 12, 30, 0, 0, 0).unwrap();

        let upcoming = upcoming("s", &config("0 6 31 12 *", "UTC"), now, 5).unwrap();

        assert_eq!(upcoming.next.len(), 1);
    }
}
