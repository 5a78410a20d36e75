//! Stopping and restarting deadline clocks, and recomputing deadlines after a correction of
//! the holiday calendar.

use std::sync::Arc;

use chrono::Datelike;
use cohandle_workflows::engine::Effect;
use cohandle_workflows::model::{AssignmentMode, ResultClass, Satisfaction, TaskRole};
use cohandle_workflows::{Body, Calendar, Definition, RejectionCode};

use crate::support::*;

const CQ_TEXT: &str = include_str!("../../definitions/chongqing-deputy-suggestion.toml");

fn sole(w: &mut World, day: &str) {
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
}

fn pause(reason: &str) -> Body {
    Body::PauseClock {
        reason: reason.into(),
    }
}

/// A definition whose reply deadline counts 40 working days, to cross a holiday.
fn working_day_definition() -> Arc<Definition> {
    let text = CQ_TEXT.replace(
        "[deadlines.reply]\nduration = \"3m\"",
        "[deadlines.reply]\nduration = \"40wd\"",
    );
    Arc::new(Definition::load("40wd.toml", &text).unwrap())
}

pub fn pauses_in_months_and_in_rehandling() -> World {
    let mut w = World::new("chongqing-deputy-suggestion");
    sole(&mut w, "2020-09-01");
    assert_eq!(w.due("cq-kjj", "reply"), Some(date("2020-12-01")));
    w.ok(agency("cq-kjj"), "2020-09-25", pause("waiting_for_deputy"));
    // A stopped clock has no due date for supervisors and no timers.
    let task = w.proposal().task(&code("cq-kjj")).unwrap();
    assert!(task.deadlines["reply"].is_paused());
    assert!(
        w.pending_timers().iter().all(|t| t.deadline != "reply"),
        "{:?}",
        w.pending_timers()
    );
    // 67 calendar days were left (25 September to 1 December); they start again on 9 October.
    w.ok(agency("cq-kjj"), "2020-10-09", Body::ResumeClock);
    assert_eq!(w.due("cq-kjj", "reply"), Some(date("2020-12-15")));
    assert!(w
        .pending_timers()
        .iter()
        .any(|t| t.deadline == "reply" && t.due == date("2020-12-15")));

    w.ok(agency("cq-kjj"), "2020-10-20", draft(ResultClass::C, &[]));
    w.ok(agency("cq-kjj"), "2020-10-20", sign("2020-10-20", true));
    w.ok(
        agency("cq-kjj"),
        "2020-10-20",
        send("2020-10-20", &["郎平权"]),
    );
    w.ok(
        congress(),
        "2020-10-26",
        feedback("cq-kjj", Satisfaction::Dissatisfied, "2020-10-26"),
    );
    w.ok(
        agency("cq-kjj"),
        "2020-10-27",
        pause("awaiting_coordination"),
    );
    w.ok(agency("cq-kjj"), "2020-11-02", Body::ResumeClock);
    assert_eq!(
        w.due("cq-kjj", "rehandling"),
        Some(date("2020-12-02")),
        "1 month from 26 October was 26 November: 30 days left, from 2 November"
    );
    w
}

#[test]
fn months() {
    pauses_in_months_and_in_rehandling();
}

#[test]
fn pause_and_resume_across_national_day_count_working_days() {
    let mut w = World::with(working_day_definition());
    sole(&mut w, "2020-09-01");
    // Hand-counted: 2–4 Sep (3), 7–11 (8), 14–18 (13), 21–25 (18), Sunday 27 Sep worked (19),
    // 28–30 (22), 1–8 Oct off, 9 Oct (23), Saturday 10 Oct worked (24), 12–16 (29), 19–23 (34),
    // 26–30 (39), 2 Nov (40).
    assert_eq!(w.due("cq-kjj", "reply"), Some(date("2020-11-02")));
    w.ok(agency("cq-kjj"), "2020-09-25", pause("waiting_for_deputy"));
    // 22 working days were left. From 9 Oct: Saturday 10 Oct (1), 12–16 (6), 19–23 (11),
    // 26–30 (16), 2–6 Nov (21), 9 Nov (22).
    w.ok(agency("cq-kjj"), "2020-10-09", Body::ResumeClock);
    assert_eq!(w.due("cq-kjj", "reply"), Some(date("2020-11-09")));
}

#[test]
fn a_pause_needs_an_allowed_reason_a_running_clock_and_a_definition_that_allows_it() {
    let mut w = World::new("chongqing-deputy-suggestion");
    sole(&mut w, "2020-09-01");
    let r = w
        .send(agency("cq-kjj"), "2020-09-02", pause("lunch"))
        .unwrap_err();
    assert_eq!(r.code, RejectionCode::InvalidPayload, "{r}");
    w.ok(agency("cq-kjj"), "2020-09-02", pause("waiting_for_deputy"));
    let r = w
        .send(agency("cq-kjj"), "2020-09-03", pause("waiting_for_deputy"))
        .unwrap_err();
    assert_eq!(r.code, RejectionCode::GuardFailed, "{r}");
    let mut national = World::new("national-deputy-suggestion");
    sole(&mut national, "2020-09-01");
    let r = national
        .send(agency("cq-kjj"), "2020-09-02", pause("waiting_for_deputy"))
        .unwrap_err();
    assert_eq!(
        r.code,
        RejectionCode::WrongState,
        "the national rules have no clock stops: {r}"
    );
    assert!(
        r.message.contains("not an event of the handler machine"),
        "{r}"
    );
}

pub fn recomputed_after_a_correction() -> World {
    let mut w = World::with(working_day_definition());
    sole(&mut w, "2020-09-01");
    assert_eq!(w.due("cq-kjj", "reply"), Some(date("2020-11-02")));
    // A corrected 2020 arrangement in which Friday 9 October is a holiday too.
    let mut year: String = cohandle_workflows::calendar::CHINA_OFFICIAL_TSV
        .lines()
        .filter(|l| l.starts_with("2020-"))
        .map(|l| format!("{l}\n"))
        .collect();
    year.push_str("2020-10-09\tholiday\tcorrection\n");
    w.calendar = w
        .calendar
        .corrected_by(&Calendar::from_tsv("2020-corrected.tsv", &year).unwrap())
        .unwrap();
    let decision = w.ok(
        timer(),
        "2020-09-20",
        Body::RecomputeDeadlines {
            reason: "2020 arrangement corrected".into(),
        },
    );
    assert_eq!(w.due("cq-kjj", "reply"), Some(date("2020-11-03")));
    let moved: Vec<&str> = decision
        .changes
        .iter()
        .filter_map(|c| c.detail.as_deref())
        .collect();
    assert_eq!(
        moved,
        ["reply deadline moved from 2020-11-02 to 2020-11-03"]
    );
    assert!(decision.effects.iter().any(|e| matches!(e, Effect::ScheduleTimer(t) if t.deadline == "reply" && t.due == date("2020-11-03"))));
    // The dispute window (5 working days from 1 September) did not move, so it has no change.
    assert_eq!(w.due("cq-kjj", "dispute_window"), Some(date("2020-09-08")));
    w
}

#[test]
fn a_calendar_correction_moves_working_day_deadlines_and_says_so() {
    recomputed_after_a_correction();
}

#[test]
fn recomputing_under_the_shipped_definition_with_nothing_to_move() {
    let mut w = World::new("chongqing-deputy-suggestion");
    sole(&mut w, "2020-09-01");
    let decision = w.ok(
        timer(),
        "2020-09-20",
        Body::RecomputeDeadlines {
            reason: "no change".into(),
        },
    );
    assert!(decision.changes.iter().all(|c| c.detail.is_none()));
    assert!(
        w.send(
            agency("cq-kjj"),
            "2020-09-20",
            Body::RecomputeDeadlines { reason: "x".into() }
        )
        .is_err(),
        "only the engine's calendar job recomputes"
    );
}

/// Every deadline of the proposal is provisional exactly when its due date lies past the
/// official data; returns how many are.
fn provisional_marks_follow_the_data(w: &World) -> usize {
    let (_, last) = w.calendar.years();
    let mut provisional = 0;
    for task in &w.proposal().tasks {
        for (name, deadline) in &task.deadlines {
            assert_eq!(
                deadline.provisional,
                deadline.due.year() > last,
                "{} {name} due {}",
                task.agency,
                deadline.due
            );
            provisional += usize::from(deadline.provisional);
        }
    }
    provisional
}

#[test]
fn on_1_december_2026_every_step_is_taken_with_provisional_deadlines() {
    for definition in [
        "chongqing-deputy-suggestion",
        "cppcc-proposal",
        "national-deputy-suggestion",
    ] {
        let mut w = World::new(definition);
        let day = "2026-12-01";
        sole(&mut w, day);
        assert_eq!(
            w.due("cq-kjj", "reply"),
            Some(date("2027-03-01")),
            "{definition}"
        );
        assert!(provisional_marks_follow_the_data(&w) >= 1, "{definition}");
        // The lead's assignment notice tells it the reply's due date, marked provisional.
        let told = w.effects.iter().any(|e| {
            matches!(e, Effect::Notify(n) if n.event == "assign"
                && n.deadlines.iter().any(|d| d.name == "reply"
                    && d.due == date("2027-03-01") && d.provisional))
        });
        assert!(told, "{definition}: {:?}", w.effects);
        w.ok(agency("cq-kjj"), day, contact(day, true));
        w.ok(agency("cq-kjj"), day, draft(ResultClass::B, &[]));
        w.ok(agency("cq-kjj"), day, sign(day, true));
        w.ok(agency("cq-kjj"), day, send(day, &["郎平权"]));
        provisional_marks_follow_the_data(&w);
        // The receipt comes from the definition's own office (the CPPCC's is its own).
        let office = cohandle_workflows::Actor {
            agency: w.definition.settings.congress_offices[0].clone(),
            kind: cohandle_workflows::ActorKind::CongressOffice,
        };
        w.ok(
            office,
            day,
            feedback("cq-kjj", Satisfaction::Dissatisfied, day),
        );
        let rehandling = w.due("cq-kjj", "rehandling").expect("re-handling runs");
        assert!(rehandling.year() == 2027, "{definition}: {rehandling}");
        assert!(provisional_marks_follow_the_data(&w) >= 1, "{definition}");
    }
}

/// A year file of the notice's form for 2027 (test data, not the official arrangement).
const A_2027_NOTICE: &str = include_str!("../data/a-2027-notice.tsv");

/// Loads the notice as `calendar correct` does and recomputes the proposal's deadlines on
/// `day`; returns what the history says of each one.
fn load_the_2027_notice(w: &mut World, day: &str) -> Vec<String> {
    let file = Calendar::year_file("2027.tsv", A_2027_NOTICE, false).unwrap();
    assert!(file.overridden.is_empty());
    w.calendar = w.calendar.corrected_by(&file.calendar).unwrap();
    let decision = w.ok(
        timer(),
        day,
        Body::RecomputeDeadlines {
            reason: "2027 arrangement loaded".into(),
        },
    );
    decision
        .changes
        .into_iter()
        .filter_map(|c| c.detail)
        .collect()
}

#[test]
fn loading_the_2027_notice_moves_provisional_deadlines_and_confirms_the_rest() {
    let mut w = World::with(working_day_definition());
    sole(&mut w, "2026-12-21");
    // Provisionally, 40 working days from 21 December: 22–31 Dec (8), 1 Jan off, 4 Jan–4 Feb
    // (32), 5 Feb off (eve), 8 Feb off (3rd day), 9 Feb (33) … 17 Feb (39), 18 Feb (40).
    assert_eq!(w.due("cq-kjj", "reply"), Some(date("2027-02-18")));
    assert!(w.proposal().tasks[0].deadlines["reply"].provisional);
    // The dispute window, 5 working days, ends on 28 December 2026: official.
    assert_eq!(w.due("cq-kjj", "dispute_window"), Some(date("2026-12-28")));
    assert!(!w.proposal().tasks[0].deadlines["dispute_window"].provisional);

    let details = load_the_2027_notice(&mut w, "2026-12-22");
    // Officially: 9, 10, 11 Feb off too, 14 Feb worked: … 4 Feb (32), 12 Feb (33), 14 Feb
    // (34), 15–19 Feb (39), 22 Feb (40).
    assert_eq!(w.due("cq-kjj", "reply"), Some(date("2027-02-22")));
    assert!(!w.proposal().tasks[0].deadlines["reply"].provisional);
    assert_eq!(
        details,
        ["reply deadline moved from 2027-02-18 to 2027-02-22"]
    );
    provisional_marks_follow_the_data(&w);
}

#[test]
fn a_provisional_deadline_that_does_not_move_is_confirmed_and_says_so() {
    let mut w = World::new("chongqing-deputy-suggestion");
    sole(&mut w, "2026-12-01");
    assert!(w.proposal().tasks[0].deadlines["reply"].provisional);
    let details = load_the_2027_notice(&mut w, "2026-12-02");
    assert_eq!(w.due("cq-kjj", "reply"), Some(date("2027-03-01")));
    assert!(!w.proposal().tasks[0].deadlines["reply"].provisional);
    assert_eq!(
        details,
        ["reply deadline 2027-03-01 confirmed by the official holiday arrangement (was provisional)"]
    );
    assert_eq!(provisional_marks_follow_the_data(&w), 0);
}

#[test]
fn a_pause_does_not_stretch_the_longest_extension() {
    let mut w = World::new("chongqing-deputy-suggestion");
    sole(&mut w, "2020-03-02");
    // Three months stopped, then resumed: the reply is due 3 months after the assignment
    // plus the stop, but the 6-month cap still counts from 2 March.
    w.ok(agency("cq-kjj"), "2020-03-10", pause("waiting_for_deputy"));
    w.ok(agency("cq-kjj"), "2020-06-10", Body::ResumeClock);
    let request = |until: &str| Body::RequestExtension {
        until: date(until),
        reason: "涉及多部门".into(),
    };
    let approve = Body::ApproveExtension {
        agency: code("cq-kjj"),
    };
    assert_eq!(w.due("cq-kjj", "reply"), Some(date("2020-09-02")));
    // An extension to nine months after the assignment is beyond the cap: the case ends at six.
    w.ok(agency("cq-kjj"), "2020-06-11", request("2020-12-02"));
    let refused = w.send(assigner(), "2020-06-12", approve).unwrap_err();
    assert_eq!(refused.code, RejectionCode::GuardFailed, "{refused}");
    assert!(
        refused.message.contains("6m from 2020-03-02 (2020-09-02)"),
        "{refused}"
    );
    assert_eq!(w.due("cq-kjj", "reply"), Some(date("2020-09-02")));
}
