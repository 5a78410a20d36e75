//! Dead letters: what the worker cannot take (a body that is not a message of the contract,
//! a sender that is not who it claims, a message that failed too often) is copied to
//! `cohandle.dead` with the reason in headers, and only then acknowledged. Operators list
//! them (`cohandle dlq list`) and replay them once the cause is fixed (`cohandle dlq replay`).
//!
//! The copy is published by the worker, whose RabbitMQ user is not the sender's, so it
//! cannot carry the sender's `user-id` (the broker would refuse it). It carries the sender
//! in `x-cohandle-sender` instead, and that header is trusted only in `cohandle.dead`,
//! where agencies cannot publish.

use chrono::{DateTime, SecondsFormat, Utc};
use lapin::message::Delivery;
use lapin::options::BasicGetOptions;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel};
use sha2::{Digest, Sha256};

use crate::publish::{header_text, long_string, publish_confirmed, PERSISTENT};
use crate::topology::{DEAD_EXCHANGE, DEAD_QUEUE, RETRY_QUEUE};
use crate::Error;

/// The machine-readable reason (`malformed`, `missing_user_id`, `unknown_sender`,
/// `identity_mismatch`, `retries_exhausted`, `outbox_unreadable`).
pub const CODE_HEADER: &str = "x-cohandle-code";
/// The reason as a sentence for a person.
pub const REASON_HEADER: &str = "x-cohandle-reason";
/// For a malformed message, the field at fault as a proto path (`assign.handlers[1].agency`).
pub const FIELD_HEADER: &str = "x-cohandle-field";
/// The RabbitMQ user that published the original message (its validated `user-id`).
pub const SENDER_HEADER: &str = "x-cohandle-sender";
/// A stable id of the dead letter: the same message dead-lettered twice has the same id.
pub const ID_HEADER: &str = "x-cohandle-dead-letter-id";
/// The queue the original was taken from, and its routing key.
pub const QUEUE_HEADER: &str = "x-cohandle-queue";
pub const ROUTING_KEY_HEADER: &str = "x-cohandle-routing-key";
/// When it was dead-lettered (RFC 3339, the engine's clock).
pub const DEAD_AT_HEADER: &str = "x-cohandle-dead-at";

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
            code: "malformed",
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

/// Copies `delivery` to the dead-letter queue with the reason, and waits for the confirm.
/// Returns the dead letter's id.
pub async fn publish_copy(
    channel: &Channel,
    delivery: &Delivery,
    queue: &str,
    sender: Option<&str>,
    refusal: &Refusal,
    at: DateTime<Utc>,
) -> Result<String, Error> {
    let id = dead_letter_id(sender, delivery.routing_key.as_str(), &delivery.data);
    let original = &delivery.properties;
    let mut headers = FieldTable::default();
    if let Some(old) = original.headers() {
        for (key, value) in old.inner() {
            // Only the worker writes these: a sender's own would be forgeries.
            if !key.as_str().starts_with("x-cohandle-") {
                headers.insert(key.clone(), value.clone());
            }
        }
    }
    let mut put = |key: &str, value: &str| headers.insert(key.into(), long_string(value));
    put(ID_HEADER, &id);
    put(CODE_HEADER, refusal.code);
    put(REASON_HEADER, &refusal.reason);
    if let Some(field) = &refusal.field {
        put(FIELD_HEADER, field);
    }
    if let Some(sender) = sender {
        put(SENDER_HEADER, sender);
    }
    put(QUEUE_HEADER, queue);
    put(ROUTING_KEY_HEADER, delivery.routing_key.as_str());
    put(
        DEAD_AT_HEADER,
        &at.to_rfc3339_opts(SecondsFormat::Millis, true),
    );
    let mut properties = BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_message_id(ShortString::from(id.clone()))
        .with_headers(headers);
    if let Some(content_type) = original.content_type() {
        properties = properties.with_content_type(content_type.clone());
    }
    // Mandatory: if `cohandle.dead` were missing, the original must stay where it is.
    publish_confirmed(
        channel,
        DEAD_EXCHANGE,
        delivery.routing_key.as_str(),
        properties,
        &delivery.data,
        true,
        "a dead letter",
    )
    .await?;
    Ok(id)
}

/// A message in `cohandle.dead`, as an operator sees it.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub id: String,
    pub code: String,
    pub reason: String,
    pub field: Option<String>,
    /// The validated sender, when there was one.
    pub sender: Option<String>,
    pub routing_key: String,
    pub queue: Option<String>,
    pub dead_at: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The event id and proposal, when the body decodes now.
    pub event_id: Option<String>,
    pub proposal: Option<String>,
    pub delivery_tag: u64,
}

impl DeadLetter {
    /// Reads a message taken from `cohandle.dead`. One the broker dead-lettered itself
    /// (none is routed there today, but an operator may move some) is described from its
    /// `x-death` header, and its sender is its `user-id`.
    pub fn from_delivery(delivery: &Delivery) -> Self {
        let props = &delivery.properties;
        let text = |name| header_text(props, name);
        let routing_key =
            text(ROUTING_KEY_HEADER).unwrap_or_else(|| delivery.routing_key.to_string());
        let sender = text(SENDER_HEADER).or_else(|| {
            text(CODE_HEADER)
                .is_none()
                .then(|| props.user_id().as_ref().map(|u| u.to_string()))
                .flatten()
        });
        let content_type = props.content_type().as_ref().map(|c| c.to_string());
        let decoded = content_type
            .as_deref()
            .and_then(|ct| cohandle_proto::decode(ct, &delivery.data).ok());
        Self {
            id: text(ID_HEADER)
                .unwrap_or_else(|| dead_letter_id(sender.as_deref(), &routing_key, &delivery.data)),
            code: text(CODE_HEADER)
                .or_else(|| text("x-first-death-reason"))
                .unwrap_or_else(|| "unknown".to_owned()),
            reason: text(REASON_HEADER).unwrap_or_else(|| {
                "dead-lettered by the broker (see its x-death header)".to_owned()
            }),
            field: text(FIELD_HEADER),
            sender,
            routing_key,
            queue: text(QUEUE_HEADER).or_else(|| text("x-first-death-queue")),
            dead_at: text(DEAD_AT_HEADER),
            content_type,
            body: delivery.data.clone(),
            event_id: decoded.as_ref().map(|e| e.id.to_string()),
            proposal: decoded.as_ref().map(|e| e.proposal.to_string()),
            delivery_tag: delivery.delivery_tag,
        }
    }
}

/// Takes up to `limit` dead letters without acknowledging them: they stay the caller's
/// until it acks them or closes `channel`, which puts the rest back.
pub async fn take(channel: &Channel, limit: usize) -> Result<Vec<DeadLetter>, Error> {
    let mut letters = Vec::new();
    while letters.len() < limit {
        let Some(message) = channel
            .basic_get(DEAD_QUEUE, BasicGetOptions { no_ack: false })
            .await?
        else {
            break;
        };
        letters.push(DeadLetter::from_delivery(&message.delivery));
    }
    Ok(letters)
}

#[cfg(test)]
mod tests {
    use lapin::types::FieldArray;

    use super::*;

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
