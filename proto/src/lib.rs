//! The wire contract of cohandle: the protobuf messages in `cohandle/v1/*.proto` for every
//! message on the bus (the [`v1::Envelope`] of an event, and the [`v1::Notification`] and
//! [`v1::Rejected`] the engine publishes), their Rust types generated at build time by a
//! pure-Rust toolchain (protox, prost, pbjson: no system `protoc`), and the conversions
//! between them and the domain's types. A message is read from either
//! `application/x-protobuf` or `application/json` (the proto3 JSON mapping), and every value
//! on the way in goes through the domain's parsers, so a decoded [`Event`] is a valid one.
//! Decoding never panics, whatever the bytes; every refusal is an [`Error`] naming the field.
//!
//! - [`decode`], [`decode_traced`], [`encode_protobuf`], [`encode_json`], [`encode`]: events.
//! - [`OutboundNotification`], [`Rejected`] and their `encode_*`/`decode_*`: what leaves.
//! - [`v1`]: the generated messages, for callers that need the raw wire form.
//!
//! This crate never does IO and never reads a clock: it turns bytes into values and back.
//!
//! [`Event`]: cohandle_workflows::Event

mod codec;
mod enums;
mod error;
mod event;
mod field;
mod outbound;

pub use codec::ContentType;
pub use error::Error;
pub use event::{
    decode, decode_traced, encode, encode_json, encode_protobuf, from_envelope, readable_ids,
    to_envelope, Trace,
};
pub use outbound::{
    decode_notification, decode_rejected, encode_notification, encode_rejected,
    OutboundNotification, Rejected, RejectedReason,
};

/// The messages generated from `cohandle/v1/*.proto` (package `cohandle.v1`), with serde
/// impls that follow the proto3 JSON mapping and refuse unknown fields.
// Generated code is not ours to restyle; a newer prost or pbjson may trip new lints.
#[allow(clippy::all)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/cohandle.v1.rs"));
    include!(concat!(env!("OUT_DIR"), "/cohandle.v1.serde.rs"));
}

/// The encoded `FileDescriptorSet` of `cohandle/v1/*.proto` (with the well-known types they
/// import), for reflection and tools that read messages without generated code.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/cohandle_v1_descriptor.bin"));

/// The version of the contract this crate reads and writes (`schema_version` in the envelope).
pub const SCHEMA_VERSION: u32 = 1;

/// The largest message accepted, checked before any decoding: an event is a few kilobytes.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn the_descriptor_set_holds_the_contract_and_its_imports() {
        let set = pbjson_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
        let names: Vec<_> = set.file.iter().filter_map(|f| f.name.as_deref()).collect();
        for name in [
            "cohandle/v1/envelope.proto",
            "cohandle/v1/events.proto",
            "cohandle/v1/outbound.proto",
            "google/protobuf/timestamp.proto",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
    }
}
