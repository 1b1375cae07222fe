//! Property tests of payload validation: any JSON, and the seed's payloads with one field
//! replaced by any value, gives a clear answer and never a panic.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::payload::validate;
use super::{CALCULATE_A1C, CLEANUP_DATA, GENERATE_REPORT, SEND_REMINDER};

const TYPES: [&str; 5] = [
    CALCULATE_A1C,
    SEND_REMINDER,
    GENERATE_REPORT,
    CLEANUP_DATA,
    "NOT_A_TYPE",
];

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        "[a-z\u{0}]{0,4}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_\u{0}]{0,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// The seed's example payload of each shipped type.
fn seed(job_type: &str) -> Value {
    let user = "7a4b6a63-5b8a-4b8e-9c1e-2f0a0e6b9d11";
    match job_type {
        CALCULATE_A1C => json!({"user_id": user, "reading_id": null, "calculation_type": "batch"}),
        SEND_REMINDER => {
            json!({"user_id": user, "reminder_type": "daily", "notification_method": "email"})
        }
        GENERATE_REPORT => json!({"user_id": user, "report_type": "weekly",
            "date_range": {"start": "2024-01-01", "end": "2024-01-07"}}),
        _ => json!({"cleanup_type": "archive", "older_than_days": 30, "tables": ["job_queue"]}),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_json_gets_an_answer_with_a_message(payload in any_json(), t in 0..TYPES.len()) {
        if let Err(err) = validate(TYPES[t], &payload) {
            prop_assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn a_wrong_value_in_one_field_is_named(
        t in 0..4_usize,
        field in 0..3_usize,
        value in any_json(),
    ) {
        let mut payload = seed(TYPES[t]);
        let object = payload.as_object_mut().expect("seed payloads are objects");
        let key = object.keys().nth(field).cloned().expect("three fields or more");
        object.insert(key.clone(), value);

        if let Err(err) = validate(TYPES[t], &payload) {
            let message = err.to_string();
            prop_assert!(message.contains(&format!("`{key}")), "{key}: {message}");
        }
    }

    #[test]
    fn a_nul_anywhere_is_refused(t in 0..4_usize, at in "[a-z]{0,3}\u{0}[a-z]{0,3}") {
        let mut payload = seed(TYPES[t]);
        payload["note"] = json!({"deep": [1, at]});

        let err = validate(TYPES[t], &payload);

        prop_assert!(err.is_err_and(|e| e.to_string().contains("NUL")));
    }
}
