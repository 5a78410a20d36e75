//! Publishing with publisher confirms, and the inbound contract for publishers: exchange
//! `cohandle.in`, routing key `<agency>.<event>`, header `cohandle-proposal`, property
//! `user-id` = the publishing agency.

use std::time::Duration;

use backon::BackoffBuilder;
use cohandle_proto::ContentType;
use cohandle_workflows::Event;
use lapin::options::BasicPublishOptions;
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel};
use tracing::instrument;

use crate::topology::{INBOUND, PROPOSAL_HEADER};
use crate::Error;

/// AMQP delivery mode 2: the broker keeps the message on disk (quorum queues always do).
pub const PERSISTENT: u8 = 2;

/// The routing key an event is published under on `cohandle.in`. The agency comes first so
/// that a topic permission (`^cq-jw\.`) can hold each agency to its own keys.
pub fn routing_key(event: &Event) -> String {
    format!("{}.{}", event.actor.agency, event.body.name())
}

/// A message for `cohandle.in`.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub routing_key: String,
    /// The partition key (header `cohandle-proposal`): required, and equal to the envelope's
    /// proposal key; the worker refuses a message without it (`missing_partition_header`).
    pub proposal: Option<String>,
    /// The event id, so that the broker's tools (and duplicates) can be told apart.
    pub message_id: Option<String>,
    /// The publishing RabbitMQ user; the broker refuses any other value.
    pub user_id: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Inbound {
    /// An event encoded as `content_type`, sent by `user`.
    pub fn event(event: &Event, content_type: ContentType, user: &str) -> Self {
        let body = cohandle_proto::encode(content_type, event, &cohandle_proto::Trace::default());
        Self {
            routing_key: routing_key(event),
            proposal: Some(event.proposal.to_string()),
            message_id: Some(event.id.to_string()),
            user_id: user.to_owned(),
            content_type: content_type.as_str().to_owned(),
            body,
        }
    }

    /// The AMQP properties of the message.
    pub fn properties(&self) -> BasicProperties {
        let mut headers = FieldTable::default();
        if let Some(proposal) = &self.proposal {
            headers.insert(PROPOSAL_HEADER.into(), long_string(proposal));
        }
        let mut properties = BasicProperties::default()
            .with_content_type(ShortString::from(self.content_type.clone()))
            .with_delivery_mode(PERSISTENT)
            .with_user_id(ShortString::from(self.user_id.clone()))
            .with_headers(headers);
        if let Some(id) = &self.message_id {
            properties = properties.with_message_id(ShortString::from(id.clone()));
        }
        properties
    }
}

/// Publishes to `cohandle.in` on a channel in confirm mode and waits for the confirm.
#[instrument(skip_all, fields(routing_key = %message.routing_key, proposal = message.proposal.as_deref(), event_id = message.message_id.as_deref()))]
pub async fn publish_inbound(channel: &Channel, message: &Inbound) -> Result<(), Error> {
    publish_confirmed(
        channel,
        INBOUND,
        &message.routing_key,
        message.properties(),
        &message.body,
        false,
        "an inbound event",
    )
    .await
}

/// Publishes and waits for the broker's confirm (the channel must be in confirm mode).
/// With `mandatory`, a message no queue takes comes back, and counts as a failure.
pub async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    properties: BasicProperties,
    body: &[u8],
    mandatory: bool,
    what: &str,
) -> Result<(), Error> {
    let options = BasicPublishOptions {
        mandatory,
        ..BasicPublishOptions::default()
    };
    let confirm = channel
        .basic_publish(exchange, routing_key, options, body, properties)
        .await?
        .await?;
    settle(confirm, what)
}

/// `amqp.publish_attempts` unless set: with the waits of the one retry policy between them
/// (50 ms doubling to 5 s), about 70 s of nacks and lost connections in a row, which
/// outlasts a quorum queue's leader election.
pub const DEFAULT_PUBLISH_ATTEMPTS: u32 = 20;

/// How a publisher tries one message until the broker confirms it: a nack and a connection
/// lost before the confirm count alike, as one attempt of the same message (same
/// `message_id`, so consumers drop a copy that did arrive). After each the publisher waits
/// by the one retry policy and tries again, on a new connection; after `bound` attempts in
/// a row it gives up with [`Error::Unconfirmed`].
#[derive(Debug)]
pub struct Attempts {
    bound: u32,
    current: Option<Tried>,
}

#[derive(Debug)]
struct Tried {
    message_id: String,
    count: u32,
    waits: backon::ExponentialBackoff,
}

impl Attempts {
    /// At most `bound` attempts of one message (at least one).
    pub fn new(bound: u32) -> Self {
        Self {
            bound: bound.max(1),
            current: None,
        }
    }

    /// An attempt of `message_id` (described by `what`) went unconfirmed for `why`: the wait
    /// before the next, or, once the bound is reached, the error to give up with.
    pub fn failed(
        &mut self,
        message_id: &str,
        what: impl FnOnce() -> String,
        why: &str,
    ) -> Result<Duration, Error> {
        let tried = match &mut self.current {
            Some(tried) if tried.message_id == message_id => tried,
            other => other.insert(Tried {
                message_id: message_id.to_owned(),
                count: 0,
                waits: cohandle_store::retry::policy().build(),
            }),
        };
        tried.count += 1;
        if tried.count >= self.bound {
            let attempts = tried.count;
            self.current = None;
            return Err(Error::Unconfirmed {
                what: what(),
                attempts,
                why: why.to_owned(),
            });
        }
        let wait = tried.waits.next().unwrap_or(Duration::from_secs(5));
        tracing::warn!(
            message = "A message went unconfirmed; it goes again",
            message_id,
            attempt = tried.count,
            bound = self.bound,
            why,
            ?wait
        );
        Ok(wait)
    }

    /// Everything tried so far was confirmed: the next failure starts a new count.
    pub fn confirmed(&mut self) {
        self.current = None;
    }
}

/// Turns a confirm into a result.
pub fn settle(confirm: Confirmation, what: &str) -> Result<(), Error> {
    match confirm {
        Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
        Confirmation::Ack(Some(returned)) => Err(Error::NotConfirmed {
            what: what.to_owned(),
            why: format!(
                "no queue is bound for it ({} {})",
                returned.reply_code, returned.reply_text
            ),
        }),
        Confirmation::Nack(_) => Err(Error::NotConfirmed {
            what: what.to_owned(),
            why: "the broker nacked it".to_owned(),
        }),
    }
}

pub(crate) fn long_string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value.as_bytes()))
}

/// A header's text, whichever string type the sender used.
pub fn header_text(properties: &BasicProperties, name: &str) -> Option<String> {
    let headers = properties.headers().as_ref()?;
    match headers.inner().get(name)? {
        AMQPValue::LongString(v) => Some(String::from_utf8_lossy(v.as_bytes()).into_owned()),
        AMQPValue::ShortString(v) => Some(v.as_str().to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_is_tried_up_to_the_bound_and_a_confirm_starts_the_count_again() {
        let mut attempts = Attempts::new(3);
        let what = || "event e-1".to_owned();
        assert!(attempts.failed("e-1", what, "nacked").is_ok());
        assert!(attempts.failed("e-1", what, "connection lost").is_ok());
        let error = attempts.failed("e-1", what, "nacked").unwrap_err();
        assert!(
            matches!(error, Error::Unconfirmed { attempts: 3, .. }),
            "{error}"
        );
        assert!(!error.is_transient());
        let text = error.to_string();
        assert!(
            text.contains("event e-1") && text.contains("amqp.publish_attempts"),
            "{text}"
        );

        // Another message, or a confirm in between, counts from one again.
        assert!(attempts.failed("e-2", what, "nacked").is_ok());
        assert!(attempts.failed("e-2", what, "nacked").is_ok());
        assert!(attempts.failed("e-3", what, "nacked").is_ok());
        assert!(attempts.failed("e-3", what, "nacked").is_ok());
        attempts.confirmed();
        assert!(attempts.failed("e-3", what, "nacked").is_ok());
        assert!(attempts.failed("e-3", what, "nacked").is_ok());
        assert!(attempts.failed("e-3", what, "nacked").is_err());
        assert!(Attempts::new(0).failed("e-4", what, "nacked").is_err());
    }
}
