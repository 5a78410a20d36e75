//! What a batch's decisions add to the statistics: the rows of the statistics tables
//! (replies, feedback, disclosures, opinions) and what they change in the counters.

use chrono::NaiveDate;
use cohandle_workflows::model::{ContactMethod, DisclosureScope};
use cohandle_workflows::{Body, Event, Proposal};
use sea_orm::ActiveValue::Set;

use super::{Deltas, Place};
use crate::entities::{disclosure, feedback, opinion, reply};

/// The co-handler's deadline an opinion meets, as the shipped definitions name it.
const OPINION_DEADLINE: &str = "co_handler_opinion";

#[derive(Debug, Default)]
pub(crate) struct Projection {
    pub(crate) replies: Vec<reply::ActiveModel>,
    pub(crate) feedback: Vec<feedback::ActiveModel>,
    pub(crate) disclosures: Vec<disclosure::ActiveModel>,
    pub(crate) opinions: Vec<opinion::ActiveModel>,
    pub(crate) deltas: Deltas,
}

impl Projection {
    /// Rows for the statistics tables, written when an event adds to them, and what they change
    /// in the counters of the proposal's `jurisdiction`, session and kind.
    /// `recorded_on` is the date the engine recorded the event on: a reply or an opinion is on
    /// time when it was recorded by its due date, whatever date the letter declares.
    pub(crate) fn project(
        &mut self,
        before: Option<&Proposal>,
        after: &Proposal,
        event: &Event,
        recorded_on: NaiveDate,
        jurisdiction: &str,
    ) {
        let agency = match &event.body {
            Body::SendReply(_) | Body::RecordDisclosure(_) | Body::SubmitOpinion(_) => {
                event.actor.agency.clone()
            }
            Body::RecordFeedback { agency, .. } => agency.clone(),
            _ => return,
        };
        let Some(task) = after.task(&agency) else {
            return;
        };
        let key = after.key.to_string();
        let was = before.and_then(|p| p.task(&agency));
        let place = Place {
            jurisdiction,
            session: &after.info.session,
            kind: after.info.kind.as_str(),
        };
        match &event.body {
            Body::SendReply(dispatch) => {
                let due_before = was.and_then(|t| {
                    ["rehandling", "reply"]
                        .iter()
                        .find_map(|n| t.deadlines.get(*n))
                        .map(|d| d.due)
                });
                let (Some(draft), Some(signature)) = (&task.draft, &task.signature) else {
                    return;
                };
                let round = task.replies.len() as i32;
                let result_class = <&str>::from(draft.result_class).to_owned();
                let on_time = due_before.is_none_or(|due| recorded_on <= due);
                let met_deputy = task
                    .contacts
                    .iter()
                    .any(|c| c.method == ContactMethod::Meeting);
                self.deltas.reply(
                    place,
                    agency.as_str(),
                    round,
                    &result_class,
                    on_time,
                    met_deputy,
                    recorded_on,
                );
                self.replies.push(reply::ActiveModel {
                    proposal_key: Set(key),
                    agency: Set(agency.to_string()),
                    round: Set(round),
                    document_number: Set(draft.document_number.clone()),
                    result_class: Set(result_class),
                    signer: Set(signature.signer.clone()),
                    signed_on: Set(signature.signed_on),
                    sent_on: Set(dispatch.sent_on),
                    recorded_on: Set(Some(recorded_on)),
                    due_on: Set(due_before),
                    on_time: Set(on_time),
                    met_deputy: Set(met_deputy),
                });
            }
            Body::RecordFeedback { feedback: f, .. } => {
                let round = task.feedback.len() as i32;
                self.deltas.feedback(
                    place,
                    agency.as_str(),
                    round,
                    f.satisfaction.is_satisfied(),
                    was.and_then(|t| t.feedback.last())
                        .map(|previous| previous.satisfaction.is_satisfied()),
                    f.received_on,
                );
                self.feedback.push(feedback::ActiveModel {
                    proposal_key: Set(key),
                    agency: Set(agency.to_string()),
                    round: Set(round),
                    satisfaction: Set(<&str>::from(f.satisfaction).to_owned()),
                    received_on: Set(f.received_on),
                });
            }
            Body::RecordDisclosure(d) => {
                let full = |scope| scope == DisclosureScope::Full;
                self.deltas.disclosure(
                    place,
                    agency.as_str(),
                    full(d.scope),
                    was.and_then(|t| t.disclosure.as_ref())
                        .map(|p| full(p.scope)),
                );
                self.disclosures.push(disclosure::ActiveModel {
                    proposal_key: Set(key),
                    agency: Set(agency.to_string()),
                    index_number: Set(d.index_number.clone()),
                    topic: Set(d.topic.clone()),
                    scope: Set(<&str>::from(d.scope).to_owned()),
                    withheld_reason: Set(d.withheld_reason.clone()),
                    written_on: Set(d.written_on),
                    published_on: Set(d.published_on),
                });
            }
            // The first opinion of the task counts; a definition that lets a co-handler send
            // another leaves the first as the one measured.
            Body::SubmitOpinion(_) if was.is_none_or(|t| t.opinion.is_none()) => {
                let due_on = was
                    .and_then(|t| t.deadlines.get(OPINION_DEADLINE))
                    .map(|d| d.due);
                let on_time = due_on.is_none_or(|due| recorded_on <= due);
                self.deltas
                    .opinion(place, agency.as_str(), on_time, recorded_on);
                self.opinions.push(opinion::ActiveModel {
                    proposal_key: Set(key),
                    agency: Set(agency.to_string()),
                    recorded_on: Set(recorded_on),
                    due_on: Set(due_on),
                    on_time: Set(on_time),
                });
            }
            _ => {}
        }
    }
}
