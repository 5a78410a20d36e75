//! Why bytes from outside are not a message of the contract.

use cohandle_workflows::ids::InvalidId;

use crate::{MAX_MESSAGE_BYTES, SCHEMA_VERSION};

/// Why a message was refused. Each variant names the field at fault, as a path of proto
/// field names (`assign.handlers[1].agency`), so a sender can find it in its own message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unsupported content type {0:?}: send application/x-protobuf or application/json")]
    UnsupportedContentType(String),
    #[error("the message is {size} bytes, over the limit of {MAX_MESSAGE_BYTES} bytes")]
    TooLarge { size: usize },
    #[error("not a protobuf message of the contract: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// Not JSON, or a value of the wrong type; `field` is the proto path of the value at
    /// fault when the JSON was read that far.
    #[error("{}", json_message(field.as_deref(), source))]
    Json {
        field: Option<String>,
        #[source]
        source: serde_json::Error,
    },
    #[error("`schema_version` is {found}, but only version {SCHEMA_VERSION} is read here")]
    UnsupportedSchemaVersion { found: u32 },
    #[error("the envelope has no body: set exactly one event, such as `assign` or `sign_for`")]
    MissingBody,
    #[error("`{field}` is missing")]
    Missing { field: String },
    #[error("`{field}` is missing or UNSPECIFIED: choose one of its values")]
    Unspecified { field: String },
    #[error("`{field}` holds {value}, which is not a value of its enum")]
    UnknownEnumValue { field: String, value: i32 },
    #[error("`{field}` is {value:?}, not a date written YYYY-MM-DD")]
    InvalidDate { field: String, value: String },
    #[error(
        "`{field}` is not an instant between the years 0001 and 9999 ({seconds} s, {nanos} ns)"
    )]
    InvalidTimestamp {
        field: String,
        seconds: i64,
        nanos: i32,
    },
    #[error("`{field}`: {source}")]
    InvalidId {
        field: String,
        #[source]
        source: InvalidId,
    },
    #[error("`{field}` is not valid: {why}")]
    Invalid { field: String, why: &'static str },
}

impl Error {
    /// The field at fault, when one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Missing { field }
            | Self::Unspecified { field }
            | Self::UnknownEnumValue { field, .. }
            | Self::InvalidDate { field, .. }
            | Self::InvalidTimestamp { field, .. }
            | Self::InvalidId { field, .. }
            | Self::Invalid { field, .. } => Some(field),
            Self::Json { field, .. } => field.as_deref(),
            Self::UnsupportedSchemaVersion { .. } => Some("schema_version"),
            Self::MissingBody => Some("body"),
            Self::UnsupportedContentType(_) | Self::TooLarge { .. } | Self::Protobuf(_) => None,
        }
    }
}

fn json_message(field: Option<&str>, source: &serde_json::Error) -> String {
    match field {
        Some(field) => format!("`{field}`: {source}"),
        None => format!("not a proto3 JSON message of the contract: {source}"),
    }
}
