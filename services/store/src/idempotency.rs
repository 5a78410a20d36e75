//! When a second event under a known id is a copy of the first. Every door asks the same
//! question (HTTP's `Idempotency-Key`, the bus's `eventId`), so it is answered once, here,
//! together with what the inbox keeps of each event to answer it.

use cohandle_workflows::{Event, RejectionCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The most of an event refused as `unknown_proposal` the inbox keeps, in bytes of its JSON.
/// Such an event changes nothing, and anyone who may write can send it to any key, so a
/// larger one is kept as its [`Fingerprint`]: enough to recognise a copy, not to replay it.
pub const UNKNOWN_PROPOSAL_BOUND: usize = 4096;

/// Whether `again` is the same request as `first`: the same sender, proposal and content.
/// The time may differ (over HTTP it defaults to the moment of each attempt); anything else
/// makes it another event, refused rather than answered with the first one's outcome.
pub fn same_request(first: &Event, again: &Event) -> bool {
    first.actor == again.actor && first.proposal == again.proposal && first.body == again.body
}

/// What the inbox keeps of an event too large to keep whole: a hash over exactly what
/// [`same_request`] compares, and the size of the event it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fingerprint {
    /// SHA-256 (hex) of the JSON of the sender, the proposal and the body.
    pub request_sha256: String,
    /// Bytes of the event's JSON.
    pub bytes: usize,
}

impl Fingerprint {
    pub fn of(event: &Event) -> Self {
        let request = serde_json::to_vec(&(&event.actor, &event.proposal, &event.body))
            .expect("events serialize");
        Self {
            request_sha256: hex::encode(Sha256::digest(&request)),
            bytes: serde_json::to_vec(event).expect("events serialize").len(),
        }
    }
}

/// The first event under an id, as its inbox row reads back.
#[derive(Debug, Clone)]
pub(crate) enum First {
    Event(Box<Event>),
    Fingerprint(Fingerprint),
    /// A row that does not read back: its copies count as the same request.
    Unreadable,
}

impl First {
    /// Reads the inbox's `event` column.
    pub(crate) fn read(stored: &str) -> Self {
        if let Ok(event) = serde_json::from_str(stored) {
            return First::Event(Box::new(event));
        }
        serde_json::from_str(stored).map_or(First::Unreadable, First::Fingerprint)
    }

    /// Whether `again` is the same request as this first event.
    pub(crate) fn same_request(&self, again: &Event) -> bool {
        match self {
            First::Event(first) => same_request(first, again),
            First::Fingerprint(first) => {
                first.request_sha256 == Fingerprint::of(again).request_sha256
            }
            First::Unreadable => true,
        }
    }
}

/// What the inbox keeps of `event`, decided with `code` (`None`: applied): the event as JSON,
/// or its fingerprint when it was refused as `unknown_proposal` and is larger than
/// [`UNKNOWN_PROPOSAL_BOUND`].
pub(crate) fn stored(event: &Event, code: Option<RejectionCode>) -> String {
    let json = serde_json::to_string(event).expect("events serialize");
    if code == Some(RejectionCode::UnknownProposal) && json.len() > UNKNOWN_PROPOSAL_BOUND {
        return serde_json::to_string(&Fingerprint::of(event)).expect("fingerprints serialize");
    }
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_may_differ_in_time_only() {
        let case = cohandle_workflows::cases::case_0942();
        let first = &case[2];
        let mut later = first.clone();
        later.occurred_at += chrono::Duration::hours(1);
        assert!(same_request(first, &later));

        let mut other_body = case[4].clone();
        other_body.id = first.id.clone();
        assert!(!same_request(first, &other_body));
        let mut other_proposal = first.clone();
        other_proposal.proposal = cohandle_workflows::ProposalKey::parse("cq-5-3-0999").unwrap();
        assert!(!same_request(first, &other_proposal));
        let mut other_sender = first.clone();
        other_sender.actor.agency = cohandle_workflows::AgencyCode::parse("cq-czj").unwrap();
        assert!(!same_request(first, &other_sender));
    }

    #[test]
    fn a_fingerprint_answers_the_same_question_as_the_event() {
        let case = cohandle_workflows::cases::case_0942();
        let first = &case[2];
        let kept = First::read(
            &serde_json::to_string(&Fingerprint::of(first)).expect("fingerprints serialize"),
        );
        assert!(matches!(kept, First::Fingerprint(_)));
        let mut later = first.clone();
        later.occurred_at += chrono::Duration::hours(1);
        assert!(kept.same_request(&later));
        let mut other_body = case[4].clone();
        other_body.id = first.id.clone();
        assert!(!kept.same_request(&other_body));
        let mut other_sender = first.clone();
        other_sender.actor.agency = cohandle_workflows::AgencyCode::parse("cq-czj").unwrap();
        assert!(!kept.same_request(&other_sender));
    }

    #[test]
    fn only_a_large_refusal_for_an_unknown_proposal_is_kept_as_a_fingerprint() {
        let event = &cohandle_workflows::cases::case_0942()[2];
        let whole = serde_json::to_string(event).unwrap();
        assert!(whole.len() < UNKNOWN_PROPOSAL_BOUND);
        assert_eq!(stored(event, Some(RejectionCode::UnknownProposal)), whole);
        let mut large = event.clone();
        large.body = cohandle_workflows::Body::Dispute {
            reason: "x".repeat(60 * 1024),
        };
        let kept = stored(&large, Some(RejectionCode::UnknownProposal));
        assert!(kept.len() <= UNKNOWN_PROPOSAL_BOUND, "{}", kept.len());
        assert!(First::read(&kept).same_request(&large));
        assert!(stored(&large, None).len() > 60 * 1024);
        assert!(stored(&large, Some(RejectionCode::WrongState)).len() > 60 * 1024);
    }
}
