//! One field of a cron expression: its grammar and the set of values it selects.
//!
//! A field is a comma-separated list of items. An item is `*`, a value, or a range `a-b`,
//! optionally followed by a step `/n`; a lone value with a step (`5/15`) runs to the field's
//! maximum. Values are decimal numbers or, where the field has them, three-letter names.

/// The values one field accepts, how it is named in errors, and the names it knows.
#[derive(Debug, Clone, Copy)]
pub(super) struct FieldSpec {
    /// Name used in error messages, such as `minute`.
    label: &'static str,
    /// Smallest value accepted.
    min: u32,
    /// Largest value accepted.
    max: u32,
    /// Largest value `*` stands for (day-of-week stops at 6, as 7 repeats Sunday).
    star_max: u32,
    /// Three-letter names; `names[i]` stands for `min + i`.
    names: &'static [&'static str],
    /// Whether a lone `?` may stand for `*`.
    allows_any: bool,
}

/// Seconds, 0-59 (first field of the 6-field form).
pub(super) const SECOND: FieldSpec = FieldSpec::numeric("second", 0, 59);
/// Minutes, 0-59.
pub(super) const MINUTE: FieldSpec = FieldSpec::numeric("minute", 0, 59);
/// Hours, 0-23.
pub(super) const HOUR: FieldSpec = FieldSpec::numeric("hour", 0, 23);
/// Day of month, 1-31.
pub(super) const DAY_OF_MONTH: FieldSpec = FieldSpec {
    allows_any: true,
    ..FieldSpec::numeric("day-of-month", 1, 31)
};
/// Month, 1-12 or JAN-DEC.
pub(super) const MONTH: FieldSpec = FieldSpec {
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
    ..FieldSpec::numeric("month", 1, 12)
};
/// Day of week, 0-7 with both 0 and 7 meaning Sunday, or SUN-SAT.
pub(super) const DAY_OF_WEEK: FieldSpec = FieldSpec {
    star_max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    allows_any: true,
    ..FieldSpec::numeric("day-of-week", 0, 7)
};

impl FieldSpec {
    const fn numeric(label: &'static str, min: u32, max: u32) -> Self {
        Self {
            label,
            min,
            max,
            star_max: max,
            names: &[],
            allows_any: false,
        }
    }

    /// The set `*` stands for in this field.
    pub(super) fn all(&self) -> ValueSet {
        ValueSet::stepped(self.min, self.star_max, 1)
    }

    /// Only day-of-week accepts a value (7, Sunday again) that `*` leaves out.
    fn is_day_of_week(&self) -> bool {
        self.star_max < self.max
    }
}

/// A set of field values; bit `n` is set when value `n` is selected. All fields fit in 64 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ValueSet(u64);

impl ValueSet {
    /// The values `lo, lo + step, ...` up to `hi` inclusive; `hi` must be below 64.
    fn stepped(lo: u32, hi: u32, step: u32) -> Self {
        let bits = (lo..=hi)
            .step_by(usize::try_from(step).unwrap_or(usize::MAX))
            .fold(0, |bits, value| bits | (1u64 << value));
        Self(bits)
    }

    fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether `value` is in the set.
    pub(super) fn contains(self, value: u32) -> bool {
        value < 64 && self.0 & (1u64 << value) != 0
    }

    /// The set with `from` replaced by `to`, if `from` was present.
    pub(super) fn replace(self, from: u32, to: u32) -> Self {
        if self.contains(from) {
            Self((self.0 & !(1u64 << from)) | (1u64 << to))
        } else {
            self
        }
    }

    /// The values in ascending order.
    pub(super) fn values(self) -> impl Iterator<Item = u32> {
        (0..64).filter(move |&value| self.contains(value))
    }
}

/// Parses one field's text into the set of values it selects.
///
/// The error is a lowercase reason that names the field and the offending text.
pub(super) fn parse_field(text: &str, spec: &FieldSpec) -> Result<ValueSet, String> {
    if spec.allows_any && text == "?" {
        return Ok(spec.all());
    }

    text.split(',').try_fold(ValueSet(0), |set, item| {
        let values = parse_item(item, spec)
            .map_err(|problem| format!("{} field `{text}`: {problem}", spec.label))?;
        Ok(set.union(values))
    })
}

fn parse_item(item: &str, spec: &FieldSpec) -> Result<ValueSet, String> {
    let (base, step) = match item.split_once('/') {
        Some((base, step)) => (base, Some(parse_step(step, spec)?)),
        None => (item, None),
    };
    let (lo, hi) = parse_base(base, step.is_some(), spec)?;
    Ok(ValueSet::stepped(lo, hi, step.unwrap_or(1)))
}

fn parse_step(text: &str, spec: &FieldSpec) -> Result<u32, String> {
    let span = spec.max - spec.min + 1;
    match parse_number(text) {
        Some(step) if (1..=span).contains(&step) => Ok(step),
        _ => Err(format!("step `{text}` must be a number from 1 to {span}")),
    }
}

/// The inclusive bounds an item's base selects before any step applies.
fn parse_base(text: &str, has_step: bool, spec: &FieldSpec) -> Result<(u32, u32), String> {
    if text == "*" {
        return Ok((spec.min, spec.star_max));
    }

    if let Some((start, end)) = text.split_once('-') {
        return parse_range(start, end, spec);
    }

    let value = parse_value(text, spec)?;
    Ok((value, if has_step { spec.max } else { value }))
}

fn parse_range(start: &str, end: &str, spec: &FieldSpec) -> Result<(u32, u32), String> {
    let lo = parse_value(start, spec)?;
    let mut hi = parse_value(end, spec)?;

    // `FRI-SUN` reads naturally, so a day-of-week range may end at Sunday written as 0.
    if spec.is_day_of_week() && hi == 0 && lo > 0 {
        hi = spec.max;
    }
    if lo > hi {
        return Err(format!("range `{start}-{end}` starts after it ends"));
    }
    Ok((lo, hi))
}

fn parse_value(text: &str, spec: &FieldSpec) -> Result<u32, String> {
    if text.is_empty() {
        return Err("missing value".to_owned());
    }

    if let Some(value) = parse_name(text, spec) {
        return Ok(value);
    }

    if !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(format!("`{text}` is not a valid value"));
    }
    match parse_number(text) {
        Some(value) if (spec.min..=spec.max).contains(&value) => Ok(value),
        _ => Err(format!(
            "`{text}` is out of range {}-{}",
            spec.min, spec.max
        )),
    }
}

fn parse_name(text: &str, spec: &FieldSpec) -> Option<u32> {
    let index = spec
        .names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))?;
    Some(spec.min + u32::try_from(index).ok()?)
}

/// A plain decimal number; rejects signs, which `u32::from_str` would accept.
fn parse_number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str, spec: &FieldSpec) -> Vec<u32> {
        parse_field(text, spec)
            .expect("field should parse")
            .values()
            .collect()
    }

    #[test]
    fn star_selects_whole_range() {
        assert_eq!(values("*", &HOUR), (0..=23).collect::<Vec<_>>());
        assert_eq!(values("*", &DAY_OF_WEEK), (0..=6).collect::<Vec<_>>());
    }

    #[test]
    fn lists_ranges_and_steps_combine() {
        assert_eq!(values("1,5-7,*/20", &MINUTE), [0, 1, 5, 6, 7, 20, 40]);
        assert_eq!(values("1-5/2", &DAY_OF_WEEK), [1, 3, 5]);
        assert_eq!(values("50/5", &SECOND), [50, 55]);
    }

    #[test]
    fn names_are_case_insensitive() {
        assert_eq!(values("jan,Mar,DEC", &MONTH), [1, 3, 12]);
        assert_eq!(values("mon-FRI", &DAY_OF_WEEK), [1, 2, 3, 4, 5]);
    }

    #[test]
    fn day_of_week_range_may_end_at_sunday_zero() {
        assert_eq!(values("FRI-SUN", &DAY_OF_WEEK), [5, 6, 7]);
    }

    #[test]
    fn question_mark_only_in_day_fields() {
        assert_eq!(values("?", &DAY_OF_MONTH).len(), 31);
        assert!(parse_field("?", &MINUTE).is_err());
    }

    #[test]
    fn rejects_out_of_range_and_malformed_items() {
        let cases = [
            (
                "60",
                &MINUTE,
                "minute field `60`: `60` is out of range 0-59",
            ),
            (
                "0",
                &DAY_OF_MONTH,
                "day-of-month field `0`: `0` is out of range 1-31",
            ),
            (
                "8",
                &DAY_OF_WEEK,
                "day-of-week field `8`: `8` is out of range 0-7",
            ),
            ("+5", &HOUR, "hour field `+5`: `+5` is not a valid value"),
            ("1,,2", &HOUR, "hour field `1,,2`: missing value"),
            (
                "5-3",
                &HOUR,
                "hour field `5-3`: range `5-3` starts after it ends",
            ),
            (
                "*/0",
                &HOUR,
                "hour field `*/0`: step `0` must be a number from 1 to 24",
            ),
            (
                "FOO",
                &MONTH,
                "month field `FOO`: `FOO` is not a valid value",
            ),
            (
                "99999999999",
                &HOUR,
                "hour field `99999999999`: `99999999999` is out of range 0-23",
            ),
        ];

        for (text, spec, expected) in cases {
            assert_eq!(parse_field(text, spec).unwrap_err(), expected);
        }
    }
}
