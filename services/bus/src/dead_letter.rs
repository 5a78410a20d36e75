//! Dead letters: what the worker cannot take (a body that is not a message of the contract,
//! a sender that is not who it claims, an event id reused for another event, a message
//! without its partition header, a message that failed too often) is recorded in the
//! database (`cohandle_store::dead_letters`) with its reason, body and headers, and only then
//! acknowledged. Operators list them (`cohandle dlq list`, which reads rows and so disturbs
//! nothing) and replay them once the cause is fixed (`cohandle dlq replay`).
//!
//! The record keeps the sender the worker validated (the AMQP `user-id`), so a replay is
//! attributed to it; agencies cannot write there.

use chrono::{DateTime, Utc};
use cohandle_store::bus_door;
use cohandle_store::dead_letters::{Arrived, Filter};
use cohandle_store::Engine;
use cohandle_workflows::{Event, EventId, ProposalKey};
use lapin::message::Delivery;
use lapin::types::AMQPValue;
use lapin::BasicProperties;
use sha2::{Digest, Sha256};

use crate::topology::RETRY_QUEUE;
use crate::Error;

pub use cohandle_store::dead_letters::DeadLetter;

/// The codes of dead letters.
pub mod code {
    pub const MALFORMED: &str = "malformed";
    pub const MISSING_USER_ID: &str = "missing_user_id";
    pub const UNKNOWN_SENDER: &str = "unknown_sender";
    pub const IDENTITY_MISMATCH: &str = "identity_mismatch";
    /// An assignment in a jurisdiction its sender does not serve.
    pub const JURISDICTION_NOT_YOURS: &str = "jurisdiction_not_yours";
    pub const EVENT_ID_REUSED: &str = "event_id_reused";
    pub const MISSING_PARTITION_HEADER: &str = "missing_partition_header";
    pub const RETRIES_EXHAUSTED: &str = "retries_exhausted";
    pub const OUTBOX_UNREADABLE: &str = "outbox_unreadable";
}

/// Why a message was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub reason: String,
    pub field: Option<String>,
}

impl Refusal {
    pub fn new(code: &'static str, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
            field: None,
        }
    }

    /// A body that does not decode.
    pub fn malformed(error: &cohandle_proto::Error) -> Self {
        Self {
            code: code::MALFORMED,
            reason: error.to_string(),
            field: error.field().map(str::to_owned),
        }
    }
}

/// The stable id of a dead letter: a digest of who sent what under which key.
pub fn dead_letter_id(sender: Option<&str>, routing_key: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    for part in [
        sender.unwrap_or("").as_bytes(),
        routing_key.as_bytes(),
        body,
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex::encode(&hasher.finalize()[..12])
}

/// How many times a message has already gone round the retry queue (from the `x-death`
/// entries the broker adds when it dead-letters).
pub fn retry_rounds(properties: &BasicProperties) -> u64 {
    let Some(headers) = properties.headers() else {
        return 0;
    };
    let Some(AMQPValue::FieldArray(deaths)) = headers.inner().get("x-death") else {
        return 0;
    };
    deaths
        .as_slice()
        .iter()
        .filter_map(AMQPValue::as_field_table)
        .filter(|death| {
            matches!(death.inner().get("queue"), Some(AMQPValue::LongString(q)) if q.as_bytes() == RETRY_QUEUE.as_bytes())
        })
        .filter_map(|death| death.inner().get("count").and_then(integer))
        .map(|n| n.max(0) as u64)
        .sum()
}

fn integer(value: &AMQPValue) -> Option<i64> {
    match value {
        AMQPValue::LongLongInt(n) => Some(*n),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::Timestamp(n) => i64::try_from(*n).ok(),
        _ => None,
    }
}

/// What a message could be read to be: its ids, for the record and the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ids {
    pub event_id: Option<EventId>,
    pub proposal: Option<ProposalKey>,
}

impl Ids {
    /// The ids of a decoded event.
    pub fn of(event: &Event) -> Self {
        Self {
            event_id: Some(event.id.clone()),
            proposal: Some(event.proposal.clone()),
        }
    }

    /// Whatever of them can be read from a delivery's body, which may not decode as a whole.
    pub fn read(delivery: &Delivery) -> Self {
        let content_type = delivery
            .properties
            .content_type()
            .as_ref()
            .map_or("", |c| c.as_str());
        let (event_id, proposal) = cohandle_proto::readable_ids(content_type, &delivery.data);
        Self { event_id, proposal }
    }
}

/// The record of a refused delivery.
pub fn arrived(
    delivery: &Delivery,
    queue: &str,
    sender: Option<&str>,
    refusal: &Refusal,
    ids: &Ids,
) -> Arrived {
    let props = &delivery.properties;
    let mut headers = serde_json::Map::new();
    if let Some(table) = props.headers() {
        for (key, value) in table.inner() {
            headers.insert(
                key.to_string(),
                serde_json::Value::String(header_value(value)),
            );
        }
    }
    Arrived {
        id: dead_letter_id(sender, delivery.routing_key.as_str(), &delivery.data),
        code: refusal.code.to_owned(),
        reason: refusal.reason.clone(),
        field: refusal.field.clone(),
        sender: sender.map(str::to_owned),
        routing_key: delivery.routing_key.to_string(),
        queue: queue.to_owned(),
        content_type: props.content_type().as_ref().map(|c| c.to_string()),
        message_id: props.message_id().as_ref().map(|m| m.to_string()),
        headers: serde_json::Value::Object(headers),
        body: delivery.data.clone(),
        event_id: ids.event_id.as_ref().map(ToString::to_string),
        proposal_key: ids.proposal.as_ref().map(ToString::to_string),
    }
}

/// A header value as text: strings as they are, anything else as the broker shows it.
fn header_value(value: &AMQPValue) -> String {
    match value {
        AMQPValue::LongString(v) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
        AMQPValue::ShortString(v) => v.as_str().to_owned(),
        other => format!("{other:?}"),
    }
}

/// Records a dead letter (or a new sighting of one) at `at`.
pub async fn record(engine: &Engine, letter: Arrived, at: DateTime<Utc>) -> Result<(), Error> {
    Ok(bus_door::record_dead_letter(engine, letter, at).await?)
}

/// The dead letters `filter` selects, oldest first; reading them changes nothing.
pub async fn list(engine: &Engine, filter: &Filter) -> Result<Vec<DeadLetter>, Error> {
    Ok(bus_door::dead_letters(engine, filter).await?)
}

#[cfg(test)]
mod tests {
    use lapin::types::{FieldArray, FieldTable};

    use super::*;
    use crate::publish::long_string;

    #[test]
    fn the_id_is_stable_and_depends_on_sender_key_and_body() {
        let a = dead_letter_id(Some("cq-jw"), "cq-jw.acknowledge", b"{}");
        assert_eq!(a, dead_letter_id(Some("cq-jw"), "cq-jw.acknowledge", b"{}"));
        assert_ne!(
            a,
            dead_letter_id(Some("cq-czj"), "cq-jw.acknowledge", b"{}")
        );
        assert_ne!(
            a,
            dead_letter_id(Some("cq-jw"), "cq-jw.acknowledge", b"{ }")
        );
        assert_eq!(a.len(), 24);
    }

    #[test]
    fn retry_rounds_count_only_the_retry_queue() {
        let death = |queue: &str, count: i64| {
            let mut t = FieldTable::default();
            t.insert("queue".into(), long_string(queue));
            t.insert("count".into(), AMQPValue::LongLongInt(count));
            AMQPValue::FieldTable(t)
        };
        let mut deaths = FieldArray::default();
        deaths.push(death(RETRY_QUEUE, 3));
        deaths.push(death("cohandle.in.2", 4));
        let mut headers = FieldTable::default();
        headers.insert("x-death".into(), AMQPValue::FieldArray(deaths));
        let props = BasicProperties::default().with_headers(headers);
        assert_eq!(retry_rounds(&props), 3);
        assert_eq!(retry_rounds(&BasicProperties::default()), 0);
    }
}
