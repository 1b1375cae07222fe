//! LibreView CSV exports of FreeStyle Libre readers and apps.
//!
//! A metadata line (`Glucose Data,Generated on,…` or `Patient report,…`) comes first, then a
//! header with `Device Timestamp`, `Record Type`, `Historic Glucose mg/dL` and
//! `Scan Glucose mg/dL` (or both in mmol/L), among others. Record type 0 is a historic reading
//! (the sensor's automatic one, every 15 minutes) and 1 a scan; the other types (strip
//! glucose, ketones, insulin, food, notes, sensor start…) are skipped. `LO` and `HI` stand for
//! values outside the sensor's range and become 40 and 500 mg/dL, the Libre's limits.
//!
//! Device timestamps carry no zone and come in the export's locale: `MM-DD-YYYY hh:mm`, with
//! optional seconds, a 12-hour clock with `AM`/`PM`, and `-` or `/` between the date's parts.
//! **Day or month first is decided once per file**: if any reading's first date component is
//! above 12 the whole file is `DD-MM-YYYY`, otherwise `MM-DD-YYYY` (LibreView's US layout), so a
//! day-first file whose readings all fall on days 1–12 is misread. ISO `YYYY-MM-DD hh:mm` is
//! accepted too.

use chrono::NaiveDateTime;
use chrono_tz::Tz;

use super::{local_time, parse_glucose, position, Collected, DeviceLimits, ImportError, Row, Unit};

const DEVICE_TIMESTAMP: &str = "devicetimestamp";
const RECORD_TYPE: &str = "recordtype";
const HISTORIC_MG_DL: &str = "historicglucosemgdl";
const SCAN_MG_DL: &str = "scanglucosemgdl";
const HISTORIC_MMOL_L: &str = "historicglucosemmoll";
const SCAN_MMOL_L: &str = "scanglucosemmoll";

const HISTORIC: &str = "0";
const SCAN: &str = "1";

const LIMITS: DeviceLimits = DeviceLimits {
    low_word: "LO",
    low_mg_dl: 40.0,
    high_word: "HI",
    high_mg_dl: 500.0,
};

const MONTH_FIRST: [&str; 8] = [
    "%m-%d-%Y %H:%M",
    "%m-%d-%Y %H:%M:%S",
    "%m-%d-%Y %I:%M %p",
    "%m-%d-%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
];

const DAY_FIRST: [&str; 8] = [
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %I:%M %p",
    "%d-%m-%Y %I:%M:%S %p",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %I:%M %p",
    "%d/%m/%Y %I:%M:%S %p",
];

/// Where a LibreView header keeps the columns a reading needs.
pub(super) struct Columns {
    width: usize,
    timestamp: usize,
    record_type: usize,
    historic: usize,
    scan: usize,
    unit: Unit,
}

/// The columns of a LibreView header, or `None` if `names` is not one.
pub(super) fn columns(names: &[String]) -> Option<Columns> {
    let mg_dl = (position(names, HISTORIC_MG_DL), position(names, SCAN_MG_DL));
    let mmol_l = (
        position(names, HISTORIC_MMOL_L),
        position(names, SCAN_MMOL_L),
    );
    let (historic, scan, unit) = match (mg_dl, mmol_l) {
        ((Some(historic), Some(scan)), _) => (historic, scan, Unit::MgDl),
        (_, (Some(historic), Some(scan))) => (historic, scan, Unit::MmolL),
        _ => return None,
    };
    Some(Columns {
        width: names.len(),
        timestamp: position(names, DEVICE_TIMESTAMP)?,
        record_type: position(names, RECORD_TYPE)?,
        historic,
        scan,
        unit,
    })
}

/// Reads the historic and scan rows of `rows` into `sink`.
pub(super) fn collect(
    columns: &Columns,
    rows: &[Row],
    zone: Tz,
    sink: &mut Collected,
) -> Result<(), ImportError> {
    let day_first = is_day_first(columns, rows);
    for row in rows {
        let glucose_column = match row.text(columns.record_type, "Record Type")? {
            HISTORIC => (columns.historic, "Historic Glucose"),
            SCAN => (columns.scan, "Scan Glucose"),
            _ => continue,
        };
        row.check_width(columns.width)?;

        let timestamp = row.text(columns.timestamp, "Device Timestamp")?;
        let naive = parse_timestamp(timestamp, day_first).ok_or_else(|| {
            let layout = if day_first {
                "DD-MM-YYYY"
            } else {
                "MM-DD-YYYY"
            };
            row.error(format!("timestamp \"{timestamp}\" is not {layout} hh:mm"))
        })?;
        let measured_at = row.instant_in(naive, timestamp, zone)?;
        let glucose = row.text(glucose_column.0, glucose_column.1)?;
        let glucose =
            parse_glucose(glucose, columns.unit, Some(&LIMITS)).map_err(|m| row.error(m))?;
        sink.push(row.line, measured_at, glucose);
    }
    Ok(())
}

/// Whether any reading row's timestamp starts with a number above 12, which can only be a day.
fn is_day_first(columns: &Columns, rows: &[Row]) -> bool {
    rows.iter()
        .filter(|row| {
            let record_type = row.text(columns.record_type, "Record Type");
            matches!(record_type, Ok(HISTORIC | SCAN))
        })
        .filter_map(|row| row.text(columns.timestamp, "Device Timestamp").ok())
        .filter_map(leading_number)
        .any(|first| first > 12)
}

/// The number before the first `-` or `/`, if it has one or two digits.
fn leading_number(timestamp: &str) -> Option<u32> {
    let (first, _) = timestamp.split_once(['-', '/'])?;
    let is_short_number =
        (1..=2).contains(&first.len()) && first.bytes().all(|b| b.is_ascii_digit());
    is_short_number.then(|| first.parse().ok()).flatten()
}

/// Parses a device timestamp in the file's day order, or as ISO if it starts with the year.
fn parse_timestamp(text: &str, day_first: bool) -> Option<NaiveDateTime> {
    let layouts = if day_first { &DAY_FIRST } else { &MONTH_FIRST };
    layouts
        .iter()
        .find_map(|layout| NaiveDateTime::parse_from_str(text, layout).ok())
        .or_else(|| local_time::parse_iso(text))
}
