//! `GENERATE_REPORT`: a user's glucose report for a week, month or quarter.
//!
//! The payload's `date_range` names local days in the user's time zone; the report covers
//! `[first day 00:00, day after the last 00:00)` there. From the readings of that period and of
//! the period before it (see [`ReportPeriod::previous`]) it computes the statistics of
//! [`crate::report::stats`], renders the HTML page and stores both in `reports`, replacing the
//! report of the same user, type and first day: running a job twice leaves one report.
//!
//! A period without readings still gets a report (saying so); an unknown user or a bad date
//! range fails the job, and a database error retries it.

use chrono::Utc;
use chrono_tz::Tz;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde_json::json;
use tracing::debug;

use super::{Handler, JobContext};
use crate::job::payload::{self, GenerateReport as Payload};
use crate::job::{JobError, Outcome, GENERATE_REPORT};
use crate::report::{self, ReportPeriod, ReportStats};
use crate::store::report::{self as reports, NewReport};
use crate::store::user::{self, User};
use crate::store::{reading, StoreError};

/// The handler; it has no settings.
#[derive(Debug, Clone, Default)]
pub struct GenerateReport;

impl Handler for GenerateReport {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Outcome> {
        async move { generate(ctx).await.unwrap_or_else(JobError::into_outcome) }.boxed()
    }
}

async fn generate(ctx: JobContext) -> Result<Outcome, JobError> {
    let payload = parse(&ctx.job.payload)?;
    let user = user::get(&ctx.db, payload.user_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| JobError::NotFound(format!("unknown user {}", payload.user_id)))?;
    let period = period_of(&payload, &user)?;

    let stats = statistics(&ctx, &period, &user).await?;
    let html = report::render(&stats, user.email.as_deref());
    let stats_json = serde_json::to_value(&stats)
        .map_err(|err| JobError::Transient(format!("cannot serialise report: {err}")))?;
    let new = NewReport {
        user_id: user.id,
        report_type: payload.report_type,
        period_start: period.first_day,
        period_end: period.last_day,
        time_zone: stats.time_zone.clone(),
        stats: stats_json,
        html,
        job_id: Some(ctx.job.id),
    };
    let report_id = reports::upsert(&ctx.db, &new, Utc::now())
        .await
        .map_err(store_error)?;

    debug!(%report_id, readings = stats.summary.num_readings, "report stored");
    Ok(Outcome::Complete(json!({
        "report_id": report_id,
        "readings": stats.summary.num_readings,
        "sufficient": stats.coverage.is_sufficient,
    })))
}

/// The payload, with the date range checked as at enqueue.
fn parse(value: &serde_json::Value) -> Result<Payload, JobError> {
    payload::validate(GENERATE_REPORT, value)?;
    Ok(payload::parse(GENERATE_REPORT, value)?)
}

/// The payload's days in the user's time zone.
fn period_of(payload: &Payload, user: &User) -> Result<ReportPeriod, JobError> {
    let zone: Tz = user.timezone.parse().map_err(|_| {
        JobError::NotFound(format!(
            "user {} has time zone {:?}, which is not a known IANA zone",
            user.id, user.timezone
        ))
    })?;
    let range = payload.date_range;
    ReportPeriod::new(payload.report_type, range.start, range.end, zone)
        .map_err(|err| JobError::InvalidPayload(format!("field `date_range`: {err}")))
}

/// Reads the period's and the previous period's readings and computes the statistics.
async fn statistics(
    ctx: &JobContext,
    period: &ReportPeriod,
    user: &User,
) -> Result<ReportStats, JobError> {
    let readings = reading::between(&ctx.db, user.id, period.from, period.to)
        .await
        .map_err(store_error)?;
    // Only a period at the very start of chrono's calendar has no previous one.
    let Ok(previous) = period.previous() else {
        return Ok(report::compute(period, &readings, None));
    };
    let earlier = reading::between(&ctx.db, user.id, previous.from, previous.to)
        .await
        .map_err(store_error)?;
    Ok(report::compute(
        period,
        &readings,
        Some((&previous, &earlier)),
    ))
}

fn store_error(err: StoreError) -> JobError {
    JobError::Transient(err.to_string())
}
