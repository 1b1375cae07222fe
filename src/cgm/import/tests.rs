use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::{America, Europe, UTC};
use proptest::prelude::*;

use super::*;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/dexcom_clarity_export.csv"
);

const DEXCOM_HEADER: &str = "Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,Event Subtype,\
    Patient Info,Device Info,Source Device ID,Glucose Value (mg/dL),Insulin Value (u),\
    Carb Value (grams),Duration (hh:mm:ss),Glucose Rate of Change (mg/dL/min)";

const LIBRE_HEADER: &str = "Device,Serial Number,Device Timestamp,Record Type,\
    Historic Glucose mg/dL,Scan Glucose mg/dL,Non-numeric Rapid-Acting Insulin,Notes";

fn fixture_bytes() -> Vec<u8> {
    std::fs::read(FIXTURE).expect("the Dexcom fixture ships with the repository")
}

fn parse(text: &str) -> Result<ParsedFile, ImportError> {
    parse_readings(text.as_bytes(), UTC)
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn summary(file: &ParsedFile) -> Vec<(DateTime<Utc>, f64, usize)> {
    file.readings
        .iter()
        .map(|r| (r.measured_at, r.value_mg_dl, r.line))
        .collect()
}

fn row_error(line: usize, message: &str) -> ImportError {
    ImportError::InvalidRow {
        line,
        message: message.to_owned(),
    }
}

#[test]
fn dexcom_fixture_reads_every_egv_row() {
    let file = parse_readings(&fixture_bytes(), UTC).unwrap();

    assert_eq!(file.format, SourceFormat::DexcomClarity);
    assert_eq!(file.readings.len(), 2148);
    assert_eq!((file.clamped_low, file.clamped_high), (0, 0));
    let first = file.readings[0];
    assert_eq!(first.measured_at, utc("2016-10-24T11:24:17Z"));
    assert_eq!(first.value_mg_dl, 103.0);
    // Line 1 is the header and lines 2-12 the metadata and alert rows (55, 80, 200).
    assert_eq!(first.line, 13);
    assert_eq!(file.readings[2147].line, 2160);
    assert_eq!(file.readings[2147].measured_at, utc("2016-11-01T09:19:02Z"));
}

#[test]
fn dexcom_fixture_in_new_york_is_four_hours_later_in_utc() {
    let in_utc = parse_readings(&fixture_bytes(), UTC).unwrap();

    let in_new_york = parse_readings(&fixture_bytes(), America::New_York).unwrap();

    // The whole export lies in October 2016 daylight time (UTC-4), before the 6 November change.
    assert_eq!(in_new_york.readings.len(), in_utc.readings.len());
    for (ny, plain) in in_new_york.readings.iter().zip(&in_utc.readings) {
        assert_eq!(ny.measured_at - plain.measured_at, TimeDelta::hours(4));
        assert_eq!(ny.value_mg_dl, plain.value_mg_dl);
    }
}

#[test]
fn dexcom_low_high_mmol_crlf_and_bom() {
    let header = DEXCOM_HEADER.replace("Glucose Value (mg/dL)", "Glucose Value (mmol/L)");
    let text = format!(
        "\u{feff}{header}\r\n\
         1,,FirstName,,Jane,,,,,,,\r\n\
         2,,Alert,Urgent Low,,,receiver,3.1,,,,\r\n\
         3,2024-01-01T08:00:00,EGV,,,,receiver,5.5,,,,\r\n\
         4,2024-01-01T08:05:00,EGV,,,,receiver,Low,,,,\r\n\
         5,2024-01-01T08:07:00,Calibration,,,,receiver,6.0,,,,\r\n\
         6,2024-01-01T08:10:00,EGV,,,,receiver,High,,,,\r\n"
    );

    let file = parse(&text).unwrap();

    assert_eq!(
        summary(&file),
        vec![
            (utc("2024-01-01T08:00:00Z"), 5.5 * MG_DL_PER_MMOL_L, 4),
            (utc("2024-01-01T08:05:00Z"), 40.0, 5),
            (utc("2024-01-01T08:10:00Z"), 400.0, 7),
        ]
    );
    assert_eq!((file.clamped_low, file.clamped_high), (1, 1));
}

#[test]
fn dexcom_broken_rows_name_their_line() {
    let egv = |glucose: &str| format!("1,2024-01-01T08:00:00,EGV,,,,r,{glucose},,,,");
    let file = |row: String| format!("{DEXCOM_HEADER}\n{}\n{row}\n", egv("100"));

    let bad_value = parse(&file(egv("abc"))).unwrap_err();
    let bad_time = parse(&file("1,01/01/2024 08:00,EGV,,,,r,100,,,,".to_owned())).unwrap_err();
    let ragged = parse(&file("1,2024-01-01T08:00:00,EGV,,,,r,100".to_owned())).unwrap_err();
    let missing = parse(&file("1,2024-01-01T08:00:00".to_owned())).unwrap_err();

    assert_eq!(
        bad_value,
        row_error(3, "glucose value \"abc\" is not a number")
    );
    assert_eq!(
        bad_value.to_string(),
        "line 3: glucose value \"abc\" is not a number"
    );
    let bad_time_message = "timestamp \"01/01/2024 08:00\" is not YYYY-MM-DDThh:mm[:ss]";
    assert_eq!(bad_time, row_error(3, bad_time_message));
    assert_eq!(
        ragged,
        row_error(3, "row has 8 fields but the header has 12")
    );
    assert_eq!(missing, row_error(3, "missing column \"Event Type\""));
    assert!(matches!(
        parse(&file(egv(""))),
        Err(ImportError::InvalidRow { line: 3, .. })
    ));
    assert!(matches!(
        parse(&file(egv("NaN"))),
        Err(ImportError::InvalidRow { line: 3, .. })
    ));
}

#[test]
fn broken_row_in_the_fixture_names_its_line() {
    let text = String::from_utf8(fixture_bytes()).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[56] = "56,2016-10-24T15:04:17,EGV,,,,iPhone G6,abc,,,,";

    let error = parse(&lines.join("\n")).unwrap_err();

    assert_eq!(
        error.to_string(),
        "line 57: glucose value \"abc\" is not a number"
    );
}

#[test]
fn out_of_range_values_are_rejected() {
    let plain = |value: &str| format!("timestamp,glucose_mg_dl\n2024-01-01 08:00,{value}\n");

    let message = |value: &str| {
        format!("glucose value \"{value}\" is out of range (above 0, at most 1000 mg/dL)")
    };
    assert_eq!(parse(&plain("0")), Err(row_error(2, &message("0"))));
    assert_eq!(parse(&plain("-5")), Err(row_error(2, &message("-5"))));
    assert_eq!(
        parse(&plain("1000.5")),
        Err(row_error(2, &message("1000.5")))
    );
    assert_eq!(
        parse(&plain("1000")).unwrap().readings[0].value_mg_dl,
        1000.0
    );
    let mmol = "timestamp,glucose_mmol_l\n2024-01-01 08:00,56\n";
    assert_eq!(parse(mmol), Err(row_error(2, &message("56"))));
}

#[test]
fn libreview_reads_historic_and_scan_rows() {
    let text = format!(
        "Glucose Data,Generated on,01-15-2024 10:02 UTC,Generated by,xxxx\n\
         {LIBRE_HEADER}\n\
         FreeStyle LibreLink,abc,01-02-2024 08:15,0,120,,,\n\
         FreeStyle LibreLink,abc,01-02-2024 08:20,1,,131,,\n\
         FreeStyle LibreLink,abc,01-02-2024 08:21,6,,,,sensor started\n\
         FreeStyle LibreLink,abc,01-02-2024 08:30,0,LO,,,\n\
         FreeStyle LibreLink,abc,01-02-2024 08:31,1,,HI,,\n\
         FreeStyle LibreLink,abc,01-02-2024 08:32,4,,,2,\n"
    );

    let file = parse_readings(text.as_bytes(), Europe::Berlin).unwrap();

    assert_eq!(file.format, SourceFormat::LibreView);
    assert_eq!(
        summary(&file),
        vec![
            (utc("2024-01-02T07:15:00Z"), 120.0, 3),
            (utc("2024-01-02T07:20:00Z"), 131.0, 4),
            (utc("2024-01-02T07:30:00Z"), 40.0, 6),
            (utc("2024-01-02T07:31:00Z"), 500.0, 7),
        ]
    );
    assert_eq!((file.clamped_low, file.clamped_high), (1, 1));
}

#[test]
fn libreview_mmol_seconds_and_twelve_hour_clock() {
    let header = LIBRE_HEADER.replace("mg/dL", "mmol/L");
    let text = format!(
        "Patient report\n{header}\n\
         Libre,x,03-04-2024 08:15:30,0,6.1,,,\n\
         Libre,x,03-04-2024 12:05 AM,1,,7.25,,\n\
         Libre,x,03/04/2024 1:05 pm,0,4.0,,,\n"
    );

    let file = parse(&text).unwrap();

    assert_eq!(
        summary(&file),
        vec![
            (utc("2024-03-04T08:15:30Z"), 6.1 * MG_DL_PER_MMOL_L, 3),
            (utc("2024-03-04T00:05:00Z"), 7.25 * MG_DL_PER_MMOL_L, 4),
            (utc("2024-03-04T13:05:00Z"), 4.0 * MG_DL_PER_MMOL_L, 5),
        ]
    );
}

#[test]
fn libreview_day_first_is_decided_per_file() {
    let file = |second_date: &str| {
        format!(
            "Glucose Data,Generated on\n{LIBRE_HEADER}\n\
             Libre,x,03-04-2024 08:15,0,100,,,\n\
             Libre,x,{second_date} 08:15,0,110,,,\n"
        )
    };

    let month_first = parse(&file("03-05-2024")).unwrap();
    let day_first = parse(&file("13-04-2024")).unwrap();

    assert_eq!(
        month_first.readings[0].measured_at,
        utc("2024-03-04T08:15:00Z")
    );
    assert_eq!(
        day_first.readings[0].measured_at,
        utc("2024-04-03T08:15:00Z")
    );
    assert_eq!(
        day_first.readings[1].measured_at,
        utc("2024-04-13T08:15:00Z")
    );
    let mixed = parse(&file("13-04-2024").replace("03-04-2024", "04-30-2024")).unwrap_err();
    let message = "timestamp \"04-30-2024 08:15\" is not DD-MM-YYYY hh:mm";
    assert_eq!(mixed, row_error(3, message));
}

#[test]
fn plain_files_accept_offsets_and_local_times() {
    let text = "timestamp,glucose_mg_dl\r\n\
                2024-07-01T08:00:00+02:00,101\r\n\
                2024-07-01T08:00:00Z,102.5\r\n\
                2024-07-01 10:00,103\r\n\
                2024-07-01T10:00:30,104\r\n";

    let file = parse_readings(text.as_bytes(), Europe::Berlin).unwrap();

    assert_eq!(file.format, SourceFormat::Plain);
    assert_eq!(file.format.source_name(), "csv");
    assert_eq!(
        summary(&file),
        vec![
            (utc("2024-07-01T06:00:00Z"), 101.0, 2),
            (utc("2024-07-01T08:00:00Z"), 102.5, 3),
            (utc("2024-07-01T08:00:00Z"), 103.0, 4),
            (utc("2024-07-01T08:00:30Z"), 104.0, 5),
        ]
    );
}

#[test]
fn line_numbers_count_blank_lines_and_any_line_ending() {
    let text =
        "timestamp,glucose_mg_dl\r\n\r\n2024-01-01 08:00,100\n\n,,\n  \r2024-01-01 08:05,x\n";

    let error = parse(text).unwrap_err();

    assert_eq!(error, row_error(7, "glucose value \"x\" is not a number"));
}

#[test]
fn plain_mmol_file_is_converted_and_words_are_refused() {
    let mmol = parse("timestamp,glucose_mmol_l\n2024-01-01 08:00,10.0\n").unwrap();
    let low = parse("timestamp,glucose_mg_dl\n2024-01-01 08:00,Low\n").unwrap_err();

    assert_eq!(mmol.readings[0].value_mg_dl, 10.0 * MG_DL_PER_MMOL_L);
    assert_eq!(low, row_error(2, "glucose value \"Low\" is not a number"));
}

#[test]
fn whole_file_errors() {
    assert_eq!(parse(""), Err(ImportError::Empty));
    assert_eq!(parse("\u{feff}\n\r\n"), Err(ImportError::Empty));
    assert_eq!(
        parse("time,value\n2024-01-01,100\n"),
        Err(ImportError::UnknownFormat)
    );
    let no_readings = parse(&format!("{DEXCOM_HEADER}\n1,,FirstName,,Jane,,,,,,,\n"));
    assert_eq!(
        no_readings,
        Err(ImportError::NoReadings {
            format: SourceFormat::DexcomClarity
        })
    );
    let message = ImportError::UnknownFormat.to_string();
    assert!(message.starts_with("unrecognised header: expected a Dexcom Clarity export"));
    assert_eq!(
        parse("timestamp,glucose_mg_dl\n").unwrap_err().to_string(),
        "no glucose readings in the csv file"
    );
}

#[test]
fn parsed_files_round_trip_through_json() {
    let file = parse("timestamp,glucose_mg_dl\n2024-01-01T08:00:00Z,123\n").unwrap();

    let json = serde_json::to_string(&file).unwrap();
    let back: ParsedFile = serde_json::from_str(&json).unwrap();

    assert_eq!(back, file);
    assert!(json.contains("\"format\":\"Plain\""));
}

#[test]
fn source_names_are_stable() {
    assert_eq!(SourceFormat::DexcomClarity.source_name(), "dexcom");
    assert_eq!(SourceFormat::LibreView.source_name(), "libreview");
    assert_eq!(SourceFormat::Plain.source_name(), "csv");
}

/// The fixture's first 60 lines: header, metadata rows and some readings.
fn fixture_head() -> Vec<u8> {
    let text = String::from_utf8(fixture_bytes()).unwrap();
    let head: Vec<&str> = text.lines().take(60).collect();
    head.join("\n").into_bytes()
}

/// A valid file of each format: the fixture's head, a LibreView export and a plain file.
fn base_file(which: usize) -> Vec<u8> {
    match which {
        0 => fixture_head(),
        1 => format!(
            "Glucose Data,Generated on\n{LIBRE_HEADER}\n\
             Libre,x,13-04-2024 08:15,0,100,,,\n\
             Libre,x,13-04-2024 08:20,1,,LO,,\n\
             Libre,x,13-04-2024 08:21,6,,,,note\n"
        )
        .into_bytes(),
        _ => b"timestamp,glucose_mmol_l\n2024-03-10 02:30,5.5\n2024-03-10T09:00:00Z,6\n".to_vec(),
    }
}

fn any_zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(vec![
        UTC,
        America::New_York,
        Europe::London,
        chrono_tz::Australia::Lord_Howe,
    ])
}

/// Tokens that matter to the parsers, spliced into files by the mutation test.
const TOKENS: [&str; 10] = [
    "\n", "\r\n", ",", "\"", "EGV", "Low", "NaN", "1e308", "0", "\u{feff}",
];

/// Applies one edit: insert a byte, overwrite a byte, delete a byte or splice in a token.
fn apply_edit(data: &mut Vec<u8>, at: prop::sample::Index, byte: u8, kind: u8) {
    let index = at.index(data.len() + 1);
    match kind {
        0 => data.insert(index, byte),
        1 if index < data.len() => data[index] = byte,
        2 if index < data.len() => {
            data.remove(index);
        }
        3 => {
            let token = TOKENS[usize::from(byte) % TOKENS.len()].as_bytes();
            data.splice(index..index, token.iter().copied());
        }
        _ => {}
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        data in prop::collection::vec(any::<u8>(), 0..600),
        zone in any_zone(),
    ) {
        let _ = parse_readings(&data, zone);
    }

    #[test]
    fn mutated_exports_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..4_u8), 1..8),
        zone in any_zone(),
        base in 0..3_usize,
    ) {
        let mut data = base_file(base);
        for (at, byte, kind) in edits {
            apply_edit(&mut data, at, byte, kind);
        }

        if let Ok(file) = parse_readings(&data, zone) {
            prop_assert!(!file.readings.is_empty());
            let in_range = |r: &ParsedReading| r.value_mg_dl > 0.0 && r.value_mg_dl <= 1000.0;
            prop_assert!(file.readings.iter().all(in_range));
        }
    }

    #[test]
    fn generated_plain_files_round_trip(
        readings in prop::collection::vec((0_i64..2_000_000_000, 1_u32..=1000), 1..50),
    ) {
        let mut text = String::from("timestamp,glucose_mg_dl\n");
        for (seconds, value) in &readings {
            let at = DateTime::from_timestamp(*seconds, 0).unwrap();
            text.push_str(&format!("{},{value}\n", at.to_rfc3339()));
        }

        let file = parse(&text).unwrap();

        let expected: Vec<(i64, f64)> =
            readings.iter().map(|(s, v)| (*s, f64::from(*v))).collect();
        let actual: Vec<(i64, f64)> =
            file.readings.iter().map(|r| (r.measured_at.timestamp(), r.value_mg_dl)).collect();
        prop_assert_eq!(actual, expected);
    }
}
