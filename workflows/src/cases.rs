//! Recorded cases as event sequences (`workflows/cases/`), for replays and tests.

use crate::event::Event;

const CASE_0942: &str = include_str!("../cases/case-0942.json");

/// Case 0942 of Chongqing's 5th congress, 3rd session: every event from the assignment to the
/// publication of the reply, in order (see `workflows/cases/README.md` for its sources).
pub fn case_0942() -> Vec<Event> {
    serde_json::from_str(CASE_0942).expect("the recorded case is checked by the tests")
}

#[cfg(test)]
mod tests {
    #[test]
    fn case_0942_reads_back() {
        let events = super::case_0942();
        assert_eq!(events.len(), 12);
        assert_eq!(events[0].body.name(), "assign");
        assert_eq!(events[11].body.name(), "record_disclosure");
    }
}
