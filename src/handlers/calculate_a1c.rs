//! `CALCULATE_A1C`: the user's estimated A1C from the readings of a trailing window.
//!
//! The window ends at the user's newest reading (so one run covers every reading stored so far
//! and the user's other pending calculations are coalesced into it) and reaches back
//! [`CalculateA1c::window`], 90 days by default. From the readings in it: mean glucose, GMI
//! (Bergenstal 2018) and ADAG estimated A1C (Nathan 2008), the reading count and data
//! sufficiency (14 days with at least 70 % of the expected readings). When the estimated A1C
//! crosses 5.7 %, 6.5 % or the user's own target against the previous estimate, the user gets
//! one in-app notification.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde_json::{json, Value};
use tracing::debug;
use uuid::Uuid;

use super::{Handler, JobContext};
use crate::cgm::{self, stats};
use crate::job::payload::{self, CalculateA1c as Payload};
use crate::job::{JobError, Outcome, CALCULATE_A1C};
use crate::store::estimate::{self, Estimate, Refresh, RefreshRequest, Window};
use crate::store::notification::NewNotification;
use crate::store::{reading, user};

/// Estimated A1C (%) at which prediabetes starts (ADA).
pub const PREDIABETES_A1C: f64 = 5.7;
/// Estimated A1C (%) at which diabetes is diagnosed (ADA).
pub const DIABETES_A1C: f64 = 6.5;

/// The handler, with its window.
#[derive(Debug, Clone)]
pub struct CalculateA1c {
    /// How far back from the newest reading readings count. Default 90 days.
    pub window: Duration,
}

impl Default for CalculateA1c {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(90 * 86_400),
        }
    }
}

impl Handler for CalculateA1c {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Outcome> {
        let window = self.window;
        async move {
            calculate(ctx, window)
                .await
                .unwrap_or_else(JobError::into_outcome)
        }
        .boxed()
    }
}

async fn calculate(ctx: JobContext, window: Duration) -> Result<Outcome, JobError> {
    let payload: Payload = payload::parse(CALCULATE_A1C, &ctx.job.payload)?;
    let user = user::get(&ctx.db, payload.user_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| JobError::NotFound(format!("unknown user {}", payload.user_id)))?;
    if let Some(reading_id) = payload.reading_id {
        check_reading(&ctx, reading_id, user.id).await?;
    }

    let request = RefreshRequest {
        user_id: user.id,
        job_id: ctx.job.id,
        claimed_at: ctx.claimed_at,
        window,
    };
    let thresholds = thresholds(user.a1c_target);
    let job_id = ctx.job.id;
    let refresh = estimate::refresh(&ctx.db, request, Utc::now(), |w| {
        let estimate = estimate_of(user.id, job_id, w);
        let notification = threshold_notification(&estimate, w.previous.as_ref(), &thresholds);
        (estimate, notification)
    })
    .await
    .map_err(store_error)?;

    Ok(Outcome::Complete(result_of(&refresh)))
}

async fn check_reading(ctx: &JobContext, reading_id: Uuid, user_id: Uuid) -> Result<(), JobError> {
    let found = reading::get(&ctx.db, reading_id)
        .await
        .map_err(store_error)?;
    match found {
        Some(r) if r.user_id == user_id => Ok(()),
        Some(_) => Err(JobError::InvalidPayload(format!(
            "reading {reading_id} belongs to another user"
        ))),
        None => Err(JobError::NotFound(format!("unknown reading {reading_id}"))),
    }
}

fn store_error(err: crate::store::StoreError) -> JobError {
    JobError::Transient(err.to_string())
}

/// The estimate of a window of readings.
pub fn estimate_of(user_id: Uuid, job_id: Uuid, window: &Window) -> Estimate {
    let values: Vec<f64> = window.readings.iter().map(|r| r.1).collect();
    let times: Vec<DateTime<Utc>> = window.readings.iter().map(|r| r.0).collect();
    let mean = stats::mean(&values).unwrap_or(0.0);
    let interval = cgm::expected_interval_minutes(&times);
    let sufficiency = cgm::sufficiency(&times, window.end, interval);
    Estimate {
        user_id,
        window_start: window.start,
        window_end: window.end,
        reading_count: i32::try_from(values.len()).unwrap_or(i32::MAX),
        mean_glucose_mg_dl: mean,
        gmi_percent: stats::gmi_percent(mean),
        estimated_a1c_percent: stats::estimated_a1c_percent(mean),
        days_with_data: i32::try_from(sufficiency.days_with_data).unwrap_or(i32::MAX),
        coverage_percent: sufficiency.coverage_percent,
        is_sufficient: sufficiency.is_sufficient,
        job_id: Some(job_id),
    }
}

fn thresholds(target: Option<f64>) -> Vec<f64> {
    let mut all = vec![PREDIABETES_A1C, DIABETES_A1C];
    if let Some(t) = target.filter(|t| t.is_finite() && *t > 0.0) {
        if !all.iter().any(|known| (known - t).abs() < 1e-9) {
            all.push(t);
        }
    }
    all
}

/// The thresholds crossed from `previous` to `current`, and whether upwards.
pub fn crossed(previous: f64, current: f64, thresholds: &[f64]) -> Vec<(f64, bool)> {
    thresholds
        .iter()
        .filter(|&&t| (previous < t) != (current < t))
        .map(|&t| (t, current >= t))
        .collect()
}

fn threshold_notification(
    estimate: &Estimate,
    previous: Option<&Estimate>,
    thresholds: &[f64],
) -> Option<NewNotification> {
    let previous = previous?;
    let (before, now) = (
        previous.estimated_a1c_percent,
        estimate.estimated_a1c_percent,
    );
    let crossings = crossed(before, now, thresholds);
    let &(threshold, upwards) = if now >= before {
        crossings.iter().max_by(|a, b| a.0.total_cmp(&b.0))?
    } else {
        crossings.iter().min_by(|a, b| a.0.total_cmp(&b.0))?
    };
    let verb = if upwards { "rose above" } else { "fell below" };
    let end = estimate
        .window_end
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    debug!(threshold, upwards, "estimate crossed a threshold");
    Some(NewNotification {
        user_id: estimate.user_id,
        channel: "in_app".to_owned(),
        kind: "a1c_threshold".to_owned(),
        title: format!("Estimated A1C {verb} {threshold:.1}%"),
        body: format!(
            "Your estimated A1C is now {now:.1}% (it was {before:.1}%), \
             from {} readings up to {end}.",
            estimate.reading_count
        ),
        data: json!({
            "previous_percent": before,
            "current_percent": now,
            "thresholds": crossings.iter().map(|c| c.0).collect::<Vec<_>>(),
            "direction": if upwards { "up" } else { "down" },
        }),
        dedupe_key: Some(format!("a1c_threshold:{}:{end}", estimate.user_id)),
        status: "SENT",
    })
}

fn result_of(refresh: &Refresh) -> Value {
    match refresh {
        Refresh::NoReadings { coalesced } => {
            json!({"estimate": null, "reason": "no readings", "coalesced": coalesced})
        }
        Refresh::Saved {
            estimate: e,
            notified,
            coalesced,
        } => json!({
            "estimate": estimate::to_json(e),
            "notified": notified,
            "coalesced": coalesced,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossing_is_seen_in_both_directions_and_only_across() {
        let t = [5.7, 6.5, 7.0];

        assert_eq!(crossed(6.4, 6.6, &t), vec![(6.5, true)]);
        assert_eq!(
            crossed(7.2, 5.5, &t),
            vec![(5.7, false), (6.5, false), (7.0, false)]
        );
        assert!(crossed(6.0, 6.4, &t).is_empty());
        assert_eq!(crossed(6.4, 6.5, &t), vec![(6.5, true)]);
    }

    #[test]
    fn target_joins_the_thresholds_once() {
        assert_eq!(thresholds(Some(7.0)), vec![5.7, 6.5, 7.0]);
        assert_eq!(thresholds(Some(6.5)), vec![5.7, 6.5]);
        assert_eq!(thresholds(Some(f64::NAN)), vec![5.7, 6.5]);
    }
}
