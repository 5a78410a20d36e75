//! Notifications and rejections round trip, and malformed ones are refused.

use cohandle_proto::{
    decode, decode_notification, decode_rejected, encode_notification, encode_rejected,
    ContentType, Error, OutboundNotification, Rejected, RejectedReason,
};
use cohandle_workflows::engine::{
    DeadlineNotice, Notification, Recipient, Rejection, RejectionCode,
};
use cohandle_workflows::{EventId, ProposalKey};

use crate::samples::{code, every_event, PROPOSAL};

pub fn notifications() -> Vec<OutboundNotification> {
    let recipients = [
        Recipient::Agency(code("cq-kjj")),
        Recipient::Deputies(vec!["郎平权".into()]),
        Recipient::Assigner(code("cq-zfbgt")),
        Recipient::CongressOffice,
        Recipient::Supervisors,
    ];
    recipients
        .into_iter()
        .map(|recipient| OutboundNotification {
            proposal: ProposalKey::parse(PROPOSAL).expect("valid key"),
            event_id: EventId::parse("evt-0942-07-submit_opinion").expect("valid id"),
            notification: Notification {
                recipient,
                event: "submit_opinion".into(),
                agency: Some(code("cq-jw")),
                state: Some("opinion_sent".into()),
                deadlines: vec![DeadlineNotice {
                    name: "reply".into(),
                    due: chrono::NaiveDate::from_ymd_opt(2027, 3, 1).expect("a date"),
                    provisional: true,
                }],
            },
        })
        .chain([OutboundNotification {
            proposal: ProposalKey::parse(PROPOSAL).expect("valid key"),
            event_id: EventId::parse("evt-0942-01-assign").expect("valid id"),
            notification: Notification {
                recipient: Recipient::Supervisors,
                event: "assign".into(),
                agency: None,
                state: None,
                deadlines: Vec::new(),
            },
        }])
        .collect()
}

pub fn rejections() -> Vec<Rejected> {
    let event = &every_event()[6];
    let codes = [
        RejectionCode::WrongState,
        RejectionCode::ActorNotAllowed,
        RejectionCode::GuardFailed,
        RejectionCode::UnknownProposal,
        RejectionCode::UnknownTask,
        RejectionCode::InvalidPayload,
        RejectionCode::AlreadyExists,
        RejectionCode::Calendar,
        RejectionCode::ClockSkew,
    ];
    let malformed = decode("application/json", b"{}").expect_err("an empty envelope is refused");
    codes
        .into_iter()
        .map(|code| Rejected::refused(event, Rejection::new(code, "协办任务尚未签收")))
        .chain([Rejected::malformed(&malformed)])
        .chain(
            [
                RejectedReason::EventIdReused("used".into()),
                RejectedReason::MissingPartitionHeader("no header".into()),
            ]
            .map(|reason| Rejected {
                reason,
                correlation_id: Some("the sender's own message id".into()),
                ..Rejected::refused(event, Rejection::new(RejectionCode::WrongState, ""))
            }),
        )
        .chain([Rejected {
            repeat: true,
            ..Rejected::refused(event, Rejection::new(RejectionCode::WrongState, "again"))
        }])
        .collect()
}

#[test]
fn notifications_round_trip() {
    for notice in notifications() {
        for content_type in [ContentType::Protobuf, ContentType::Json] {
            let bytes = encode_notification(content_type, &notice);
            let decoded = decode_notification(content_type.as_str(), &bytes).unwrap();
            assert_eq!(decoded, notice);
        }
    }
}

#[test]
fn rejections_round_trip() {
    for rejected in rejections() {
        for content_type in [ContentType::Protobuf, ContentType::Json] {
            let bytes = encode_rejected(content_type, &rejected);
            assert_eq!(
                decode_rejected(content_type.as_str(), &bytes).unwrap(),
                rejected
            );
        }
    }
    let malformed = rejections()
        .into_iter()
        .find(|r| matches!(r.reason, RejectedReason::Malformed(_)))
        .unwrap();
    assert_eq!(malformed.event_id, None);
    assert!(matches!(
        malformed.reason,
        RejectedReason::Malformed(message) if message.contains("schema_version")
    ));
}

#[test]
fn recipients_must_be_consistent() {
    let decode = |json: &str| decode_notification("application/json", json.as_bytes());
    let notification = |recipient: &str| {
        format!(r#"{{"proposalKey":"p","eventId":"e","event":"assign","recipient":{recipient}}}"#)
    };
    assert!(decode(&notification(r#"{"kind":"RECIPIENT_KIND_SUPERVISORS"}"#)).is_ok());
    let error = decode(&notification(
        r#"{"kind":"RECIPIENT_KIND_SUPERVISORS","agency":"cq-kjj"}"#,
    ))
    .unwrap_err();
    assert_eq!(error.field(), Some("recipient.agency"));
    let error = decode(&notification(
        r#"{"kind":"RECIPIENT_KIND_AGENCY","deputies":["郎平权"]}"#,
    ))
    .unwrap_err();
    assert_eq!(error.field(), Some("recipient.deputies"));
    let error = decode(&notification(r#"{"kind":"RECIPIENT_KIND_AGENCY"}"#)).unwrap_err();
    assert!(matches!(error, Error::InvalidId { .. }), "{error}");
    let error = decode(&notification("{}")).unwrap_err();
    assert!(matches!(error, Error::Unspecified { .. }), "{error}");
    let error = decode(r#"{"proposalKey":"p","eventId":"e","event":"assign"}"#).unwrap_err();
    assert!(matches!(error, Error::Missing { .. }), "{error}");
}

#[test]
fn notifications_name_an_event_of_the_vocabulary() {
    let json = r#"{"proposalKey":"p","eventId":"e","event":"party",
        "recipient":{"kind":"RECIPIENT_KIND_SUPERVISORS"}}"#;
    let error = decode_notification("application/json", json.as_bytes()).unwrap_err();
    assert_eq!(error.field(), Some("event"));
}

#[test]
fn a_rejection_needs_a_code() {
    let error = decode_rejected("application/json", br#"{"message":"no"}"#).unwrap_err();
    assert!(matches!(error, Error::Unspecified { .. }), "{error}");
    let error = decode_rejected(
        "application/json",
        br#"{"code":"REJECTION_CODE_MALFORMED","extra":1}"#,
    )
    .unwrap_err();
    assert!(matches!(error, Error::Json { .. }), "{error}");
}
