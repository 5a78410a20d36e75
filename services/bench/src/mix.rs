//! The realistic mix of proposals the bus benchmark sends: the fault campaign's workload
//! (`cohandle_campaign::workload::plan`: sole, lead with co-handlers, split, every step
//! after the assignment, real payloads), without its hostile text and stale proposals.
//! It is built here because the campaign's plan takes the campaign's private generator.
//! Each plan is run through the pure domain first, so a refusal by the engine is a defect.

use anyhow::Context;
use chrono::{DateTime, Utc};
use cohandle_campaign::workload::{ASSIGNER, CONGRESS_OFFICE, DEFINITION, HANDLERS};
use cohandle_workflows::event::{Assignment, Handler};
use cohandle_workflows::model::{
    AssignmentMode, DisclosureConsent, Dispatch, Draft, Feedback, Opinion, ProposalInfo,
    ProposalKind, ResultClass, Satisfaction, Signature, TaskRole,
};
use cohandle_workflows::{
    Actor, ActorKind, AgencyCode, Body, Calendar, Catalog, Event, EventId, Proposal, ProposalKey,
};

/// A seeded SplitMix64, so that a run can be repeated as it was.
#[derive(Debug, Clone)]
pub struct Seed(u64);

impl Seed {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

fn agency(code: &str) -> anyhow::Result<AgencyCode> {
    AgencyCode::parse(code).with_context(|| format!("agency code {code}"))
}

/// Proposal `n` of run `run`: its events in the order they must be applied.
pub fn plan(
    seed: &mut Seed,
    run: &str,
    n: usize,
    catalog: &Catalog,
    calendar: &Calendar,
    at: DateTime<Utc>,
) -> anyhow::Result<Vec<Event>> {
    let today = cohandle_workflows::engine::china_date(at);
    let key = format!("bench-{run}-{n:06}");
    let mut pool: Vec<&str> = HANDLERS.to_vec();
    let mut take = |seed: &mut Seed| pool.remove(seed.below(pool.len()));
    let (mode, handlers): (AssignmentMode, Vec<(String, TaskRole)>) = match seed.below(3) {
        0 => (
            AssignmentMode::Sole,
            vec![(take(seed).to_owned(), TaskRole::Lead)],
        ),
        1 => {
            let mut h = vec![(take(seed).to_owned(), TaskRole::Lead)];
            for _ in 0..1 + seed.below(2) {
                h.push((take(seed).to_owned(), TaskRole::CoHandler));
            }
            (AssignmentMode::LeadWithCoHandlers, h)
        }
        _ => (
            AssignmentMode::Split,
            (0..2)
                .map(|_| (take(seed).to_owned(), TaskRole::Split))
                .collect(),
        ),
    };
    let deputy = "郎平权".to_owned();
    let info = ProposalInfo {
        kind: ProposalKind::DeputySuggestion,
        number: format!("{n:04}"),
        session: "市五届人大三次会议".to_owned(),
        title: format!("关于第{n}号建议的办理"),
        category: "科技".to_owned(),
        lead_deputy: deputy.clone(),
        co_signers: Vec::new(),
        submitted_on: today - chrono::Duration::days(10),
        session_closed_on: None,
        disclosure_consent: DisclosureConsent::FullText,
        key_supervision: seed.chance(20),
    };
    let mut bodies: Vec<(String, ActorKind, Body)> = vec![(
        ASSIGNER.to_owned(),
        ActorKind::Assigner,
        Body::Assign(Assignment {
            definition: DEFINITION.to_owned(),
            info,
            mode,
            handlers: handlers
                .iter()
                .map(|(a, role)| {
                    Ok(Handler {
                        agency: agency(a)?,
                        role: *role,
                    })
                })
                .collect::<anyhow::Result<_>>()?,
            assigned_on: today,
        }),
    )];
    let co: Vec<&String> = handlers
        .iter()
        .filter(|(_, r)| *r == TaskRole::CoHandler)
        .map(|(a, _)| a)
        .collect();
    for (handler, role) in handlers.iter().filter(|(_, r)| *r != TaskRole::CoHandler) {
        let kind = ActorKind::Agency;
        bodies.push((handler.clone(), kind, Body::SignFor));
        if *role == TaskRole::Lead {
            for c in &co {
                bodies.push(((*c).clone(), kind, Body::Acknowledge));
            }
            for c in &co {
                bodies.push((
                    (*c).clone(),
                    kind,
                    Body::SubmitOpinion(Opinion {
                        document_number: format!("{c}函〔2026〕{n}号"),
                        summary: "协办意见".to_owned(),
                        submitted_on: Some(today),
                    }),
                ));
            }
        }
        bodies.push((
            handler.clone(),
            kind,
            Body::DraftReply(Draft {
                result_class: ResultClass::A,
                document_number: format!("{handler}函〔2026〕{n}号"),
                summary: "答复函".to_owned(),
                co_handler_views: if *role == TaskRole::Lead {
                    co.iter()
                        .map(|c| agency(c))
                        .collect::<anyhow::Result<_>>()?
                } else {
                    Vec::new()
                },
                commits_funds: false,
            }),
        ));
        bodies.push((
            handler.clone(),
            kind,
            Body::SignReply(Signature {
                signer: "许洪斌".to_owned(),
                title: "局长".to_owned(),
                principal_head: true,
                signed_on: today,
            }),
        ));
        bodies.push((
            handler.clone(),
            kind,
            Body::SendReply(Dispatch {
                sent_on: today,
                deputies: vec![deputy.clone()],
                copies: vec!["市人大常委会人代工委".to_owned()],
            }),
        ));
        bodies.push((
            CONGRESS_OFFICE.to_owned(),
            ActorKind::CongressOffice,
            Body::RecordFeedback {
                agency: agency(handler)?,
                feedback: Feedback {
                    satisfaction: Satisfaction::Satisfied,
                    comments: "满意".to_owned(),
                    received_on: today,
                },
            },
        ));
    }

    let definition = catalog
        .latest(DEFINITION)
        .map_err(|e| anyhow::anyhow!("definition {DEFINITION}: {e}"))?;
    let mut state: Option<Proposal> = None;
    let mut events = Vec::with_capacity(bodies.len());
    for (i, (actor, kind, body)) in bodies.into_iter().enumerate() {
        let event = Event {
            id: EventId::parse(format!("{key}.{i:02}.{}", body.name()))?,
            proposal: ProposalKey::parse(key.clone())?,
            actor: Actor {
                agency: agency(&actor)?,
                kind,
            },
            occurred_at: at,
            body,
        };
        let decision = cohandle_workflows::apply(&definition, calendar, state.as_ref(), &event, at)
            .map_err(|r| {
                anyhow::anyhow!(
                    "the benchmark's plan for {key} is refused by the domain at step {i}: {} {}",
                    r.code.as_str(),
                    r.message
                )
            })?;
        state = Some(decision.proposal);
        events.push(event);
    }
    Ok(events)
}
