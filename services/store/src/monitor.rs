//! The deadline monitor: fires due timers through the engine's one path, exactly once.
//!
//! A monitor takes a page of due timers inside the engine's transaction (PostgreSQL: `FOR
//! UPDATE SKIP LOCKED`, so concurrent monitors never take the same one; SQLite: one writer
//! at a time), applies a `TimerFired` event for each with the event id `timer:<timer id>`,
//! and marks them fired, all in one commit. A monitor that dies mid-page rolls back: the
//! timers are still pending and the next pass fires them; nothing fires twice. Taking them
//! is [`DueTimers`], the claim the engine's one entry ([`Engine::decide`]) is given. The same
//! claim takes the held events whose window has ended ([`crate::held`]), which the engine
//! then decides for good: applied if they fit by now, else refused and answered.

use std::collections::HashSet;

use backon::BackoffBuilder;
use chrono::{DateTime, Duration, Utc};
use cohandle_workflows::event::TimerKind;
use cohandle_workflows::{Actor, ActorKind, AgencyCode, Body, Event, EventId, ProposalKey};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};

use sea_orm::sea_query::Expr;

use crate::engine::{Claim, Engine};
use crate::entities::timer;
use crate::held::{self, Expiring};
use crate::outcome::{Outcome, Source};
use crate::Error;

/// The agency code timer events are sent under.
pub const MONITOR_AGENCY: &str = "cohandle-monitor";

/// How long a pass waits when every due timer it took belonged to a proposal being changed.
const BUSY_PAUSE: std::time::Duration = std::time::Duration::from_millis(5);

/// A timer fired later than this after its moment is marked late.
pub const LATE_AFTER: Duration = Duration::minutes(1);

/// What one pass fired.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub claimed: usize,
    pub applied: usize,
    pub refused: usize,
    pub duplicates: usize,
    pub late: usize,
    /// Due timers left for a later pass because their proposal was busy.
    pub busy: usize,
    /// Held events whose window ended, decided for good.
    pub expired: usize,
    /// How long after its moment each fired timer fired.
    pub lateness: Vec<Duration>,
}

/// The event a timer sends when it fires.
pub fn timer_event(row: &timer::Model) -> Result<Event, Error> {
    let corrupt =
        |e: cohandle_workflows::ids::InvalidId| Error::Corrupt(format!("timer {}: {e}", row.id));
    let kind: TimerKind = row
        .kind
        .parse()
        .map_err(|e| Error::Corrupt(format!("timer {}: kind {}: {e}", row.id, row.kind)))?;
    Ok(Event {
        id: EventId::parse(format!("timer:{}", row.id)).map_err(corrupt)?,
        proposal: ProposalKey::parse(row.proposal_key.clone()).map_err(corrupt)?,
        actor: Actor {
            agency: AgencyCode::parse(MONITOR_AGENCY).map_err(corrupt)?,
            kind: ActorKind::Timer,
        },
        occurred_at: row.fire_at,
        body: Body::TimerFired {
            agency: AgencyCode::parse(row.agency.clone()).map_err(corrupt)?,
            deadline: row.deadline.clone(),
            kind,
            due: row.due_on,
            generation: row.generation as u32,
        },
    })
}

/// The due timers of one pass, as a claim on the engine's one entry: up to `limit`, oldest
/// first, taken inside the deciding transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`) and
/// marked fired by `owner` before their events are decided.
#[derive(Debug)]
pub struct DueTimers {
    owner: String,
    limit: u64,
    /// Proposals found held by another transaction, whose timers this pass leaves alone.
    avoid: Vec<String>,
    /// Due timers taken but given back: their proposal was being changed elsewhere.
    busy: usize,
    /// Held events whose window ended, taken with the timers.
    expiring: Vec<Expiring>,
}

/// What a pass took: how many timers, how many of them late, and how late each one fired.
#[derive(Debug, Clone, Default)]
pub struct Taken {
    pub claimed: usize,
    /// Held events whose window ended.
    pub expired: usize,
    pub late: usize,
    pub lateness: Vec<Duration>,
}

impl DueTimers {
    pub fn new(owner: &str, limit: u64) -> Self {
        Self {
            owner: owner.to_owned(),
            limit,
            avoid: Vec::new(),
            busy: 0,
            expiring: Vec::new(),
        }
    }

    /// Due timers taken but left pending for a later pass, because their proposal was
    /// being changed by another transaction.
    pub fn busy(&self) -> usize {
        self.busy
    }

    /// The due timers, oldest first, not of the proposals to avoid (PostgreSQL: locked,
    /// skipping those another claimer holds).
    async fn due(
        &self,
        db: &impl ConnectionTrait,
        now: DateTime<Utc>,
    ) -> Result<Vec<timer::Model>, Error> {
        // The state as a literal, so that the planner may read the index of the pending
        // timers (partial: `WHERE state = 'pending'`) whatever plan it caches.
        let mut due = timer::Entity::find()
            .filter(Expr::cust("timers.state = 'pending'"))
            .filter(timer::Column::FireAt.lte(now))
            .order_by_asc(timer::Column::FireAt)
            .order_by_asc(timer::Column::Id)
            .limit(self.limit);
        if !self.avoid.is_empty() {
            due = due.filter(timer::Column::ProposalKey.is_not_in(self.avoid.iter().cloned()));
        }
        if db.get_database_backend() == DatabaseBackend::Postgres {
            due = due.lock_with_behavior(
                sea_orm::sea_query::LockType::Update,
                sea_orm::sea_query::LockBehavior::SkipLocked,
            );
        }
        Ok(due.all(db).await?)
    }

    /// PostgreSQL: a page whose proposals this transaction holds too. A claimer keeps no
    /// timer of a proposal another transaction holds (that one may be cancelling it, and
    /// would wait for this one): such a page is given back whole (its savepoint rolled back,
    /// which releases its locks) and taken again without those proposals.
    async fn page_of_free_proposals(
        &mut self,
        txn: &DatabaseTransaction,
        now: DateTime<Utc>,
    ) -> Result<(Vec<timer::Model>, Vec<Expiring>), Error> {
        loop {
            let page = txn.begin().await?;
            let timers = self.due(&page, now).await?;
            let expiring = held::expiring(&page, now, self.limit, &self.avoid).await?;
            let keys = timers
                .iter()
                .map(|t| t.proposal_key.as_str())
                .chain(expiring.iter().map(|e| e.proposal_key.as_str()));
            let busy = busy_proposals(&page, keys).await?;
            if busy.is_empty() {
                page.commit().await?;
                return Ok((timers, expiring));
            }
            page.rollback().await?;
            self.busy += timers
                .iter()
                .filter(|t| busy.contains(&t.proposal_key))
                .count();
            self.avoid.extend(busy);
        }
    }
}

impl Claim for DueTimers {
    type Taken = Taken;

    async fn take(
        &mut self,
        txn: &DatabaseTransaction,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Event>, Taken), Error> {
        let (timers, expiring) = if txn.get_database_backend() == DatabaseBackend::Postgres {
            self.page_of_free_proposals(txn, now).await?
        } else {
            let timers = self.due(txn, now).await?;
            (timers, held::expiring(txn, now, self.limit, &[]).await?)
        };
        let expired = expiring.len();
        self.expiring = expiring;
        if timers.is_empty() {
            return Ok((
                Vec::new(),
                Taken {
                    expired,
                    ..Taken::default()
                },
            ));
        }
        let events = timers
            .iter()
            .map(timer_event)
            .collect::<Result<Vec<_>, _>>()?;
        // Marked before the decisions, so that the counters stay the transaction's last
        // write (every batch touching the same agencies waits on them until the commit).
        let late = mark_fired(txn, &self.owner, &timers, now).await?;
        Ok((
            events,
            Taken {
                claimed: timers.len(),
                expired,
                late,
                lateness: timers.iter().map(|t| now - t.fire_at).collect(),
            },
        ))
    }

    fn expiring(&mut self) -> Vec<Expiring> {
        std::mem::take(&mut self.expiring)
    }
}

/// One pass: up to `limit` due timers, oldest first, fired and marked in one transaction.
pub async fn fire_due(engine: &Engine, owner: &str, limit: u64) -> Result<Pass, Error> {
    let mut claim = DueTimers::new(owner, limit);
    let (outcomes, taken) = engine.decide(&mut claim, Source::Timer).await?;
    let mut pass = Pass {
        claimed: taken.claimed,
        late: taken.late,
        busy: claim.busy(),
        expired: taken.expired,
        lateness: taken.lateness,
        ..Pass::default()
    };
    for outcome in &outcomes {
        match outcome {
            Outcome::Applied { .. } => pass.applied += 1,
            // The monitor's own timers are decided at once, never held.
            Outcome::Rejected(_) | Outcome::Held { .. } => pass.refused += 1,
            Outcome::Duplicate(_) => pass.duplicates += 1,
        }
    }
    Ok(pass)
}

/// PostgreSQL: locks the proposals of the timers taken, in key order and without waiting
/// (`FOR UPDATE SKIP LOCKED`), and returns those that exist but are held elsewhere (a
/// proposal that does not exist is no obstacle: its timers' events are refused and
/// recorded).
async fn busy_proposals<'k>(
    txn: &DatabaseTransaction,
    taken: impl Iterator<Item = &'k str>,
) -> Result<Vec<String>, Error> {
    let mut keys: Vec<&str> = taken.collect();
    keys.sort_unstable();
    keys.dedup();
    let locked = proposal_keys(txn, "ORDER BY key FOR UPDATE SKIP LOCKED", &keys).await?;
    if locked.len() == keys.len() {
        return Ok(Vec::new());
    }
    let others: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| !locked.contains(*k))
        .collect();
    Ok(proposal_keys(txn, "", &others).await?.into_iter().collect())
}

/// PostgreSQL: which of `keys` are stored proposals (`lock`: the clause that locks them).
async fn proposal_keys(
    txn: &DatabaseTransaction,
    lock: &str,
    keys: &[&str],
) -> Result<HashSet<String>, Error> {
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = txn
        .query_all(sea_orm::Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            format!("SELECT key FROM proposals WHERE key = ANY($1) {lock}"),
            [crate::bulk::text_array(keys.iter().copied())],
        ))
        .await?;
    rows.into_iter()
        .map(|row| row.try_get::<String>("", "key").map_err(Error::from))
        .collect()
}

/// Marks timers fired (by `owner`, late or not); returns how many were late.
async fn mark_fired(
    txn: &DatabaseTransaction,
    owner: &str,
    rows: &[timer::Model],
    now: DateTime<Utc>,
) -> Result<usize, Error> {
    use sea_orm::sea_query::Expr;

    let late_before = now - LATE_AFTER;
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        let sql =
            "UPDATE timers SET state = 'fired', fired_at = $1, claimed_at = $1, claimed_by = $2, \
                   late = (fire_at < $3) WHERE id = ANY($4)";
        txn.execute(sea_orm::Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            sql,
            [
                now.into(),
                owner.into(),
                late_before.into(),
                crate::bulk::text_array(rows.iter().map(|t| t.id.as_str())),
            ],
        ))
        .await?;
        return Ok(rows.iter().filter(|t| t.fire_at < late_before).count());
    }
    let mut late_count = 0;
    for late in [false, true] {
        let ids: Vec<String> = rows
            .iter()
            .filter(|t| (t.fire_at < late_before) == late)
            .map(|t| t.id.clone())
            .collect();
        if late {
            late_count = ids.len();
        }
        for chunk in ids.chunks(500) {
            timer::Entity::update_many()
                .col_expr(timer::Column::State, Expr::value("fired"))
                .col_expr(timer::Column::FiredAt, Expr::value(now))
                .col_expr(timer::Column::ClaimedBy, Expr::value(owner))
                .col_expr(timer::Column::ClaimedAt, Expr::value(now))
                .col_expr(timer::Column::Late, Expr::value(late))
                .filter(timer::Column::Id.is_in(chunk.iter().cloned()))
                .exec(txn)
                .await?;
        }
    }
    Ok(late_count)
}

/// Fires everything due now, page after page, until nothing is due.
pub async fn catch_up(engine: &Engine, owner: &str, page: u64) -> Result<Pass, Error> {
    let mut total = Pass::default();
    loop {
        let pass = fire_due(engine, owner, page).await?;
        total.expired += pass.expired;
        if pass.claimed == 0 && pass.expired == 0 {
            if pass.busy == 0 {
                return Ok(total);
            }
            // Everything due is being changed elsewhere right now: let that commit.
            tokio::time::sleep(BUSY_PAUSE).await;
            continue;
        }
        total.claimed += pass.claimed;
        total.applied += pass.applied;
        total.refused += pass.refused;
        total.duplicates += pass.duplicates;
        total.late += pass.late;
    }
}

/// How a running monitor behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Names this monitor in claims; give each replica its own.
    pub owner: String,
    /// Timers claimed and fired per transaction.
    pub page: u64,
    /// Passes this monitor runs at once, each claiming its own page (`FOR UPDATE SKIP
    /// LOCKED`): while one pass waits on its commit, another decides. Claims are recorded as
    /// `<owner>/<n>`.
    pub claimers: usize,
    /// Pause between polls when nothing is due.
    pub idle: std::time::Duration,
    /// Told of every pass that fired timers (the role's metrics).
    pub passes: Option<tokio::sync::mpsc::UnboundedSender<Pass>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            owner: format!("monitor-{}", std::process::id()),
            page: 1000,
            claimers: 2,
            idle: std::time::Duration::from_secs(1),
            passes: None,
        }
    }
}

/// Fires due timers until `shutdown` completes; passes in progress finish first.
pub async fn run(
    engine: Engine,
    options: Options,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Error> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let claimers = options.claimers.max(1);
    let mut passes = tokio::task::JoinSet::new();
    for n in 0..claimers {
        let owner = if claimers == 1 {
            options.owner.clone()
        } else {
            format!("{}/{n}", options.owner)
        };
        passes.spawn(claim_loop(
            engine.clone(),
            owner,
            options.clone(),
            stopped.clone(),
        ));
    }
    tokio::pin!(shutdown);
    let mut result = Ok(());
    loop {
        tokio::select! {
            () = &mut shutdown, if !*stop.borrow() => {
                let _ = stop.send(true);
            }
            joined = passes.join_next() => match joined {
                None => return result,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(error))) => {
                    // One claimer failed for good: stop the others and report it.
                    let _ = stop.send(true);
                    result = Err(error);
                }
                Some(Err(panicked)) => {
                    let _ = stop.send(true);
                    result = Err(Error::Corrupt(format!("a monitor pass failed: {panicked}")));
                }
            },
        }
    }
}

/// One claimer: pass after pass while pages come back full, then a pause.
async fn claim_loop(
    engine: Engine,
    owner: String,
    options: Options,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> Result<(), Error> {
    let mut waits = crate::retry::policy().build();
    while !*stopped.borrow() {
        let pause = match fire_due(&engine, &owner, options.page).await {
            Ok(pass) => {
                waits = crate::retry::policy().build();
                if let (Some(passes), true) = (&options.passes, pass.claimed > 0) {
                    let _ = passes.send(pass.clone());
                }
                if pass.claimed > 0 {
                    tracing::info!(
                        owner = %owner,
                        claimed = pass.claimed,
                        applied = pass.applied,
                        refused = pass.refused,
                        late = pass.late,
                        "fired due timers"
                    );
                }
                if pass.expired > 0 {
                    tracing::info!(owner = %owner, expired = pass.expired, "decided held events whose window ended");
                }
                match (pass.claimed + pass.busy).max(pass.expired) as u64 {
                    taken if taken < options.page.max(1) => options.idle,
                    _ if pass.claimed == 0 && pass.expired == 0 => BUSY_PAUSE,
                    _ => continue,
                }
            }
            Err(error) if error.is_transient() => {
                let wait = waits.next().unwrap_or(std::time::Duration::from_secs(5));
                tracing::warn!(message = "Failed to fire due timers; retrying", %error, ?wait);
                wait
            }
            Err(error) => return Err(error),
        };
        tokio::select! {
            _ = stopped.changed() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
    Ok(())
}

/// The agency code the calendar job sends under.
pub const CALENDAR_AGENCY: &str = "cohandle-calendar";

/// What a recomputation did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recomputed {
    pub proposals: usize,
    pub deadlines_moved: usize,
    pub refused: usize,
}

/// After the holiday calendar was corrected or extended: sends `recompute_deadlines` to
/// every proposal that still has an open task. `engine` must carry the corrected calendar;
/// `version` names the correction (e.g. a hash of its file), so running the job twice for
/// the same correction changes nothing the second time.
pub async fn recompute_all(
    engine: &Engine,
    version: &str,
    reason: &str,
) -> Result<Recomputed, Error> {
    use crate::entities::task;

    let keys: Vec<String> = task::Entity::find()
        .select_only()
        .column(task::Column::ProposalKey)
        .filter(task::Column::Active.eq(true))
        .filter(task::Column::Terminal.eq(false))
        .distinct()
        .into_tuple()
        .all(engine.db())
        .await?;
    let mut report = Recomputed {
        proposals: keys.len(),
        ..Recomputed::default()
    };
    let actor = Actor {
        agency: AgencyCode::parse(CALENDAR_AGENCY).map_err(|e| Error::Corrupt(e.to_string()))?,
        kind: ActorKind::Timer,
    };
    let now = engine.clock().now();
    for chunk in keys.chunks(200) {
        let mut events = Vec::with_capacity(chunk.len());
        for key in chunk {
            let invalid = |e: cohandle_workflows::ids::InvalidId| {
                Error::Corrupt(format!("proposal {key}: {e}"))
            };
            events.push(Event {
                id: EventId::parse(format!("calendar:{version}:{key}")).map_err(invalid)?,
                proposal: ProposalKey::parse(key.clone()).map_err(invalid)?,
                actor: actor.clone(),
                occurred_at: now,
                body: Body::RecomputeDeadlines {
                    reason: reason.to_owned(),
                },
            });
        }
        for outcome in engine.apply_batch(events, Source::Timer).await? {
            match outcome {
                Outcome::Applied { changes, .. } => {
                    report.deadlines_moved += changes.iter().filter(|c| c.detail.is_some()).count();
                }
                // The engine's own events are decided at once, never held.
                Outcome::Rejected(_) | Outcome::Held { .. } => report.refused += 1,
                Outcome::Duplicate(_) => {}
            }
        }
    }
    Ok(report)
}
