//! Who sent a message: the AMQP `user-id` property, which RabbitMQ checks against the user
//! of the publishing connection (a publish that sets another user's id is refused by the
//! broker). Each agency publishes as its own RabbitMQ user, named by its agency code; the
//! `agencies` table says which kind of actor that code is. The envelope's `actorAgency`
//! and `actorKind` are claims: they must match, or the message is refused.

use std::collections::HashMap;
use std::sync::Arc;

use cohandle_store::jurisdictions::{self, Registry};
use cohandle_store::{agencies, Engine};
use cohandle_workflows::{ActorKind, Body, Event};

use crate::dead_letter::Refusal;
use crate::Error;

/// The actor kind an `agencies.kind` value names.
pub fn actor_kind(kind: &str) -> Option<ActorKind> {
    match kind {
        "assigner" => Some(ActorKind::Assigner),
        "agency" => Some(ActorKind::Agency),
        "congress_office" => Some(ActorKind::CongressOffice),
        "supervisor" => Some(ActorKind::Supervisor),
        _ => None,
    }
}

fn kind_name(kind: ActorKind) -> &'static str {
    match kind {
        ActorKind::Assigner => "assigner",
        ActorKind::Agency => "agency",
        ActorKind::CongressOffice => "congress_office",
        ActorKind::Supervisor => "supervisor",
        ActorKind::Timer => "timer",
    }
}

/// The registered kind of each of `users` that is a known agency; read fresh for every
/// batch, so that an agency registered a moment ago is recognised without a restart.
pub async fn lookup(
    engine: &Engine,
    users: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, ActorKind>, Error> {
    let rows = agencies::among(engine, users.into_iter().collect()).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| actor_kind(&row.kind).map(|kind| (row.code, kind)))
        .collect())
}

/// Who may send: the agencies in the `agencies` table, and those the configuration names
/// (`amqp.agencies = ["cq-jw:agency", …]`) for deployments that register them there. The
/// table wins where both name an agency.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    configured: HashMap<String, ActorKind>,
}

impl Directory {
    /// From configured (code, kind) pairs; a pair with an unknown kind is left out, with a
    /// warning (the CLI checks the kinds before it gets here).
    pub fn new(configured: &[(String, String)]) -> Self {
        let configured = configured
            .iter()
            .filter_map(|(code, kind)| match actor_kind(kind) {
                Some(kind) => Some((code.clone(), kind)),
                None => {
                    tracing::warn!(agency = %code, kind = %kind, "configured agency of an unknown kind; ignored");
                    None
                }
            })
            .collect();
        Self { configured }
    }

    /// The kind of each of `users` that may send.
    pub async fn resolve(
        &self,
        engine: &Engine,
        users: impl IntoIterator<Item = String>,
    ) -> Result<HashMap<String, ActorKind>, Error> {
        let users: Vec<String> = users.into_iter().collect();
        let mut known = lookup(engine, users.iter().cloned()).await?;
        for user in users {
            if let Some(kind) = self.configured.get(&user) {
                known.entry(user).or_insert(*kind);
            }
        }
        Ok(known)
    }
}

/// Every agency known to the engine, with its kind: the agency queues to declare.
pub async fn all(engine: &Engine) -> Result<Vec<(String, String)>, Error> {
    Ok(agencies::all(engine)
        .await?
        .into_iter()
        .map(|row| (row.code, row.kind))
        .collect())
}

/// The agencies whose queues to declare: the configured ones and the registered ones. The
/// database may be down at start; the relay declares missing queues before it publishes.
pub async fn declared(engine: &Engine, configured: &[(String, String)]) -> Vec<(String, String)> {
    let mut declared: Vec<(String, String)> = configured.to_vec();
    match all(engine).await {
        Ok(registered) => declared.extend(registered),
        Err(error) => {
            tracing::warn!(message = "Failed to read the agencies; declaring their queues later", %error);
        }
    }
    declared.sort();
    declared.dedup();
    declared
}

/// The jurisdictions each of the senders of assignments in `events` serves, with the
/// registry read again first if an assignment's key names no jurisdiction known yet (one
/// registered a moment ago must be held to its members at once, not after a refresh).
pub async fn served_by_assigners<'a>(
    engine: &Engine,
    events: impl Iterator<Item = (&'a Event, &'a str)>,
) -> Result<(Arc<Registry>, HashMap<String, Vec<String>>), Error> {
    let assigns: Vec<(&Event, &str)> = events
        .filter(|(e, _)| matches!(e.body, Body::Assign(_)))
        .collect();
    if assigns.is_empty() {
        return Ok((engine.jurisdictions(), HashMap::new()));
    }
    engine.keep_jurisdictions_current().await;
    if assigns
        .iter()
        .any(|(e, _)| engine.jurisdictions().of_key(e.proposal.as_str()).is_none())
    {
        engine.refresh_jurisdictions().await?;
    }
    let users: Vec<String> = assigns.iter().map(|(_, u)| (*u).to_owned()).collect();
    let served = jurisdictions::of_agencies(engine, &users).await?;
    Ok((engine.jurisdictions(), served))
}

/// Refuses an assignment of a key in a jurisdiction its sender does not serve. A key that
/// names no jurisdiction is left to the engine (`wrong_jurisdiction`, replayable).
pub fn may_assign(
    event: &Event,
    user: &str,
    registry: &Registry,
    served: Option<&Vec<String>>,
) -> Result<(), Refusal> {
    if !matches!(event.body, Body::Assign(_)) {
        return Ok(());
    }
    let Some(jurisdiction) = registry.of_key(event.proposal.as_str()) else {
        return Ok(());
    };
    if served.is_some_and(|codes| codes.contains(&jurisdiction.code)) {
        return Ok(());
    }
    Err(Refusal::new(
        crate::dead_letter::code::JURISDICTION_NOT_YOURS,
        format!(
            "proposal {} belongs to jurisdiction {} ({}), which {user:?} does not serve; an assigner assigns only in the jurisdictions it serves (`cohandle jurisdiction join`), then this message can be replayed",
            event.proposal, jurisdiction.code, jurisdiction.name
        ),
    ))
}

/// The bindings of the supervisors among `declared` to the jurisdictions they serve
/// ([`crate::topology::jurisdiction_bindings`]). The database may be down: then none, and
/// the next start (or pass) adds them.
pub async fn jurisdiction_plans(
    engine: &Engine,
    declared: &[(String, String)],
) -> Vec<crate::topology::Item> {
    let supervisors: Vec<String> = declared
        .iter()
        .filter(|(_, kind)| kind == "supervisor")
        .map(|(code, _)| code.clone())
        .collect();
    match jurisdictions::of_agencies(engine, &supervisors).await {
        Ok(served) => declared
            .iter()
            .flat_map(|(code, kind)| {
                let codes = served.get(code).map(Vec::as_slice).unwrap_or_default();
                crate::topology::jurisdiction_bindings(code, kind, codes)
            })
            .collect(),
        Err(error) => {
            tracing::warn!(message = "Failed to read the supervisors' jurisdictions; binding them later", %error);
            Vec::new()
        }
    }
}

/// Checks the envelope's claims against the authenticated sender.
pub fn check(event: &Event, user: &str, registered: Option<ActorKind>) -> Result<(), Refusal> {
    // The HTTP door's ids are its callers' keys: taken here first, they would be squatted.
    if event.id.is_http() {
        return Err(Refusal::new(
            "reserved_event_id",
            format!(
                "event id {:?} begins with {:?}, which is reserved for events sent over HTTP; choose another id",
                event.id.as_str(),
                cohandle_workflows::EventId::HTTP_PREFIX
            ),
        ));
    }
    let Some(kind) = registered else {
        return Err(Refusal::new(
            "unknown_sender",
            format!(
                "RabbitMQ user {user:?} is not a registered agency; register it \
                 (`cohandle agency add`), then replay this message"
            ),
        ));
    };
    if event.actor.agency.as_str() != user {
        return Err(Refusal::new(
            "identity_mismatch",
            format!(
                "the envelope claims actorAgency {:?}, but the message was published by RabbitMQ \
                 user {user:?}: an agency sends only as itself",
                event.actor.agency.as_str()
            ),
        ));
    }
    if event.actor.kind != kind {
        return Err(Refusal::new(
            "identity_mismatch",
            format!(
                "{user:?} is registered as {}, but the envelope claims actorKind {}",
                kind_name(kind),
                kind_name(event.actor.kind)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cohandle_workflows::{Actor, AgencyCode, Body, EventId, ProposalKey};

    fn acknowledgement(id: &str) -> Event {
        Event {
            id: EventId::parse(id).unwrap(),
            proposal: ProposalKey::parse("cq-5-3-0942").unwrap(),
            actor: Actor {
                agency: AgencyCode::parse("cq-czj").unwrap(),
                kind: ActorKind::Agency,
            },
            occurred_at: chrono::DateTime::UNIX_EPOCH,
            body: Body::Acknowledge,
        }
    }

    #[test]
    fn an_http_callers_event_id_cannot_be_taken_over_the_bus() {
        let squat = acknowledgement("http/cq-jw/agency/jw-ack-X");
        let refusal = check(&squat, "cq-czj", Some(ActorKind::Agency)).unwrap_err();
        assert_eq!(refusal.code, "reserved_event_id");
        assert!(check(
            &acknowledgement("czj-ack-1"),
            "cq-czj",
            Some(ActorKind::Agency)
        )
        .is_ok());
    }
}
