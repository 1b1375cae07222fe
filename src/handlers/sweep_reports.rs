//! `SWEEP_REPORTS` (internal): enqueues `GENERATE_REPORT` for every user whose weekly, monthly
//! or quarterly period just ended in their own time zone. Payload: `{"report_type": "weekly" |
//! "monthly" | "quarterly"}`.
//!
//! # The rule
//!
//! The default schedules run the sweep hourly (`0 * * * *` UTC), since users' midnights fall on
//! every hour. For each user with readings, the sweep takes the user's local date and time now;
//! the period just ended is [`previous_period`] of that date. Its report is due once the local
//! time has reached 06:00 on the first day of the current period (Monday for weekly, the 1st for
//! monthly, the quarter's first day for quarterly). A due report is enqueued when the user has
//! readings in the period and no report for it exists yet, with `unique_key =
//! "report:{user}:{type}:{start}"`, so repeated sweeps and racing nodes enqueue it once while
//! it is live, and the stored report stops it afterwards. A report whose job dead-letters is
//! enqueued again by later sweeps until the period after it ends.

use chrono::{DateTime, Days, NaiveTime, Utc};
use chrono_tz::Tz;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::{info, warn};
use uuid::Uuid;

use super::{Handler, JobContext};
use crate::job::payload::{self, PayloadError, ReportType};
use crate::job::{JobError, NewJob, Outcome, GENERATE_REPORT, SWEEP_REPORTS};
use crate::report::ReportPeriod;
use crate::schedule::{previous_period, PeriodKind};
use crate::store::{job as jobs, reading, report, user, Db, StoreError};

/// Local time of day on the period's first day from which its predecessor's report is due.
const DUE_AT: NaiveTime = match NaiveTime::from_hms_opt(6, 0, 0) {
    Some(time) => time,
    None => NaiveTime::MIN,
};

/// The handler; it has no settings.
#[derive(Debug, Clone, Default)]
pub struct SweepReports;

/// The payload.
#[derive(Debug, Clone, Deserialize)]
struct Payload {
    report_type: ReportType,
}

impl Handler for SweepReports {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Outcome> {
        async move {
            let kind = match payload::parse::<Payload>(SWEEP_REPORTS, &ctx.job.payload) {
                Ok(payload) => payload.report_type,
                Err(PayloadError::Invalid { message, .. }) => {
                    return JobError::InvalidPayload(message).into_outcome()
                }
                Err(err) => return JobError::InvalidPayload(err.to_string()).into_outcome(),
            };
            match sweep(&ctx.db, kind, Utc::now()).await {
                Ok(summary) => Outcome::Complete(json!(summary)),
                Err(err) => JobError::Transient(err.to_string()).into_outcome(),
            }
        }
        .boxed()
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Swept {
    /// Reports enqueued.
    pub enqueued: u32,
    /// Due reports that already had a live job.
    pub already_enqueued: u32,
}

/// Enqueues the `kind` reports due at `now`, as the [module docs](self) say.
///
/// # Errors
///
/// The database failed; jobs enqueued before the failure stay.
pub async fn sweep(db: &Db, kind: ReportType, now: DateTime<Utc>) -> Result<Swept, StoreError> {
    let mut swept = Swept::default();
    for (user_id, zone) in user::with_readings(db).await? {
        let Ok(zone) = zone.parse::<Tz>() else {
            warn!(%user_id, time_zone = %zone, "user has an unknown time zone; no report");
            continue;
        };
        let Some(period) = due_period(kind, zone, now) else {
            continue;
        };
        if report::exists(db, user_id, kind, period.first_day).await?
            || !reading::any_between(db, user_id, period.from, period.to).await?
        {
            continue;
        }
        match jobs::insert(db, &report_job(user_id, &period), now).await {
            Ok(_) => swept.enqueued += 1,
            Err(StoreError::UniqueKeyTaken { .. }) => swept.already_enqueued += 1,
            Err(err) => return Err(err),
        }
    }
    if swept.enqueued > 0 {
        info!(enqueued = swept.enqueued, report_type = ?kind, "reports enqueued");
    }
    Ok(swept)
}

/// The period whose report is due at `now` in `zone`, once the current period's first day has
/// reached [`DUE_AT`] there.
pub fn due_period(kind: ReportType, zone: Tz, now: DateTime<Utc>) -> Option<ReportPeriod> {
    let local = now.with_timezone(&zone).naive_local();
    let (first, last) = previous_period(period_kind(kind), local.date())?;
    let current_start = last.checked_add_days(Days::new(1))?;
    if local < current_start.and_time(DUE_AT) {
        return None;
    }
    ReportPeriod::new(kind, first, last, zone).ok()
}

fn period_kind(kind: ReportType) -> PeriodKind {
    match kind {
        ReportType::Weekly => PeriodKind::Weekly,
        ReportType::Monthly => PeriodKind::Monthly,
        ReportType::Quarterly => PeriodKind::Quarterly,
    }
}

fn report_job(user_id: Uuid, period: &ReportPeriod) -> NewJob {
    let kind = report::type_name(period.report_type);
    let payload = json!({
        "user_id": user_id,
        "report_type": kind,
        "date_range": {"start": period.first_day, "end": period.last_day},
    });
    let key = format!("report:{user_id}:{kind}:{}", period.first_day);
    NewJob::new(GENERATE_REPORT, payload).unique_key(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().expect("test time should parse")
    }

    fn days(period: Option<ReportPeriod>) -> Option<(String, String)> {
        period.map(|p| (p.first_day.to_string(), p.last_day.to_string()))
    }

    #[test]
    fn weekly_report_is_due_from_monday_six_local() {
        let kolkata: Tz = "Asia/Kolkata".parse().expect("known zone");
        let week = Some(("2026-01-05".to_owned(), "2026-01-11".to_owned()));

        // Monday 2026-01-12 05:59 and 06:00 in Kolkata (UTC+05:30).
        let early = due_period(ReportType::Weekly, kolkata, utc("2026-01-12T00:29:00Z"));
        let due = due_period(ReportType::Weekly, kolkata, utc("2026-01-12T00:30:00Z"));

        assert_eq!(days(early), None);
        assert_eq!(days(due), week);
    }

    #[test]
    fn monthly_and_quarterly_reports_cover_the_period_just_ended() {
        let berlin: Tz = "Europe/Berlin".parse().expect("known zone");
        let now = utc("2026-04-01T05:00:00Z"); // 07:00 local (CEST)

        let month = due_period(ReportType::Monthly, berlin, now);
        let quarter = due_period(ReportType::Quarterly, berlin, now);

        assert_eq!(
            days(month),
            Some(("2026-03-01".into(), "2026-03-31".into()))
        );
        assert_eq!(
            days(quarter),
            Some(("2026-01-01".into(), "2026-03-31".into()))
        );
    }
}
