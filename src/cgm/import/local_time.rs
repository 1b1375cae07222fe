//! Zone-less timestamps: parsing ISO-style wall-clock times and placing them in a time zone.

use chrono::{DateTime, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// Wall-clock layouts accepted for ISO-style timestamps; `%.f` also matches no fraction.
const ISO_LAYOUTS: [&str; 4] = [
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
];

/// Parses `YYYY-MM-DDThh:mm[:ss[.fff]]`, with `T` or a space between date and time.
pub(super) fn parse_iso(text: &str) -> Option<NaiveDateTime> {
    ISO_LAYOUTS
        .iter()
        .find_map(|layout| NaiveDateTime::parse_from_str(text, layout).ok())
}

/// The instant a wall-clock time in `zone` stands for.
///
/// An ambiguous time (clocks set back) gives the earlier instant. A time that does not exist
/// (clocks set forward) gives the first instant after the gap, i.e. the moment of the change.
/// `None` only at the ends of chrono's date range.
pub(super) fn to_utc(naive: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&naive).earliest() {
        Some(instant) => Some(instant.with_timezone(&Utc)),
        None => end_of_gap(naive, zone),
    }
}

/// The moment of the forward change whose gap contains `naive`.
fn end_of_gap(naive: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    // A day earlier the offset from before the change is in force (no zone changes twice a day).
    let day = TimeDelta::days(1);
    let before = offset_at(naive.checked_sub_signed(day)?.and_utc(), zone);
    // Read with the old offset, the wall-clock time lands after the change, less than a day after.
    let after = naive
        .checked_sub_signed(TimeDelta::seconds(i64::from(before)))?
        .and_utc();

    // Binary search for the first second whose offset differs from `before`.
    let mut low = after.checked_sub_signed(day)?.timestamp();
    let mut high = after.timestamp();
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        let instant = DateTime::from_timestamp(middle, 0)?;
        if offset_at(instant, zone) == before {
            low = middle;
        } else {
            high = middle;
        }
    }
    DateTime::from_timestamp(high, 0)
}

/// The zone's UTC offset at an instant, in seconds east of UTC.
fn offset_at(instant: DateTime<Utc>, zone: Tz) -> i32 {
    zone.offset_from_utc_datetime(&instant.naive_utc())
        .fix()
        .local_minus_utc()
}

#[cfg(test)]
mod tests {
    use chrono_tz::{America, Australia, Europe, UTC};

    use super::*;

    fn naive(text: &str) -> NaiveDateTime {
        parse_iso(text).unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn iso_layouts_are_accepted() {
        assert_eq!(naive("2016-10-24T11:24:17"), naive("2016-10-24 11:24:17"));
        assert_eq!(naive("2016-10-24T11:24"), naive("2016-10-24 11:24:00"));
        assert!(parse_iso("2016-10-24T11:24:17.250").is_some());
        assert!(parse_iso("10/24/2016 11:24").is_none());
        assert!(parse_iso("2016-02-30T11:24:17").is_none());
    }

    #[test]
    fn plain_times_use_the_zone_offset() {
        assert_eq!(
            to_utc(naive("2024-01-15 08:00"), America::New_York),
            Some(utc("2024-01-15T13:00:00Z"))
        );
        assert_eq!(
            to_utc(naive("2024-07-15 08:00"), America::New_York),
            Some(utc("2024-07-15T12:00:00Z"))
        );
        assert_eq!(
            to_utc(naive("2024-07-15 08:00"), UTC),
            Some(utc("2024-07-15T08:00:00Z"))
        );
    }

    #[test]
    fn ambiguous_times_take_the_earlier_instant() {
        // 2024-11-03 01:30 happens twice in New York: at -04:00, then at -05:00.
        let result = to_utc(naive("2024-11-03 01:30"), America::New_York);

        assert_eq!(result, Some(utc("2024-11-03T05:30:00Z")));
    }

    #[test]
    fn times_in_a_gap_take_the_moment_of_the_change() {
        // 2024-03-10 02:00-03:00 does not exist in New York; the change is at 07:00 UTC.
        let change = Some(utc("2024-03-10T07:00:00Z"));

        assert_eq!(to_utc(naive("2024-03-10 02:00"), America::New_York), change);
        assert_eq!(
            to_utc(naive("2024-03-10 02:59:59"), America::New_York),
            change
        );
        // Europe/London jumps 01:00 -> 02:00 at 01:00 UTC.
        assert_eq!(
            to_utc(naive("2024-03-31 01:30"), Europe::London),
            Some(utc("2024-03-31T01:00:00Z"))
        );
        // Lord Howe Island moves by 30 minutes: 02:00 -> 02:30 local at 15:30 UTC.
        assert_eq!(
            to_utc(naive("2024-10-06 02:15"), Australia::Lord_Howe),
            Some(utc("2024-10-05T15:30:00Z"))
        );
    }
}
