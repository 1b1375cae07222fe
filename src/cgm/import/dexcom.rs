//! Dexcom Clarity CSV exports.
//!
//! The header holds `Timestamp (YYYY-MM-DDThh:mm:ss)`, `Event Type` and `Glucose Value (mg/dL)`
//! or `Glucose Value (mmol/L)`. The readings are the rows whose event type is `EGV` (estimated
//! glucose value); the metadata, device, alert, calibration and event rows around them are
//! skipped, however many there are. Timestamps carry no zone. `Low` and `High` stand for values
//! outside the sensor's range and become 40 and 400 mg/dL, the G6's reporting limits.

use chrono_tz::Tz;

use super::{parse_glucose, position, Collected, DeviceLimits, ImportError, Row, Unit};

const TIMESTAMP: &str = "timestampyyyymmddthhmmss";
const EVENT_TYPE: &str = "eventtype";
const GLUCOSE_MG_DL: &str = "glucosevaluemgdl";
const GLUCOSE_MMOL_L: &str = "glucosevaluemmoll";

const LIMITS: DeviceLimits = DeviceLimits {
    low_word: "Low",
    low_mg_dl: 40.0,
    high_word: "High",
    high_mg_dl: 400.0,
};

/// Where a Dexcom header keeps the columns a reading needs.
pub(super) struct Columns {
    width: usize,
    timestamp: usize,
    event_type: usize,
    glucose: usize,
    unit: Unit,
}

/// The columns of a Dexcom Clarity header, or `None` if `names` is not one.
pub(super) fn columns(names: &[String]) -> Option<Columns> {
    let (glucose, unit) = position(names, GLUCOSE_MG_DL)
        .map(|at| (at, Unit::MgDl))
        .or_else(|| position(names, GLUCOSE_MMOL_L).map(|at| (at, Unit::MmolL)))?;
    Some(Columns {
        width: names.len(),
        timestamp: position(names, TIMESTAMP)?,
        event_type: position(names, EVENT_TYPE)?,
        glucose,
        unit,
    })
}

/// Reads the `EGV` rows of `rows` into `sink`.
pub(super) fn collect(
    columns: &Columns,
    rows: &[Row],
    zone: Tz,
    sink: &mut Collected,
) -> Result<(), ImportError> {
    for row in rows {
        let event_type = row.text(columns.event_type, "Event Type")?;
        if !event_type.eq_ignore_ascii_case("EGV") {
            continue;
        }
        row.check_width(columns.width)?;

        let timestamp = row.text(columns.timestamp, "Timestamp")?;
        let measured_at = row.iso_instant(timestamp, zone)?;
        let glucose = row.text(columns.glucose, "Glucose Value")?;
        let glucose =
            parse_glucose(glucose, columns.unit, Some(&LIMITS)).map_err(|m| row.error(m))?;
        sink.push(row.line, measured_at, glucose);
    }
    Ok(())
}
