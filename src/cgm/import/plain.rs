//! Plain CSV: a header with `timestamp` and `glucose_mg_dl` (or `glucose_mmol_l`), one reading
//! per row. Other columns, such as the `subject_id` of the project's converted data files, are
//! ignored.
//!
//! The timestamp is RFC 3339 with an offset (`2024-05-01T08:15:00+02:00`, `…Z`), or a zone-less
//! `YYYY-MM-DD hh:mm[:ss]` (also with `T`) read as wall-clock time in the import's zone. Every
//! row is a reading, and there are no `Low`/`High` words: the values must be numbers.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{parse_glucose, position, Collected, ImportError, Row, Unit};

const TIMESTAMP: &str = "timestamp";
const GLUCOSE_MG_DL: &str = "glucosemgdl";
const GLUCOSE_MMOL_L: &str = "glucosemmoll";

/// Where a plain header keeps the columns a reading needs.
pub(super) struct Columns {
    width: usize,
    timestamp: usize,
    glucose: usize,
    unit: Unit,
}

/// The columns of a plain header, or `None` if `names` is not one.
pub(super) fn columns(names: &[String]) -> Option<Columns> {
    let (glucose, unit) = position(names, GLUCOSE_MG_DL)
        .map(|at| (at, Unit::MgDl))
        .or_else(|| position(names, GLUCOSE_MMOL_L).map(|at| (at, Unit::MmolL)))?;
    Some(Columns {
        width: names.len(),
        timestamp: position(names, TIMESTAMP)?,
        glucose,
        unit,
    })
}

/// Reads every row of `rows` into `sink`.
pub(super) fn collect(
    columns: &Columns,
    rows: &[Row],
    zone: Tz,
    sink: &mut Collected,
) -> Result<(), ImportError> {
    for row in rows {
        row.check_width(columns.width)?;

        let timestamp = row.text(columns.timestamp, "timestamp")?;
        let measured_at = match DateTime::parse_from_rfc3339(timestamp) {
            Ok(instant) => instant.with_timezone(&Utc),
            Err(_) => row.iso_instant(timestamp, zone)?,
        };
        let glucose = row.text(columns.glucose, "glucose")?;
        let glucose = parse_glucose(glucose, columns.unit, None).map_err(|m| row.error(m))?;
        sink.push(row.line, measured_at, glucose);
    }
    Ok(())
}
