//! Every kind of rejection, each with its stable code, a sentence, and no change of state.

use chrono::Duration;
use cohandle_workflows::event::{DisputeDecision, TimerKind};
use cohandle_workflows::model::{AssignmentMode, ResultClass, Satisfaction, TaskRole};
use cohandle_workflows::{Body, RejectionCode};

use crate::support::*;

const CQ: &str = "chongqing-deputy-suggestion";

/// Sends an event that must be refused with `code`, and checks nothing changed.
fn refused(
    w: &mut World,
    actor: cohandle_workflows::Actor,
    day: &str,
    body: Body,
    code_expected: RejectionCode,
) -> String {
    let before = w.proposal.clone();
    let rejection = w
        .send(actor, day, body)
        .expect_err("the event must be refused");
    assert_eq!(rejection.code, code_expected, "{}", rejection.message);
    assert!(!rejection.message.is_empty());
    assert_eq!(w.proposal, before, "a refused event changes nothing");
    rejection.message
}

fn assigned() -> World {
    lead_with_two(CQ, "2020-03-02")
}

#[test]
fn an_event_before_its_assignment_is_unknown_proposal() {
    let mut w = World::new(CQ);
    let message = refused(
        &mut w,
        agency("cq-kjj"),
        "2020-03-02",
        Body::SignFor,
        RejectionCode::UnknownProposal,
    );
    assert!(message.contains("replayed"));
}

#[test]
fn assigning_twice_is_already_exists() {
    let mut w = assigned();
    let def = w.definition.clone();
    let again = assignment(
        &def,
        AssignmentMode::Sole,
        &[("cq-kjj", TaskRole::Lead)],
        "2020-03-02",
    );
    refused(
        &mut w,
        assigner(),
        "2020-03-02",
        again,
        RejectionCode::AlreadyExists,
    );
}

#[test]
fn wrong_state() {
    let mut w = assigned();
    let message = refused(
        &mut w,
        agency("cq-kjj"),
        "2020-03-03",
        sign("2020-03-03", true),
        RejectionCode::WrongState,
    );
    assert!(message.contains("drafted"), "{message}");
    // An opinion before the co-handler signed for its task.
    refused(
        &mut w,
        agency("cq-jw"),
        "2020-03-03",
        opinion("x", "2020-03-03"),
        RejectionCode::WrongState,
    );
    // A co-handler event on a lead's task is not of that machine.
    refused(
        &mut w,
        agency("cq-kjj"),
        "2020-03-03",
        Body::Acknowledge,
        RejectionCode::WrongState,
    );
}

#[test]
fn actor_not_allowed() {
    let mut w = assigned();
    // A co-handler cannot sign for the lead's task, nor the lead record the deputy's receipt.
    refused(
        &mut w,
        agency("cq-jw"),
        "2020-03-03",
        Body::SignFor,
        RejectionCode::WrongState,
    );
    refused(
        &mut w,
        agency("cq-zz"),
        "2020-03-03",
        Body::SignFor,
        RejectionCode::ActorNotAllowed,
    );
    refused(
        &mut w,
        supervisor(),
        "2020-03-03",
        Body::ApproveExtension {
            agency: code("cq-kjj"),
        },
        RejectionCode::ActorNotAllowed,
    );
    let other_assigner = cohandle_workflows::Actor {
        agency: code("cq-other"),
        kind: cohandle_workflows::ActorKind::Assigner,
    };
    refused(
        &mut w,
        other_assigner,
        "2020-03-03",
        Body::Urge {
            agency: code("cq-kjj"),
            note: "x".into(),
        },
        RejectionCode::ActorNotAllowed,
    );
    // The congress office relays receipts; it cannot urge.
    refused(
        &mut w,
        congress(),
        "2020-03-03",
        Body::Urge {
            agency: code("cq-kjj"),
            note: "x".into(),
        },
        RejectionCode::ActorNotAllowed,
    );
}

#[test]
fn guard_failed_no_reply_while_an_opinion_is_missing() {
    let mut w = assigned();
    w.ok(agency("cq-kjj"), "2020-03-03", Body::SignFor);
    w.ok(agency("cq-jw"), "2020-03-03", Body::Acknowledge);
    w.ok(
        agency("cq-jw"),
        "2020-03-10",
        opinion("渝教函〔2020〕1号", "2020-03-10"),
    );
    let message = refused(
        &mut w,
        agency("cq-kjj"),
        "2020-03-20",
        draft(ResultClass::A, &["cq-jw"]),
        RejectionCode::GuardFailed,
    );
    assert!(message.contains("cq-czj"), "{message}");
    w.ok(agency("cq-czj"), "2020-03-21", Body::Acknowledge);
    w.ok(
        agency("cq-czj"),
        "2020-03-21",
        opinion("渝财函〔2020〕2号", "2020-03-21"),
    );
    // The co-handlers' views must be stated.
    let message = refused(
        &mut w,
        agency("cq-kjj"),
        "2020-03-22",
        draft(ResultClass::A, &["cq-jw"]),
        RejectionCode::GuardFailed,
    );
    assert!(message.contains("cq-czj"), "{message}");
    w.ok(
        agency("cq-kjj"),
        "2020-03-22",
        draft(ResultClass::A, &["cq-jw", "cq-czj"]),
    );
}

#[test]
fn guard_failed_signer_and_window_and_stale_timer() {
    let mut w = World::new(CQ);
    let def = w.definition.clone();
    let Body::Assign(mut a) = assignment(
        &def,
        AssignmentMode::Sole,
        &[("cq-kjj", TaskRole::Lead)],
        "2020-03-02",
    ) else {
        unreachable!()
    };
    a.info.key_supervision = true;
    w.ok(assigner(), "2020-03-02", Body::Assign(a));
    w.ok(agency("cq-kjj"), "2020-03-03", Body::SignFor);
    // The dispute window (5 working days) closed on 9 March.
    let message = refused(
        &mut w,
        agency("cq-kjj"),
        "2020-03-10",
        Body::Dispute { reason: "x".into() },
        RejectionCode::GuardFailed,
    );
    assert!(message.contains("2020-03-09"), "{message}");
    w.ok(agency("cq-kjj"), "2020-04-01", draft(ResultClass::A, &[]));
    // A key-supervision item needs the principal head.
    let message = refused(
        &mut w,
        agency("cq-kjj"),
        "2020-04-02",
        sign("2020-04-02", false),
        RejectionCode::GuardFailed,
    );
    assert!(message.contains("principal head"), "{message}");
    // A timer of an old generation is stale.
    let stale = Body::TimerFired {
        agency: code("cq-kjj"),
        deadline: "reply".into(),
        kind: TimerKind::Expiry,
        due: date("2020-01-01"),
        generation: 0,
    };
    let message = refused(
        &mut w,
        timer(),
        "2020-04-02",
        stale,
        RejectionCode::GuardFailed,
    );
    assert!(message.contains("stale"), "{message}");
    // Extensions: none requested, then one beyond six months.
    refused(
        &mut w,
        assigner(),
        "2020-04-02",
        Body::ApproveExtension {
            agency: code("cq-kjj"),
        },
        RejectionCode::GuardFailed,
    );
    w.ok(
        agency("cq-kjj"),
        "2020-04-02",
        Body::RequestExtension {
            until: date("2020-09-03"),
            reason: "复杂".into(),
        },
    );
    let message = refused(
        &mut w,
        assigner(),
        "2020-04-03",
        Body::ApproveExtension {
            agency: code("cq-kjj"),
        },
        RejectionCode::GuardFailed,
    );
    assert!(message.contains("2020-09-02"), "{message}");
    // No dispute to decide.
    refused(
        &mut w,
        assigner(),
        "2020-04-03",
        Body::DecideDispute {
            agency: code("cq-kjj"),
            decision: DisputeDecision::Keep { reason: "x".into() },
        },
        RejectionCode::GuardFailed,
    );
}

#[test]
fn unknown_task() {
    let mut w = assigned();
    refused(
        &mut w,
        assigner(),
        "2020-03-03",
        Body::ApproveExtension {
            agency: code("cq-nobody"),
        },
        RejectionCode::UnknownTask,
    );
    refused(
        &mut w,
        congress(),
        "2020-03-03",
        feedback("cq-nobody", Satisfaction::Satisfied, "2020-03-03"),
        RejectionCode::UnknownTask,
    );
}

#[test]
fn invalid_payload() {
    let mut w = World::new("cppcc-proposal");
    let def = w.definition.clone();
    // A deputy suggestion cannot run under the CPPCC definition.
    let Body::Assign(mut a) = assignment(
        &def,
        AssignmentMode::Sole,
        &[("cq-kjj", TaskRole::Lead)],
        "2020-03-02",
    ) else {
        unreachable!()
    };
    a.info.kind = cohandle_workflows::model::ProposalKind::DeputySuggestion;
    refused(
        &mut w,
        assigner(),
        "2020-03-02",
        Body::Assign(a),
        RejectionCode::InvalidPayload,
    );
    // Shapes of assignment.
    for (mode, handlers) in [
        (
            AssignmentMode::Sole,
            vec![("cq-kjj", TaskRole::Lead), ("cq-jw", TaskRole::Lead)],
        ),
        (
            AssignmentMode::LeadWithCoHandlers,
            vec![("cq-kjj", TaskRole::Lead)],
        ),
        (AssignmentMode::Split, vec![("cq-kjj", TaskRole::Split)]),
        (
            AssignmentMode::LeadWithCoHandlers,
            vec![("cq-kjj", TaskRole::Lead), ("cq-kjj", TaskRole::CoHandler)],
        ),
    ] {
        refused(
            &mut w,
            assigner(),
            "2020-03-02",
            assignment(&def, mode, &handlers, "2020-03-02"),
            RejectionCode::InvalidPayload,
        );
    }
    w.ok(
        assigner(),
        "2020-03-02",
        assignment(
            &def,
            AssignmentMode::Sole,
            &[("cq-kjj", TaskRole::Lead)],
            "2020-03-02",
        ),
    );
    w.ok(agency("cq-kjj"), "2020-03-03", Body::SignFor);
    w.ok(agency("cq-kjj"), "2020-03-04", contact("2020-03-04", true));
    // CPPCC uses classes A to C only.
    let message = refused(
        &mut w,
        agency("cq-kjj"),
        "2020-03-05",
        draft(ResultClass::D, &[]),
        RejectionCode::InvalidPayload,
    );
    assert!(message.contains('D'), "{message}");
    refused(
        &mut w,
        agency("cq-kjj"),
        "2020-03-05",
        Body::RequestExtension {
            until: date("2020-07-01"),
            reason: "  ".into(),
        },
        RejectionCode::InvalidPayload,
    );
}

#[test]
fn deputy_agreement_is_required_where_the_definition_says_so() {
    let mut w = World::new("cppcc-proposal");
    let def = w.definition.clone();
    w.ok(
        assigner(),
        "2020-03-02",
        assignment(
            &def,
            AssignmentMode::Sole,
            &[("cq-kjj", TaskRole::Lead)],
            "2020-03-02",
        ),
    );
    w.ok(agency("cq-kjj"), "2020-03-03", Body::SignFor);
    let message = refused(
        &mut w,
        agency("cq-kjj"),
        "2020-03-05",
        draft(ResultClass::A, &[]),
        RejectionCode::GuardFailed,
    );
    assert!(message.contains("agreement"), "{message}");
    w.ok(agency("cq-kjj"), "2020-03-04", contact("2020-03-04", true));
    w.ok(agency("cq-kjj"), "2020-03-05", draft(ResultClass::A, &[]));
}

#[test]
fn calendar_outside_the_data() {
    let mut w = World::new(CQ);
    let def = w.definition.clone();
    // Before the holiday data nothing can be counted (and nothing is assigned there); a
    // year after it is provisional, not refused (see `clock::provisional_years`).
    let mut body = assignment(
        &def,
        AssignmentMode::Sole,
        &[("cq-kjj", TaskRole::Lead)],
        "2019-12-20",
    );
    if let Body::Assign(a) = &mut body {
        a.info.submitted_on = date("2019-12-01");
    }
    let message = refused(
        &mut w,
        assigner(),
        "2019-12-20",
        body,
        RejectionCode::Calendar,
    );
    assert!(message.contains("2019"), "{message}");
}

#[test]
fn clock_skew() {
    let mut w = World::new(CQ);
    let def = w.definition.clone();
    let event = w.event(
        assigner(),
        "2020-03-05",
        assignment(
            &def,
            AssignmentMode::Sole,
            &[("cq-kjj", TaskRole::Lead)],
            "2020-03-02",
        ),
    );
    let rejection = w.apply(&event, at("2020-03-03")).unwrap_err();
    assert_eq!(rejection.code, RejectionCode::ClockSkew);
    assert!(w
        .apply(&event, at("2020-03-05") - Duration::hours(2))
        .is_ok());
}

#[test]
fn a_merged_proposal_takes_no_more_task_events() {
    let mut w = assigned();
    w.ok(
        assigner(),
        "2020-03-03",
        Body::MergeInto {
            target: cohandle_workflows::ProposalKey::parse("cq-5-3-0001").unwrap(),
        },
    );
    refused(
        &mut w,
        agency("cq-kjj"),
        "2020-03-04",
        Body::SignFor,
        RejectionCode::WrongState,
    );
    refused(
        &mut w,
        assigner(),
        "2020-03-04",
        Body::MergeInto {
            target: cohandle_workflows::ProposalKey::parse("cq-5-3-0002").unwrap(),
        },
        RejectionCode::WrongState,
    );
}

#[test]
fn an_event_dated_before_its_proposal_was_assigned_is_clock_skew() {
    let mut w = assigned();
    let message = refused(
        &mut w,
        agency("cq-kjj"),
        "2001-01-01",
        Body::SignFor,
        RejectionCode::ClockSkew,
    );
    assert!(message.contains("before proposal"), "{message}");
    w.ok(agency("cq-kjj"), "2020-03-03", Body::SignFor);
}

#[test]
fn a_nul_character_in_any_text_is_invalid_payload() {
    let mut w = assigned();
    w.ok(agency("cq-kjj"), "2020-03-03", Body::SignFor);
    let message = refused(
        &mut w,
        agency("cq-kjj"),
        "2020-03-04",
        Body::Dispute {
            reason: "x\u{0}'; DROP TABLE history; --".to_owned(),
        },
        RejectionCode::InvalidPayload,
    );
    assert!(message.contains("NUL"), "{message}");
}

#[test]
fn a_declared_date_after_the_event_is_clock_skew() {
    let mut w = assigned();
    // A letter signed in 2030, a reply dated two days ahead, an opinion of tomorrow+1.
    let message = refused(
        &mut w,
        agency("cq-kjj"),
        "2020-03-10",
        sign("2030-01-01", true),
        RejectionCode::ClockSkew,
    );
    assert!(message.contains("signed_on"), "{message}");
    refused(
        &mut w,
        agency("cq-kjj"),
        "2020-03-10",
        send("2020-03-12", &["郎平权"]),
        RejectionCode::ClockSkew,
    );
    refused(
        &mut w,
        agency("cq-jw"),
        "2020-03-10",
        opinion("渝教函〔2020〕1号", "2020-03-12"),
        RejectionCode::ClockSkew,
    );
    // Within the allowed skew (24 hours) a date of tomorrow is a clock a little ahead.
    w.ok(agency("cq-jw"), "2020-03-10", Body::Acknowledge);
    w.ok(
        agency("cq-jw"),
        "2020-03-10",
        opinion("渝教函〔2020〕1号", "2020-03-11"),
    );
}

#[test]
fn a_declared_date_before_the_assignment_is_clock_skew() {
    let mut w = assigned();
    let message = refused(
        &mut w,
        agency("cq-jw"),
        "2020-03-10",
        opinion("渝教函〔2020〕1号", "2020-02-01"),
        RejectionCode::ClockSkew,
    );
    assert!(message.contains("before proposal"), "{message}");
}

#[test]
fn a_window_is_kept_by_the_time_the_step_is_recorded_not_the_time_it_claims() {
    let mut w = assigned();
    let window_due = w
        .due("cq-jw", "dispute_window")
        .expect("the dispute window runs");
    // Recorded a month after the window closed, claiming a time inside it.
    let late = (window_due + Duration::days(30)).to_string();
    let mut event = w.event(
        agency("cq-jw"),
        "2020-03-03",
        Body::Dispute {
            reason: "不属于本单位职责".into(),
        },
    );
    event.occurred_at = at("2020-03-03");
    let rejection = w
        .apply(&event, at(&late))
        .expect_err("the window has closed");
    assert_eq!(
        rejection.code,
        RejectionCode::GuardFailed,
        "{}",
        rejection.message
    );
    // The same claim recorded in time is taken.
    assert!(w.apply(&event, at("2020-03-03")).is_ok());
}

#[test]
fn only_the_congress_offices_of_the_definition_relay_receipts() {
    let mut w = assigned();
    let stranger = cohandle_workflows::Actor {
        agency: code("cq-nowhere"),
        kind: cohandle_workflows::ActorKind::CongressOffice,
    };
    let message = refused(
        &mut w,
        stranger,
        "2020-03-03",
        feedback("cq-kjj", Satisfaction::Satisfied, "2020-03-03"),
        RejectionCode::ActorNotAllowed,
    );
    assert!(message.contains("cq-rdgw"), "{message}");
    // The definition's own office gets past the sender check (and on to the state's).
    refused(
        &mut w,
        congress(),
        "2020-03-03",
        feedback("cq-kjj", Satisfaction::Satisfied, "2020-03-03"),
        RejectionCode::WrongState,
    );
}

#[test]
fn a_definition_with_congress_office_steps_names_its_offices() {
    let text = include_str!("../../definitions/chongqing-deputy-suggestion.toml")
        .replace("congress_offices = [\"cq-rdgw\"]", "");
    let problems = cohandle_workflows::Catalog::default()
        .load("chongqing-deputy-suggestion.toml", &text)
        .unwrap_err()
        .to_string();
    assert!(problems.contains("congress_offices"), "{problems}");
}

/// Which `wrong_state` refusals a later step could lift (the engine holds those events) and
/// which it never can (refused at once).
#[test]
fn a_wrong_state_is_lifted_later_only_while_an_allowing_state_is_reachable() {
    use cohandle_workflows::engine::may_be_allowed_later;

    let mut w = assigned();
    // Before its acknowledgement a co-handler's opinion does not fit, and will.
    let early = w.event(
        agency("cq-jw"),
        "2020-03-03",
        opinion("渝教函〔2020〕1号", "2020-03-03"),
    );
    let refusal = w.apply(&early, at("2020-03-03")).unwrap_err();
    assert_eq!(refusal.code, RejectionCode::WrongState);
    assert!(may_be_allowed_later(&w.definition, w.proposal(), &early));
    // The lead's draft before its sign-for: a later step lifts it too.
    let draft_early = w.event(agency("cq-kjj"), "2020-03-03", draft(ResultClass::A, &[]));
    assert!(w.apply(&draft_early, at("2020-03-03")).is_err());
    assert!(may_be_allowed_later(
        &w.definition,
        w.proposal(),
        &draft_early
    ));

    // A second sign-for: the task is past it for good.
    w.ok(agency("cq-kjj"), "2020-03-03", Body::SignFor);
    let again = w.event(agency("cq-kjj"), "2020-03-03", Body::SignFor);
    let refusal = w.apply(&again, at("2020-03-03")).unwrap_err();
    assert_eq!(refusal.code, RejectionCode::WrongState);
    assert!(!may_be_allowed_later(&w.definition, w.proposal(), &again));
    // An acknowledgement after the opinion: no way back either.
    w.ok(agency("cq-jw"), "2020-03-03", Body::Acknowledge);
    w.ok(
        agency("cq-jw"),
        "2020-03-04",
        opinion("渝教函〔2020〕2号", "2020-03-04"),
    );
    let late_ack = w.event(agency("cq-jw"), "2020-03-04", Body::Acknowledge);
    assert_eq!(
        w.apply(&late_ack, at("2020-03-04")).unwrap_err().code,
        RejectionCode::WrongState
    );
    assert!(!may_be_allowed_later(
        &w.definition,
        w.proposal(),
        &late_ack
    ));
}
