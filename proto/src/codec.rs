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
        ContentType::Json => Ok(serde_json::from_slice(bytes)?),
    }
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
    fn the_size_limit_is_checked_before_decoding() {
        let big = vec![b' '; MAX_MESSAGE_BYTES + 1];
        let error = read::<crate::v1::Envelope>("application/json", &big).unwrap_err();
        assert!(matches!(error, Error::TooLarge { size } if size == MAX_MESSAGE_BYTES + 1));
        assert!(error.to_string().contains("262144"), "{error}");
    }
}
