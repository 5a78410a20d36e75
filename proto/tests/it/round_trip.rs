//! Domain event → wire → domain event is the identity, in both encodings.

use std::collections::BTreeSet;

use cohandle_proto::{
    decode, decode_traced, encode, encode_json, encode_protobuf, ContentType, Trace,
};
use cohandle_workflows::event::EVENT_NAMES;
use proptest::prelude::*;

use crate::samples::every_event;
use crate::strategies;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

#[test]
fn the_samples_cover_every_event_of_the_vocabulary() {
    let covered: BTreeSet<&str> = every_event().iter().map(|e| e.body.name()).collect();
    let vocabulary: BTreeSet<&str> = EVENT_NAMES.iter().copied().collect();
    assert_eq!(covered, vocabulary);
}

#[test]
fn every_sample_round_trips_through_protobuf() {
    for event in every_event() {
        let bytes = encode_protobuf(&event);
        assert_eq!(
            decode(PROTOBUF, &bytes).unwrap(),
            event,
            "{}",
            event.body.name()
        );
    }
}

#[test]
fn every_sample_round_trips_through_json() {
    for event in every_event() {
        let bytes = encode_json(&event);
        let decoded = decode(JSON, &bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)));
        assert_eq!(decoded, event, "{}", event.body.name());
    }
}

#[test]
fn json_uses_the_proto3_mapping() {
    let event = &every_event()[0];
    let json: serde_json::Value = serde_json::from_slice(&encode_json(event)).unwrap();
    assert_eq!(json["eventId"], "evt-0942-01-assign");
    assert_eq!(json["actorKind"], "ACTOR_KIND_ASSIGNER");
    assert_eq!(json["schemaVersion"], 1);
    assert_eq!(json["occurredAt"], "2020-02-26T02:00:00+00:00");
    assert_eq!(
        json["assign"]["mode"],
        "ASSIGNMENT_MODE_LEAD_WITH_CO_HANDLERS"
    );
    assert_eq!(json["assign"]["info"]["submittedOn"], "2020-01-12");
    assert_eq!(
        json["assign"]["handlers"][1]["role"],
        "TASK_ROLE_CO_HANDLER"
    );
}

#[test]
fn proto_field_names_are_accepted_in_json_too() {
    // The proto3 JSON mapping obliges parsers to take the original names as well.
    let json = r#"{"event_id":"e1","proposal_key":"p1","occurred_at":"2020-01-01T00:00:00Z",
        "actor_agency":"cq-kjj","actor_kind":"ACTOR_KIND_AGENCY","schema_version":1,
        "sign_for":{}}"#;
    let event = decode(JSON, json.as_bytes()).unwrap();
    assert_eq!(event.body.name(), "sign_for");
}

#[test]
fn the_trace_travels_with_the_event() {
    let event = every_event().remove(1);
    let trace = Trace {
        correlation_id: Some("evt-0942-01-assign".parse().unwrap()),
        causation_id: Some("evt-0942-01-assign".parse().unwrap()),
    };
    for content_type in [ContentType::Protobuf, ContentType::Json] {
        let bytes = encode(content_type, &event, &trace);
        let (decoded, decoded_trace) = decode_traced(content_type.as_str(), &bytes).unwrap();
        assert_eq!((decoded, decoded_trace), (event.clone(), trace.clone()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_event_round_trips_through_protobuf(event in strategies::event(), trace in strategies::trace()) {
        let bytes = encode(ContentType::Protobuf, &event, &trace);
        prop_assert_eq!(decode_traced(PROTOBUF, &bytes).unwrap(), (event, trace));
    }

    #[test]
    fn any_event_round_trips_through_json(event in strategies::event(), trace in strategies::trace()) {
        let bytes = encode(ContentType::Json, &event, &trace);
        prop_assert_eq!(decode_traced(JSON, &bytes).unwrap(), (event, trace));
    }
}
