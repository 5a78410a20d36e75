//! One realistic event per body of the domain, after case 0942 (市科技局, with 市教委 and
//! 市财政局 co-handling).

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cohandle_workflows::engine::china_offset;
use cohandle_workflows::event::{Assignment, DisputeDecision, Handler, TimerKind};
use cohandle_workflows::model::{
    AssignmentMode, Contact, ContactMethod, Disclosure, DisclosureConsent, DisclosureScope,
    Dispatch, Draft, Feedback, Opinion, ProposalInfo, ProposalKind, ResultClass, Satisfaction,
    Signature, TaskRole,
};
use cohandle_workflows::{Actor, ActorKind, AgencyCode, Body, Event, EventId, ProposalKey};

pub const PROPOSAL: &str = "cq-5-3-0942";

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("sample dates are valid")
}

/// Ten in the morning, China time.
pub fn at(day: &str) -> DateTime<Utc> {
    china_offset()
        .from_local_datetime(&date(day).and_hms_opt(10, 0, 0).expect("valid time"))
        .single()
        .expect("a fixed offset has no gaps")
        .with_timezone(&Utc)
}

pub fn code(s: &str) -> AgencyCode {
    AgencyCode::parse(s).expect("sample codes are valid")
}

fn actor(agency: &str, kind: ActorKind) -> Actor {
    Actor {
        agency: code(agency),
        kind,
    }
}

pub fn event(id: &str, actor: Actor, day: &str, body: Body) -> Event {
    Event {
        id: EventId::parse(id).expect("sample ids are valid"),
        proposal: ProposalKey::parse(PROPOSAL).expect("sample key is valid"),
        actor,
        occurred_at: at(day),
        body,
    }
}

/// Every body of the domain once (a fired timer twice: reminder and expiry).
pub fn every_event() -> Vec<Event> {
    let assigner = || actor("cq-zfbgt", ActorKind::Assigner);
    let lead = || actor("cq-kjj", ActorKind::Agency);
    let education = || actor("cq-jw", ActorKind::Agency);
    let congress = || actor("cq-rdgw", ActorKind::CongressOffice);
    let supervisor = || actor("cq-dc", ActorKind::Supervisor);
    let monitor = || actor("cohandle-monitor", ActorKind::Timer);
    let bodies = vec![
        (
            assigner(),
            "2020-02-26",
            Body::Assign(Assignment {
                definition: "chongqing-deputy-suggestion".into(),
                info: ProposalInfo {
                    kind: ProposalKind::DeputySuggestion,
                    number: "0942".into(),
                    session: "市五届人大三次会议".into(),
                    title: "关于对渝东南地区制造企业科学研究大力扶持的建议".into(),
                    category: "科技".into(),
                    lead_deputy: "郎平权".into(),
                    co_signers: vec![],
                    submitted_on: date("2020-01-12"),
                    session_closed_on: Some(date("2020-01-16")),
                    disclosure_consent: DisclosureConsent::FullText,
                    key_supervision: false,
                },
                mode: AssignmentMode::LeadWithCoHandlers,
                handlers: vec![
                    Handler {
                        agency: code("cq-kjj"),
                        role: TaskRole::Lead,
                    },
                    Handler {
                        agency: code("cq-jw"),
                        role: TaskRole::CoHandler,
                    },
                    Handler {
                        agency: code("cq-czj"),
                        role: TaskRole::CoHandler,
                    },
                ],
                assigned_on: date("2020-02-26"),
            }),
        ),
        (lead(), "2020-02-27", Body::SignFor),
        (education(), "2020-02-27", Body::Acknowledge),
        (
            education(),
            "2020-02-27",
            Body::Dispute {
                reason: "建议内容主要涉及科研扶持，不属我委职责".into(),
            },
        ),
        (
            assigner(),
            "2020-02-28",
            Body::DecideDispute {
                agency: code("cq-jw"),
                decision: DisputeDecision::Keep {
                    reason: "涉及高校科研合作，仍请会办".into(),
                },
            },
        ),
        (
            assigner(),
            "2020-02-28",
            Body::DecideDispute {
                agency: code("cq-jw"),
                decision: DisputeDecision::Reassign {
                    to: code("cq-jjxxw"),
                    reason: "改由市经济信息委会办".into(),
                },
            },
        ),
        (
            education(),
            "2020-03-20",
            Body::SubmitOpinion(Opinion {
                document_number: "渝教函〔2020〕31号".into(),
                summary: "支持高校与渝东南制造企业共建研发平台".into(),
                submitted_on: Some(date("2020-03-20")),
            }),
        ),
        (
            education(),
            "2020-03-02",
            Body::Decline {
                reason: "无会办意见".into(),
            },
        ),
        (
            lead(),
            "2020-03-23",
            Body::RaiseDisagreement {
                co_handler: code("cq-czj"),
                reason: "资金安排意见与主办单位不一致".into(),
            },
        ),
        (
            assigner(),
            "2020-03-25",
            Body::SettleDisagreement {
                co_handler: code("cq-czj"),
                resolution: "按市财政局意见表述".into(),
            },
        ),
        (
            lead(),
            "2020-04-03",
            Body::RecordContact(Contact {
                method: ContactMethod::Meeting,
                on: date("2020-04-03"),
                deputy_agreed: true,
                note: "当面沟通，代表同意答复意见".into(),
            }),
        ),
        (
            lead(),
            "2020-04-08",
            Body::DraftReply(Draft {
                result_class: ResultClass::B,
                document_number: "渝科局函〔2020〕109号".into(),
                summary: "关于对渝东南地区制造企业科学研究大力扶持的建议的复函".into(),
                co_handler_views: vec![code("cq-jw"), code("cq-czj")],
                commits_funds: false,
            }),
        ),
        (
            lead(),
            "2020-04-09",
            Body::ReturnDraft {
                reason: "请补充市财政局意见".into(),
            },
        ),
        (
            lead(),
            "2020-04-10",
            Body::SignReply(Signature {
                signer: "许洪斌".into(),
                title: "局长".into(),
                principal_head: true,
                signed_on: date("2020-04-10"),
            }),
        ),
        (
            lead(),
            "2020-04-10",
            Body::SendReply(Dispatch {
                sent_on: date("2020-04-10"),
                deputies: vec!["郎平权".into()],
                copies: vec!["人代工委".into(), "市政府办公厅".into()],
            }),
        ),
        (
            congress(),
            "2020-04-24",
            Body::RecordFeedback {
                agency: code("cq-kjj"),
                feedback: Feedback {
                    satisfaction: Satisfaction::Satisfied,
                    comments: "答复具体".into(),
                    received_on: date("2020-04-24"),
                },
            },
        ),
        (
            lead(),
            "2020-06-30",
            Body::ReportProgress {
                note: "已在秀山县启动科技特派员试点".into(),
            },
        ),
        (
            lead(),
            "2020-12-15",
            Body::ConcludeFollowUp {
                note: "承诺事项已落实".into(),
            },
        ),
        (
            lead(),
            "2020-03-10",
            Body::RecordConsultation {
                note: "与市教委、市财政局会商".into(),
            },
        ),
        (
            lead(),
            "2020-05-20",
            Body::RequestExtension {
                until: date("2020-06-30"),
                reason: "需待年度专项评审结果".into(),
            },
        ),
        (
            assigner(),
            "2020-05-21",
            Body::ApproveExtension {
                agency: code("cq-kjj"),
            },
        ),
        (
            assigner(),
            "2020-05-21",
            Body::RefuseExtension {
                agency: code("cq-kjj"),
                reason: "不属于可延期情形".into(),
            },
        ),
        (
            lead(),
            "2020-09-16",
            Body::RecordDisclosure(Disclosure {
                index_number: "11500000MB15895317/2020-00762".into(),
                topic: "科技".into(),
                genre: "人大建议办理".into(),
                issuing_body: "市科技局".into(),
                written_on: date("2020-04-10"),
                published_on: Some(date("2020-09-16")),
                scope: DisclosureScope::Full,
                withheld_reason: None,
            }),
        ),
        (
            assigner(),
            "2020-02-26",
            Body::MergeInto {
                target: ProposalKey::parse("cq-5-3-0901").expect("valid key"),
            },
        ),
        (
            assigner(),
            "2020-02-26",
            Body::Absorb {
                source: ProposalKey::parse("cq-5-3-0977").expect("valid key"),
                deputies: vec!["张三".into(), "李四".into()],
            },
        ),
        (
            lead(),
            "2020-03-20",
            Body::PauseClock {
                reason: "waiting_for_deputy".into(),
            },
        ),
        (lead(), "2020-03-25", Body::ResumeClock),
        (
            monitor(),
            "2020-03-26",
            Body::RecomputeDeadlines {
                reason: "2020 arrangement corrected".into(),
            },
        ),
        (
            supervisor(),
            "2020-04-01",
            Body::Urge {
                agency: code("cq-czj"),
                note: "请于4月3日前报送会办意见".into(),
            },
        ),
        (
            monitor(),
            "2020-03-19",
            Body::TimerFired {
                agency: code("cq-jw"),
                deadline: "opinion".into(),
                kind: TimerKind::Reminder,
                due: date("2020-03-26"),
                generation: 1,
            },
        ),
        (
            monitor(),
            "2020-03-27",
            Body::TimerFired {
                agency: code("cq-jw"),
                deadline: "opinion".into(),
                kind: TimerKind::Expiry,
                due: date("2020-03-26"),
                generation: 1,
            },
        ),
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, (actor, day, body))| {
            let id = format!("evt-0942-{:02}-{}", i + 1, body.name());
            event(&id, actor, day, body)
        })
        .collect()
}
