//! Whatever arrives, decoding answers `Ok` or a precise `Err`, and never panics.

use cohandle_proto::{
    decode, decode_notification, decode_rejected, encode_json, encode_protobuf, Error,
    MAX_MESSAGE_BYTES,
};
use proptest::prelude::*;

use crate::samples::every_event;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// A valid JSON envelope with one top-level field replaced (or added, or removed).
fn with(field: &str, value: Option<serde_json::Value>) -> Vec<u8> {
    let mut json: serde_json::Value =
        serde_json::from_slice(&encode_json(&every_event()[1])).expect("the encoder writes JSON");
    let object = json.as_object_mut().expect("an envelope is a JSON object");
    match value {
        Some(value) => object.insert(field.to_owned(), value),
        None => object.remove(field),
    };
    serde_json::to_vec(&json).expect("a JSON value serializes")
}

fn error_of(bytes: &[u8]) -> Error {
    decode(JSON, bytes).expect_err("the message is refused")
}

#[test]
fn malformed_json_is_a_json_error() {
    for bad in [
        &b""[..],
        b"{",
        b"[]",
        b"null",
        b"{\"eventId\":}",
        b"\xff\xfe",
        b"{} {}",
    ] {
        assert!(matches!(error_of(bad), Error::Json { .. }), "{bad:?}");
    }
}

#[test]
fn unknown_fields_are_refused_at_every_level() {
    let error = error_of(&with("priority", Some("high".into())));
    assert!(matches!(error, Error::Json { .. }));
    assert!(
        error.to_string().contains("unknown field `priority`"),
        "{error}"
    );

    let mut assign: serde_json::Value =
        serde_json::from_slice(&encode_json(&every_event()[0])).unwrap();
    assign["assign"]["info"]["urgency"] = "high".into();
    let error = error_of(&serde_json::to_vec(&assign).unwrap());
    assert!(
        error.to_string().contains("unknown field `urgency`"),
        "{error}"
    );
}

#[test]
fn a_missing_body_is_named() {
    let error = error_of(&with("signFor", None));
    assert!(matches!(error, Error::MissingBody), "{error}");
    let error = decode(PROTOBUF, &[]).unwrap_err();
    assert!(
        matches!(error, Error::UnsupportedSchemaVersion { found: 0 }),
        "{error}"
    );
}

#[test]
fn two_bodies_are_refused() {
    let error = error_of(&with("acknowledge", Some(serde_json::json!({}))));
    assert!(error.to_string().contains("duplicate field"), "{error}");
}

#[test]
fn invalid_ids_name_their_field() {
    for (field, value, path) in [
        ("eventId", "", "event_id"),
        ("eventId", "x'; drop table proposals;--", "event_id"),
        ("proposalKey", "a b", "proposal_key"),
        ("actorAgency", &"a".repeat(65), "actor_agency"),
        ("causationId", "$", "causation_id"),
    ] {
        let error = error_of(&with(field, Some(value.into())));
        assert!(
            matches!(&error, Error::InvalidId { field, .. } if field == path),
            "{field}={value:?}: {error}"
        );
    }
    let error = error_of(&with("eventId", None));
    assert!(
        error.to_string().contains("`event_id`: event id"),
        "{error}"
    );
}

#[test]
fn enums_must_name_a_known_value() {
    let error = error_of(&with("actorKind", Some("ACTOR_KIND_ROBOT".into())));
    assert!(matches!(error, Error::Json { .. }), "{error}");
    let error = error_of(&with("actorKind", None));
    assert!(
        matches!(&error, Error::Unspecified { field } if field == "actor_kind"),
        "{error}"
    );
}

#[test]
fn times_and_dates_are_checked() {
    let error = error_of(&with("occurredAt", Some("yesterday".into())));
    assert!(matches!(error, Error::Json { .. }), "{error}");
    let error = error_of(&with("occurredAt", None));
    assert!(
        matches!(&error, Error::Missing { field } if field == "occurred_at"),
        "{error}"
    );
    let mut timer: serde_json::Value =
        serde_json::from_slice(&encode_json(every_event().last().unwrap())).unwrap();
    timer["timerFired"]["due"] = "2020-02-30".into();
    let error = error_of(&serde_json::to_vec(&timer).unwrap());
    assert!(
        matches!(&error, Error::InvalidDate { field, .. } if field == "timer_fired.due"),
        "{error}"
    );
}

#[test]
fn other_schema_versions_are_refused() {
    let error = error_of(&with("schemaVersion", Some(2.into())));
    assert!(matches!(
        error,
        Error::UnsupportedSchemaVersion { found: 2 }
    ));
    assert!(error.to_string().contains("only version 1"), "{error}");
}

#[test]
fn oversized_messages_are_refused_before_decoding() {
    let event = &every_event()[0];
    let mut bytes = encode_protobuf(event);
    bytes.resize(MAX_MESSAGE_BYTES + 1, 0);
    assert!(matches!(
        decode(PROTOBUF, &bytes),
        Err(Error::TooLarge { size }) if size == MAX_MESSAGE_BYTES + 1
    ));
    let padded = [encode_json(event), vec![b' '; MAX_MESSAGE_BYTES]].concat();
    assert!(matches!(decode(JSON, &padded), Err(Error::TooLarge { .. })));
}

#[test]
fn other_content_types_are_refused() {
    let bytes = encode_json(&every_event()[0]);
    for content_type in ["text/plain", "", "application/xml"] {
        assert!(matches!(
            decode(content_type, &bytes),
            Err(Error::UnsupportedContentType(_))
        ));
    }
}

#[test]
fn deeply_nested_json_is_refused_without_overflowing_the_stack() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        decode(JSON, deep.as_bytes()),
        Err(Error::Json { .. })
    ));
}

fn content_type() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(PROTOBUF), Just(JSON)]
}

/// Any JSON value, shaped a little like an envelope so the decoder goes past the first byte.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(Into::into),
        any::<i64>().prop_map(Into::into),
        any::<f64>().prop_map(
            |f| serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into)
        ),
        "(?s).{0,20}".prop_map(Into::into),
        prop_oneof![
            Just("ACTOR_KIND_AGENCY"),
            Just("2020-02-29"),
            Just("2020-02-29T10:00:00+08:00"),
            Just("cq-kjj"),
        ]
        .prop_map(Into::into),
    ];
    let key = prop_oneof![
        Just("eventId".to_owned()),
        Just("proposalKey".to_owned()),
        Just("occurredAt".to_owned()),
        Just("actorAgency".to_owned()),
        Just("actorKind".to_owned()),
        Just("schemaVersion".to_owned()),
        Just("assign".to_owned()),
        Just("decideDispute".to_owned()),
        Just("timerFired".to_owned()),
        Just("info".to_owned()),
        Just("handlers".to_owned()),
        "[a-z]{1,8}",
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Into::into),
            proptest::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_bytes_never_panic(content_type in content_type(), bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(content_type, &bytes);
        let _ = decode_notification(content_type, &bytes);
        let _ = decode_rejected(content_type, &bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        let _ = decode(JSON, &bytes);
        let _ = decode_notification(JSON, &bytes);
        let _ = decode_rejected(JSON, &bytes);
    }

    #[test]
    fn damaged_valid_messages_never_panic(
        which in 0..28usize,
        json in any::<bool>(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let events = every_event();
        let event = &events[which % events.len()];
        let (content_type, mut bytes) = if json {
            (JSON, encode_json(event))
        } else {
            (PROTOBUF, encode_protobuf(event))
        };
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= byte;
        }
        let keep = cut.index(bytes.len() + 1);
        let _ = decode(content_type, &bytes);
        let _ = decode(content_type, &bytes[..keep]);
    }
}
