//! Replaying what was not applied, once its cause is fixed. Two kinds:
//!
//! - **Dead letters** (the `dead_letters` table): never reached the engine, or reached it
//!   under an id used by another event. Replayed by decoding the body again (or a corrected
//!   body the operator gives), checking the recorded sender as the worker would, and
//!   applying it through the engine with `Source::Replay` under its own event id, so that a
//!   copy the sender sends later is still a duplicate. The dead letter is marked replayed
//!   (with the outcome) once the engine has decided it; it is never deleted.
//! - **Refused events** in the inbox whose cause can pass: out of order (an opinion before
//!   its assignment: `unknown_proposal`; a step before the one it needs: `wrong_state`,
//!   `guard_failed`), a task not there yet, a calendar or a clock. The inbox keeps the
//!   event (with the sender the door authenticated), but its id is decided, so the replay
//!   is a new event `<id>/replay-<n>`: the history rows it writes name the replay, the inbox
//!   records it with source `replay`, and replaying twice gives the second a duplicate.
//!
//! Replays go straight to the engine rather than back through `cohandle.in`: the broker
//! would stamp them with the operator's `user-id`, not the sender's.

use cohandle_proto::ContentType;
use cohandle_store::bus_door::{self, Decision};
use cohandle_store::dead_letters::Filter;
use cohandle_store::{Engine, Outcome, Source};
use cohandle_workflows::{Event, EventId};
use sha2::{Digest, Sha256};
use tracing::instrument;

use crate::dead_letter::DeadLetter;
use crate::identity::{self, Directory};
use crate::Error;

/// The refusal codes whose cause can pass, so that a replay may apply the event: it came
/// before its proposal's assignment, before the step it needs, before its task, or met a
/// calendar or a clock that can be corrected, or a jurisdiction not yet registered. The others (`invalid_payload`,
/// `already_exists`) would be refused again whatever happens.
pub const REPLAYABLE: &[&str] = &[
    "unknown_proposal",
    "wrong_state",
    "guard_failed",
    "unknown_task",
    "actor_not_allowed",
    "calendar",
    "clock_skew",
    "wrong_jurisdiction",
];

/// What a replay came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    Applied {
        event_id: String,
        state: String,
    },
    /// Refused again; recorded (and replayable) in the inbox.
    Refused {
        event_id: String,
        code: String,
        message: String,
    },
    /// The event id was decided before; nothing changed.
    Duplicate {
        event_id: String,
    },
    /// Already replayed successfully as `event_id`; nothing done.
    AlreadyReplayed {
        event_id: String,
    },
    /// Still cannot be applied; the dead letter stays.
    Failed(String),
}

impl Replayed {
    /// Whether the engine decided it (the dead letter can go).
    pub fn decided(&self) -> bool {
        !matches!(self, Self::Failed(_))
    }
}

impl std::fmt::Display for Replayed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Applied { event_id, state } => {
                write!(f, "applied as {event_id} (proposal {state})")
            }
            Self::Refused {
                event_id,
                code,
                message,
            } => {
                write!(f, "refused again as {event_id}: {code}: {message}")
            }
            Self::Duplicate { event_id } => {
                write!(f, "{event_id} was already decided; nothing changed")
            }
            Self::AlreadyReplayed { event_id } => write!(f, "already replayed as {event_id}"),
            Self::Failed(why) => write!(f, "not replayed: {why}"),
        }
    }
}

fn replayed(event_id: &EventId, outcome: Outcome) -> Replayed {
    let event_id = event_id.to_string();
    match outcome {
        Outcome::Applied { state, .. } => Replayed::Applied { event_id, state },
        Outcome::Rejected(r) => Replayed::Refused {
            event_id,
            code: r.code.as_str().to_owned(),
            message: r.message,
        },
        // A replay is decided at once (`Source::Replay` is never held); should one be held, it
        // is not applied yet, which is what the operator must hear.
        Outcome::Held { why, until } => {
            Replayed::Failed(format!("{event_id} is held until {until}: {}", why.message))
        }
        Outcome::Duplicate(first) if !first.same_request => Replayed::Failed(format!(
            "event id {event_id} belongs to another event; replay with a corrected body that \
             gives this one an id of its own"
        )),
        Outcome::Duplicate(_) => Replayed::Duplicate { event_id },
    }
}

/// Which dead letters to replay.
#[derive(Debug, Clone, Copy)]
pub enum Which<'a> {
    All,
    /// A dead-letter id, or the event id of a dead letter.
    Id(&'a str),
}

/// A corrected body for a dead letter.
#[derive(Debug, Clone)]
pub struct Correction {
    pub content_type: ContentType,
    pub body: Vec<u8>,
}

/// Replays the dead letters waiting for it (all, or those with this id or event id). Each
/// one the engine decides is marked replayed, with the outcome; the others keep waiting.
pub async fn dead_letters(
    engine: &Engine,
    directory: &Directory,
    which: Which<'_>,
    correction: Option<&Correction>,
) -> Result<Vec<(DeadLetter, Replayed)>, Error> {
    let letters = match which {
        Which::All => bus_door::dead_letters(engine, &Filter::default()).await?,
        Which::Id(id) => bus_door::waiting(engine, id).await?,
    };
    let mut done = Vec::new();
    for letter in letters {
        let result = dead_letter(engine, directory, &letter, correction).await?;
        if result.decided() {
            let now = engine.clock().now();
            bus_door::mark_replayed(engine, &letter.id, &result.to_string(), now).await?;
        }
        done.push((letter, result));
    }
    Ok(done)
}

/// Replays one dead letter.
#[instrument(skip_all, fields(dead_letter = %letter.id, sender = letter.sender.as_deref(), event_id))]
pub async fn dead_letter(
    engine: &Engine,
    directory: &Directory,
    letter: &DeadLetter,
    correction: Option<&Correction>,
) -> Result<Replayed, Error> {
    let Some(sender) = letter.sender.as_deref() else {
        return Ok(Replayed::Failed(
            "no sender is recorded (the message had no user-id); it cannot be attributed"
                .to_owned(),
        ));
    };
    let (content_type, body) = match correction {
        Some(c) => (c.content_type.as_str().to_owned(), c.body.as_slice()),
        None => (
            letter.content_type.clone().unwrap_or_default(),
            letter.body.as_slice(),
        ),
    };
    let event = match cohandle_proto::decode(&content_type, body) {
        Ok(event) => event,
        Err(error) => return Ok(Replayed::Failed(format!("still malformed: {error}"))),
    };
    tracing::Span::current().record("event_id", event.id.as_str());
    let known = directory.resolve(engine, [sender.to_owned()]).await?;
    if let Err(refusal) = identity::check(&event, sender, known.get(sender).copied()) {
        return Ok(Replayed::Failed(refusal.reason));
    }
    if let Some(refusal) = outside_jurisdiction(engine, &event, sender).await? {
        return Ok(Replayed::Failed(refusal));
    }
    let id = event.id.clone();
    let outcome = engine.apply(event, Source::Replay).await?;
    Ok(replayed(&id, outcome))
}

/// Why `sender` may not make the assignment `event` (if it is one) in the jurisdiction its key
/// names, as the worker would refuse it.
async fn outside_jurisdiction(
    engine: &Engine,
    event: &Event,
    sender: &str,
) -> Result<Option<String>, Error> {
    let (registry, served) =
        identity::served_by_assigners(engine, std::iter::once((event, sender))).await?;
    Ok(
        identity::may_assign(event, sender, &registry, served.get(sender))
            .err()
            .map(|refusal| refusal.reason),
    )
}

/// A refused event waiting for a replay.
#[derive(Debug, Clone)]
pub struct Parked {
    pub row: Decision,
    /// Replays tried so far (each refused again).
    pub attempts: usize,
    /// Whether its proposal exists now (a replay has a chance).
    pub proposal_exists: bool,
}

/// The refused events a replay could apply ([`REPLAYABLE`], from a sender: not the
/// monitor's stale timers) that `filter` selects and no replay has applied yet, oldest
/// first. `filter.agency` is the sender; `since` is the refusal's time.
pub async fn parked(engine: &Engine, filter: &Filter) -> Result<Vec<Parked>, Error> {
    let mut parked = Vec::new();
    for row in bus_door::refused(engine, REPLAYABLE, filter).await? {
        let attempts = attempts(engine, &row).await?;
        if attempts.iter().any(|a| a.outcome == "applied") {
            continue;
        }
        let proposal_exists = engine.load(&row.proposal_key).await?.is_some();
        parked.push(Parked {
            attempts: attempts.len(),
            proposal_exists,
            row,
        });
    }
    Ok(parked)
}

/// The replays of a refused event so far.
async fn attempts(engine: &Engine, row: &Decision) -> Result<Vec<Decision>, Error> {
    let prefix = format!("{}/replay-", row.event_id);
    let hashed = hashed_prefix(&row.event_id);
    Ok(bus_door::replays(engine, &row.proposal_key)
        .await?
        .into_iter()
        .filter(|r| r.event_id.starts_with(&prefix) || r.event_id.ends_with(&hashed))
        .collect())
}

fn hashed_prefix(event_id: &str) -> String {
    format!(
        "/{}",
        &hex::encode(Sha256::digest(event_id.as_bytes()))[..32]
    )
}

/// The id of the `n`th replay of `event_id`: `<id>/replay-<n>`, or, when that would be
/// longer than an event id may be, `replay-<n>/<digest of the id>`.
pub fn replay_id(event_id: &str, n: usize) -> Result<EventId, Error> {
    let plain = format!("{event_id}/replay-{n}");
    let id = if plain.len() <= 128 {
        plain
    } else {
        format!("replay-{n}{}", hashed_prefix(event_id))
    };
    EventId::parse(id).map_err(|e| Error::Replay(e.to_string()))
}

/// Replays a refused event from the inbox.
#[instrument(skip(engine))]
pub async fn refused(engine: &Engine, event_id: &str) -> Result<Replayed, Error> {
    let Some(row) = bus_door::decision(engine, event_id).await? else {
        return Err(Error::Replay(format!(
            "{event_id} is neither a dead letter nor an event in the inbox"
        )));
    };
    if row.outcome != "rejected" {
        return Err(Error::Replay(format!(
            "{event_id} was applied ({}); there is nothing to replay",
            row.message
        )));
    }
    let attempts = attempts(engine, &row).await?;
    if let Some(done) = attempts.iter().find(|a| a.outcome == "applied") {
        return Ok(Replayed::AlreadyReplayed {
            event_id: done.event_id.clone(),
        });
    }
    let mut event: Event = serde_json::from_str(&row.event).map_err(|e| {
        Error::Replay(format!(
            "the inbox row of {event_id} does not read back: {e}"
        ))
    })?;
    // A refused assignment (`wrong_jurisdiction` before its jurisdiction was registered)
    // is held, on replay, to the jurisdiction its key names now.
    let sender = event.actor.agency.to_string();
    if let Some(refusal) = outside_jurisdiction(engine, &event, &sender).await? {
        return Ok(Replayed::Failed(refusal));
    }
    event.id = replay_id(event_id, attempts.len() + 1)?;
    let id = event.id.clone();
    let outcome = engine.apply(event, Source::Replay).await?;
    Ok(replayed(&id, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_ids_name_the_original_and_stay_valid_when_long() {
        assert_eq!(replay_id("evt-1", 2).unwrap().as_str(), "evt-1/replay-2");
        let long = "x".repeat(128);
        let id = replay_id(&long, 1).unwrap();
        assert!(id.as_str().starts_with("replay-1/"));
        assert!(id.as_str().len() <= 128);
        assert_ne!(id, replay_id(&"y".repeat(128), 1).unwrap());
    }
}
