//! Who may do what through the API. Two layers, both here:
//!
//! - **Roles** decide which events a token may send at all ([`SENDERS`]). Supervisors and
//!   admins send none; the timer's events never come from outside.
//! - **Scope** decides which proposals and tasks a token sees and acts on. Supervisors and
//!   admins see everything; a congress office sees the proposals of its jurisdiction, those
//!   run under a definition that names it among the offices relaying receipts
//!   (`settings.congress_offices`), with all their tasks; an assigner or an agency sees the
//!   proposals it assigned or has a task in, and within them the tasks it holds, plus its
//!   co-handlers' tasks when it leads, and every task of a proposal it assigned.
//!
//! The engine checks again, against the workflow definition, that the sender plays the
//! right part in the proposal; this module refuses earlier and with a clearer reason.

use cohandle_store::jurisdictions::Registry;
pub use cohandle_store::queries::Scope;
use cohandle_store::queries::TaskRow;
use cohandle_workflows::model::DefinitionRef;
use cohandle_workflows::Catalog;

use crate::auth::{Principal, Role};
use crate::Error;

/// The roles that may send each event through the API, by event name.
pub const SENDERS: &[(&str, &[Role])] = &[
    ("assign", &[Role::Assigner]),
    ("sign_for", &[Role::Agency]),
    ("acknowledge", &[Role::Agency]),
    ("dispute", &[Role::Agency]),
    ("decide_dispute", &[Role::Assigner]),
    ("submit_opinion", &[Role::Agency]),
    ("decline", &[Role::Agency]),
    ("raise_disagreement", &[Role::Agency]),
    ("settle_disagreement", &[Role::Assigner]),
    ("record_contact", &[Role::Agency]),
    ("draft_reply", &[Role::Agency]),
    ("return_draft", &[Role::Agency]),
    ("sign_reply", &[Role::Agency]),
    ("send_reply", &[Role::Agency]),
    ("record_feedback", &[Role::CongressOffice]),
    ("report_progress", &[Role::Agency]),
    ("conclude_follow_up", &[Role::Agency]),
    ("record_consultation", &[Role::Agency]),
    ("request_extension", &[Role::Agency]),
    ("approve_extension", &[Role::Assigner]),
    ("refuse_extension", &[Role::Assigner]),
    ("record_disclosure", &[Role::Agency]),
    ("pause_clock", &[Role::Agency]),
    ("resume_clock", &[Role::Agency]),
    ("merge_into", &[Role::Assigner]),
    ("absorb", &[Role::Assigner]),
    // Supervisors write nothing through the API, so their urging travels another way.
    ("urge", &[]),
    // The deadline monitor's own events.
    ("recompute_deadlines", &[]),
    ("reminder", &[]),
    ("expiry", &[]),
];

/// The roles that may send `event`.
pub fn senders(event: &str) -> &'static [Role] {
    SENDERS
        .iter()
        .find(|(name, _)| *name == event)
        .map_or(&[], |(_, roles)| *roles)
}

/// Refuses a token whose role may not send `event`.
pub fn may_send(principal: &Principal, event: &str) -> Result<(), Error> {
    let allowed = senders(event);
    if allowed.contains(&principal.role) {
        return Ok(());
    }
    let who: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
    let detail = match principal.role {
        Role::Supervisor => {
            format!("supervisors read everything and write nothing; {event} is not theirs to send")
        }
        Role::Admin => {
            format!("admin tokens manage tokens and read; they send no events such as {event}")
        }
        role if who.is_empty() => format!("{event} is never sent through the API (role {role})"),
        role => format!(
            "a {role} token may not send {event}; it is sent by: {}",
            who.join(", ")
        ),
    };
    Err(Error::forbidden("role_not_allowed", detail))
}

/// Refuses a role that `allowed` does not name (for endpoints other than events).
pub fn require(principal: &Principal, allowed: &[Role], what: &str) -> Result<(), Error> {
    if allowed.contains(&principal.role) {
        return Ok(());
    }
    let who: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
    Err(Error::forbidden(
        "role_not_allowed",
        format!(
            "a {} token may not {what}; only: {}",
            principal.role,
            who.join(", ")
        ),
    ))
}

/// What `principal` sees: admins everything; a supervisor the jurisdictions its agency
/// serves and those below them; a congress office the proposals run under a definition that
/// names it in `settings.congress_offices`; an assigner or an agency what it assigned or has
/// a task in.
pub fn scope(principal: &Principal, catalog: &Catalog, registry: &Registry) -> Scope {
    match principal.role {
        Role::Admin => Scope::All,
        Role::Supervisor => Scope::Within(registry.below(&principal.jurisdictions)),
        Role::CongressOffice => Scope::Relays(
            catalog
                .all()
                .filter(|d| d.settings.congress_offices.contains(&principal.agency))
                .map(|d| d.reference())
                .collect(),
        ),
        Role::Assigner | Role::Agency => Scope::Own(principal.agency.clone()),
    }
}

/// Refuses an assignment of `key` by an assigner whose agency does not serve the
/// jurisdiction the key names. A key that names none is left to the engine, which refuses it
/// as `wrong_jurisdiction` and keeps it for replay once the jurisdiction is registered.
pub fn may_assign(principal: &Principal, registry: &Registry, key: &str) -> Result<(), Error> {
    let Some(jurisdiction) = registry.of_key(key) else {
        return Ok(());
    };
    if principal.jurisdictions.contains(&jurisdiction.code) {
        return Ok(());
    }
    Err(Error::forbidden(
        "jurisdiction_not_yours",
        format!(
            "proposal {key} belongs to jurisdiction {} ({}), which {} does not serve; it assigns in: {}",
            jurisdiction.code,
            jurisdiction.name,
            principal.agency,
            served(principal)
        ),
    ))
}

/// The refusal of a list narrowed to a jurisdiction a supervisor does not watch.
pub fn outside_jurisdiction(principal: &Principal, code: &str) -> Error {
    Error::forbidden(
        "jurisdiction_not_yours",
        format!(
            "jurisdiction {code} is neither one {} serves nor below one; it watches: {}",
            principal.agency,
            served(principal)
        ),
    )
}

/// The refusal of a proposal outside a supervisor's jurisdictions.
pub fn outside(principal: &Principal, key: &str, jurisdiction: &str) -> Error {
    Error::forbidden(
        "jurisdiction_not_yours",
        format!(
            "proposal {key} belongs to jurisdiction {}, which is neither one {} serves nor below one; it watches: {}",
            if jurisdiction.is_empty() { "(none)" } else { jurisdiction },
            principal.agency,
            served(principal)
        ),
    )
}

fn served(principal: &Principal) -> String {
    if principal.jurisdictions.is_empty() {
        "no jurisdiction yet (`cohandle jurisdiction join`)".to_owned()
    } else {
        principal.jurisdictions.join(", ")
    }
}

/// A proposal's parties, as the visibility rules need them.
#[derive(Debug, Clone)]
pub struct Parties<'a> {
    pub assigner: &'a str,
    pub definition: &'a DefinitionRef,
    pub jurisdiction: &'a str,
    pub tasks: &'a [TaskRow],
}

impl Parties<'_> {
    pub fn sees_proposal(&self, scope: &Scope) -> bool {
        match scope {
            Scope::All => true,
            Scope::Relays(definitions) => definitions.contains(self.definition),
            Scope::Within(codes) => codes.iter().any(|c| c == self.jurisdiction),
            Scope::Own(me) => {
                self.assigner == me.as_str() || self.tasks.iter().any(|t| t.agency == me.as_str())
            }
        }
    }

    /// Whether the scope sees the detail of `agency`'s task: its own, every task of a
    /// proposal it assigned, and its co-handlers' when it leads.
    pub fn sees_task(&self, scope: &Scope, agency: &str) -> bool {
        match scope {
            Scope::All => true,
            Scope::Relays(definitions) => definitions.contains(self.definition),
            Scope::Within(codes) => codes.iter().any(|c| c == self.jurisdiction),
            Scope::Own(me) => {
                let me = me.as_str();
                if agency == me || self.assigner == me {
                    return true;
                }
                let leads = self
                    .tasks
                    .iter()
                    .any(|t| t.agency == me && t.role == "lead");
                leads
                    && self
                        .tasks
                        .iter()
                        .any(|t| t.agency == agency && t.role == "co_handler")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cohandle_workflows::event::{EVENT_NAMES, INTERNAL_EVENTS};
    use cohandle_workflows::AgencyCode;

    #[test]
    fn every_event_of_the_vocabulary_has_a_decision() {
        for name in EVENT_NAMES.iter().chain(INTERNAL_EVENTS) {
            let decided = SENDERS.iter().any(|(n, _)| n == name) || INTERNAL_EVENTS.contains(name);
            assert!(decided, "no access decision for event {name}");
        }
        for (name, _) in SENDERS {
            assert!(EVENT_NAMES.contains(name), "{name} is not an event");
        }
    }

    #[test]
    fn supervisors_and_admins_send_nothing() {
        for (name, roles) in SENDERS {
            assert!(!roles.contains(&Role::Supervisor), "{name}");
            assert!(!roles.contains(&Role::Admin), "{name}");
        }
    }

    fn task(agency: &str, role: &str) -> TaskRow {
        TaskRow {
            proposal_key: "p".into(),
            position: 0,
            agency: agency.into(),
            role: role.into(),
            state: "x".into(),
            active: true,
            terminal: false,
            due_on: None,
            due_deadline: None,
            session: String::new(),
            kind: String::new(),
            key_supervision: false,
        }
    }

    #[test]
    fn a_co_handler_sees_its_own_task_only_and_the_lead_sees_its_co_handlers() {
        let tasks = [
            task("lead", "lead"),
            task("a", "co_handler"),
            task("b", "co_handler"),
        ];
        let definition = DefinitionRef {
            name: "d".into(),
            version: 1,
        };
        let parties = Parties {
            assigner: "office",
            definition: &definition,
            jurisdiction: "cq-yz",
            tasks: &tasks,
        };
        let own = |c: &str| Scope::Own(AgencyCode::parse(c).unwrap());
        assert!(parties.sees_task(&own("a"), "a"));
        assert!(!parties.sees_task(&own("a"), "b"));
        assert!(!parties.sees_task(&own("a"), "lead"));
        assert!(parties.sees_task(&own("lead"), "b"));
        assert!(parties.sees_task(&own("office"), "lead"));
        assert!(!parties.sees_proposal(&own("stranger")));
        assert!(parties.sees_proposal(&Scope::All));
        assert!(parties.sees_task(&Scope::Relays(vec![definition.clone()]), "b"));
        assert!(!parties.sees_proposal(&Scope::Relays(Vec::new())));
        let within =
            |codes: &[&str]| Scope::Within(codes.iter().map(|c| (*c).to_owned()).collect());
        assert!(parties.sees_task(&within(&["cq", "cq-yz"]), "b"));
        assert!(!parties.sees_proposal(&within(&["cq"])));
        assert!(!parties.sees_proposal(&within(&[])));
    }
}
