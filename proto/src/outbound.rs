//! What the engine publishes: notifications of accepted events, and rejections.

use chrono::NaiveDate;
use cohandle_workflows::engine::{
    DeadlineNotice, Notification, Recipient, Rejection, RejectionCode,
};
use cohandle_workflows::event::{Event, EVENT_NAMES, INTERNAL_EVENTS};
use cohandle_workflows::ids::{EventId, ProposalKey};

use crate::codec::{read, write, ContentType};
use crate::field::{agency, event_id, missing, proposal_key};
use crate::{v1, Error};

/// A domain [`Notification`] with the proposal and event it comes from: one message on
/// the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundNotification {
    pub proposal: ProposalKey,
    /// The event that caused it.
    pub event_id: EventId,
    pub notification: Notification,
}

/// A refused message, as published for its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// `None` only when the message's event id could not be read.
    pub event_id: Option<EventId>,
    /// `None` only when the message's proposal key could not be read.
    pub proposal: Option<ProposalKey>,
    pub reason: RejectedReason,
    /// The AMQP `message_id` of the refused message, as its sender set it.
    pub correlation_id: Option<String>,
    /// Answers a copy of an event id refused before: the first refusal, repeated.
    pub repeat: bool,
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectedReason {
    /// The domain refused a well-formed event.
    Refused(Rejection),
    /// The message is not a valid message of the contract; the sentence says why.
    Malformed(String),
    /// The event id was used before for an event with other content.
    EventIdReused(String),
    /// The `cohandle-proposal` header is missing or differs from the proposal key.
    MissingPartitionHeader(String),
}

impl RejectedReason {
    /// The sentence for a person.
    pub fn message(&self) -> &str {
        match self {
            Self::Refused(rejection) => &rejection.message,
            Self::Malformed(message)
            | Self::EventIdReused(message)
            | Self::MissingPartitionHeader(message) => message,
        }
    }
}

impl Rejected {
    /// The domain refused `event`.
    pub fn refused(event: &Event, rejection: Rejection) -> Self {
        Self {
            event_id: Some(event.id.clone()),
            proposal: Some(event.proposal.clone()),
            reason: RejectedReason::Refused(rejection),
            correlation_id: Some(event.id.to_string()),
            repeat: false,
        }
    }

    /// A message could not be decoded; whatever of its ids could be read is kept (see
    /// [`crate::readable_ids`]).
    pub fn malformed(error: &Error) -> Self {
        Self {
            event_id: None,
            proposal: None,
            reason: RejectedReason::Malformed(error.to_string()),
            correlation_id: None,
            repeat: false,
        }
    }
}

impl OutboundNotification {
    /// The wire form of the notification.
    pub fn to_wire(&self) -> v1::Notification {
        notification_to_wire(self)
    }

    /// Reads a wire notification: every id, enum and the event name is checked.
    pub fn from_wire(wire: v1::Notification) -> Result<Self, Error> {
        notification_from_wire(wire)
    }
}

impl Rejected {
    /// The wire form of the rejection.
    pub fn to_wire(&self) -> v1::Rejected {
        rejected_to_wire(self)
    }

    /// Reads a wire rejection: its ids, when present, and its code are checked.
    pub fn from_wire(wire: v1::Rejected) -> Result<Self, Error> {
        rejected_from_wire(wire)
    }
}

/// Encodes a notification.
pub fn encode_notification(content_type: ContentType, notice: &OutboundNotification) -> Vec<u8> {
    write(content_type, &notification_to_wire(notice))
}

/// Decodes a notification sent as `content_type`.
pub fn decode_notification(
    content_type: &str,
    bytes: &[u8],
) -> Result<OutboundNotification, Error> {
    notification_from_wire(read(content_type, bytes)?)
}

/// Encodes a rejection.
pub fn encode_rejected(content_type: ContentType, rejected: &Rejected) -> Vec<u8> {
    write(content_type, &rejected_to_wire(rejected))
}

/// Decodes a rejection sent as `content_type`.
pub fn decode_rejected(content_type: &str, bytes: &[u8]) -> Result<Rejected, Error> {
    rejected_from_wire(read(content_type, bytes)?)
}

fn notification_to_wire(notice: &OutboundNotification) -> v1::Notification {
    let n = &notice.notification;
    let (kind, agency, deputies) = match &n.recipient {
        Recipient::Agency(code) => (v1::RecipientKind::Agency, code.to_string(), Vec::new()),
        Recipient::Deputies(names) => (v1::RecipientKind::Deputies, String::new(), names.clone()),
        Recipient::Assigner(code) => (v1::RecipientKind::Assigner, code.to_string(), Vec::new()),
        Recipient::CongressOffice => (v1::RecipientKind::CongressOffice, String::new(), Vec::new()),
        Recipient::Supervisors => (v1::RecipientKind::Supervisors, String::new(), Vec::new()),
    };
    v1::Notification {
        proposal_key: notice.proposal.to_string(),
        event_id: notice.event_id.to_string(),
        recipient: Some(v1::Recipient {
            kind: kind.into(),
            agency,
            deputies,
        }),
        event: n.event.clone(),
        agency: n
            .agency
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        state: n.state.clone(),
        deadlines: n
            .deadlines
            .iter()
            .map(|d| v1::DeadlineNotice {
                name: d.name.clone(),
                due: d.due.to_string(),
                provisional: d.provisional,
            })
            .collect(),
    }
}

fn notification_from_wire(wire: v1::Notification) -> Result<OutboundNotification, Error> {
    let recipient = wire.recipient.ok_or_else(|| missing("recipient"))?;
    let only_for = |field: &str, why| Error::Invalid {
        field: field.to_owned(),
        why,
    };
    let no_agency = |agency: &str| {
        agency.is_empty().then_some(()).ok_or_else(|| {
            only_for(
                "recipient.agency",
                "it is set for AGENCY and ASSIGNER recipients only",
            )
        })
    };
    let no_deputies = |deputies: &[String]| {
        deputies.is_empty().then_some(()).ok_or_else(|| {
            only_for(
                "recipient.deputies",
                "it is set for DEPUTIES recipients only",
            )
        })
    };
    let kind =
        v1::RecipientKind::try_from(recipient.kind).map_err(|_| Error::UnknownEnumValue {
            field: "recipient.kind".to_owned(),
            value: recipient.kind,
        })?;
    let recipient = match kind {
        v1::RecipientKind::Unspecified => {
            return Err(Error::Unspecified {
                field: "recipient.kind".to_owned(),
            })
        }
        v1::RecipientKind::Agency => {
            no_deputies(&recipient.deputies)?;
            Recipient::Agency(agency("recipient.agency", recipient.agency)?)
        }
        v1::RecipientKind::Assigner => {
            no_deputies(&recipient.deputies)?;
            Recipient::Assigner(agency("recipient.agency", recipient.agency)?)
        }
        v1::RecipientKind::Deputies => {
            no_agency(&recipient.agency)?;
            Recipient::Deputies(recipient.deputies)
        }
        v1::RecipientKind::CongressOffice => {
            no_agency(&recipient.agency)?;
            no_deputies(&recipient.deputies)?;
            Recipient::CongressOffice
        }
        v1::RecipientKind::Supervisors => {
            no_agency(&recipient.agency)?;
            no_deputies(&recipient.deputies)?;
            Recipient::Supervisors
        }
    };
    let known = EVENT_NAMES.contains(&wire.event.as_str())
        || INTERNAL_EVENTS.contains(&wire.event.as_str());
    if !known {
        return Err(Error::Invalid {
            field: "event".to_owned(),
            why: "it is not the name of an event, such as \"submit_opinion\" or \"expiry\"",
        });
    }
    Ok(OutboundNotification {
        proposal: proposal_key("proposal_key", wire.proposal_key)?,
        event_id: event_id("event_id", wire.event_id)?,
        notification: Notification {
            recipient,
            event: wire.event,
            agency: if wire.agency.is_empty() {
                None
            } else {
                Some(agency("agency", wire.agency)?)
            },
            state: wire.state,
            deadlines: wire
                .deadlines
                .into_iter()
                .map(|d| {
                    Ok(DeadlineNotice {
                        due: NaiveDate::parse_from_str(&d.due, "%Y-%m-%d").map_err(|_| {
                            Error::Invalid {
                                field: "deadlines.due".to_owned(),
                                why: "it is not a date like 2027-03-01",
                            }
                        })?,
                        name: d.name,
                        provisional: d.provisional,
                    })
                })
                .collect::<Result<_, Error>>()?,
        },
    })
}

fn rejected_to_wire(rejected: &Rejected) -> v1::Rejected {
    let code = match &rejected.reason {
        RejectedReason::Refused(rejection) => code_to_wire(rejection.code),
        RejectedReason::Malformed(_) => v1::RejectionCode::Malformed,
        RejectedReason::EventIdReused(_) => v1::RejectionCode::EventIdReused,
        RejectedReason::MissingPartitionHeader(_) => v1::RejectionCode::MissingPartitionHeader,
    };
    let message = rejected.reason.message().to_owned();
    v1::Rejected {
        event_id: rejected
            .event_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        proposal_key: rejected
            .proposal
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        code: code.into(),
        message,
        correlation_id: rejected.correlation_id.clone().unwrap_or_default(),
        repeat: rejected.repeat,
    }
}

fn rejected_from_wire(wire: v1::Rejected) -> Result<Rejected, Error> {
    let code = v1::RejectionCode::try_from(wire.code).map_err(|_| Error::UnknownEnumValue {
        field: "code".to_owned(),
        value: wire.code,
    })?;
    let reason = reason_from_wire(code, wire.message)?;
    Ok(Rejected {
        event_id: (!wire.event_id.is_empty())
            .then(|| event_id("event_id", wire.event_id))
            .transpose()?,
        proposal: (!wire.proposal_key.is_empty())
            .then(|| proposal_key("proposal_key", wire.proposal_key))
            .transpose()?,
        reason,
        correlation_id: (!wire.correlation_id.is_empty()).then_some(wire.correlation_id),
        repeat: wire.repeat,
    })
}

fn code_to_wire(code: RejectionCode) -> v1::RejectionCode {
    match code {
        RejectionCode::WrongState => v1::RejectionCode::WrongState,
        RejectionCode::ActorNotAllowed => v1::RejectionCode::ActorNotAllowed,
        RejectionCode::GuardFailed => v1::RejectionCode::GuardFailed,
        RejectionCode::UnknownProposal => v1::RejectionCode::UnknownProposal,
        RejectionCode::UnknownTask => v1::RejectionCode::UnknownTask,
        RejectionCode::InvalidPayload => v1::RejectionCode::InvalidPayload,
        RejectionCode::AlreadyExists => v1::RejectionCode::AlreadyExists,
        RejectionCode::Calendar => v1::RejectionCode::Calendar,
        RejectionCode::ClockSkew => v1::RejectionCode::ClockSkew,
        RejectionCode::WrongJurisdiction => v1::RejectionCode::WrongJurisdiction,
    }
}

fn reason_from_wire(code: v1::RejectionCode, message: String) -> Result<RejectedReason, Error> {
    let code = match code {
        v1::RejectionCode::Unspecified => {
            return Err(Error::Unspecified {
                field: "code".to_owned(),
            })
        }
        // No domain code matches: the message never reached the domain.
        v1::RejectionCode::Malformed => return Ok(RejectedReason::Malformed(message)),
        v1::RejectionCode::EventIdReused => return Ok(RejectedReason::EventIdReused(message)),
        v1::RejectionCode::MissingPartitionHeader => {
            return Ok(RejectedReason::MissingPartitionHeader(message))
        }
        v1::RejectionCode::WrongState => RejectionCode::WrongState,
        v1::RejectionCode::ActorNotAllowed => RejectionCode::ActorNotAllowed,
        v1::RejectionCode::GuardFailed => RejectionCode::GuardFailed,
        v1::RejectionCode::UnknownProposal => RejectionCode::UnknownProposal,
        v1::RejectionCode::UnknownTask => RejectionCode::UnknownTask,
        v1::RejectionCode::InvalidPayload => RejectionCode::InvalidPayload,
        v1::RejectionCode::AlreadyExists => RejectionCode::AlreadyExists,
        v1::RejectionCode::Calendar => RejectionCode::Calendar,
        v1::RejectionCode::ClockSkew => RejectionCode::ClockSkew,
        v1::RejectionCode::WrongJurisdiction => RejectionCode::WrongJurisdiction,
    };
    Ok(RejectedReason::Refused(Rejection::new(code, message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_rejection_carries_the_decoder_sentence() {
        let error = crate::decode("text/plain", b"").unwrap_err();
        let rejected = Rejected::malformed(&error);
        let wire = rejected.to_wire();
        assert_eq!(wire.code, i32::from(v1::RejectionCode::Malformed));
        assert!(wire.message.contains("text/plain"), "{}", wire.message);
        assert!(wire.event_id.is_empty() && wire.proposal_key.is_empty());
        assert_eq!(Rejected::from_wire(wire).unwrap(), rejected);
    }

    #[test]
    fn every_domain_code_survives_the_wire() {
        for code in [
            RejectionCode::WrongState,
            RejectionCode::ActorNotAllowed,
            RejectionCode::GuardFailed,
            RejectionCode::UnknownProposal,
            RejectionCode::UnknownTask,
            RejectionCode::InvalidPayload,
            RejectionCode::AlreadyExists,
            RejectionCode::Calendar,
            RejectionCode::ClockSkew,
        ] {
            let reason = reason_from_wire(code_to_wire(code), "m".into()).unwrap();
            assert_eq!(reason, RejectedReason::Refused(Rejection::new(code, "m")));
        }
    }
}
