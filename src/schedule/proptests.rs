//! Property tests: parsing never panics, and fire times agree with an independent model.
//!
//! Expressions are generated together with the values each field should select, so the model
//! does not share the parser's code.

use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike};
use proptest::prelude::*;

use super::*;

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Pacific/Chatham",
];

/// One generated field: its text and the values it selects (day-of-week 0-6, Sunday 0).
#[derive(Debug, Clone)]
struct ModelField {
    text: String,
    values: Vec<u32>,
}

/// One item over `min..=max`: `*`, a value, a range or a stepped form of either.
fn item(min: u32, max: u32) -> impl Strategy<Value = ModelField> {
    (min..=max, min..=max, 1..=max - min + 1, 0..5u8).prop_map(move |(a, b, step, shape)| {
        let (lo, hi) = (a.min(b), a.max(b));
        let (text, lo, hi, step) = match shape {
            0 => ("*".to_owned(), min, max, 1),
            1 => (format!("{a}"), a, a, 1),
            2 => (format!("{lo}-{hi}"), lo, hi, 1),
            3 => (format!("*/{step}"), min, max, step),
            _ => (format!("{lo}-{hi}/{step}"), lo, hi, step),
        };
        let values = (lo..=hi)
            .step_by(usize::try_from(step).unwrap_or(1))
            .collect();
        ModelField { text, values }
    })
}

/// A field of one or two comma-separated items.
fn field(min: u32, max: u32) -> impl Strategy<Value = ModelField> {
    prop::collection::vec(item(min, max), 1..=2).prop_map(|items| {
        let text: Vec<String> = items.iter().map(|item| item.text.clone()).collect();
        ModelField {
            text: text.join(","),
            values: items.into_iter().flat_map(|item| item.values).collect(),
        }
    })
}

/// Day-of-week: items over 0-6, with a lone Sunday written as 7 where `seven` says so.
fn day_of_week_field() -> impl Strategy<Value = ModelField> {
    (field(0, 6), any::<bool>()).prop_map(|(mut field, seven)| {
        if seven {
            let items: Vec<&str> = field
                .text
                .split(',')
                .map(|item| if item == "0" { "7" } else { item })
                .collect();
            field.text = items.join(",");
        }
        field
    })
}

/// A 5-field expression and its model.
#[derive(Debug, Clone)]
struct ModelExpr {
    text: String,
    minutes: Vec<u32>,
    hours: Vec<u32>,
    days_of_month: Vec<u32>,
    months: Vec<u32>,
    days_of_week: Vec<u32>,
}

impl ModelExpr {
    fn matches(&self, local: NaiveDateTime) -> bool {
        let by_month_day = self.days_of_month.contains(&local.day());
        let by_weekday = self
            .days_of_week
            .contains(&local.weekday().num_days_from_sunday());
        let either =
            is_restricted(&self.days_of_month, 1..=31) && is_restricted(&self.days_of_week, 0..=6);

        local.second() == 0
            && self.minutes.contains(&local.minute())
            && self.hours.contains(&local.hour())
            && self.months.contains(&local.month())
            && if either {
                by_month_day || by_weekday
            } else {
                by_month_day && by_weekday
            }
    }
}

fn is_restricted(values: &[u32], whole: RangeInclusive<u32>) -> bool {
    !whole.into_iter().all(|value| values.contains(&value))
}

fn expression() -> impl Strategy<Value = ModelExpr> {
    let fields = (
        field(0, 59),
        field(0, 23),
        field(1, 31),
        field(1, 12),
        day_of_week_field(),
    );
    fields.prop_map(
        |(minutes, hours, days_of_month, months, days_of_week)| ModelExpr {
            text: format!(
                "{} {} {} {} {}",
                minutes.text, hours.text, days_of_month.text, months.text, days_of_week.text
            ),
            minutes: minutes.values,
            hours: hours.values,
            days_of_month: days_of_month.values,
            months: months.values,
            days_of_week: days_of_week.values,
        },
    )
}

/// Instants from 2000 to 2090, in whole seconds.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (946_684_800i64..3_786_912_000).prop_map(|secs| {
        DateTime::from_timestamp(secs, 0).expect("timestamp is within chrono's range")
    })
}

/// Start instants, half of them within three hours of a UTC offset change, where the DST
/// policy matters. Resolved per zone by [`near_transition`].
fn start() -> impl Strategy<Value = (DateTime<Utc>, Option<i64>)> {
    (instant(), prop::option::of(-10_800i64..10_800))
}

/// `t` itself, or `nudge` seconds from the first offset change in `tz` after `t`, if any
/// comes within a year.
fn near_transition(tz: Tz, (t, nudge): (DateTime<Utc>, Option<i64>)) -> DateTime<Utc> {
    let Some(nudge) = nudge else {
        return t;
    };
    let offset = |instant: DateTime<Utc>| tz.offset_from_utc_datetime(&instant.naive_utc()).fix();
    let Some(days) = (1..=400).find(|&day| offset(t + TimeDelta::days(day)) != offset(t)) else {
        return t;
    };

    let (mut same, mut changed) = (t + TimeDelta::days(days - 1), t + TimeDelta::days(days));
    while changed - same > TimeDelta::seconds(1) {
        let middle = same + (changed - same) / 2;
        if offset(middle) == offset(t) {
            same = middle;
        } else {
            changed = middle;
        }
    }
    changed + TimeDelta::seconds(nudge)
}

/// Whether `fire` is the end of a DST gap that hides a matching wall-clock minute.
fn is_gap_end_for(model: &ModelExpr, tz: Tz, fire: DateTime<Utc>) -> bool {
    let before = dst::wall_clock(tz, fire - TimeDelta::seconds(1));
    let at = dst::wall_clock(tz, fire);
    let (Some(before), Some(at)) = (before, at) else {
        return false;
    };
    let mut minute = before + TimeDelta::seconds(1);
    while minute < at {
        if model.matches(minute) {
            return true;
        }
        minute += TimeDelta::minutes(1);
    }
    false
}

/// Whether the model says `instant` fires: the first occurrence of a matching wall-clock
/// time, or the end of a gap hiding one.
fn model_fires_at(model: &ModelExpr, tz: Tz, instant: DateTime<Utc>) -> bool {
    let Some(local) = dst::wall_clock(tz, instant) else {
        return false;
    };
    let first = tz
        .from_local_datetime(&local)
        .earliest()
        .map(|first| first.to_utc());
    (model.matches(local) && first == Some(instant)) || is_gap_end_for(model, tz, instant)
}

/// Whole UTC minutes strictly between `from` and `to`; every zone in `ZONES` has offsets in
/// whole minutes, so these are all the candidate fire times of a 5-field expression.
fn minutes_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let first = from.timestamp().div_euclid(60) + 1;
    let last = (to.timestamp() - 1).div_euclid(60);
    (first..=last)
        .filter_map(|minute| DateTime::from_timestamp(minute * 60, 0))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in ".{0,60}") {
        let _ = CronExpr::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_cron_like_text(text in "[0-9*/,?A-Za-z -]{0,40}") {
        let _ = CronExpr::parse(&text);
    }

    #[test]
    fn next_fire_is_later_and_matches(
        model in expression(),
        zone in 0..ZONES.len(),
        start in start(),
    ) {
        let Ok(schedule) = Schedule::new(&model.text, ZONES[zone]) else {
            // Only impossible dates are rejected, such as `31` with `2`.
            prop_assert!(matches!(CronExpr::parse(&model.text), Err(ScheduleError::NeverFires(_))));
            return Ok(());
        };
        let tz = schedule.time_zone();
        let t = near_transition(tz, start);

        let next = schedule.next_after(t);

        if let Some(next) = next {
            prop_assert!(next > t);
            let local = dst::wall_clock(tz, next).expect("fire time has a wall-clock reading");
            prop_assert!(model.matches(local) || is_gap_end_for(&model, tz, next), "{next}");
            prop_assert!(model_fires_at(&model, tz, next), "{next}");
        }

        // Nothing fires earlier; only checked over short spans to keep the scan cheap.
        let horizon = next.unwrap_or(t + TimeDelta::days(2)).min(t + TimeDelta::days(2));
        for minute in minutes_between(t, horizon) {
            prop_assert!(!model_fires_at(&model, tz, minute), "missed {minute}");
        }
    }

    #[test]
    fn next_after_is_monotonic(model in expression(), zone in 0..ZONES.len(), start in start()) {
        let Ok(schedule) = Schedule::new(&model.text, ZONES[zone]) else {
            return Ok(());
        };
        let t = near_transition(schedule.time_zone(), start);

        let first = schedule.next_after(t);
        let second = first.and_then(|first| schedule.next_after(first));

        if let (Some(first), Some(second)) = (first, second) {
            prop_assert!(second > first);
        }
    }

    #[test]
    fn sunday_as_zero_or_seven_fires_alike(
        minute in 0..60u32,
        hour in 0..24u32,
        others in prop::collection::vec(1..=6u32, 0..3),
        zone in 0..ZONES.len(),
        start in start(),
    ) {
        let days = |sunday: &str| {
            others.iter().map(u32::to_string).chain([sunday.to_owned()]).collect::<Vec<_>>()
        };
        let zero = format!("{minute} {hour} * * {}", days("0").join(","));
        let seven = format!("{minute} {hour} * * {}", days("7").join(","));
        let zero = Schedule::new(&zero, ZONES[zone]).expect("generated expression is valid");
        let seven = Schedule::new(&seven, ZONES[zone]).expect("generated expression is valid");
        let t = near_transition(zero.time_zone(), start);
        let end = t + TimeDelta::days(60);

        prop_assert_eq!(zero.fires_between(t, end, 20), seven.fires_between(t, end, 20));
    }
}
