//! Exponential backoff with jitter between the attempts of a job.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use serde::Deserialize;

/// `base * 2^(attempt - 1)`, capped at `max`, then spread by ±`jitter`.
///
/// Every step saturates: no attempt number or setting can overflow or yield a time in the past.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    /// Delay after the first failed attempt. Default 1 s.
    #[serde(default = "default_base", with = "crate::config::duration")]
    pub base: Duration,
    /// Largest delay. Default 10 min.
    #[serde(default = "default_max", with = "crate::config::duration")]
    pub max: Duration,
    /// Share of the delay added or removed at random, 0.0 to 1.0. Default 0.2.
    #[serde(default = "default_jitter")]
    pub jitter: f64,
}

fn default_base() -> Duration {
    Duration::from_secs(1)
}

fn default_max() -> Duration {
    Duration::from_secs(600)
}

fn default_jitter() -> f64 {
    0.2
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: default_base(),
            max: default_max(),
            jitter: default_jitter(),
        }
    }
}

impl Backoff {
    /// The delay before the attempt after `attempt` (1-based), without jitter.
    pub fn nominal(&self, attempt: i32) -> Duration {
        let exponent = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(63);
        let factor = 1u64 << exponent;
        let base_ms = u64::try_from(self.base.as_millis()).unwrap_or(u64::MAX);
        let delay = Duration::from_millis(base_ms.saturating_mul(factor));
        delay.min(self.max)
    }

    /// The delay with jitter applied; never more than `max`, never negative.
    pub fn delay(&self, attempt: i32) -> Duration {
        let nominal = self.nominal(attempt);
        // NaN passes through clamp, and a NaN range would panic in the random draw.
        let jitter = if self.jitter.is_nan() {
            0.0
        } else {
            self.jitter.clamp(0.0, 1.0)
        };
        if jitter == 0.0 {
            return nominal;
        }
        let spread = rand::rng().random_range(-jitter..=jitter);
        Duration::try_from_secs_f64(nominal.as_secs_f64() * (1.0 + spread))
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// When the next attempt may run: `now` plus the delay, saturating at chrono's maximum.
    pub fn next_run_at(&self, now: DateTime<Utc>, attempt: i32) -> DateTime<Utc> {
        let delay = TimeDelta::from_std(self.delay(attempt)).unwrap_or(TimeDelta::MAX);
        now.checked_add_signed(delay)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
            .max(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff(base_ms: u64, max_ms: u64, jitter: f64) -> Backoff {
        Backoff {
            base: Duration::from_millis(base_ms),
            max: Duration::from_millis(max_ms),
            jitter,
        }
    }

    #[test]
    fn doubles_from_base_until_the_cap() {
        let b = backoff(100, 1_000, 0.0);

        let delays: Vec<u128> = (1..=6).map(|a| b.nominal(a).as_millis()).collect();

        assert_eq!(delays, [100, 200, 400, 800, 1_000, 1_000]);
    }

    #[test]
    fn stays_within_cap_at_attempt_one_and_one_thousand() {
        let b = backoff(1_000, 60_000, 0.5);

        for _ in 0..1_000 {
            let first = b.delay(1);
            assert!(first >= Duration::from_millis(500) && first <= Duration::from_millis(1_500));
            assert!(b.delay(1_000) <= Duration::from_secs(60));
        }
    }

    #[test]
    fn extreme_settings_never_overflow_or_go_back_in_time() {
        let now = Utc::now();
        let extremes = [
            backoff(u64::MAX, u64::MAX, 1.0),
            backoff(0, 0, 1.0),
            Backoff {
                base: Duration::MAX,
                max: Duration::MAX,
                jitter: 7.0,
            },
        ];

        for b in extremes {
            for attempt in [i32::MIN, -1, 0, 1, 2, 63, 64, 1_000, i32::MAX] {
                assert!(b.next_run_at(now, attempt) >= now);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_settings_and_attempt_up_to_1000_stay_ahead_of_now(
            base_ms in proptest::prelude::any::<u64>(),
            max_ms in proptest::prelude::any::<u64>(),
            jitter in proptest::prelude::any::<f64>(),
            attempt in -5_i32..=1_000,
            now_s in 0_i64..=253_402_300_799,
        ) {
            let b = backoff(base_ms, max_ms, jitter);
            let now = DateTime::from_timestamp(now_s, 0).unwrap_or_default();

            let next = b.next_run_at(now, attempt);

            proptest::prop_assert!(next >= now);
            proptest::prop_assert!(b.delay(attempt) <= b.max);
        }
    }
}
