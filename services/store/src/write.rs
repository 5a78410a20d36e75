//! The writes of one transaction: the proposals a batch reads (locked, in key order) and
//! everything its decisions write, collected first and then written table by table in
//! set-based statements ([`crate::bulk`]), the shared counters last.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cohandle_workflows::engine::{Effect, TimerSpec};
use cohandle_workflows::{Catalog, Proposal};
use sea_orm::{ConnectionTrait, DatabaseTransaction, IntoActiveModel};

use crate::bulk::{self, Conflict};
use crate::entities::{held_event, history, inbox, outbox, proposal};
use crate::history::GENESIS;
use crate::jurisdictions::Registry;
use crate::rows;
use crate::statistics::Projection;
use crate::Error;

/// A proposal as read in this transaction, and what the batch did to it.
pub(crate) struct Loaded {
    pub(crate) proposal: Option<Proposal>,
    /// The proposal as read, to write only the task rows that changed.
    pub(crate) original: Option<Proposal>,
    pub(crate) version_read: i64,
    pub(crate) version: i64,
    pub(crate) exists: bool,
    pub(crate) seq: i64,
    pub(crate) last_hash: String,
    pub(crate) dirty: bool,
}

/// Everything a batch writes, collected before the writes.
#[derive(Default)]
pub(crate) struct Writes {
    pub(crate) history: Vec<history::ActiveModel>,
    pub(crate) inbox: Vec<inbox::ActiveModel>,
    pub(crate) outbox: Vec<outbox::ActiveModel>,
    pub(crate) timer_effects: Vec<(String, Effect)>,
    pub(crate) projection: Projection,
    /// Events held in this batch, still waiting.
    pub(crate) held: Vec<held_event::ActiveModel>,
    /// Final outcomes of events held earlier, each replacing `held` in its inbox row …
    pub(crate) settled: Vec<inbox::Model>,
    /// … and the held rows they leave.
    pub(crate) forget: Vec<i64>,
}

/// Reads (and on PostgreSQL locks, in key order) the proposals of a batch in one query.
pub(crate) async fn load_many(
    db: &impl ConnectionTrait,
    keys: &[&str],
) -> Result<HashMap<String, Loaded>, Error> {
    let rows = bulk::find_by_keys::<proposal::Entity, _>(
        db,
        proposal::Column::Key,
        keys,
        "ORDER BY key FOR UPDATE",
    )
    .await?;
    let mut loaded = HashMap::with_capacity(keys.len());
    for row in rows {
        let proposal: Proposal = serde_json::from_str(&row.document)
            .map_err(|e| Error::Corrupt(format!("proposal {}: {e}", row.key)))?;
        loaded.insert(
            row.key.clone(),
            Loaded {
                original: Some(proposal.clone()),
                proposal: Some(proposal),
                version_read: row.version,
                version: row.version,
                exists: true,
                seq: row.history_seq,
                last_hash: row.history_hash,
                dirty: false,
            },
        );
    }
    for key in keys {
        loaded.entry((*key).to_owned()).or_insert_with(|| Loaded {
            proposal: None,
            original: None,
            version_read: 0,
            version: 0,
            exists: false,
            seq: 0,
            last_hash: GENESIS.to_owned(),
            dirty: false,
        });
    }
    Ok(loaded)
}

/// Writes what a batch decided: proposals (version-checked), tasks that changed, history,
/// inbox, outbox, timers, statistics rows and, last, the counters.
pub(crate) async fn write(
    txn: &DatabaseTransaction,
    catalog: &Catalog,
    registry: &Registry,
    loaded: HashMap<String, Loaded>,
    writes: Writes,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let mut updates = Vec::new();
    let mut inserts = Vec::new();
    let mut tasks = Vec::new();
    let mut projection = writes.projection;
    let mut entries: Vec<(&String, &Loaded)> = loaded.iter().filter(|(_, e)| e.dirty).collect();
    entries.sort_by_key(|(key, _)| *key);
    for (_, entry) in entries {
        let proposal = entry
            .proposal
            .as_ref()
            .expect("dirty entries hold a proposal");
        let def = catalog
            .get(&proposal.definition)
            .map_err(|e| Error::Corrupt(e.to_string()))?;
        let jurisdiction = registry
            .of_key(proposal.key.as_str())
            .map(|j| j.code.as_str())
            .unwrap_or_default();
        let mut row = rows::proposal_row(proposal, &def, jurisdiction, entry.version, now)?;
        row.history_seq = entry.seq;
        row.history_hash = entry.last_hash.clone();
        let before = entry
            .original
            .as_ref()
            .map(|p| rows::task_models(p, &def, jurisdiction))
            .unwrap_or_default();
        let after = rows::task_models(proposal, &def, jurisdiction);
        projection
            .deltas
            .tasks(&before, &after, proposal.assigned_on);
        if !entry.exists {
            let place = crate::statistics::Place {
                jurisdiction,
                session: &proposal.info.session,
                kind: proposal.info.kind.as_str(),
            };
            projection.deltas.assigned(place, proposal.assigned_on);
        }
        tasks.extend(
            after
                .into_iter()
                .filter(|t| !before.contains(t))
                .map(IntoActiveModel::into_active_model),
        );
        if entry.exists {
            updates.push((row, entry.version_read));
        } else {
            inserts.push(row.into_active_model());
        }
    }
    bulk::update_proposals(txn, updates).await?;
    bulk::insert(txn, inserts, Conflict::Fail).await?;
    bulk::insert(txn, tasks, Conflict::Update(&["proposal_key", "position"])).await?;
    bulk::insert(txn, writes.history, Conflict::Fail).await?;
    bulk::insert(txn, writes.inbox, Conflict::Fail).await?;
    crate::held::settle_inbox(txn, writes.settled).await?;
    crate::held::forget(txn, writes.forget).await?;
    bulk::insert(txn, writes.held, Conflict::Fail).await?;
    bulk::insert(txn, writes.outbox, Conflict::Fail).await?;
    // Timer effects in order: a cancellation drops what this batch scheduled before it
    // (in memory) and, in one statement, what was stored before the batch.
    let mut schedule: Vec<(String, TimerSpec)> = Vec::new();
    let mut cancel_one: Vec<[String; 3]> = Vec::new();
    let mut cancel_all: Vec<[String; 2]> = Vec::new();
    for (key, effect) in writes.timer_effects {
        match effect {
            Effect::ScheduleTimer(spec) => schedule.push((key, spec)),
            Effect::CancelTimers { agency, deadline } => {
                schedule.retain(|(k, t)| {
                    !(k == &key
                        && t.agency == agency
                        && deadline.as_ref().is_none_or(|d| d == &t.deadline))
                });
                match deadline {
                    Some(deadline) => cancel_one.push([key, agency.to_string(), deadline]),
                    None => cancel_all.push([key, agency.to_string()]),
                }
            }
            Effect::Notify(_) => {}
        }
    }
    bulk::cancel_timers(txn, ["proposal_key", "agency", "deadline"], cancel_one).await?;
    bulk::cancel_timers(txn, ["proposal_key", "agency"], cancel_all).await?;
    let rows = schedule
        .into_iter()
        .map(|(key, spec)| rows::timer_row(key, spec))
        .collect();
    bulk::insert(txn, rows, Conflict::Ignore(&["id"])).await?;
    let by_round = Conflict::Update(&["proposal_key", "agency", "round"]);
    bulk::insert(txn, projection.replies, by_round).await?;
    bulk::insert(txn, projection.feedback, by_round).await?;
    let by_agency = Conflict::Update(&["proposal_key", "agency"]);
    bulk::insert(txn, projection.disclosures, by_agency).await?;
    let first_only = Conflict::Ignore(&["proposal_key", "agency"]);
    bulk::insert(txn, projection.opinions, first_only).await?;
    // Last, so that the counter rows every writer shares stay locked the least time.
    crate::statistics::apply(txn, &projection.deltas, registry).await?;
    Ok(())
}
