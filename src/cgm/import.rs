//! CSV import of CGM exports: Dexcom Clarity, LibreView (FreeStyle Libre) and a plain
//! `timestamp,glucose_mg_dl` layout, turned into readings in mg/dL at UTC instants.
//!
//! [`parse_readings`] looks for a known header on the first two non-blank lines (LibreView puts a
//! metadata line before its header), decides the format from the column names, and reads every
//! row that holds a reading. Column names are matched ignoring case, spaces and punctuation, so
//! `Historic Glucose mg/dL` and `Historic Glucose (mg/dL)` are the same column; columns are found
//! by name, not position, and extra columns are ignored. Blank rows (empty, spaces or commas
//! only) are dropped wherever they are.
//!
//! Conventions:
//! - **All or nothing**: a malformed reading row fails the whole file with its 1-based line
//!   number; nothing partial is returned. Rows that are not readings (Dexcom metadata and alert
//!   rows, LibreView notes, insulin and strip rows) are skipped, however many there are.
//! - **Ragged rows**: a reading row must have as many fields as the header.
//! - **Units**: mmol/L is converted with [`MG_DL_PER_MMOL_L`] (18.0156) at full `f64` precision.
//!   A value must lie in `(0, 1000]` mg/dL after conversion.
//! - **Device limits**: Dexcom `Low`/`High` become 40/400 mg/dL and LibreView `LO`/`HI` become
//!   40/500 mg/dL (matched ignoring case), counted in [`ParsedFile::clamped_low`] and
//!   [`ParsedFile::clamped_high`]. The plain format has no such words.
//! - **Time zones**: zone-less timestamps are wall-clock times in the `zone` argument. An
//!   ambiguous time (clocks set back) takes the earlier instant; a time inside a gap (clocks set
//!   forward) takes the first instant after the gap, the moment of the change.
//! - **Order**: readings come in file order, neither sorted nor de-duplicated.

mod dexcom;
mod libreview;
mod local_time;
mod plain;
#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use csv::ByteRecord;
use serde::{Deserialize, Serialize};

/// mg/dL per mmol/L of glucose: the molar mass of glucose (180.156 g/mol) divided by 10.
pub const MG_DL_PER_MMOL_L: f64 = 18.0156;
/// Largest glucose value accepted, in mg/dL; anything above is taken for a corrupt file.
pub const MAX_GLUCOSE_MG_DL: f64 = 1000.0;

const ACCEPTED_FORMATS: &str = "a Dexcom Clarity export, a LibreView export, \
     or a csv with columns timestamp and glucose_mg_dl (or glucose_mmol_l)";

/// One glucose reading read from a file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ParsedReading {
    /// When the sensor measured it.
    pub measured_at: DateTime<Utc>,
    /// Glucose in mg/dL, converted from mmol/L if the file used it; in `(0, 1000]`.
    pub value_mg_dl: f64,
    /// The 1-based line of the file the reading's row starts on.
    pub line: usize,
}

/// The export formats [`parse_readings`] understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SourceFormat {
    /// Dexcom Clarity CSV export (readings are the `EGV` rows).
    DexcomClarity,
    /// LibreView CSV export of a FreeStyle Libre reader or app.
    LibreView,
    /// Plain `timestamp,glucose_mg_dl` (or `glucose_mmol_l`) CSV.
    Plain,
}

impl SourceFormat {
    /// Short name for storage and logs: `dexcom`, `libreview` or `csv`.
    pub fn source_name(&self) -> &'static str {
        match self {
            Self::DexcomClarity => "dexcom",
            Self::LibreView => "libreview",
            Self::Plain => "csv",
        }
    }
}

/// The readings of one file and what was done to them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParsedFile {
    /// The detected format.
    pub format: SourceFormat,
    /// The readings in file order; never empty.
    pub readings: Vec<ParsedReading>,
    /// Readings the device reported only as below its range (`Low`, `LO`), stored as 40 mg/dL.
    pub clamped_low: usize,
    /// Readings the device reported only as above its range (`High`, `HI`), stored as its upper
    /// limit (400 mg/dL for Dexcom, 500 for LibreView).
    pub clamped_high: usize,
}

/// Why a file could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file holds nothing but blank lines, or a byte-order mark.
    #[error("the file is empty")]
    Empty,
    /// The header matches none of the accepted formats.
    #[error("unrecognised header: expected {ACCEPTED_FORMATS}")]
    UnknownFormat,
    /// A row that should hold a reading is malformed.
    #[error("line {line}: {message}")]
    InvalidRow {
        /// 1-based line number in the file.
        line: usize,
        /// What is wrong with the row.
        message: String,
    },
    /// The header was recognised but no row holds a reading.
    #[error("no glucose readings in the {} file", .format.source_name())]
    NoReadings {
        /// The detected format.
        format: SourceFormat,
    },
}

/// Reads the glucose readings of a Dexcom Clarity, LibreView or plain CSV file.
///
/// `zone` is the time zone of the file's zone-less timestamps (all Dexcom and LibreView ones,
/// and plain ones without an offset). A leading UTF-8 byte-order mark is skipped; lines may end
/// in LF or CRLF. See the module docs for the conventions.
///
/// # Errors
///
/// [`ImportError::Empty`] for an empty file, [`ImportError::UnknownFormat`] for an unrecognised
/// header, [`ImportError::InvalidRow`] with the line number for the first malformed reading row,
/// and [`ImportError::NoReadings`] if no row holds a reading.
pub fn parse_readings(data: &[u8], zone: Tz) -> Result<ParsedFile, ImportError> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let rows = read_rows(data)?;
    if rows.is_empty() {
        return Err(ImportError::Empty);
    }

    let (header_at, layout) = detect(&rows).ok_or(ImportError::UnknownFormat)?;
    let body = rows.get(header_at + 1..).unwrap_or_default();
    let mut sink = Collected::default();
    let format = match layout {
        Layout::Dexcom(columns) => {
            dexcom::collect(&columns, body, zone, &mut sink)?;
            SourceFormat::DexcomClarity
        }
        Layout::LibreView(columns) => {
            libreview::collect(&columns, body, zone, &mut sink)?;
            SourceFormat::LibreView
        }
        Layout::Plain(columns) => {
            plain::collect(&columns, body, zone, &mut sink)?;
            SourceFormat::Plain
        }
    };

    if sink.readings.is_empty() {
        return Err(ImportError::NoReadings { format });
    }
    Ok(ParsedFile {
        format,
        readings: sink.readings,
        clamped_low: sink.clamped_low,
        clamped_high: sink.clamped_high,
    })
}

/// The unit of a file's glucose columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    MgDl,
    MmolL,
}

/// The words a device writes in place of values outside its range, and the mg/dL stored for
/// them.
struct DeviceLimits {
    low_word: &'static str,
    low_mg_dl: f64,
    high_word: &'static str,
    high_mg_dl: f64,
}

/// A glucose cell after parsing.
enum Glucose {
    Measured(f64),
    ClampedLow(f64),
    ClampedHigh(f64),
}

/// The format found in a header, with the positions of the columns it needs.
enum Layout {
    Dexcom(dexcom::Columns),
    LibreView(libreview::Columns),
    Plain(plain::Columns),
}

/// One CSV record and the 1-based line of the file it starts on.
struct Row {
    line: usize,
    record: ByteRecord,
}

/// The readings gathered so far.
#[derive(Default)]
struct Collected {
    readings: Vec<ParsedReading>,
    clamped_low: usize,
    clamped_high: usize,
}

impl Collected {
    fn push(&mut self, line: usize, measured_at: DateTime<Utc>, glucose: Glucose) {
        let value_mg_dl = match glucose {
            Glucose::Measured(value) => value,
            Glucose::ClampedLow(value) => {
                self.clamped_low += 1;
                value
            }
            Glucose::ClampedHigh(value) => {
                self.clamped_high += 1;
                value
            }
        };
        self.readings.push(ParsedReading {
            measured_at,
            value_mg_dl,
            line,
        });
    }
}

impl Row {
    /// The trimmed text of field `index`, named `column` in errors.
    fn text(&self, index: usize, column: &str) -> Result<&str, ImportError> {
        let field = self
            .record
            .get(index)
            .ok_or_else(|| self.error(format!("missing column \"{column}\"")))?;
        let text = std::str::from_utf8(field)
            .map_err(|_| self.error(format!("column \"{column}\" is not valid UTF-8")))?;
        Ok(text.trim())
    }

    /// Fails unless the row has exactly as many fields as the header.
    fn check_width(&self, header_width: usize) -> Result<(), ImportError> {
        let width = self.record.len();
        if width == header_width {
            return Ok(());
        }
        Err(self.error(format!(
            "row has {width} fields but the header has {header_width}"
        )))
    }

    /// The instant of an ISO-style wall-clock timestamp (`YYYY-MM-DDThh:mm[:ss]`) in `zone`.
    fn iso_instant(&self, text: &str, zone: Tz) -> Result<DateTime<Utc>, ImportError> {
        let naive = local_time::parse_iso(text).ok_or_else(|| {
            self.error(format!("timestamp \"{text}\" is not YYYY-MM-DDThh:mm[:ss]"))
        })?;
        self.instant_in(naive, text, zone)
    }

    /// The instant of the wall-clock time `naive`, read from `text`, in `zone`.
    fn instant_in(
        &self,
        naive: NaiveDateTime,
        text: &str,
        zone: Tz,
    ) -> Result<DateTime<Utc>, ImportError> {
        local_time::to_utc(naive, zone)
            .ok_or_else(|| self.error(format!("timestamp \"{text}\" is out of range")))
    }

    fn error(&self, message: impl Into<String>) -> ImportError {
        ImportError::InvalidRow {
            line: self.line,
            message: message.into(),
        }
    }
}

/// Splits the file into CSV records with their line numbers, dropping records whose fields are
/// all blank (empty lines, lines of spaces or of commas only).
fn read_rows(data: &[u8]) -> Result<Vec<Row>, ImportError> {
    let starts = line_starts(data);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut rows = Vec::new();
    for result in reader.byte_records() {
        // Reading from memory with `flexible` set cannot fail today; report it if it ever does.
        let record = result.map_err(|err| ImportError::InvalidRow {
            line: err
                .position()
                .map_or(0, |p| line_of(data, &starts, p.byte())),
            message: err.to_string(),
        })?;
        if record.iter().all(|field| field.trim_ascii().is_empty()) {
            continue;
        }
        let line = record
            .position()
            .map_or(0, |p| line_of(data, &starts, p.byte()));
        rows.push(Row { line, record });
    }
    Ok(rows)
}

/// Byte offsets at which the lines of `data` start; a line ends at LF, CRLF or a lone CR.
fn line_starts(data: &[u8]) -> Vec<usize> {
    let mut starts = vec![0];
    for (at, byte) in data.iter().enumerate() {
        let ends_line = match byte {
            b'\n' => true,
            b'\r' => data.get(at + 1) != Some(&b'\n'),
            _ => false,
        };
        if ends_line {
            starts.push(at + 1);
        }
    }
    starts
}

/// The 1-based line of a record that the csv reader places at byte `offset`.
///
/// The reader's own line count lags behind after CRLF and blank lines, and its offset may point
/// at the terminator or blank lines before the record, so skip those and count line starts.
fn line_of(data: &[u8], starts: &[usize], offset: u64) -> usize {
    let mut at = usize::try_from(offset).unwrap_or(usize::MAX);
    while matches!(data.get(at), Some(b'\r' | b'\n')) {
        at += 1;
    }
    starts.partition_point(|start| *start <= at)
}

/// Finds the header among the first two records and the layout it describes.
fn detect(rows: &[Row]) -> Option<(usize, Layout)> {
    rows.iter().take(2).enumerate().find_map(|(at, row)| {
        let names = header_names(&row.record);
        let layout = dexcom::columns(&names)
            .map(Layout::Dexcom)
            .or_else(|| libreview::columns(&names).map(Layout::LibreView))
            .or_else(|| plain::columns(&names).map(Layout::Plain))?;
        Some((at, layout))
    })
}

/// Header names reduced to lowercase letters and digits, so that case, spaces, underscores and
/// brackets do not matter.
fn header_names(record: &ByteRecord) -> Vec<String> {
    record
        .iter()
        .map(|field| {
            String::from_utf8_lossy(field)
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_lowercase())
                .collect()
        })
        .collect()
}

/// Position of the column whose reduced name is `name`.
fn position(names: &[String], name: &str) -> Option<usize> {
    names.iter().position(|n| n == name)
}

/// Parses a glucose cell in `unit` into mg/dL, accepting the device's words for out-of-range
/// readings if it has any. The error is the message for [`ImportError::InvalidRow`].
fn parse_glucose(text: &str, unit: Unit, limits: Option<&DeviceLimits>) -> Result<Glucose, String> {
    if text.is_empty() {
        return Err("missing glucose value".to_owned());
    }
    if let Some(limits) = limits {
        if text.eq_ignore_ascii_case(limits.low_word) {
            return Ok(Glucose::ClampedLow(limits.low_mg_dl));
        }
        if text.eq_ignore_ascii_case(limits.high_word) {
            return Ok(Glucose::ClampedHigh(limits.high_mg_dl));
        }
    }

    let number = text
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("glucose value \"{text}\" is not a number"))?;
    let mg_dl = match unit {
        Unit::MgDl => number,
        Unit::MmolL => number * MG_DL_PER_MMOL_L,
    };
    if mg_dl <= 0.0 || mg_dl > MAX_GLUCOSE_MG_DL {
        return Err(format!(
            "glucose value \"{text}\" is out of range (above 0, at most 1000 mg/dL)"
        ));
    }
    Ok(Glucose::Measured(mg_dl))
}
