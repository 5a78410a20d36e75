//! Every path of the Chongqing definition, one scenario each; the last test checks that
//! together they take every transition the definition has.

use std::collections::BTreeSet;

use cohandle_workflows::engine::Effect;
use cohandle_workflows::event::{DisputeDecision, TimerKind};
use cohandle_workflows::model::{AssignmentMode, Machine, ResultClass, Satisfaction, TaskRole};
use cohandle_workflows::Body;

use crate::support::*;

const CQ: &str = "chongqing-deputy-suggestion";

fn sole(day: &str) -> World {
    let mut w = World::new(CQ);
    let def = w.definition.clone();
    w.ok(
        assigner(),
        day,
        assignment(
            &def,
            AssignmentMode::Sole,
            &[("cq-kjj", TaskRole::Lead)],
            day,
        ),
    );
    w.ok(agency("cq-kjj"), day, Body::SignFor);
    w
}

fn reply(w: &mut World, day: &str, class: ResultClass) {
    w.ok(agency("cq-kjj"), day, draft(class, &[]));
    w.ok(agency("cq-kjj"), day, sign(day, true));
    w.ok(agency("cq-kjj"), day, send(day, &["郎平权"]));
}

/// The timer the monitor would fire for a task's deadline, as scheduled.
fn fire(w: &mut World, agency_code: &str, deadline: &str, kind: TimerKind) {
    let timer = w
        .effects
        .iter()
        .rev()
        .find_map(|e| match e {
            Effect::ScheduleTimer(t)
                if t.agency == code(agency_code) && t.deadline == deadline && t.kind == kind =>
            {
                Some(t.clone())
            }
            _ => None,
        })
        .expect("the timer was scheduled");
    let day = cohandle_workflows::engine::china_date(timer.fire_at).to_string();
    w.ok(
        timer_actor(),
        &day,
        Body::TimerFired {
            agency: timer.agency,
            deadline: timer.deadline,
            kind,
            due: timer.due,
            generation: timer.generation,
        },
    );
}

fn timer_actor() -> cohandle_workflows::Actor {
    timer()
}

pub fn follow_up_of_class_b() -> World {
    let mut w = sole("2020-03-02");
    reply(&mut w, "2020-04-01", ResultClass::B);
    w.ok(
        congress(),
        "2020-04-10",
        feedback("cq-kjj", Satisfaction::BasicallySatisfied, "2020-04-10"),
    );
    assert_eq!(w.state_of("cq-kjj"), "following_up");
    assert_eq!(
        w.proposal().state,
        "open",
        "a class B item stays under follow-up"
    );
    w.ok(
        agency("cq-kjj"),
        "2020-07-01",
        Body::ReportProgress {
            note: "项目已立项".into(),
        },
    );
    w.ok(
        agency("cq-kjj"),
        "2020-11-02",
        Body::ConcludeFollowUp {
            note: "已解决".into(),
        },
    );
    assert_eq!(w.state_of("cq-kjj"), "closed");
    assert_eq!(w.proposal().state, "closed");
    w
}

pub fn dissatisfied_twice() -> World {
    let mut w = sole("2020-03-02");
    reply(&mut w, "2020-04-01", ResultClass::C);
    w.ok(
        congress(),
        "2020-04-10",
        feedback("cq-kjj", Satisfaction::Dissatisfied, "2020-04-10"),
    );
    assert_eq!(w.state_of("cq-kjj"), "rehandling");
    assert_eq!(
        w.due("cq-kjj", "rehandling"),
        Some(date("2020-05-11")),
        "1 month, rolled past the weekend of 10 May"
    );
    w.ok(
        agency("cq-kjj"),
        "2020-04-20",
        Body::RequestExtension {
            until: date("2020-06-10"),
            reason: "需实地调研".into(),
        },
    );
    w.ok(
        assigner(),
        "2020-04-21",
        Body::ApproveExtension {
            agency: code("cq-kjj"),
        },
    );
    assert_eq!(w.due("cq-kjj", "rehandling"), Some(date("2020-06-10")));
    fire(&mut w, "cq-kjj", "rehandling", TimerKind::Reminder);
    fire(&mut w, "cq-kjj", "rehandling", TimerKind::Expiry);
    reply(&mut w, "2020-06-15", ResultClass::C);
    w.ok(
        congress(),
        "2020-06-20",
        feedback("cq-kjj", Satisfaction::Dissatisfied, "2020-06-20"),
    );
    assert_eq!(w.state_of("cq-kjj"), "escalated");
    w.ok(
        agency("cq-kjj"),
        "2020-07-01",
        Body::RecordConsultation {
            note: "当面协商".into(),
        },
    );
    assert_eq!(w.state_of("cq-kjj"), "closed");
    w
}

pub fn disputes_and_reassignment() -> World {
    let mut w = lead_with_two(CQ, "2020-03-02");
    // A disputing lead keeps handling until the assigner decides.
    w.ok(
        agency("cq-kjj"),
        "2020-03-03",
        Body::Dispute {
            reason: "不属我局职能".into(),
        },
    );
    w.ok(agency("cq-kjj"), "2020-03-03", Body::SignFor);
    assert_eq!(w.state_of("cq-kjj"), "handling");
    w.ok(
        assigner(),
        "2020-03-05",
        Body::DecideDispute {
            agency: code("cq-kjj"),
            decision: DisputeDecision::Keep {
                reason: "职能相符".into(),
            },
        },
    );
    // A co-handler's dispute, dismissed; another co-handler's, upheld.
    w.ok(
        agency("cq-jw"),
        "2020-03-03",
        Body::Dispute {
            reason: "应由市经信委会办".into(),
        },
    );
    w.ok(
        assigner(),
        "2020-03-04",
        Body::DecideDispute {
            agency: code("cq-jw"),
            decision: DisputeDecision::Keep {
                reason: "维持".into(),
            },
        },
    );
    w.ok(
        agency("cq-czj"),
        "2020-03-04",
        Body::Dispute {
            reason: "应由市经信委会办".into(),
        },
    );
    w.ok(
        assigner(),
        "2020-03-06",
        Body::DecideDispute {
            agency: code("cq-czj"),
            decision: DisputeDecision::Reassign {
                to: code("cq-jxw"),
                reason: "调整".into(),
            },
        },
    );
    assert_eq!(w.state_of("cq-jxw"), "assigned");
    assert!(
        w.proposal().task(&code("cq-czj")).is_none(),
        "the old task is inactive"
    );
    // The lead's own dispute, upheld, moves the lead.
    let mut other = lead_with_two(CQ, "2020-03-02");
    other.ok(
        agency("cq-kjj"),
        "2020-03-03",
        Body::Dispute {
            reason: "不属我局职能".into(),
        },
    );
    other.ok(
        assigner(),
        "2020-03-05",
        Body::DecideDispute {
            agency: code("cq-kjj"),
            decision: DisputeDecision::Reassign {
                to: code("cq-jxw"),
                reason: "调整".into(),
            },
        },
    );
    assert_eq!(other.proposal().lead().unwrap().agency, code("cq-jxw"));
    assert_eq!(other.state_of("cq-jxw"), "received");
    w.changes.extend(other.changes);
    // The dispute window closes by its timer.
    fire(&mut w, "cq-kjj", "dispute_window", TimerKind::Expiry);
    fire(&mut w, "cq-jw", "dispute_window", TimerKind::Expiry);
    assert!(w.due("cq-kjj", "dispute_window").is_none());
    w
}

pub fn disagreement_and_decline() -> World {
    let mut w = lead_with_two(CQ, "2020-03-02");
    w.ok(agency("cq-kjj"), "2020-03-03", Body::SignFor);
    w.ok(agency("cq-jw"), "2020-03-03", Body::Acknowledge);
    w.ok(
        agency("cq-jw"),
        "2020-03-10",
        opinion("渝教函〔2020〕1号", "2020-03-10"),
    );
    w.ok(
        agency("cq-czj"),
        "2020-03-11",
        Body::Decline {
            reason: "与我局职能无关".into(),
        },
    );
    w.ok(
        agency("cq-kjj"),
        "2020-03-12",
        Body::RaiseDisagreement {
            co_handler: code("cq-jw"),
            reason: "意见不一致".into(),
        },
    );
    assert!(w
        .send(
            agency("cq-kjj"),
            "2020-03-13",
            draft(ResultClass::A, &["cq-jw"])
        )
        .is_err());
    w.ok(
        assigner(),
        "2020-03-14",
        Body::SettleDisagreement {
            co_handler: code("cq-jw"),
            resolution: "政府办公厅协调一致".into(),
        },
    );
    w.ok(
        agency("cq-kjj"),
        "2020-03-16",
        draft(ResultClass::A, &["cq-jw"]),
    );
    w.ok(
        agency("cq-kjj"),
        "2020-03-17",
        Body::ReturnDraft {
            reason: "办公室退回修改".into(),
        },
    );
    assert_eq!(w.state_of("cq-kjj"), "handling");
    w
}

pub fn extensions_and_supervision() -> World {
    let mut w = sole("2020-03-02");
    w.ok(
        supervisor(),
        "2020-03-10",
        Body::Urge {
            agency: code("cq-kjj"),
            note: "请抓紧办理".into(),
        },
    );
    let mut co = lead_with_two(CQ, "2020-03-02");
    co.ok(
        supervisor(),
        "2020-03-10",
        Body::Urge {
            agency: code("cq-jw"),
            note: "请抓紧会办".into(),
        },
    );
    w.changes.extend(co.changes);
    w.ok(
        agency("cq-kjj"),
        "2020-05-01",
        Body::RequestExtension {
            until: date("2020-07-31"),
            reason: "涉及多部门".into(),
        },
    );
    w.ok(
        assigner(),
        "2020-05-02",
        Body::RefuseExtension {
            agency: code("cq-kjj"),
            reason: "不符合延期条件".into(),
        },
    );
    w.ok(
        agency("cq-kjj"),
        "2020-05-03",
        Body::RequestExtension {
            until: date("2020-07-31"),
            reason: "涉及多部门".into(),
        },
    );
    w.ok(
        assigner(),
        "2020-05-04",
        Body::ApproveExtension {
            agency: code("cq-kjj"),
        },
    );
    assert_eq!(w.due("cq-kjj", "reply"), Some(date("2020-07-31")));
    // An approved extension moves the reminders too; the old timers are stale.
    fire(&mut w, "cq-kjj", "reply", TimerKind::Reminder);
    fire(&mut w, "cq-kjj", "reply", TimerKind::Expiry);
    let notified_supervisors = w.effects.iter().any(|e| matches!(e, Effect::Notify(n) if n.event == "expiry" && n.recipient == cohandle_workflows::engine::Recipient::Supervisors));
    assert!(
        notified_supervisors,
        "an overdue reply escalates to supervisors"
    );
    w
}

pub fn co_handler_overdue_and_feedback_window() -> World {
    let mut w = lead_with_two(CQ, "2020-03-02");
    fire(&mut w, "cq-jw", "co_handler_opinion", TimerKind::Reminder);
    fire(&mut w, "cq-jw", "co_handler_opinion", TimerKind::Expiry);
    let mut s = sole("2020-03-02");
    reply(&mut s, "2020-04-01", ResultClass::A);
    fire(&mut s, "cq-kjj", "feedback", TimerKind::Expiry);
    assert_eq!(
        s.state_of("cq-kjj"),
        "closed",
        "no receipt within the window closes the item"
    );
    w.changes.extend(s.changes);
    w
}

pub fn merged_items() -> World {
    let mut w = sole("2020-03-02");
    w.ok(
        assigner(),
        "2020-03-05",
        Body::Absorb {
            source: cohandle_workflows::ProposalKey::parse("cq-5-3-0950").unwrap(),
            deputies: vec!["王某".into()],
        },
    );
    assert!(w
        .send(agency("cq-kjj"), "2020-04-01", draft(ResultClass::A, &[]))
        .is_ok());
    w.ok(agency("cq-kjj"), "2020-04-01", sign("2020-04-01", true));
    let refused = w
        .send(
            agency("cq-kjj"),
            "2020-04-01",
            send("2020-04-01", &["郎平权"]),
        )
        .unwrap_err();
    assert!(refused.message.contains("王某"), "{refused}");
    w.ok(
        agency("cq-kjj"),
        "2020-04-01",
        send("2020-04-01", &["郎平权", "王某"]),
    );
    let mut source = sole("2020-03-02");
    source.ok(
        assigner(),
        "2020-03-05",
        Body::MergeInto {
            target: cohandle_workflows::ProposalKey::parse("cq-5-3-0001").unwrap(),
        },
    );
    assert_eq!(source.proposal().state, "merged");
    w.changes.extend(source.changes);
    w
}

pub fn split_handling() -> World {
    let mut w = World::new(CQ);
    let def = w.definition.clone();
    w.ok(
        assigner(),
        "2020-03-02",
        assignment(
            &def,
            AssignmentMode::Split,
            &[("cq-kjj", TaskRole::Split), ("cq-jw", TaskRole::Split)],
            "2020-03-02",
        ),
    );
    for a in ["cq-kjj", "cq-jw"] {
        w.ok(agency(a), "2020-03-03", Body::SignFor);
        w.ok(agency(a), "2020-04-01", draft(ResultClass::A, &[]));
        w.ok(agency(a), "2020-04-02", sign("2020-04-02", true));
        w.ok(agency(a), "2020-04-03", send("2020-04-03", &["郎平权"]));
    }
    w.ok(
        congress(),
        "2020-04-10",
        feedback("cq-kjj", Satisfaction::Satisfied, "2020-04-10"),
    );
    assert_eq!(
        w.proposal().state,
        "open",
        "one split agency is still waiting for its receipt"
    );
    w.ok(
        congress(),
        "2020-04-11",
        feedback("cq-jw", Satisfaction::Satisfied, "2020-04-11"),
    );
    assert_eq!(w.proposal().state, "closed");
    w
}

#[test]
fn follow_up() {
    follow_up_of_class_b();
}
#[test]
fn rehandling_then_consultation() {
    dissatisfied_twice();
}
#[test]
fn disputes() {
    disputes_and_reassignment();
}
#[test]
fn disagreement() {
    disagreement_and_decline();
}
#[test]
fn extensions() {
    extensions_and_supervision();
}
#[test]
fn overdue_and_windows() {
    co_handler_overdue_and_feedback_window();
}
#[test]
fn merging() {
    merged_items();
}
#[test]
fn split() {
    split_handling();
}

#[test]
fn together_the_scenarios_take_every_transition_of_the_definition() {
    let worlds = [
        crate::case_0942::replay(),
        follow_up_of_class_b(),
        dissatisfied_twice(),
        disputes_and_reassignment(),
        disagreement_and_decline(),
        extensions_and_supervision(),
        co_handler_overdue_and_feedback_window(),
        merged_items(),
        split_handling(),
        crate::clock::pauses_in_months_and_in_rehandling(),
        {
            let mut w = World::new(CQ);
            let def = w.definition.clone();
            w.ok(
                assigner(),
                "2020-09-01",
                assignment(
                    &def,
                    AssignmentMode::Sole,
                    &[("cq-kjj", TaskRole::Lead)],
                    "2020-09-01",
                ),
            );
            w.ok(
                timer(),
                "2020-09-02",
                Body::RecomputeDeadlines {
                    reason: "checked".into(),
                },
            );
            w
        },
    ];
    let taken: BTreeSet<(Machine, usize)> = worlds.iter().flat_map(World::rules_taken).collect();
    let def = &worlds[0].definition;
    let mut missing = Vec::new();
    for machine in Machine::ALL {
        for t in &def.machine(machine).transitions {
            if !taken.contains(&(machine, t.line)) {
                missing.push(format!(
                    "{} {} (line {})",
                    machine.as_str(),
                    t.event,
                    t.line
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "transitions no scenario takes: {missing:#?}"
    );
}
