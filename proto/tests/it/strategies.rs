//! Arbitrary valid domain events, for the round-trip properties.

use chrono::{DateTime, NaiveDate, Utc};
use cohandle_workflows::event::{Assignment, DisputeDecision, Handler, TimerKind};
use cohandle_workflows::model::{
    AssignmentMode, Contact, ContactMethod, Disclosure, DisclosureConsent, DisclosureScope,
    Dispatch, Draft, Feedback, Opinion, ProposalInfo, ProposalKind, ResultClass, Satisfaction,
    Signature, TaskRole,
};
use cohandle_workflows::{Actor, ActorKind, AgencyCode, Body, Event, EventId, ProposalKey};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// Free text: any Unicode, including the empty string.
fn text() -> impl Strategy<Value = String> {
    "(?s).{0,12}"
}

fn names() -> impl Strategy<Value = Vec<String>> {
    vec(text(), 0..4)
}

fn agency() -> impl Strategy<Value = AgencyCode> {
    "[a-z0-9][a-z0-9._-]{0,15}"
        .prop_map(|s| AgencyCode::parse(s).expect("the pattern makes valid codes"))
}

fn proposal_key() -> impl Strategy<Value = ProposalKey> {
    "[a-z0-9][a-z0-9._-]{0,30}"
        .prop_map(|s| ProposalKey::parse(s).expect("the pattern makes valid keys"))
}

fn event_id() -> impl Strategy<Value = EventId> {
    "[a-zA-Z0-9][a-zA-Z0-9._:/-]{0,40}"
        .prop_map(|s| EventId::parse(s).expect("the pattern makes valid ids"))
}

/// Any date from 0001-01-01 to 9999-12-31: what `YYYY-MM-DD` can write.
fn date() -> impl Strategy<Value = NaiveDate> {
    let first = NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date");
    (0i64..3_652_059).prop_map(move |days| first + chrono::Duration::days(days))
}

/// Any instant an RFC 3339 timestamp can write, to the nanosecond.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (-62_135_596_800i64..=253_402_300_799, 0u32..1_000_000_000)
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).expect("the range is within chrono's"))
}

fn actor_kind() -> impl Strategy<Value = ActorKind> {
    prop_oneof![
        Just(ActorKind::Assigner),
        Just(ActorKind::Agency),
        Just(ActorKind::CongressOffice),
        Just(ActorKind::Supervisor),
        Just(ActorKind::Timer),
    ]
}

fn info() -> impl Strategy<Value = ProposalInfo> {
    (
        prop_oneof![
            Just(ProposalKind::DeputySuggestion),
            Just(ProposalKind::CppccProposal)
        ],
        (text(), text(), text(), text(), text()),
        names(),
        date(),
        option::of(date()),
        prop_oneof![
            Just(DisclosureConsent::FullText),
            Just(DisclosureConsent::TitleOnly)
        ],
        any::<bool>(),
    )
        .prop_map(
            |(
                kind,
                (number, session, title, category, lead_deputy),
                co_signers,
                submitted_on,
                session_closed_on,
                disclosure_consent,
                key_supervision,
            )| ProposalInfo {
                kind,
                number,
                session,
                title,
                category,
                lead_deputy,
                co_signers,
                submitted_on,
                session_closed_on,
                disclosure_consent,
                key_supervision,
            },
        )
}

fn assignment() -> impl Strategy<Value = Body> {
    let role = prop_oneof![
        Just(TaskRole::Lead),
        Just(TaskRole::CoHandler),
        Just(TaskRole::Split)
    ];
    let mode = prop_oneof![
        Just(AssignmentMode::Sole),
        Just(AssignmentMode::LeadWithCoHandlers),
        Just(AssignmentMode::Split)
    ];
    (
        text(),
        info(),
        mode,
        vec(
            (agency(), role).prop_map(|(agency, role)| Handler { agency, role }),
            0..4,
        ),
        date(),
    )
        .prop_map(|(definition, info, mode, handlers, assigned_on)| {
            Body::Assign(Assignment {
                definition,
                info,
                mode,
                handlers,
                assigned_on,
            })
        })
}

fn body() -> impl Strategy<Value = Body> {
    let decision = prop_oneof![
        text().prop_map(|reason| DisputeDecision::Keep { reason }),
        (agency(), text()).prop_map(|(to, reason)| DisputeDecision::Reassign { to, reason }),
    ];
    let method = prop_oneof![
        Just(ContactMethod::Phone),
        Just(ContactMethod::Meeting),
        Just(ContactMethod::Letter)
    ];
    let class = prop_oneof![
        Just(ResultClass::A),
        Just(ResultClass::B),
        Just(ResultClass::C),
        Just(ResultClass::D)
    ];
    let satisfaction = prop_oneof![
        Just(Satisfaction::Satisfied),
        Just(Satisfaction::BasicallySatisfied),
        Just(Satisfaction::Dissatisfied)
    ];
    let scope = prop_oneof![
        Just(DisclosureScope::Full),
        Just(DisclosureScope::Summary),
        Just(DisclosureScope::Withheld)
    ];
    let timer = prop_oneof![Just(TimerKind::Reminder), Just(TimerKind::Expiry)];
    prop_oneof![
        assignment(),
        Just(Body::SignFor),
        Just(Body::Acknowledge),
        text().prop_map(|reason| Body::Dispute { reason }),
        (agency(), decision)
            .prop_map(|(agency, decision)| Body::DecideDispute { agency, decision }),
        (text(), text(), option::of(date())).prop_map(
            |(document_number, summary, submitted_on)| {
                Body::SubmitOpinion(Opinion {
                    document_number,
                    summary,
                    submitted_on,
                })
            }
        ),
        text().prop_map(|reason| Body::Decline { reason }),
        (agency(), text())
            .prop_map(|(co_handler, reason)| Body::RaiseDisagreement { co_handler, reason }),
        (agency(), text()).prop_map(|(co_handler, resolution)| Body::SettleDisagreement {
            co_handler,
            resolution
        }),
        (method, date(), any::<bool>(), text()).prop_map(|(method, on, deputy_agreed, note)| {
            Body::RecordContact(Contact {
                method,
                on,
                deputy_agreed,
                note,
            })
        }),
        (class, text(), text(), vec(agency(), 0..3), any::<bool>()).prop_map(
            |(result_class, document_number, summary, co_handler_views, commits_funds)| {
                Body::DraftReply(Draft {
                    result_class,
                    document_number,
                    summary,
                    co_handler_views,
                    commits_funds,
                })
            }
        ),
        text().prop_map(|reason| Body::ReturnDraft { reason }),
        (text(), text(), any::<bool>(), date()).prop_map(
            |(signer, title, principal_head, signed_on)| {
                Body::SignReply(Signature {
                    signer,
                    title,
                    principal_head,
                    signed_on,
                })
            }
        ),
        (date(), names(), names()).prop_map(|(sent_on, deputies, copies)| {
            Body::SendReply(Dispatch {
                sent_on,
                deputies,
                copies,
            })
        }),
        (agency(), satisfaction, text(), date()).prop_map(
            |(agency, satisfaction, comments, received_on)| Body::RecordFeedback {
                agency,
                feedback: Feedback {
                    satisfaction,
                    comments,
                    received_on,
                },
            }
        ),
        text().prop_map(|note| Body::ReportProgress { note }),
        text().prop_map(|note| Body::ConcludeFollowUp { note }),
        text().prop_map(|note| Body::RecordConsultation { note }),
        (date(), text()).prop_map(|(until, reason)| Body::RequestExtension { until, reason }),
        agency().prop_map(|agency| Body::ApproveExtension { agency }),
        (agency(), text()).prop_map(|(agency, reason)| Body::RefuseExtension { agency, reason }),
        (
            (text(), text(), text(), text()),
            date(),
            option::of(date()),
            scope,
            option::of(text()),
        )
            .prop_map(
                |(
                    (index_number, topic, genre, issuing_body),
                    written_on,
                    published_on,
                    scope,
                    withheld_reason,
                )| {
                    Body::RecordDisclosure(Disclosure {
                        index_number,
                        topic,
                        genre,
                        issuing_body,
                        written_on,
                        published_on,
                        scope,
                        withheld_reason,
                    })
                }
            ),
        proposal_key().prop_map(|target| Body::MergeInto { target }),
        (proposal_key(), names()).prop_map(|(source, deputies)| Body::Absorb { source, deputies }),
        (agency(), text()).prop_map(|(agency, note)| Body::Urge { agency, note }),
        (agency(), text(), timer, date(), any::<u32>()).prop_map(
            |(agency, deadline, kind, due, generation)| Body::TimerFired {
                agency,
                deadline,
                kind,
                due,
                generation,
            }
        ),
    ]
}

pub fn event() -> impl Strategy<Value = Event> {
    (
        event_id(),
        proposal_key(),
        agency(),
        actor_kind(),
        instant(),
        body(),
    )
        .prop_map(|(id, proposal, agency, kind, occurred_at, body)| Event {
            id,
            proposal,
            actor: Actor { agency, kind },
            occurred_at,
            body,
        })
}

pub fn trace() -> impl Strategy<Value = cohandle_proto::Trace> {
    (option::of(event_id()), option::of(event_id())).prop_map(|(correlation_id, causation_id)| {
        cohandle_proto::Trace {
            correlation_id,
            causation_id,
        }
    })
}
