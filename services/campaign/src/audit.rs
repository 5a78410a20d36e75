//! The audit: what the generator sent (its ledger, with the outcome each input must have
//! and, for the workload, the history rows the pure domain predicts) against what the
//! database (its rows and dead letters) holds. The engine's counters are not consulted.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use cohandle_store::dead_letters::{self, DeadLetter, Filter};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sha2::{Digest, Sha256};

use crate::ledger::{Door, Expected, Sent};

/// What the audit found. Every `must be 0` figure is a count of inputs or proposals.
#[derive(Debug, Default, Clone)]
pub struct Findings {
    /// Inputs with no outcome at all (no inbox row, no dead letter), history rows missing,
    /// due timers that never fired.
    pub lost: usize,
    /// Inputs with two outcomes, or more history rows than their event makes, or rows of one
    /// event split over two transactions.
    pub doubled: usize,
    /// Hostile inputs that changed state or were answered 2xx where they must not.
    pub unauthorised: usize,
    /// Inputs decided otherwise than expected (a planned step refused, a refusal with
    /// another code, a 5xx).
    pub unexpected: usize,
    /// Proposals whose history applied their steps in another order than they were sent.
    pub out_of_order: usize,
    /// History sequences with a gap, or whose head or version disagrees with its rows.
    pub gaps: usize,
    pub chains_verified: usize,
    pub chains_total: usize,
    pub history_rows: usize,
    pub broken_chain: Option<String>,
    pub timer_events: usize,
    pub dead_letters: usize,
    /// Dead letters seen more than once: the same message recorded again after a worker was
    /// killed between recording it and acknowledging it (at-least-once, harmless).
    pub dead_letter_repeats: usize,
    pub details: Vec<String>,
    /// Each finding counted above, with the ledger index of the input it is about (for a
    /// proposal, its last step sent; none for a timer): when it happened.
    pub marks: Vec<(Kind, Option<usize>)>,
}

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Lost,
    Doubled,
    Unauthorised,
    Unexpected,
    OutOfOrder,
    Gap,
}

impl Findings {
    fn mark(&mut self, kind: Kind, at: Option<usize>) {
        *match kind {
            Kind::Lost => &mut self.lost,
            Kind::Doubled => &mut self.doubled,
            Kind::Unauthorised => &mut self.unauthorised,
            Kind::Unexpected => &mut self.unexpected,
            Kind::OutOfOrder => &mut self.out_of_order,
            Kind::Gap => &mut self.gaps,
        } += 1;
        self.marks.push((kind, at));
    }

    /// The findings of `kind` whose input's ledger index satisfies `within`.
    pub fn count(&self, kind: Kind, within: impl Fn(Option<usize>) -> bool) -> usize {
        self.marks
            .iter()
            .filter(|(k, at)| *k == kind && within(*at))
            .count()
    }

    fn note(&mut self, detail: String) {
        if self.details.len() < 40 {
            self.details.push(detail);
        }
    }

    pub fn failed(&self) -> bool {
        self.lost
            + self.doubled
            + self.unauthorised
            + self.unexpected
            + self.out_of_order
            + self.gaps
            > 0
            || self.broken_chain.is_some()
    }
}

#[derive(Debug, Clone)]
struct Row {
    seq: i64,
    event_id: String,
    change: (String, Option<String>, String, String, String),
    recorded_at: DateTime<Utc>,
}

async fn query(db: &DatabaseConnection, sql: &str) -> anyhow::Result<Vec<sea_orm::QueryResult>> {
    Ok(db
        .query_all(Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            sql.to_owned(),
        ))
        .await?)
}

/// Reads every dead letter, replayed or not.
pub async fn dead_letters(db: &DatabaseConnection) -> anyhow::Result<Vec<DeadLetter>> {
    let all = Filter {
        replayed: true,
        ..Filter::default()
    };
    Ok(dead_letters::list(db, &all).await?)
}

pub async fn audit(
    db: &DatabaseConnection,
    ledger: &[Sent],
    letters: &[DeadLetter],
    now: DateTime<Utc>,
) -> anyhow::Result<Findings> {
    let mut f = Findings {
        dead_letters: letters.len(),
        ..Findings::default()
    };

    let mut inbox: HashMap<String, (String, String, Option<String>, String)> = HashMap::new();
    for row in query(
        db,
        "SELECT event_id, proposal_key, outcome, code, source FROM inbox",
    )
    .await?
    {
        inbox.insert(
            row.try_get("", "event_id")?,
            (
                row.try_get("", "proposal_key")?,
                row.try_get("", "outcome")?,
                row.try_get("", "code")?,
                row.try_get("", "source")?,
            ),
        );
    }
    let mut chains: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for row in query(
        db,
        "SELECT proposal_key, seq, event_id, event_type, machine, agency, from_state, to_state, recorded_at \
         FROM history ORDER BY proposal_key, seq",
    )
    .await?
    {
        chains
            .entry(row.try_get("", "proposal_key")?)
            .or_default()
            .push(Row {
                seq: row.try_get("", "seq")?,
                event_id: row.try_get("", "event_id")?,
                change: (
                    row.try_get("", "machine")?,
                    row.try_get("", "agency")?,
                    row.try_get("", "from_state")?,
                    row.try_get("", "to_state")?,
                    row.try_get("", "event_type")?,
                ),
                recorded_at: row.try_get("", "recorded_at")?,
            });
    }
    f.history_rows = chains.values().map(Vec::len).sum();
    let mut by_event: HashMap<&str, Vec<&Row>> = HashMap::new();
    for rows in chains.values() {
        for row in rows {
            by_event.entry(row.event_id.as_str()).or_default().push(row);
        }
    }
    let mut dead_by_id: HashMap<&str, &DeadLetter> = HashMap::new();
    let mut dead_by_event: HashMap<&str, Vec<&DeadLetter>> = HashMap::new();
    for letter in letters {
        if letter.times_seen > 1 {
            f.dead_letter_repeats += 1;
        }
        dead_by_id.insert(letter.id.as_str(), letter);
        if let Some(event) = &letter.event_id {
            dead_by_event
                .entry(event.as_str())
                .or_default()
                .push(letter);
        }
    }

    // Where each input is in the ledger, and each proposal's last step sent.
    let mut index_of: HashMap<&str, usize> = HashMap::new();
    let mut last_of: HashMap<&str, usize> = HashMap::new();
    for (index, sent) in ledger.iter().enumerate() {
        if let Some(id) = sent.event_id.as_deref() {
            index_of.entry(id).or_insert(index);
        }
        // A hostile input aimed at an old proposal is not that proposal's step.
        if let (Some(p), false) = (sent.proposal.as_deref(), sent.hostile) {
            last_of.insert(p, index);
        }
    }

    // Rows of one event: consecutive, and written by one transaction (one recorded_at).
    for (event, rows) in &by_event {
        let at = index_of.get(event).copied();
        let split = rows
            .windows(2)
            .any(|w| w[1].seq != w[0].seq + 1 || w[1].recorded_at != w[0].recorded_at);
        if split {
            f.mark(Kind::Doubled, at);
            f.note(format!(
                "event {event}: its history rows are not one contiguous write"
            ));
        }
    }

    // Every input has exactly one outcome, the expected one.
    let mut sent_order: HashMap<&str, Vec<&str>> = HashMap::new();
    for (index, sent) in ledger.iter().enumerate() {
        let at = Some(index);
        let id = sent.event_id.as_deref();
        let decided = id.and_then(|id| inbox.get(id));
        let rows = id.and_then(|id| by_event.get(id)).map_or(0, Vec::len);
        let dead = id.and_then(|id| dead_by_event.get(id)).map_or(0, Vec::len);
        let label = format!(
            "{} {} ({}{})",
            if sent.hostile { "hostile" } else { "event" },
            id.unwrap_or("(no id)"),
            sent.what,
            sent.answer
                .as_deref()
                .map_or(String::new(), |a| format!("; answered {a}"))
        );
        match &sent.expected {
            Expected::Applied(changes) => {
                if let (Some(id), Some(p)) = (id, sent.proposal.as_deref()) {
                    sent_order.entry(p).or_default().push(id);
                }
                match decided {
                    None if dead == 0 => {
                        f.mark(Kind::Lost, at);
                        f.note(format!("LOST {label}: no inbox row, no dead letter"));
                    }
                    None => {
                        f.mark(Kind::Unexpected, at);
                        f.note(format!("{label}: dead-lettered instead of applied"));
                    }
                    Some((_, outcome, code, _)) => {
                        if dead > 0 {
                            f.mark(Kind::Doubled, at);
                            f.note(format!("DOUBLED {label}: decided and dead-lettered"));
                        }
                        if outcome != "applied" {
                            f.mark(Kind::Unexpected, at);
                            f.note(format!("{label}: {outcome} {code:?} instead of applied"));
                        } else {
                            let found: Vec<_> = id
                                .and_then(|id| by_event.get(id))
                                .map(|r| r.iter().map(|r| r.change.clone()).collect())
                                .unwrap_or_default();
                            if found.len() > changes.len() {
                                f.mark(Kind::Doubled, at);
                                f.note(format!(
                                    "DOUBLED {label}: {} history rows, {} expected",
                                    found.len(),
                                    changes.len()
                                ));
                            } else if found.len() < changes.len() {
                                f.mark(Kind::Lost, at);
                                f.note(format!(
                                    "LOST {label}: {} history rows, {} expected",
                                    found.len(),
                                    changes.len()
                                ));
                            } else if &found != changes {
                                f.mark(Kind::Unexpected, at);
                                f.note(format!(
                                    "{label}: history rows {found:?}, the domain says {changes:?}"
                                ));
                            }
                        }
                    }
                }
            }
            Expected::Rejected(code) => match decided {
                Some((_, outcome, found, _)) if outcome == "applied" || rows > 0 => {
                    f.mark(Kind::Unauthorised, at);
                    f.note(format!(
                        "UNAUTHORISED {label}: applied ({outcome} {found:?})"
                    ));
                }
                Some((_, _, found, _)) => {
                    if found.as_deref() != Some(*code) {
                        f.mark(Kind::Unexpected, at);
                        f.note(format!("{label}: refused as {found:?}, expected {code}"));
                    }
                }
                None if dead > 0 => {
                    f.mark(Kind::Unexpected, at);
                    f.note(format!(
                        "{label}: dead-lettered, expected refused as {code}"
                    ));
                }
                None if sent.answer.as_deref() == Some("confirmed") => {
                    f.mark(Kind::Lost, at);
                    f.note(format!("LOST {label}: no outcome"));
                }
                None => {
                    f.mark(Kind::Lost, at);
                    f.note(format!("LOST {label}: never confirmed by the broker"));
                }
            },
            Expected::Duplicate => {
                // A replay leaves no row of its own; doubling would show on the original
                // event (more rows than the domain makes), checked above.
                if decided.is_none() && dead == 0 {
                    f.mark(Kind::Lost, at);
                    f.note(format!(
                        "LOST {label}: the replayed event itself has no outcome"
                    ));
                }
            }
            Expected::DeadLetter { code, id: dead_id } => match dead_by_id.get(dead_id.as_str()) {
                None => {
                    if decided.is_some_and(|(_, o, _, _)| o == "applied") || rows > 0 {
                        f.mark(Kind::Unauthorised, at);
                        f.note(format!(
                            "UNAUTHORISED {label}: applied instead of dead-lettered"
                        ));
                    } else if decided.is_some() {
                        f.mark(Kind::Unexpected, at);
                        f.note(format!(
                            "{label}: decided in the inbox, expected dead-lettered as {code}"
                        ));
                    } else {
                        f.mark(Kind::Lost, at);
                        f.note(format!(
                            "LOST {label}: not among the dead letters (id {dead_id})"
                        ));
                    }
                }
                Some(letter) => {
                    if letter.code != *code {
                        f.mark(Kind::Unexpected, at);
                        f.note(format!(
                            "{label}: dead-lettered as {}, expected {code}",
                            letter.code
                        ));
                    }
                    if decided.is_some() {
                        f.mark(Kind::Doubled, at);
                        f.note(format!("DOUBLED {label}: dead-lettered and decided"));
                    }
                }
            },
            Expected::BrokerRefuses => {
                if sent.breached || decided.is_some() || rows > 0 {
                    f.mark(Kind::Unauthorised, at);
                    f.note(format!("UNAUTHORISED {label}: the broker took it"));
                }
            }
            Expected::HttpRefused(allowed) => {
                let applied = decided.is_some_and(|(_, o, _, _)| o == "applied") || rows > 0;
                if sent.breached || applied {
                    f.mark(Kind::Unauthorised, at);
                    f.note(format!("UNAUTHORISED {label}"));
                } else {
                    let status = sent
                        .answer
                        .as_deref()
                        .and_then(|a| a.split_whitespace().nth(1))
                        .and_then(|s| s.parse::<u16>().ok());
                    if !status.is_some_and(|s| allowed.contains(&s)) {
                        f.mark(Kind::Unexpected, at);
                        f.note(format!("{label}: expected one of {allowed:?}"));
                    }
                }
            }
            Expected::HttpAllowed => {}
        }
        if sent.door == Door::Bus && !sent.hostile && sent.answer.is_none() {
            f.note(format!("{label}: its driver never saw it decided"));
        }
    }

    // Each proposal: gap-free, its head and version agree with its rows, in the order sent.
    let mut heads: HashMap<String, (i64, i64)> = HashMap::new();
    for row in query(db, "SELECT key, version, history_seq FROM proposals").await? {
        heads.insert(
            row.try_get("", "key")?,
            (row.try_get("", "version")?, row.try_get("", "history_seq")?),
        );
    }
    let mut applied_per_proposal: HashMap<&str, i64> = HashMap::new();
    for (proposal, outcome, _, _) in inbox.values() {
        if outcome == "applied" {
            *applied_per_proposal.entry(proposal.as_str()).or_default() += 1;
        }
    }
    for (key, (version, head)) in &heads {
        let at = last_of.get(key.as_str()).copied();
        let rows = chains.get(key).map_or(&[][..], Vec::as_slice);
        let gap_free = rows.iter().enumerate().all(|(i, r)| r.seq == i as i64 + 1);
        if !gap_free || *head != rows.len() as i64 {
            f.mark(Kind::Gap, at);
            f.note(format!(
                "proposal {key}: history is not 1..{} (head {head})",
                rows.len()
            ));
        }
        let applied = applied_per_proposal.get(key.as_str()).copied().unwrap_or(0);
        if *version != applied {
            f.mark(Kind::Gap, at);
            f.note(format!(
                "proposal {key}: version {version}, but {applied} events applied"
            ));
        }
        if let Some(order) = sent_order.get(key.as_str()) {
            let mut firsts: Vec<(i64, &str)> = order
                .iter()
                .filter_map(|id| {
                    by_event
                        .get(id)
                        .and_then(|r| r.first())
                        .map(|r| (r.seq, *id))
                })
                .collect();
            let as_sent: Vec<&str> = firsts.iter().map(|(_, id)| *id).collect();
            firsts.sort_unstable();
            if firsts.iter().map(|(_, id)| *id).collect::<Vec<_>>() != as_sent {
                f.mark(Kind::OutOfOrder, at);
                f.note(format!(
                    "proposal {key}: history is not in the order the steps were sent"
                ));
            }
        }
    }

    // Timers: each fired one decided once; none due and forgotten.
    for row in query(db, "SELECT id, state, fire_at, claimed_at FROM timers").await? {
        let id: String = row.try_get("", "id")?;
        let state: String = row.try_get("", "state")?;
        let fire_at: DateTime<Utc> = row.try_get("", "fire_at")?;
        let claimed_at: Option<DateTime<Utc>> = row.try_get("", "claimed_at")?;
        let decided = inbox.contains_key(&format!("timer:{id}"));
        let lost = match state.as_str() {
            "fired" => !decided,
            // A claim without its firing (a monitor that claims and fires in separate
            // steps, killed between them) is lost once it is older than any claim lease.
            "claimed" => {
                !decided && claimed_at.is_some_and(|at| now - at > chrono::Duration::minutes(6))
            }
            "pending" => fire_at < now - chrono::Duration::seconds(60),
            _ => false,
        };
        if lost {
            f.mark(Kind::Lost, None);
            f.note(format!(
                "timer {id} ({state}, due {fire_at}): never decided"
            ));
        }
    }
    f.timer_events = inbox
        .values()
        .filter(|(_, o, _, source)| source == "timer" && o == "applied")
        .count();

    let chained = verify_chains(db).await?;
    f.chains_total = chains.len();
    f.chains_verified = chained.verified;
    f.broken_chain = chained.broken;
    Ok(f)
}

/// What the audit's own walk of the hash chains found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chains {
    /// Proposals whose every row links to the one before and hashes to its `hash`.
    pub verified: usize,
    /// The first row found broken, if any.
    pub broken: Option<String>,
}

/// Recomputes every history row's hash from the row itself, apart from the engine's code
/// (`cohandle_store::history`), which it must agree with: SHA-256 over the
/// fields below, each preceded by its length in bytes as a big-endian u64, starting from
/// the previous row's hash (64 zeros before a proposal's first row); times as RFC 3339 in
/// UTC with microseconds and `Z`.
pub async fn verify_chains(db: &DatabaseConnection) -> anyhow::Result<Chains> {
    const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
    let rows = query(
        db,
        "SELECT proposal_key, seq, event_id, event_type, machine, agency, from_state, to_state, \
                actor_agency, actor_role, occurred_at, recorded_at, definition_version, payload, \
                detail, prev_hash, hash \
         FROM history ORDER BY proposal_key, seq",
    )
    .await?;
    let mut chains = Chains {
        verified: 0,
        broken: None,
    };
    let mut current: Option<String> = None;
    let mut intact = true;
    let mut expected_prev = GENESIS.to_owned();
    for row in rows {
        let key: String = row.try_get("", "proposal_key")?;
        if current.as_deref() != Some(key.as_str()) {
            if current.is_some() && intact {
                chains.verified += 1;
            }
            current = Some(key.clone());
            intact = true;
            expected_prev = GENESIS.to_owned();
        }
        let seq: i64 = row.try_get("", "seq")?;
        let text = |column: &str| -> anyhow::Result<String> { Ok(row.try_get("", column)?) };
        let optional = |column: &str| -> anyhow::Result<String> {
            Ok(row
                .try_get::<Option<String>>("", column)?
                .unwrap_or_default())
        };
        let time = |column: &str| -> anyhow::Result<String> {
            Ok(row
                .try_get::<DateTime<Utc>>("", column)?
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        };
        let prev_hash = text("prev_hash")?;
        let stored = text("hash")?;
        let fields = [
            prev_hash.clone(),
            key.clone(),
            seq.to_string(),
            text("event_id")?,
            text("event_type")?,
            text("machine")?,
            optional("agency")?,
            text("from_state")?,
            text("to_state")?,
            text("actor_agency")?,
            text("actor_role")?,
            time("occurred_at")?,
            time("recorded_at")?,
            row.try_get::<i32>("", "definition_version")?.to_string(),
            text("payload")?,
            optional("detail")?,
        ];
        let mut hasher = Sha256::new();
        for field in &fields {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        let recomputed = hex::encode(hasher.finalize());
        let problem = if prev_hash != expected_prev {
            Some("does not point at the hash of the row before it")
        } else if recomputed != stored {
            Some("its content does not hash to its stored hash")
        } else {
            None
        };
        if let Some(problem) = problem {
            intact = false;
            chains
                .broken
                .get_or_insert_with(|| format!("{key} row {seq}: {problem}"));
        }
        expected_prev = stored;
    }
    if current.is_some() && intact {
        chains.verified += 1;
    }
    Ok(chains)
}
