//! Parsed cron expressions and their matching wall-clock times.
//!
//! We parse and validate the text ourselves, so that errors name the field at fault and the
//! day-of-week convention is crontab's (0 and 7 are Sunday). The `cron` crate then walks the
//! calendar for us: each field is handed to it as an explicit list of values, renumbered to its
//! convention (days of week 1-7 with 1 = Sunday), so none of its own range or step rules apply.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::field::{self, FieldSpec, ValueSet};
use super::ScheduleError;

/// Earliest year the `cron` crate walks; it finds nothing before it.
const FIRST_YEAR: i32 = 1970;
/// Latest year the `cron` crate walks; it finds nothing after it.
const LAST_YEAR: i32 = 2100;

/// A validated cron expression in crontab form.
///
/// Accepts 5 fields (`min hour dom month dow`) or 6 with seconds first
/// (`sec min hour dom month dow`). Day-of-week takes 0-7, where both 0 and 7 are Sunday, or
/// SUN-SAT; month takes 1-12 or JAN-DEC; names are case-insensitive. Items may be `*`, values,
/// ranges (`1-5`), steps (`*/15`, `1-5/2`, `10/5`) and comma lists; `?` may stand for `*` in
/// the day fields.
///
/// As in POSIX cron, when both day-of-month and day-of-week are restricted, a day matches if
/// it matches either one (`0 0 1 * MON` fires on the 1st and on every Monday). A field counts as
/// restricted when it selects less than its whole range.
///
/// Fire times are only found in the years 1970 to 2100, the range the `cron` crate walks.
#[derive(Debug, Clone)]
pub struct CronExpr {
    source: String,
    fields: Fields,
    /// One calendar walker, or two whose union gives the POSIX either-day rule.
    walkers: Vec<cron::Schedule>,
}

/// The value sets of all six fields; day-of-week uses 0-6 with 0 = Sunday.
#[derive(Debug, Clone, Copy)]
struct Fields {
    seconds: ValueSet,
    minutes: ValueSet,
    hours: ValueSet,
    days_of_month: ValueSet,
    months: ValueSet,
    days_of_week: ValueSet,
}

impl CronExpr {
    /// Parses a 5- or 6-field cron expression.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::InvalidExpression`] when the field count, a value, a range or a step
    /// is wrong, and [`ScheduleError::NeverFires`] when no date can ever match (`0 0 30 2 *`).
    pub fn parse(expr: &str) -> Result<Self, ScheduleError> {
        let invalid = |reason| ScheduleError::InvalidExpression {
            expr: expr.to_owned(),
            reason,
        };

        let fields = Fields::parse(expr).map_err(invalid)?;
        if !fields.can_fire() {
            return Err(ScheduleError::NeverFires(expr.to_owned()));
        }
        let walkers = fields
            .walker_sources()
            .iter()
            .map(|source| cron::Schedule::from_str(source))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| invalid(format!("rejected by the cron crate: {err}")))?;

        Ok(Self {
            source: expr.to_owned(),
            fields,
            walkers,
        })
    }

    /// The expression as it was written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the wall-clock time matches every field; fractions of a second are ignored.
    pub fn matches(&self, local: NaiveDateTime) -> bool {
        self.fields.matches_time(local.time()) && self.fields.matches_date(local.date())
    }

    /// The first matching wall-clock time strictly after `local`, ignoring time zones.
    ///
    /// Returns `None` when no match exists before the end of 2100.
    pub fn next_local_after(&self, local: NaiveDateTime) -> Option<NaiveDateTime> {
        if local.year() > LAST_YEAR {
            return None;
        }
        // The walker only searches from the cursor's own year on, so start early ones at 1970.
        let start = local.max(last_second_before(FIRST_YEAR)?).and_utc();

        self.walkers
            .iter()
            .filter_map(|walker| walker.after(&start).next())
            .min()
            .map(|next| next.naive_utc())
    }
}

impl FromStr for CronExpr {
    type Err = ScheduleError;

    fn from_str(expr: &str) -> Result<Self, Self::Err> {
        Self::parse(expr)
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Fields {
    fn parse(expr: &str) -> Result<Self, String> {
        let parts: Vec<&str> = expr.split_whitespace().collect();
        let (seconds, rest) = match parts.len() {
            5 => ("0", &parts[..]),
            6 => (parts[0], &parts[1..]),
            count => return Err(format!("expected 5 or 6 fields, found {count}")),
        };
        let field = |index: usize, spec: &FieldSpec| field::parse_field(rest[index], spec);

        Ok(Self {
            seconds: field::parse_field(seconds, &field::SECOND)?,
            minutes: field(0, &field::MINUTE)?,
            hours: field(1, &field::HOUR)?,
            days_of_month: field(2, &field::DAY_OF_MONTH)?,
            months: field(3, &field::MONTH)?,
            days_of_week: field(4, &field::DAY_OF_WEEK)?.replace(7, 0),
        })
    }

    fn restricts_day_of_month(&self) -> bool {
        self.days_of_month != field::DAY_OF_MONTH.all()
    }

    fn restricts_day_of_week(&self) -> bool {
        self.days_of_week != field::DAY_OF_WEEK.all()
    }

    /// Whether some date matches. Times always do, as no field can select nothing.
    fn can_fire(&self) -> bool {
        // A restricted day-of-week matches some day of every week, and so of every month.
        if self.restricts_day_of_week() {
            return true;
        }
        self.months.values().any(|month| {
            let longest = longest_month(month);
            self.days_of_month.values().any(|day| day <= longest)
        })
    }

    fn matches_time(&self, time: NaiveTime) -> bool {
        self.seconds.contains(time.second())
            && self.minutes.contains(time.minute())
            && self.hours.contains(time.hour())
    }

    fn matches_date(&self, date: NaiveDate) -> bool {
        let by_month_day = self.days_of_month.contains(date.day());
        let by_weekday = self
            .days_of_week
            .contains(date.weekday().num_days_from_sunday());

        self.months.contains(date.month())
            && if self.restricts_day_of_month() && self.restricts_day_of_week() {
                by_month_day || by_weekday
            } else {
                by_month_day && by_weekday
            }
    }

    /// Expressions in the `cron` crate's syntax whose matches, together, are ours.
    ///
    /// The crate requires both day fields to match, so the POSIX either-day rule becomes two
    /// expressions, one per day field.
    fn walker_sources(&self) -> Vec<String> {
        let head = format!(
            "{} {} {}",
            cron_list(self.seconds, &field::SECOND, 0),
            cron_list(self.minutes, &field::MINUTE, 0),
            cron_list(self.hours, &field::HOUR, 0),
        );
        let days_of_month = cron_list(self.days_of_month, &field::DAY_OF_MONTH, 0);
        let months = cron_list(self.months, &field::MONTH, 0);
        let days_of_week = cron_list(self.days_of_week, &field::DAY_OF_WEEK, 1);

        if self.restricts_day_of_month() && self.restricts_day_of_week() {
            vec![
                format!("{head} {days_of_month} {months} *"),
                format!("{head} * {months} {days_of_week}"),
            ]
        } else {
            vec![format!("{head} {days_of_month} {months} {days_of_week}")]
        }
    }
}

/// A field as the `cron` crate should read it: `*` or an explicit list, each value moved up by
/// `shift` (1 for day-of-week, where the crate counts Sunday as 1).
fn cron_list(set: ValueSet, spec: &FieldSpec, shift: u32) -> String {
    if set == spec.all() {
        return "*".to_owned();
    }
    let values: Vec<String> = set
        .values()
        .map(|value| (value + shift).to_string())
        .collect();
    values.join(",")
}

/// The most days `month` (1-12) can have, counting February in leap years.
fn longest_month(month: u32) -> u32 {
    match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn last_second_before(year: i32) -> Option<NaiveDateTime> {
    NaiveDate::from_ymd_opt(year, 1, 1)?
        .and_hms_opt(0, 0, 0)?
        .checked_sub_signed(chrono::TimeDelta::seconds(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").expect("test time should parse")
    }

    /// The first `count` matches after `start`, formatted for easy comparison.
    fn next_matches(expr: &str, start: &str, count: usize) -> Vec<String> {
        let expr = CronExpr::parse(expr).expect("expression should parse");
        let mut cursor = at(start);
        let mut found = Vec::new();
        for _ in 0..count {
            cursor = expr
                .next_local_after(cursor)
                .expect("expression should fire");
            found.push(cursor.format("%a %Y-%m-%d %H:%M:%S").to_string());
        }
        found
    }

    /// Weekdays of the first `count` matches after Monday 2026-06-01 00:00.
    fn weekdays(expr: &str, count: usize) -> Vec<String> {
        let fires = next_matches(expr, "2026-06-01 00:00:00", count);
        fires.iter().map(|fire| fire[..3].to_owned()).collect()
    }

    fn reason(expr: &str) -> String {
        match CronExpr::parse(expr) {
            Err(ScheduleError::InvalidExpression { reason, .. }) => reason,
            other => panic!("expected an invalid expression, got {other:?}"),
        }
    }

    #[test]
    fn five_field_form_equals_six_with_zero_seconds() {
        let five = next_matches("*/20 8-9 * * 1-5", "2026-06-05 09:30:00", 5);
        let six = next_matches("0 */20 8-9 * * 1-5", "2026-06-05 09:30:00", 5);

        assert_eq!(five[0], "Fri 2026-06-05 09:40:00");
        assert_eq!(five[1], "Mon 2026-06-08 08:00:00");
        assert_eq!(five, six);
    }

    #[test]
    fn six_field_form_reads_seconds_first() {
        let fires = next_matches("15 30 9 * * *", "2026-06-01 00:00:00", 1);

        assert_eq!(fires, ["Mon 2026-06-01 09:30:15"]);
    }

    #[test]
    fn sunday_may_be_zero_seven_or_name() {
        let zero = next_matches("0 9 * * 0", "2026-06-01 00:00:00", 3);
        let seven = next_matches("0 9 * * 7", "2026-06-01 00:00:00", 3);
        let name = next_matches("0 9 * * sun", "2026-06-01 00:00:00", 3);

        assert_eq!(zero[0], "Sun 2026-06-07 09:00:00");
        assert_eq!(zero, seven);
        assert_eq!(zero, name);
    }

    #[test]
    fn day_of_week_range_ending_at_seven_wraps_to_sunday() {
        assert_eq!(weekdays("0 0 * * 5-7", 4), ["Fri", "Sat", "Sun", "Fri"]);
    }

    #[test]
    fn day_of_week_steps_follow_crontab_numbering() {
        assert_eq!(weekdays("0 0 * * 1-5/2", 3), ["Wed", "Fri", "Mon"]);
        assert_eq!(weekdays("0 0 * * */2", 4), ["Tue", "Thu", "Sat", "Sun"]);
    }

    #[test]
    fn restricted_day_fields_match_either_day() {
        // Monday 2026-06-01 matches both; Wednesday 2026-07-01 only the day of month.
        assert_eq!(weekdays("0 0 1 * MON", 2), ["Mon", "Mon"]);
        assert_eq!(
            weekdays("0 0 1 * MON", 6),
            ["Mon", "Mon", "Mon", "Mon", "Wed", "Mon"]
        );
    }

    #[test]
    fn matches_checks_every_field() {
        let expr = CronExpr::parse("30 9 * JAN-MAR MON").expect("expression should parse");

        assert!(expr.matches(at("2026-01-05 09:30:00")));
        assert!(!expr.matches(at("2026-01-06 09:30:00")));
        assert!(!expr.matches(at("2026-04-06 09:30:00")));
    }

    #[test]
    fn never_firing_expression_is_rejected() {
        for expr in ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 0 31 FEB ?"] {
            let err = CronExpr::parse(expr).unwrap_err();

            assert!(
                matches!(err, ScheduleError::NeverFires(ref e) if e == expr),
                "{err:?}"
            );
        }
    }

    #[test]
    fn leap_day_is_accepted_and_found() {
        let fires = next_matches("0 0 29 2 *", "2026-01-01 00:00:00", 2);

        assert_eq!(
            fires,
            ["Tue 2028-02-29 00:00:00", "Sun 2032-02-29 00:00:00"]
        );
    }

    #[test]
    fn wrong_field_count_is_rejected() {
        assert_eq!(reason("* * * *"), "expected 5 or 6 fields, found 4");
        assert_eq!(
            reason("0 0 0 1 1 * 2030"),
            "expected 5 or 6 fields, found 7"
        );
        assert_eq!(reason(""), "expected 5 or 6 fields, found 0");
    }

    #[test]
    fn error_message_names_expression_and_problem() {
        let err = CronExpr::parse("61 * * * *").unwrap_err();

        assert_eq!(
            err.to_string(),
            "invalid cron expression `61 * * * *`: minute field `61`: `61` is out of range 0-59"
        );
    }

    #[test]
    fn nothing_is_found_after_2100() {
        let expr = CronExpr::parse("0 0 * * *").expect("expression should parse");

        assert_eq!(expr.next_local_after(at("2100-12-31 00:00:00")), None);
        assert_eq!(expr.next_local_after(NaiveDateTime::MAX), None);
        assert_eq!(
            expr.next_local_after(NaiveDateTime::MIN),
            Some(at("1970-01-01 00:00:00"))
        );
    }
}
