//! Properties over random event sequences: no panic, only declared states, and no reply
//! while a co-handler's opinion is missing unless the definition allows it.

use std::sync::Arc;

use cohandle_workflows::event::{DisputeDecision, TimerKind};
use cohandle_workflows::model::{Machine, ResultClass, Satisfaction};
use cohandle_workflows::{Actor, Body, Definition};
use proptest::prelude::*;

use crate::support::*;

const AGENCIES: [&str; 4] = ["cq-kjj", "cq-jw", "cq-czj", "cq-jxw"];

fn actor_strategy() -> impl Strategy<Value = Actor> {
    prop_oneof![
        (0..AGENCIES.len()).prop_map(|i| agency(AGENCIES[i])),
        Just(assigner()),
        Just(congress()),
        Just(supervisor()),
        Just(timer()),
    ]
}

fn body_strategy() -> impl Strategy<Value = Body> {
    let agency_code = (0..AGENCIES.len()).prop_map(|i| code(AGENCIES[i]));
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
    let deadline = prop_oneof![
        Just("reply"),
        Just("co_handler_opinion"),
        Just("dispute_window"),
        Just("feedback"),
        Just("rehandling")
    ];
    prop_oneof![
        Just(Body::SignFor),
        Just(Body::Acknowledge),
        Just(Body::Dispute { reason: "r".into() }),
        (agency_code.clone(), any::<bool>()).prop_map(|(a, keep)| Body::DecideDispute {
            agency: a,
            decision: if keep {
                DisputeDecision::Keep { reason: "k".into() }
            } else {
                DisputeDecision::Reassign {
                    to: code("cq-new"),
                    reason: "r".into(),
                }
            },
        }),
        Just(opinion("n", "2020-03-10")),
        Just(Body::Decline { reason: "r".into() }),
        agency_code.clone().prop_map(|a| Body::RaiseDisagreement {
            co_handler: a,
            reason: "r".into()
        }),
        agency_code.clone().prop_map(|a| Body::SettleDisagreement {
            co_handler: a,
            resolution: "r".into()
        }),
        any::<bool>().prop_map(|agreed| contact("2020-03-10", agreed)),
        (
            class,
            proptest::sample::subsequence(AGENCIES.to_vec(), 0..=3)
        )
            .prop_map(|(c, views)| draft(c, &views)),
        Just(Body::ReturnDraft { reason: "r".into() }),
        any::<bool>().prop_map(|p| sign("2020-04-01", p)),
        Just(send("2020-04-02", &["郎平权"])),
        (agency_code.clone(), satisfaction).prop_map(|(a, s)| feedback(
            a.as_str(),
            s,
            "2020-04-10"
        )),
        Just(Body::ReportProgress { note: "n".into() }),
        Just(Body::PauseClock {
            reason: "waiting_for_deputy".into()
        }),
        Just(Body::ResumeClock),
        Just(Body::RecomputeDeadlines { reason: "r".into() }),
        Just(Body::ConcludeFollowUp { note: "n".into() }),
        Just(Body::RecordConsultation { note: "n".into() }),
        Just(Body::RequestExtension {
            until: date("2020-07-01"),
            reason: "r".into()
        }),
        agency_code
            .clone()
            .prop_map(|a| Body::ApproveExtension { agency: a }),
        agency_code.clone().prop_map(|a| Body::RefuseExtension {
            agency: a,
            reason: "r".into()
        }),
        agency_code.clone().prop_map(|a| Body::Urge {
            agency: a,
            note: "n".into()
        }),
        (agency_code, deadline, any::<bool>(), 0u32..3).prop_map(|(a, d, reminder, generation)| {
            Body::TimerFired {
                agency: a,
                deadline: d.into(),
                kind: if reminder {
                    TimerKind::Reminder
                } else {
                    TimerKind::Expiry
                },
                due: date("2020-04-02"),
                generation,
            }
        }),
    ]
}

/// Days after the step before (the assignment for the first one): the same day, days or
/// months later, so that deadlines and reminders fall due between steps.
fn gap_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), 1u64..10, 10u64..120]
}

fn run(definition: Arc<Definition>, events: Vec<(Actor, Body, u64)>) -> World {
    let mut w = World::with(definition);
    let def = w.definition.clone();
    w.ok(
        assigner(),
        "2020-03-02",
        assignment(
            &def,
            cohandle_workflows::model::AssignmentMode::LeadWithCoHandlers,
            &[
                ("cq-kjj", cohandle_workflows::model::TaskRole::Lead),
                ("cq-jw", cohandle_workflows::model::TaskRole::CoHandler),
                ("cq-czj", cohandle_workflows::model::TaskRole::CoHandler),
            ],
            "2020-03-02",
        ),
    );
    let mut day = date("2020-03-02");
    for (actor, body, gap) in events {
        day = day + chrono::Days::new(gap);
        let co_done_before = {
            let co = w.definition.machine(Machine::CoHandler);
            w.proposal().co_handlers().all(|t| co.is_terminal(&t.state))
        };
        let was_drafting = w.proposal().lead().map(|t| t.state.clone());
        if let Ok(decision) = w.send(actor, &day.to_string(), body) {
            let def = &w.definition;
            for task in &decision.proposal.tasks {
                assert!(
                    def.machine(task.role.machine())
                        .state(&task.state)
                        .is_some(),
                    "undeclared state {}",
                    task.state
                );
            }
            assert!(def
                .machine(Machine::Proposal)
                .state(&decision.proposal.state)
                .is_some());
            let lead_now = decision.proposal.lead().map(|t| t.state.clone());
            if lead_now.as_deref() == Some("drafted")
                && was_drafting.as_deref() != Some("drafted")
                && def.settings.co_handler_opinion_required
            {
                assert!(
                    co_done_before,
                    "a reply was drafted while a co-handler's opinion was missing"
                );
            }
        }
    }
    w
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_never_panic_and_stay_in_declared_states(
        events in proptest::collection::vec((actor_strategy(), body_strategy(), gap_strategy()), 0..40)
    ) {
        let def = cohandle_workflows::Catalog::shipped().latest("chongqing-deputy-suggestion").unwrap();
        run(def, events);
    }

    #[test]
    fn every_shipped_definition_survives_random_sequences(
        which in 0..3usize,
        events in proptest::collection::vec((actor_strategy(), body_strategy(), gap_strategy()), 0..30)
    ) {
        let catalog = cohandle_workflows::Catalog::shipped();
        let def = catalog.all().nth(which).unwrap().clone();
        run(def, events);
    }
}

/// With `co_handler_opinion_required = false` the lead may reply without the opinions.
#[test]
fn a_definition_may_allow_replying_without_the_opinions() {
    let text = include_str!("../../definitions/chongqing-deputy-suggestion.toml").replace(
        "co_handler_opinion_required = true",
        "co_handler_opinion_required = false",
    );
    let def = Arc::new(Definition::load("relaxed.toml", &text).unwrap());
    let mut w = run(def, vec![(agency("cq-kjj"), Body::SignFor, 13)]);
    w.ok(agency("cq-kjj"), "2020-03-20", draft(ResultClass::A, &[]));
    assert_eq!(w.state_of("cq-kjj"), "drafted");
}
