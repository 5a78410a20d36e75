//! The README's JSON examples are real: each decodes, and re-encodes to the same JSON, so
//! the page cannot drift from the contract.

use std::collections::BTreeSet;

use cohandle_proto::{
    decode, decode_notification, decode_rejected, decode_traced, encode, encode_notification,
    encode_rejected, to_envelope, ContentType, Trace,
};
use cohandle_workflows::event::EVENT_NAMES;
use serde_json::Value;

const README: &str = include_str!("../../README.md");

fn json_blocks() -> Vec<&'static str> {
    README
        .split("```json\n")
        .skip(1)
        .map(|rest| rest.split("\n```").next().expect("every block is closed"))
        .collect()
}

/// What one example is, once decoded, and its canonical re-encoding.
fn read(block: &str) -> (String, Vec<u8>) {
    let bytes = block.as_bytes();
    let json = "application/json";
    if let Ok((event, trace)) = decode_traced(json, bytes) {
        let canonical = encode(ContentType::Json, &event, &trace);
        (event.body.name().to_owned(), canonical)
    } else if let Ok(notice) = decode_notification(json, bytes) {
        (
            "notification".into(),
            encode_notification(ContentType::Json, &notice),
        )
    } else if let Ok(rejected) = decode_rejected(json, bytes) {
        (
            "rejected".into(),
            encode_rejected(ContentType::Json, &rejected),
        )
    } else {
        let errors = [
            decode(json, bytes)
                .err()
                .map(|e| format!("as an envelope: {e}")),
            decode_notification(json, bytes)
                .err()
                .map(|e| format!("as a notification: {e}")),
            decode_rejected(json, bytes)
                .err()
                .map(|e| format!("as a rejection: {e}")),
        ];
        panic!("a README example decodes as no message: {errors:?}\n{block}");
    }
}

#[test]
fn every_json_example_decodes_and_is_what_the_encoder_writes() {
    let blocks = json_blocks();
    assert!(!blocks.is_empty());
    for block in blocks {
        let (_, canonical) = read(block);
        let written: Value = serde_json::from_str(block).unwrap();
        let canonical: Value = serde_json::from_slice(&canonical).unwrap();
        assert_eq!(
            written, canonical,
            "the encoder writes this example differently"
        );
    }
}

#[test]
fn the_readme_shows_every_message() {
    let shown: BTreeSet<String> = json_blocks().into_iter().map(|b| read(b).0).collect();
    let mut wanted: BTreeSet<String> = EVENT_NAMES.iter().map(|s| (*s).to_owned()).collect();
    wanted.insert("notification".into());
    wanted.insert("rejected".into());
    let missing: Vec<_> = wanted.difference(&shown).collect();
    assert!(
        missing.is_empty(),
        "the README shows no example of {missing:?}"
    );
}

/// Prints the examples from the samples: `cargo test -p cohandle-proto -- --ignored
/// print_readme_examples --nocapture`, to refresh the README after the contract changes.
#[test]
#[ignore = "a tool for writing the README, not a check"]
fn print_readme_examples() {
    // Pretty-printing the wire messages keeps the encoder's field order (proto order).
    fn pretty<T: serde::Serialize>(message: &T) -> String {
        serde_json::to_string_pretty(message).unwrap()
    }
    for event in crate::samples::every_event() {
        // One example shows the trace: an answer to the assignment.
        let trace = match event.body.name() {
            "sign_for" => Trace {
                correlation_id: Some("evt-0942-01-assign".parse().unwrap()),
                causation_id: Some("evt-0942-01-assign".parse().unwrap()),
            },
            _ => Trace::default(),
        };
        let envelope = to_envelope(&event, &trace);
        println!(
            "### `{}`\n\n```json\n{}\n```\n",
            event.body.name(),
            pretty(&envelope)
        );
    }
    let notice = crate::outbound::notifications()[0].to_wire();
    println!("```json\n{}\n```\n", pretty(&notice));
    let rejected = crate::outbound::rejections()[0].to_wire();
    println!("```json\n{}\n```\n", pretty(&rejected));
}
