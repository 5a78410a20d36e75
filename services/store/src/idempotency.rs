//! When a second event under a known id is a copy of the first. Every door asks the same
//! question (HTTP's `Idempotency-Key`, the bus's `eventId`), so it is answered once, here.

use cohandle_workflows::Event;

/// Whether `again` is the same request as `first`: the same sender, proposal and content.
/// The time may differ (over HTTP it defaults to the moment of each attempt); anything else
/// makes it another event, refused rather than answered with the first one's outcome.
pub fn same_request(first: &Event, again: &Event) -> bool {
    first.actor == again.actor && first.proposal == again.proposal && first.body == again.body
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
}
