//! The outbox: what the engine has to say after a decision (notifications, refusals), as
//! rows written in the deciding transaction and as the message the relay publishes.

use chrono::{DateTime, Utc};
use cohandle_workflows::engine::{Notification, Recipient};
use cohandle_workflows::{Event, Rejection};
use sea_orm::ActiveValue::{NotSet, Set};
use serde::{Deserialize, Serialize};

use crate::entities::outbox;

/// The routing key a notification travels under on the outbound exchange. Those for the
/// supervisors carry the proposal's jurisdiction path (`route`, the codes from the top of
/// its tree down, joined by `.`: `supervisors.cq.cq-yz`), so that a queue bound to
/// `supervisors.#.cq.#` gets Chongqing's and its districts' and nothing else; a proposal of
/// no jurisdiction goes out under the bare key. Congress offices are bound by the
/// definitions that name them, as the engine checks them.
pub fn routing_key(recipient: &Recipient, route: &str) -> String {
    let within = |base: &str| {
        if route.is_empty() {
            base.to_owned()
        } else {
            format!("{base}.{route}")
        }
    };
    match recipient {
        Recipient::Agency(a) => format!("agency.{a}"),
        Recipient::Assigner(a) => format!("agency.{a}"),
        Recipient::Deputies(_) => "deputies".to_owned(),
        Recipient::CongressOffice => "congress_office".to_owned(),
        Recipient::Supervisors => within("supervisors"),
    }
}

/// The body of an outbound message, as the relay publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    pub message_id: String,
    pub proposal: String,
    pub event_id: String,
    #[serde(flatten)]
    pub body: OutboundBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum OutboundBody {
    Notification(Notification),
    Rejected(Rejection),
}

/// The `n`th notification an event's decision sends.
pub(crate) fn notification_row(
    event: &Event,
    n: usize,
    notification: &Notification,
    route: &str,
    now: DateTime<Utc>,
) -> outbox::ActiveModel {
    let message = OutboundMessage {
        message_id: format!("{}#{n}", event.id),
        proposal: event.proposal.to_string(),
        event_id: event.id.to_string(),
        body: OutboundBody::Notification(notification.clone()),
    };
    row(
        message,
        "notification",
        routing_key(&notification.recipient, route),
        now,
    )
}

/// The refusal answered to an event's sender.
pub(crate) fn rejection_row(
    event: &Event,
    rejection: &Rejection,
    now: DateTime<Utc>,
) -> outbox::ActiveModel {
    let message = OutboundMessage {
        message_id: format!("{}#rejected", event.id),
        proposal: event.proposal.to_string(),
        event_id: event.id.to_string(),
        body: OutboundBody::Rejected(rejection.clone()),
    };
    row(
        message,
        "rejected",
        format!("rejected.{}", event.actor.agency),
        now,
    )
}

fn row(
    message: OutboundMessage,
    kind: &str,
    routing_key: String,
    now: DateTime<Utc>,
) -> outbox::ActiveModel {
    outbox::ActiveModel {
        id: NotSet,
        message_id: Set(message.message_id.clone()),
        proposal_key: Set(message.proposal.clone()),
        event_id: Set(message.event_id.clone()),
        kind: Set(kind.to_owned()),
        routing_key: Set(routing_key),
        payload: Set(serde_json::to_string(&message).expect("messages serialize")),
        created_at: Set(now),
        sent_at: Set(None),
    }
}
