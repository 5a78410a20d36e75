//! Case 0942 (市五届人大三次会议第0942号建议), replayed end to end from the reply letter in
//! shared/domain/case-0942-reply-letter.txt. The letter gives the lead (市科技局), the
//! co-handlers (市教委, 市财政局), the signer (许洪斌局长), the reply date (2020-04-10), the
//! document number (渝科局函〔2020〕109号) and the disclosure record. Dates the letter does not
//! give (assignment 2020-02-26, acknowledgements, opinions, the receipt) are plausible
//! choices inside the deadlines.

use cohandle_workflows::engine::{Effect, Recipient};
use cohandle_workflows::event::TimerKind;
use cohandle_workflows::model::{Disclosure, DisclosureScope, ResultClass, Satisfaction};
use cohandle_workflows::Body;

use crate::support::*;

const LEAD: &str = "cq-kjj";
const EDUCATION: &str = "cq-jw";
const FINANCE: &str = "cq-czj";

pub fn replay() -> World {
    let mut w = lead_with_two("chongqing-deputy-suggestion", "2020-02-26");
    // 3 months from assignment; 1 month for co-handlers; 5 working days to dispute.
    assert_eq!(w.due(LEAD, "reply"), Some(date("2020-05-26")));
    assert_eq!(
        w.due(EDUCATION, "co_handler_opinion"),
        Some(date("2020-03-26"))
    );
    assert_eq!(w.due(LEAD, "dispute_window"), Some(date("2020-03-04")));

    w.ok(agency(LEAD), "2020-02-27", Body::SignFor);
    w.ok(agency(EDUCATION), "2020-02-27", Body::Acknowledge);
    w.ok(agency(FINANCE), "2020-02-28", Body::Acknowledge);
    // Nobody disputed; the monitor closes the dispute windows after 4 March.
    w.advance("2020-03-05");
    assert_eq!(w.due(LEAD, "dispute_window"), None);
    w.ok(
        agency(EDUCATION),
        "2020-03-16",
        opinion("渝教函〔2020〕31号", "2020-03-16"),
    );
    w.ok(
        agency(FINANCE),
        "2020-03-18",
        opinion("渝财函〔2020〕57号", "2020-03-18"),
    );
    w.ok(agency(LEAD), "2020-04-03", contact("2020-04-03", true));
    w.ok(
        agency(LEAD),
        "2020-04-08",
        draft(ResultClass::A, &[EDUCATION, FINANCE]),
    );
    w.ok(agency(LEAD), "2020-04-10", sign("2020-04-10", true));
    w.ok(agency(LEAD), "2020-04-10", send("2020-04-10", &["郎平权"]));
    // The receipt goes back within 20 working days (Chongqing): 26 April and 9 May 2020
    // were make-up working days, 1–5 May the Labour Day holiday.
    assert_eq!(w.due(LEAD, "feedback"), Some(date("2020-05-11")));
    w.ok(
        congress(),
        "2020-04-24",
        feedback(LEAD, Satisfaction::Satisfied, "2020-04-24"),
    );
    // Nothing is left for the monitor: every timer was cancelled or fired.
    w.advance("2020-12-31");
    assert!(w.pending_timers().is_empty(), "{:?}", w.pending_timers());
    w.ok(
        agency(LEAD),
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
    );
    w
}

#[test]
fn case_0942_runs_from_assignment_to_publication() {
    let w = replay();
    let p = w.proposal();
    assert_eq!(p.state, "closed");
    assert_eq!(w.state_of(LEAD), "closed");
    assert_eq!(w.state_of(EDUCATION), "opinion_sent");
    assert_eq!(w.state_of(FINANCE), "opinion_sent");

    let lead = p.task(&code(LEAD)).unwrap();
    let draft = lead.draft.as_ref().unwrap();
    assert_eq!(draft.document_number, "渝科局函〔2020〕109号");
    assert_eq!(draft.result_class, ResultClass::A);
    let signature = lead.signature.as_ref().unwrap();
    assert_eq!(
        (signature.signer.as_str(), signature.title.as_str()),
        ("许洪斌", "局长")
    );
    assert_eq!(lead.replies[0].sent_on, date("2020-04-10"));
    assert_eq!(lead.replies[0].deputies, ["郎平权"]);
    assert_eq!(
        lead.disclosure.as_ref().unwrap().index_number,
        "11500000MB15895317/2020-00762"
    );
    assert!(
        lead.deadlines.is_empty(),
        "every deadline stopped: {:?}",
        lead.deadlines
    );

    // The reply went to the deputy, the congress office and the co-handlers.
    let notified: Vec<&Recipient> = w
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Notify(n) if n.event == "send_reply" => Some(&n.recipient),
            _ => None,
        })
        .collect();
    assert!(notified.contains(&&Recipient::Deputies(vec!["郎平权".into()])));
    assert!(notified.contains(&&Recipient::CongressOffice));
    assert!(notified.contains(&&Recipient::Agency(code(EDUCATION))));
    assert!(notified.contains(&&Recipient::Agency(code(FINANCE))));

    // The history reads in order, and ends with the proposal closing.
    let path: Vec<(String, String)> = w
        .changes
        .iter()
        .filter(|c| c.agency.as_ref() == Some(&code(LEAD)))
        .map(|c| (c.event.clone(), c.to.clone()))
        .collect();
    let expected = [
        ("assign", "received"),
        ("sign_for", "handling"),
        ("expiry", "handling"), // the dispute window closed
        ("record_contact", "handling"),
        ("draft_reply", "drafted"),
        ("sign_reply", "signed"),
        ("send_reply", "replied"),
        ("record_feedback", "closed"),
        ("record_disclosure", "closed"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(e, s)| ((*e).into(), (*s).into()))
        .collect();
    assert_eq!(path, expected);
    let last_proposal_change = w.changes.iter().rev().find(|c| c.agency.is_none()).unwrap();
    assert_eq!(
        (
            last_proposal_change.event.as_str(),
            last_proposal_change.to.as_str()
        ),
        ("tasks_completed", "closed")
    );
}

#[test]
fn case_0942_schedules_reminders_a_week_and_a_day_before_the_reply_deadline() {
    let w = replay();
    let reminders: Vec<_> = w
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::ScheduleTimer(t) if t.deadline == "reply" && t.kind == TimerKind::Reminder => {
                Some(t.fire_at)
            }
            _ => None,
        })
        .collect();
    assert_eq!(reminders.len(), 2);
    // 09:00 in Chongqing is 01:00 UTC.
    assert_eq!(reminders[0].to_rfc3339(), "2020-05-19T01:00:00+00:00");
    assert_eq!(reminders[1].to_rfc3339(), "2020-05-25T01:00:00+00:00");
    // Sending the reply cancelled them.
    assert!(w.effects.iter().any(|e| matches!(e, Effect::CancelTimers { agency, deadline: Some(d) } if agency == &code(LEAD) && d == "reply")));
}
