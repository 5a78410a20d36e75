//! Events: the domain's [`Event`] to and from the wire's [`v1::Envelope`].

use cohandle_workflows::event::{
    Actor, Assignment, Body, DisputeDecision, Event, Handler as DomainHandler,
};
use cohandle_workflows::ids::{EventId, ProposalKey};
use cohandle_workflows::model::{
    Contact, Disclosure, Dispatch, Draft, Feedback, Opinion, ProposalInfo, Signature,
};

use crate::codec::{read, write, ContentType};
use crate::field::{
    agencies, agency, date, event_id, instant, missing, optional_date, optional_event_id,
    proposal_key, read_enum, write_date, write_enum, write_instant, write_optional_date,
};
use crate::v1::{self, decide_dispute, envelope::Body as Wire};
use crate::{Error, SCHEMA_VERSION};

/// Where an event sits in a chain of events. The envelope carries it; the domain's
/// [`Event`] does not, so it travels beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    /// The event that started the chain (e.g. the assignment).
    pub correlation_id: Option<EventId>,
    /// The event this one answers.
    pub causation_id: Option<EventId>,
}

/// Decodes an event sent as `content_type` (`application/x-protobuf` or `application/json`).
pub fn decode(content_type: &str, bytes: &[u8]) -> Result<Event, Error> {
    decode_traced(content_type, bytes).map(|(event, _)| event)
}

/// Decodes an event and the envelope's correlation and causation ids.
pub fn decode_traced(content_type: &str, bytes: &[u8]) -> Result<(Event, Trace), Error> {
    from_envelope(read(content_type, bytes)?)
}

/// The ids of a message that may not decode as a whole (a bad date, no body, no
/// `schemaVersion`), so that its refusal can name what it refuses: its event id and its
/// proposal key, each when it is present and valid.
pub fn readable_ids(content_type: &str, bytes: &[u8]) -> (Option<EventId>, Option<ProposalKey>) {
    /// The envelope's first two fields alone; protobuf skips the others.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Ids {
        #[prost(string, tag = "1")]
        event_id: String,
        #[prost(string, tag = "2")]
        proposal_key: String,
    }
    let Ok(content_type) = ContentType::parse(content_type) else {
        return (None, None);
    };
    if bytes.len() > crate::MAX_MESSAGE_BYTES {
        return (None, None);
    }
    let (event_id, proposal_key) = match content_type {
        ContentType::Protobuf => match <Ids as prost::Message>::decode(bytes) {
            Ok(ids) => (ids.event_id, ids.proposal_key),
            Err(_) => return (None, None),
        },
        ContentType::Json => {
            let Ok(serde_json::Value::Object(members)) = serde_json::from_slice(bytes) else {
                return (None, None);
            };
            let text = |names: [&str; 2]| {
                names
                    .iter()
                    .find_map(|name| members.get(*name).and_then(|v| v.as_str()))
                    .unwrap_or_default()
                    .to_owned()
            };
            (
                text(["eventId", "event_id"]),
                text(["proposalKey", "proposal_key"]),
            )
        }
    };
    (
        EventId::parse(event_id).ok(),
        ProposalKey::parse(proposal_key).ok(),
    )
}

/// Encodes an event as a binary protobuf envelope, with no trace.
pub fn encode_protobuf(event: &Event) -> Vec<u8> {
    encode(ContentType::Protobuf, event, &Trace::default())
}

/// Encodes an event as a proto3 JSON envelope, with no trace.
pub fn encode_json(event: &Event) -> Vec<u8> {
    encode(ContentType::Json, event, &Trace::default())
}

/// Encodes an event and its trace.
pub fn encode(content_type: ContentType, event: &Event, trace: &Trace) -> Vec<u8> {
    write(content_type, &to_envelope(event, trace))
}

/// The wire form of an event.
pub fn to_envelope(event: &Event, trace: &Trace) -> v1::Envelope {
    let id = |id: &Option<EventId>| id.as_ref().map(EventId::to_string).unwrap_or_default();
    v1::Envelope {
        event_id: event.id.to_string(),
        proposal_key: event.proposal.to_string(),
        occurred_at: Some(write_instant(event.occurred_at)),
        actor_agency: event.actor.agency.to_string(),
        actor_kind: write_enum(event.actor.kind),
        correlation_id: id(&trace.correlation_id),
        causation_id: id(&trace.causation_id),
        schema_version: SCHEMA_VERSION,
        body: Some(to_body(&event.body)),
    }
}

/// Reads an envelope into a valid event: every id, date and enum is checked.
pub fn from_envelope(envelope: v1::Envelope) -> Result<(Event, Trace), Error> {
    if envelope.schema_version != SCHEMA_VERSION {
        return Err(Error::UnsupportedSchemaVersion {
            found: envelope.schema_version,
        });
    }
    let event = Event {
        id: event_id("event_id", envelope.event_id)?,
        proposal: proposal_key("proposal_key", envelope.proposal_key)?,
        actor: Actor {
            agency: agency("actor_agency", envelope.actor_agency)?,
            kind: read_enum("actor_kind", envelope.actor_kind)?,
        },
        occurred_at: instant("occurred_at", envelope.occurred_at)?,
        body: from_body(envelope.body.ok_or(Error::MissingBody)?)?,
    };
    let trace = Trace {
        correlation_id: optional_event_id("correlation_id", envelope.correlation_id)?,
        causation_id: optional_event_id("causation_id", envelope.causation_id)?,
    };
    Ok((event, trace))
}

fn to_body(body: &Body) -> Wire {
    match body.clone() {
        Body::Assign(assignment) => Wire::Assign(v1::Assign {
            definition: assignment.definition,
            info: Some(to_info(assignment.info)),
            mode: write_enum(assignment.mode),
            handlers: assignment
                .handlers
                .into_iter()
                .map(|h| v1::Handler {
                    agency: h.agency.into(),
                    role: write_enum(h.role),
                })
                .collect(),
            assigned_on: write_date(assignment.assigned_on),
        }),
        Body::SignFor => Wire::SignFor(v1::SignFor {}),
        Body::Acknowledge => Wire::Acknowledge(v1::Acknowledge {}),
        Body::Dispute { reason } => Wire::Dispute(v1::Dispute { reason }),
        Body::DecideDispute { agency, decision } => Wire::DecideDispute(v1::DecideDispute {
            agency: agency.into(),
            decision: Some(match decision {
                DisputeDecision::Keep { reason } => {
                    decide_dispute::Decision::Keep(decide_dispute::Keep { reason })
                }
                DisputeDecision::Reassign { to, reason } => {
                    decide_dispute::Decision::Reassign(decide_dispute::Reassign {
                        to: to.into(),
                        reason,
                    })
                }
            }),
        }),
        Body::SubmitOpinion(opinion) => Wire::SubmitOpinion(v1::SubmitOpinion {
            document_number: opinion.document_number,
            summary: opinion.summary,
            submitted_on: write_optional_date(opinion.submitted_on),
        }),
        Body::Decline { reason } => Wire::Decline(v1::Decline { reason }),
        Body::RaiseDisagreement { co_handler, reason } => {
            Wire::RaiseDisagreement(v1::RaiseDisagreement {
                co_handler: co_handler.into(),
                reason,
            })
        }
        Body::SettleDisagreement {
            co_handler,
            resolution,
        } => Wire::SettleDisagreement(v1::SettleDisagreement {
            co_handler: co_handler.into(),
            resolution,
        }),
        Body::RecordContact(contact) => Wire::RecordContact(v1::RecordContact {
            method: write_enum(contact.method),
            on: write_date(contact.on),
            deputy_agreed: contact.deputy_agreed,
            note: contact.note,
        }),
        Body::DraftReply(draft) => Wire::DraftReply(v1::DraftReply {
            result_class: write_enum(draft.result_class),
            document_number: draft.document_number,
            summary: draft.summary,
            co_handler_views: draft.co_handler_views.into_iter().map(Into::into).collect(),
            commits_funds: draft.commits_funds,
        }),
        Body::ReturnDraft { reason } => Wire::ReturnDraft(v1::ReturnDraft { reason }),
        Body::SignReply(signature) => Wire::SignReply(v1::SignReply {
            signer: signature.signer,
            title: signature.title,
            principal_head: signature.principal_head,
            signed_on: write_date(signature.signed_on),
        }),
        Body::SendReply(dispatch) => Wire::SendReply(v1::SendReply {
            sent_on: write_date(dispatch.sent_on),
            deputies: dispatch.deputies,
            copies: dispatch.copies,
        }),
        Body::RecordFeedback { agency, feedback } => Wire::RecordFeedback(v1::RecordFeedback {
            agency: agency.into(),
            satisfaction: write_enum(feedback.satisfaction),
            comments: feedback.comments,
            received_on: write_date(feedback.received_on),
        }),
        Body::ReportProgress { note } => Wire::ReportProgress(v1::ReportProgress { note }),
        Body::ConcludeFollowUp { note } => Wire::ConcludeFollowUp(v1::ConcludeFollowUp { note }),
        Body::RecordConsultation { note } => {
            Wire::RecordConsultation(v1::RecordConsultation { note })
        }
        Body::RequestExtension { until, reason } => Wire::RequestExtension(v1::RequestExtension {
            until: write_date(until),
            reason,
        }),
        Body::ApproveExtension { agency } => Wire::ApproveExtension(v1::ApproveExtension {
            agency: agency.into(),
        }),
        Body::RefuseExtension { agency, reason } => Wire::RefuseExtension(v1::RefuseExtension {
            agency: agency.into(),
            reason,
        }),
        Body::RecordDisclosure(disclosure) => Wire::RecordDisclosure(v1::RecordDisclosure {
            index_number: disclosure.index_number,
            topic: disclosure.topic,
            genre: disclosure.genre,
            issuing_body: disclosure.issuing_body,
            written_on: write_date(disclosure.written_on),
            published_on: write_optional_date(disclosure.published_on),
            scope: write_enum(disclosure.scope),
            withheld_reason: disclosure.withheld_reason,
        }),
        Body::MergeInto { target } => Wire::MergeInto(v1::MergeInto {
            target: target.into(),
        }),
        Body::Absorb { source, deputies } => Wire::Absorb(v1::Absorb {
            source: source.into(),
            deputies,
        }),
        Body::Urge { agency, note } => Wire::Urge(v1::Urge {
            agency: agency.into(),
            note,
        }),
        Body::PauseClock { reason } => Wire::PauseClock(v1::PauseClock { reason }),
        Body::ResumeClock => Wire::ResumeClock(v1::ResumeClock {}),
        Body::RecomputeDeadlines { reason } => {
            Wire::RecomputeDeadlines(v1::RecomputeDeadlines { reason })
        }
        Body::TimerFired {
            agency,
            deadline,
            kind,
            due,
            generation,
        } => Wire::TimerFired(v1::TimerFired {
            agency: agency.into(),
            deadline,
            kind: write_enum(kind),
            due: write_date(due),
            generation,
        }),
    }
}

fn to_info(info: ProposalInfo) -> v1::ProposalInfo {
    v1::ProposalInfo {
        kind: write_enum(info.kind),
        number: info.number,
        session: info.session,
        title: info.title,
        category: info.category,
        lead_deputy: info.lead_deputy,
        co_signers: info.co_signers,
        submitted_on: write_date(info.submitted_on),
        session_closed_on: write_optional_date(info.session_closed_on),
        disclosure_consent: write_enum(info.disclosure_consent),
        key_supervision: info.key_supervision,
    }
}

fn from_body(body: Wire) -> Result<Body, Error> {
    Ok(match body {
        Wire::Assign(assign) => Body::Assign(Assignment {
            definition: assign.definition,
            info: from_info(assign.info.ok_or_else(|| missing("assign.info"))?)?,
            mode: read_enum("assign.mode", assign.mode)?,
            handlers: assign
                .handlers
                .into_iter()
                .enumerate()
                .map(|(i, handler)| {
                    Ok(DomainHandler {
                        agency: agency(&format!("assign.handlers[{i}].agency"), handler.agency)?,
                        role: read_enum(&format!("assign.handlers[{i}].role"), handler.role)?,
                    })
                })
                .collect::<Result<_, Error>>()?,
            assigned_on: date("assign.assigned_on", &assign.assigned_on)?,
        }),
        Wire::SignFor(v1::SignFor {}) => Body::SignFor,
        Wire::Acknowledge(v1::Acknowledge {}) => Body::Acknowledge,
        Wire::Dispute(v1::Dispute { reason }) => Body::Dispute { reason },
        Wire::DecideDispute(decide) => Body::DecideDispute {
            agency: agency("decide_dispute.agency", decide.agency)?,
            decision: match decide
                .decision
                .ok_or_else(|| missing("decide_dispute.decision"))?
            {
                decide_dispute::Decision::Keep(keep) => DisputeDecision::Keep {
                    reason: keep.reason,
                },
                decide_dispute::Decision::Reassign(reassign) => DisputeDecision::Reassign {
                    to: agency("decide_dispute.reassign.to", reassign.to)?,
                    reason: reassign.reason,
                },
            },
        },
        Wire::SubmitOpinion(opinion) => Body::SubmitOpinion(Opinion {
            document_number: opinion.document_number,
            summary: opinion.summary,
            submitted_on: optional_date("submit_opinion.submitted_on", &opinion.submitted_on)?,
        }),
        Wire::Decline(v1::Decline { reason }) => Body::Decline { reason },
        Wire::RaiseDisagreement(raise) => Body::RaiseDisagreement {
            co_handler: agency("raise_disagreement.co_handler", raise.co_handler)?,
            reason: raise.reason,
        },
        Wire::SettleDisagreement(settle) => Body::SettleDisagreement {
            co_handler: agency("settle_disagreement.co_handler", settle.co_handler)?,
            resolution: settle.resolution,
        },
        Wire::RecordContact(contact) => Body::RecordContact(Contact {
            method: read_enum("record_contact.method", contact.method)?,
            on: date("record_contact.on", &contact.on)?,
            deputy_agreed: contact.deputy_agreed,
            note: contact.note,
        }),
        Wire::DraftReply(draft) => Body::DraftReply(Draft {
            result_class: read_enum("draft_reply.result_class", draft.result_class)?,
            document_number: draft.document_number,
            summary: draft.summary,
            co_handler_views: agencies("draft_reply.co_handler_views", draft.co_handler_views)?,
            commits_funds: draft.commits_funds,
        }),
        Wire::ReturnDraft(v1::ReturnDraft { reason }) => Body::ReturnDraft { reason },
        Wire::SignReply(sign) => Body::SignReply(Signature {
            signer: sign.signer,
            title: sign.title,
            principal_head: sign.principal_head,
            signed_on: date("sign_reply.signed_on", &sign.signed_on)?,
        }),
        Wire::SendReply(send) => Body::SendReply(Dispatch {
            sent_on: date("send_reply.sent_on", &send.sent_on)?,
            deputies: send.deputies,
            copies: send.copies,
        }),
        Wire::RecordFeedback(feedback) => Body::RecordFeedback {
            agency: agency("record_feedback.agency", feedback.agency)?,
            feedback: Feedback {
                satisfaction: read_enum("record_feedback.satisfaction", feedback.satisfaction)?,
                comments: feedback.comments,
                received_on: date("record_feedback.received_on", &feedback.received_on)?,
            },
        },
        Wire::ReportProgress(v1::ReportProgress { note }) => Body::ReportProgress { note },
        Wire::ConcludeFollowUp(v1::ConcludeFollowUp { note }) => Body::ConcludeFollowUp { note },
        Wire::RecordConsultation(v1::RecordConsultation { note }) => {
            Body::RecordConsultation { note }
        }
        Wire::RequestExtension(request) => Body::RequestExtension {
            until: date("request_extension.until", &request.until)?,
            reason: request.reason,
        },
        Wire::ApproveExtension(approve) => Body::ApproveExtension {
            agency: agency("approve_extension.agency", approve.agency)?,
        },
        Wire::RefuseExtension(refuse) => Body::RefuseExtension {
            agency: agency("refuse_extension.agency", refuse.agency)?,
            reason: refuse.reason,
        },
        Wire::RecordDisclosure(disclosure) => Body::RecordDisclosure(Disclosure {
            index_number: disclosure.index_number,
            topic: disclosure.topic,
            genre: disclosure.genre,
            issuing_body: disclosure.issuing_body,
            written_on: date("record_disclosure.written_on", &disclosure.written_on)?,
            published_on: optional_date(
                "record_disclosure.published_on",
                &disclosure.published_on,
            )?,
            scope: read_enum("record_disclosure.scope", disclosure.scope)?,
            withheld_reason: disclosure.withheld_reason,
        }),
        Wire::MergeInto(merge) => Body::MergeInto {
            target: proposal_key("merge_into.target", merge.target)?,
        },
        Wire::Absorb(absorb) => Body::Absorb {
            source: proposal_key("absorb.source", absorb.source)?,
            deputies: absorb.deputies,
        },
        Wire::Urge(urge) => Body::Urge {
            agency: agency("urge.agency", urge.agency)?,
            note: urge.note,
        },
        Wire::PauseClock(pause) => Body::PauseClock {
            reason: pause.reason,
        },
        Wire::ResumeClock(_) => Body::ResumeClock,
        Wire::RecomputeDeadlines(recompute) => Body::RecomputeDeadlines {
            reason: recompute.reason,
        },
        Wire::TimerFired(timer) => Body::TimerFired {
            agency: agency("timer_fired.agency", timer.agency)?,
            deadline: timer.deadline,
            kind: read_enum("timer_fired.kind", timer.kind)?,
            due: date("timer_fired.due", &timer.due)?,
            generation: timer.generation,
        },
    })
}

fn from_info(info: v1::ProposalInfo) -> Result<ProposalInfo, Error> {
    Ok(ProposalInfo {
        kind: read_enum("assign.info.kind", info.kind)?,
        number: info.number,
        session: info.session,
        title: info.title,
        category: info.category,
        lead_deputy: info.lead_deputy,
        co_signers: info.co_signers,
        submitted_on: date("assign.info.submitted_on", &info.submitted_on)?,
        session_closed_on: optional_date("assign.info.session_closed_on", &info.session_closed_on)?,
        disclosure_consent: read_enum("assign.info.disclosure_consent", info.disclosure_consent)?,
        key_supervision: info.key_supervision,
    })
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};
    use cohandle_workflows::event::TimerKind;
    use cohandle_workflows::{ActorKind, AgencyCode, ProposalKey};
    use prost::Message;

    use super::*;

    fn event(body: Body) -> Event {
        Event {
            id: EventId::parse("e-1").unwrap(),
            proposal: ProposalKey::parse("cq-5-3-0942").unwrap(),
            actor: Actor {
                agency: AgencyCode::parse("cq-kjj").unwrap(),
                kind: ActorKind::Agency,
            },
            occurred_at: Utc.with_ymd_and_hms(2020, 4, 10, 2, 0, 0).unwrap(),
            body,
        }
    }

    fn envelope(body: Body) -> v1::Envelope {
        to_envelope(&event(body), &Trace::default())
    }

    fn refused(envelope: v1::Envelope) -> Error {
        let bytes = envelope.encode_to_vec();
        decode("application/x-protobuf", &bytes).expect_err("the envelope is refused")
    }

    #[test]
    fn a_protobuf_envelope_without_body_is_refused() {
        let mut wire = envelope(Body::SignFor);
        wire.body = None;
        assert!(matches!(refused(wire), Error::MissingBody));
    }

    #[test]
    fn the_schema_version_is_checked_first() {
        let mut wire = envelope(Body::SignFor);
        wire.schema_version = 0;
        wire.event_id.clear();
        assert!(matches!(
            refused(wire),
            Error::UnsupportedSchemaVersion { found: 0 }
        ));
    }

    #[test]
    fn unknown_enum_numbers_are_refused_by_field() {
        let mut wire = envelope(Body::SignFor);
        wire.actor_kind = 42;
        let error = refused(wire);
        assert!(
            matches!(&error, Error::UnknownEnumValue { field, value: 42 } if field == "actor_kind"),
            "{error}"
        );
    }

    #[test]
    fn nested_fields_are_named_by_their_path() {
        let mut wire = envelope(Body::DecideDispute {
            agency: AgencyCode::parse("cq-jw").unwrap(),
            decision: DisputeDecision::Keep {
                reason: String::new(),
            },
        });
        if let Some(Wire::DecideDispute(decide)) = &mut wire.body {
            decide.decision = None;
        }
        assert_eq!(refused(wire).field(), Some("decide_dispute.decision"));

        let mut wire = envelope(Body::TimerFired {
            agency: AgencyCode::parse("cq-jw").unwrap(),
            deadline: "opinion".into(),
            kind: TimerKind::Expiry,
            due: NaiveDate::from_ymd_opt(2020, 3, 26).unwrap(),
            generation: 3,
        });
        if let Some(Wire::TimerFired(timer)) = &mut wire.body {
            timer.kind = 0;
        }
        assert_eq!(refused(wire).field(), Some("timer_fired.kind"));
    }

    #[test]
    fn handlers_are_named_by_index() {
        let wire = v1::Envelope {
            body: Some(Wire::Assign(v1::Assign {
                definition: "chongqing-deputy-suggestion".into(),
                info: None,
                mode: v1::AssignmentMode::Sole.into(),
                handlers: vec![],
                assigned_on: "2020-02-26".into(),
            })),
            ..envelope(Body::SignFor)
        };
        assert_eq!(refused(wire.clone()).field(), Some("assign.info"));

        let info = v1::ProposalInfo {
            kind: v1::ProposalKind::CppccProposal.into(),
            submitted_on: "2020-01-12".into(),
            disclosure_consent: v1::DisclosureConsent::TitleOnly.into(),
            ..Default::default()
        };
        let handler = |agency: &str| v1::Handler {
            agency: agency.into(),
            role: v1::TaskRole::Split.into(),
        };
        let mut wire = wire;
        if let Some(Wire::Assign(assign)) = &mut wire.body {
            assign.info = Some(info);
            assign.handlers = vec![handler("cq-kjj"), handler("cq kjj")];
        }
        let error = refused(wire);
        assert_eq!(error.field(), Some("assign.handlers[1].agency"));
        assert!(
            error.to_string().contains("agency code \"cq kjj\""),
            "{error}"
        );
    }

    #[test]
    fn an_invalid_trace_is_refused() {
        let mut wire = envelope(Body::Acknowledge);
        wire.correlation_id = "not an id".into();
        assert_eq!(refused(wire).field(), Some("correlation_id"));
    }

    #[test]
    fn a_missing_timestamp_is_named() {
        let mut wire = envelope(Body::Acknowledge);
        wire.occurred_at = None;
        assert_eq!(refused(wire).field(), Some("occurred_at"));
    }
}
