//! When a second event under a known id is a copy of the first. Every door asks the same
//! question (HTTP's `Idempotency-Key`, the bus's `eventId`), so it is answered once, here.

use cohandle_workflows::Event;

/// Whether `again` is the same request as `first`: the same sender, proposal and content.
/// The time may differ (over HTTP it defaults to the moment of each attempt); anything else
/// makes it another event, refused rather than answered with the first one's outcome.
pub fn same_request(first: &Event, again: &Event) -> bool {
    first.actor == again.actor && first.proposal == again.proposal && first.body == again.body
}
