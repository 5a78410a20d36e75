//! One transaction's decisions: the claimed events in order, each against its proposal as
//! the batch has left it; after every change of a proposal its held events are tried again
//! in arrival order ([`crate::held`]); last, the held events whose window ended are decided
//! for good. Everything decided is collected into [`Writes`] and written at the end.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use cohandle_workflows::engine::{china_date, Decision, Effect};
use cohandle_workflows::{apply, Calendar, Definition, Event, Rejection};
use sea_orm::{DatabaseTransaction, IntoActiveModel};

use crate::entities::inbox;
use crate::held::{self, Expiring, Waiting};
use crate::idempotency::First;
use crate::jurisdictions::Registry;
use crate::outcome::{applied_message, Outcome, Recorded, Source};
use crate::write::{load_many, Loaded, Writes};
use crate::{bulk, outbox, rows, Engine, Error};

/// The decisions of one transaction, before they are written.
pub(crate) struct Batch<'a> {
    engine: &'a Engine,
    calendar: Arc<Calendar>,
    /// The jurisdictions assignments are checked against and notifications routed by.
    pub(crate) registry: Arc<Registry>,
    now: DateTime<Utc>,
    /// Each decided id with its first outcome and what the inbox kept of its event.
    seen: HashMap<String, (Recorded, First)>,
    pub(crate) loaded: HashMap<String, Loaded>,
    /// Each proposal's held events, in arrival order.
    held: HashMap<String, Vec<Waiting>>,
    pub(crate) writes: Writes,
}

/// A decision's inbox row, written new or replacing `held`.
enum Inbox {
    New,
    /// Replaces `held` in the stored row; the held event's row (this id) is deleted.
    Settles(i64),
}

impl<'a> Batch<'a> {
    /// Reads what the batch needs: the inbox rows of its ids, its proposals (locked in key
    /// order, so that two batches sharing proposals queue rather than deadlock) and their
    /// held events.
    pub(crate) async fn load(
        engine: &'a Engine,
        txn: &DatabaseTransaction,
        events: &[Event],
        expiring: &[Expiring],
        now: DateTime<Utc>,
    ) -> Result<Self, Error> {
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        let seen = bulk::find_by_keys::<inbox::Entity, _>(txn, inbox::Column::EventId, &ids, "")
            .await?
            .into_iter()
            .map(|row| {
                let first = First::read(&row.event);
                (row.event_id.clone(), (Recorded::from(&row), first))
            })
            .collect();
        let mut keys: Vec<&str> = events
            .iter()
            .map(|e| e.proposal.as_str())
            .chain(expiring.iter().map(|e| e.proposal_key.as_str()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let loaded = load_many(txn, &keys).await?;
        let held = held::load(txn, &keys).await?;
        let registry = engine.registry_for(txn, events).await?;
        Ok(Self {
            engine,
            calendar: engine.calendar(),
            registry,
            now,
            seen,
            loaded,
            held,
            writes: Writes::default(),
        })
    }

    /// Decides one claimed event.
    pub(crate) fn decide(&mut self, event: &Event, source: Source) -> Outcome {
        if let Some((first, first_event)) = self.seen.get(event.id.as_str()) {
            let held_until = first
                .held_until
                .map(|at| self.waiting(event).map_or(at, |waiting| waiting.until));
            return Outcome::Duplicate(Recorded {
                same_request: first_event.same_request(event),
                held_until,
                ..first.clone()
            });
        }
        let key = event.proposal.to_string();
        let decided_at = source.decided_at(event, self.now);
        let outcome = match self.try_apply(&key, event, decided_at) {
            Ok((def, decision)) => {
                let outcome = self.applied(
                    &key,
                    event,
                    source,
                    &def,
                    (decision, decided_at),
                    Inbox::New,
                );
                self.retry_held(&key);
                outcome
            }
            Err(why)
                if self.engine.hold_window() > chrono::Duration::zero()
                    && self.may_fit_later(&key, source, &why, event) =>
            {
                let until = self.now + self.engine.hold_window();
                let version = self.entry(&key).version;
                self.writes.inbox.push(
                    rows::held_inbox_row(event, source, &why, version, self.now)
                        .into_active_model(),
                );
                self.held.entry(key).or_default().push(Waiting {
                    stored: None,
                    event: event.clone(),
                    source,
                    held_at: self.now,
                    until,
                    why: why.clone(),
                });
                Outcome::Held { why, until }
            }
            Err(rejection) => self.refused(&key, event, source, rejection, Inbox::New),
        };
        let version = self.entry(&event.proposal.to_string()).version;
        self.seen.insert(
            event.id.to_string(),
            (
                outcome.recorded(version),
                First::Event(Box::new(event.clone())),
            ),
        );
        outcome
    }

    /// Decides for good a held event whose window ended: applied if it fits now, else
    /// refused and answered. One decided already in this batch is left as it is.
    pub(crate) fn expire(&mut self, expiring: &Expiring) {
        let Some(list) = self.held.get_mut(&expiring.proposal_key) else {
            return;
        };
        let Some(position) = list
            .iter()
            .position(|w| w.event.id.as_str() == expiring.event_id)
        else {
            return;
        };
        let waiting = list.remove(position);
        let key = expiring.proposal_key.clone();
        match self.try_apply(&key, &waiting.event, waiting.held_at) {
            Ok((def, decision)) => {
                self.settle_applied(&key, waiting, &def, decision);
                self.retry_held(&key);
            }
            Err(why) => {
                let rejection = Rejection::new(
                    why.code,
                    format!(
                        "{} (held from {} until {}: the step it waited for did not arrive)",
                        why.message,
                        waiting
                            .held_at
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        self.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                );
                self.settle_refused(&key, waiting, rejection);
            }
        }
    }

    /// After a change of proposal `key`: its held events again, in arrival order, until
    /// none fits. One that now meets a final refusal (its sender, say, is not allowed once
    /// the assignment names the handlers) is refused at once.
    fn retry_held(&mut self, key: &str) {
        'changed: loop {
            let count = self.held.get(key).map_or(0, Vec::len);
            for position in 0..count {
                let waiting = self.held[key][position].clone();
                match self.try_apply(key, &waiting.event, waiting.held_at) {
                    Ok((def, decision)) => {
                        self.held.get_mut(key).map(|list| list.remove(position));
                        self.settle_applied(key, waiting, &def, decision);
                        continue 'changed;
                    }
                    Err(why) if self.may_fit_later(key, waiting.source, &why, &waiting.event) => {
                        if let Some(list) = self.held.get_mut(key) {
                            list[position].why = why;
                        }
                    }
                    Err(final_refusal) => {
                        self.held.get_mut(key).map(|list| list.remove(position));
                        self.settle_refused(key, waiting, final_refusal);
                        continue 'changed;
                    }
                }
            }
            return;
        }
    }

    fn settle_applied(
        &mut self,
        key: &str,
        waiting: Waiting,
        def: &Definition,
        decision: Decision,
    ) {
        let inbox = self.settles(&waiting);
        let decided = (decision, waiting.held_at);
        let outcome = self.applied(key, &waiting.event, waiting.source, def, decided, inbox);
        self.remember(key, &waiting, &outcome);
        tracing::info!(
            proposal = %waiting.event.proposal, event_id = %waiting.event.id,
            held_since = %waiting.held_at, "held event applied"
        );
    }

    fn settle_refused(&mut self, key: &str, waiting: Waiting, rejection: Rejection) {
        let inbox = self.settles(&waiting);
        tracing::info!(
            proposal = %waiting.event.proposal, event_id = %waiting.event.id,
            held_since = %waiting.held_at, code = rejection.code.as_str(), "held event refused"
        );
        let outcome = self.refused(key, &waiting.event, waiting.source, rejection, inbox);
        self.remember(key, &waiting, &outcome);
    }

    /// How a held event's final outcome reaches the inbox: a row of this batch is replaced
    /// before it is written; a stored one is settled, and its held row deleted.
    fn settles(&mut self, waiting: &Waiting) -> Inbox {
        match waiting.stored {
            Some(stored) => Inbox::Settles(stored),
            None => {
                let id = waiting.event.id.as_str();
                self.writes
                    .inbox
                    .retain(|row| !row.event_id.as_ref().eq(id));
                Inbox::New
            }
        }
    }

    fn remember(&mut self, key: &str, waiting: &Waiting, outcome: &Outcome) {
        let version = self.entry(key).version;
        if let Some((recorded, _)) = self.seen.get_mut(waiting.event.id.as_str()) {
            *recorded = outcome.recorded(version);
        }
    }

    /// [`held::may_fit_later`] against proposal `key` as the batch has left it.
    fn may_fit_later(&self, key: &str, source: Source, why: &Rejection, event: &Event) -> bool {
        let current = self.entry(key).proposal.as_ref();
        let def = current.and_then(|p| {
            self.engine
                .definition_for(&self.registry, Some(p), event)
                .ok()
        });
        let now = current.zip(def.as_deref());
        held::may_fit_later(source, why, event, now)
    }

    fn waiting(&self, event: &Event) -> Option<&Waiting> {
        self.held
            .get(event.proposal.as_str())?
            .iter()
            .find(|w| w.event.id == event.id)
    }

    fn entry(&self, key: &str) -> &Loaded {
        self.loaded
            .get(key)
            .expect("every proposal of the batch is loaded")
    }

    fn try_apply(
        &self,
        key: &str,
        event: &Event,
        decided_at: DateTime<Utc>,
    ) -> Result<(Arc<Definition>, Decision), Rejection> {
        let current = self.entry(key).proposal.as_ref();
        let def = self.engine.definition_for(&self.registry, current, event)?;
        let decision = apply(&def, &self.calendar, current, event, decided_at)?;
        Ok((def, decision))
    }

    /// Records an accepted event: history rows chained on, the task projection, outbox and
    /// timer effects, the proposal as it is now, and the inbox row.
    fn applied(
        &mut self,
        key: &str,
        event: &Event,
        source: Source,
        def: &Definition,
        (decision, decided_at): (Decision, DateTime<Utc>),
        inbox: Inbox,
    ) -> Outcome {
        let now = self.now;
        let entry = self
            .loaded
            .get_mut(key)
            .expect("every proposal of the batch is loaded");
        let writes = &mut self.writes;
        let route = self.registry.route(key);
        let jurisdiction = self
            .registry
            .of_key(key)
            .map(|j| j.code.clone())
            .unwrap_or_default();
        entry.version += 1;
        entry.dirty = true;
        for change in &decision.changes {
            entry.seq += 1;
            let row =
                rows::history_row(event, change, entry.seq, &entry.last_hash, now, def.version);
            entry.last_hash = row.hash.clone();
            writes.history.push(rows::history_insert(row));
        }
        writes.projection.project(
            entry.proposal.as_ref(),
            &decision.proposal,
            event,
            china_date(decided_at),
            &jurisdiction,
        );
        for (n, effect) in decision.effects.iter().enumerate() {
            match effect {
                Effect::Notify(notification) => {
                    writes.outbox.push(outbox::notification_row(
                        event,
                        n,
                        notification,
                        &route,
                        now,
                    ));
                }
                _ => writes.timer_effects.push((key.to_owned(), effect.clone())),
            }
        }
        let state = decision.proposal.state.clone();
        entry.proposal = Some(decision.proposal);
        let row = rows::inbox_row(
            event,
            source,
            None,
            &applied_message(&state),
            entry.version,
            now,
        );
        writes.record(row, inbox);
        Outcome::Applied {
            version: entry.version,
            state,
            changes: decision.changes,
        }
    }

    /// Records a refused event: its inbox row and the refusal answered to its sender.
    fn refused(
        &mut self,
        key: &str,
        event: &Event,
        source: Source,
        rejection: Rejection,
        inbox: Inbox,
    ) -> Outcome {
        let version = self.entry(key).version;
        let row = rows::inbox_row(
            event,
            source,
            Some(&rejection),
            &rejection.message,
            version,
            self.now,
        );
        self.writes.record(row, inbox);
        self.writes
            .outbox
            .push(outbox::rejection_row(event, &rejection, self.now));
        Outcome::Rejected(rejection)
    }

    /// The held events that arrived in this batch and still wait: their rows to insert.
    pub(crate) fn finish(&mut self) {
        let rows = self
            .held
            .values()
            .flatten()
            .filter(|w| w.stored.is_none())
            .map(Waiting::row);
        self.writes.held.extend(rows);
    }
}

impl Writes {
    fn record(&mut self, row: inbox::Model, how: Inbox) {
        match how {
            Inbox::New => self.inbox.push(row.into_active_model()),
            Inbox::Settles(stored) => {
                self.settled.push(row);
                self.forget.push(stored);
            }
        }
    }
}
