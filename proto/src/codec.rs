//! The two encodings of every message, and the checks made before either decoder runs.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Error, MAX_MESSAGE_BYTES};

/// How a message is encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// `application/x-protobuf`: the binary protobuf encoding.
    Protobuf,
    /// `application/json`: the proto3 JSON mapping.
    Json,
}

impl ContentType {
    /// Reads a content type as an AMQP property or HTTP header gives it. Parameters such as
    /// `; charset=utf-8` are ignored, and so is case; `application/protobuf` is taken too.
    pub fn parse(value: &str) -> Result<Self, Error> {
        let essence = value.split(';').next().unwrap_or_default().trim();
        if essence.eq_ignore_ascii_case("application/x-protobuf")
            || essence.eq_ignore_ascii_case("application/protobuf")
        {
            Ok(Self::Protobuf)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Ok(Self::Json)
        } else {
            Err(Error::UnsupportedContentType(
                value.chars().take(100).collect(),
            ))
        }
    }

    /// The content type to put on an outgoing message.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }
}

impl std::fmt::Display for ContentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Decodes one wire message, after the content type and size checks.
pub(crate) fn read<M>(content_type: &str, bytes: &[u8]) -> Result<M, Error>
where
    M: prost::Message + Default + DeserializeOwned,
{
    let content_type = ContentType::parse(content_type)?;
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(Error::TooLarge { size: bytes.len() });
    }
    match content_type {
        ContentType::Protobuf => Ok(M::decode(bytes)?),
        ContentType::Json => from_json(bytes),
    }
}

/// Reads proto3 JSON, naming the field of a value of the wrong type. `null` is the field's
/// default value, as the proto3 JSON mapping says: a message holding one is read again
/// without its nulls (only then, so that every other message is read exactly as sent).
fn from_json<M: DeserializeOwned>(bytes: &[u8]) -> Result<M, Error> {
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let error = match serde_path_to_error::deserialize(&mut reader) {
        Ok(message) => {
            return match reader.end() {
                Ok(()) => Ok(message),
                Err(source) => Err(Error::Json {
                    field: None,
                    source,
                }),
            }
        }
        Err(error) => error,
    };
    if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) {
        if drop_nulls(&mut value) {
            return serde_path_to_error::deserialize(value).map_err(json_error);
        }
    }
    Err(json_error(error))
}

/// Removes every object member whose value is `null`; true if there was one.
fn drop_nulls(value: &mut serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(members) => {
            let before = members.len();
            members.retain(|_, v| !v.is_null());
            let mut dropped = members.len() != before;
            for member in members.values_mut() {
                dropped |= drop_nulls(member);
            }
            dropped
        }
        serde_json::Value::Array(items) => items
            .iter_mut()
            .fold(false, |dropped, item| drop_nulls(item) | dropped),
        _ => false,
    }
}

fn json_error(error: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let field = proto_path(error.path());
    Error::Json {
        field: (!field.is_empty()).then_some(field),
        source: error.into_inner(),
    }
}

/// A JSON path (`assign.handlers[1].agency` written in lowerCamelCase or as proto names)
/// as a path of proto field names.
fn proto_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;

    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                for c in key.chars() {
                    if c.is_ascii_uppercase() {
                        out.push('_');
                        out.push(c.to_ascii_lowercase());
                    } else {
                        out.push(c);
                    }
                }
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// Encodes one wire message built from domain values.
pub(crate) fn write<M>(content_type: ContentType, message: &M) -> Vec<u8>
where
    M: prost::Message + Serialize,
{
    match content_type {
        ContentType::Protobuf => message.encode_to_vec(),
        // The generated serializers fail only on an enum number outside its enum or a
        // timestamp outside chrono's range; messages built from domain values hold neither.
        ContentType::Json => serde_json::to_vec(message)
            .expect("a message built from domain values serializes to JSON"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_read_loosely_but_only_the_two_encodings() {
        assert_eq!(
            ContentType::parse("application/x-protobuf").unwrap(),
            ContentType::Protobuf
        );
        assert_eq!(
            ContentType::parse("application/protobuf").unwrap(),
            ContentType::Protobuf
        );
        assert_eq!(
            ContentType::parse("Application/JSON; charset=utf-8").unwrap(),
            ContentType::Json
        );
        for bad in ["", "text/plain", "application/xml", "application/json-seq"] {
            let error = ContentType::parse(bad).unwrap_err();
            assert!(matches!(error, Error::UnsupportedContentType(_)), "{bad}");
        }
    }

    #[test]
    fn json_paths_become_proto_paths() {
        let error = read::<crate::v1::Envelope>(
            "application/json",
            br#"{"submitOpinion":{"documentNumber":31}}"#,
        )
        .unwrap_err();
        assert_eq!(error.field(), Some("submit_opinion.document_number"));
        assert!(
            error
                .to_string()
                .starts_with("`submit_opinion.document_number`: invalid type: integer `31`"),
            "{error}"
        );
    }

    #[test]
    fn null_is_the_default_value() {
        let read = read::<crate::v1::Envelope>(
            "application/json",
            br#"{"eventId":"e-1","correlationId":null,"acknowledge":{},"signFor":null}"#,
        )
        .unwrap();
        assert_eq!(read.event_id, "e-1");
        assert!(read.correlation_id.is_empty());
    }

    #[test]
    fn the_size_limit_is_checked_before_decoding() {
        let big = vec![b' '; MAX_MESSAGE_BYTES + 1];
        let error = read::<crate::v1::Envelope>("application/json", &big).unwrap_err();
        assert!(matches!(error, Error::TooLarge { size } if size == MAX_MESSAGE_BYTES + 1));
        assert!(error.to_string().contains("262144"), "{error}");
    }
}
