//! Converting between instants and wall-clock times under the schedule's DST policy.
//!
//! A wall-clock time can exist once, twice (the repeated hour when clocks fall back) or not at
//! all (the hour skipped when they spring forward). We take the first of two occurrences, and
//! move a skipped time to the instant its gap ends. Both choices keep the mapping from wall
//! clock to instant non-decreasing, which lets the schedule search wall-clock times in order.

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// Half-width of the window searched for a gap's end. UTC offsets stay well within ±26 hours,
/// so an instant this far before a wall-clock time reads earlier, and one this far after
/// reads later.
const GAP_SEARCH_SECS: i64 = 26 * 3600;

/// The wall-clock reading of `instant` in `tz`, or `None` past chrono's representable range.
pub(super) fn wall_clock(tz: Tz, instant: DateTime<Utc>) -> Option<NaiveDateTime> {
    let utc = instant.naive_utc();
    let offset = tz.offset_from_utc_datetime(&utc).fix();
    utc.checked_add_offset(offset)
}

/// The instant at which wall-clock time `local` fires in `tz`.
///
/// A repeated time resolves to its first occurrence, a skipped one to the end of its gap.
pub(crate) fn resolve(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(instant) => Some(instant.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, second) => Some(first.min(second).with_timezone(&Utc)),
        LocalResult::None => gap_end(tz, local),
    }
}

/// The first instant whose wall-clock reading is later than `local`, a time inside a gap.
///
/// Bisects on whole seconds, the resolution of time zone transitions.
fn gap_end(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let centre = local.and_utc().timestamp();
    let mut reads_earlier = centre.checked_sub(GAP_SEARCH_SECS)?;
    let mut reads_later = centre.checked_add(GAP_SEARCH_SECS)?;

    while reads_later - reads_earlier > 1 {
        let middle = reads_earlier + (reads_later - reads_earlier) / 2;
        if wall_clock(tz, DateTime::from_timestamp(middle, 0)?)? > local {
            reads_later = middle;
        } else {
            reads_earlier = middle;
        }
    }
    DateTime::from_timestamp(reads_later, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("test time should parse")
    }

    fn utc(text: &str) -> DateTime<Utc> {
        local(text).and_utc()
    }

    #[test]
    fn skipped_time_resolves_to_gap_end() {
        let berlin = resolve(chrono_tz::Europe::Berlin, local("2026-03-29 02:30"));
        let new_york = resolve(chrono_tz::America::New_York, local("2026-03-08 02:30"));

        assert_eq!(berlin, Some(utc("2026-03-29 01:00")));
        assert_eq!(new_york, Some(utc("2026-03-08 07:00")));
    }

    #[test]
    fn repeated_time_resolves_to_first_occurrence() {
        let berlin = resolve(chrono_tz::Europe::Berlin, local("2026-10-25 02:30"));
        let new_york = resolve(chrono_tz::America::New_York, local("2026-11-01 01:30"));

        assert_eq!(berlin, Some(utc("2026-10-25 00:30")));
        assert_eq!(new_york, Some(utc("2026-11-01 05:30")));
    }

    #[test]
    fn skipped_whole_day_resolves_to_next_midnight() {
        // Samoa moved across the date line, so 2011-12-30 never happened there.
        let apia = resolve(chrono_tz::Pacific::Apia, local("2011-12-30 12:00"));

        assert_eq!(apia, Some(utc("2011-12-30 10:00")));
    }

    #[test]
    fn wall_clock_handles_extreme_instants() {
        let tz = chrono_tz::Asia::Tokyo;

        assert_eq!(wall_clock(tz, DateTime::<Utc>::MAX_UTC), None);
        assert_eq!(
            wall_clock(tz, utc("2026-01-01 00:00")),
            Some(local("2026-01-01 09:00"))
        );
    }
}
