//! The deadline monitor: fires due timers through the engine's one path, exactly once.
//!
//! A monitor takes a page of due timers inside the engine's transaction (PostgreSQL: `FOR
//! UPDATE SKIP LOCKED`, so concurrent monitors never take the same one; SQLite: one writer
//! at a time), applies a `TimerFired` event for each with the event id `timer:<timer id>`,
//! and marks them fired, all in one commit. A monitor that dies mid-page rolls back: the
//! timers are still pending and the next pass fires them; nothing fires twice.

use chrono::Duration;
use cohandle_workflows::event::TimerKind;
use cohandle_workflows::{Actor, ActorKind, AgencyCode, Body, Event, EventId, ProposalKey};

use crate::engine::{Engine, Outcome, Source};
use crate::entities::timer;
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
    /// How long after its moment each fired timer fired.
    pub lateness: Vec<Duration>,
}

/// The event a timer sends when it fires.
pub fn timer_event(row: &timer::Model) -> Result<Event, Error> {
    let corrupt =
        |e: cohandle_workflows::ids::InvalidId| Error::Corrupt(format!("timer {}: {e}", row.id));
    let kind = match row.kind.as_str() {
        "reminder" => TimerKind::Reminder,
        _ => TimerKind::Expiry,
    };
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

/// One pass: up to `limit` due timers, oldest first, fired and marked in one transaction.
pub async fn fire_due(engine: &Engine, owner: &str, limit: u64) -> Result<Pass, Error> {
    let fired = engine.fire_due_timers(owner, limit).await?;
    let mut pass = Pass {
        claimed: fired.timers.len(),
        late: fired.late,
        busy: fired.busy,
        lateness: fired
            .timers
            .iter()
            .map(|t| engine.clock().now() - t.fire_at)
            .collect(),
        ..Pass::default()
    };
    for outcome in &fired.outcomes {
        match outcome {
            Outcome::Applied { .. } => pass.applied += 1,
            Outcome::Rejected(_) => pass.refused += 1,
            Outcome::Duplicate(_) => pass.duplicates += 1,
        }
    }
    Ok(pass)
}

/// Fires everything due now, page after page, until nothing is due.
pub async fn catch_up(engine: &Engine, owner: &str, page: u64) -> Result<Pass, Error> {
    let mut total = Pass::default();
    loop {
        let pass = fire_due(engine, owner, page).await?;
        if pass.claimed == 0 {
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
    let mut failures: u32 = 0;
    while !*stopped.borrow() {
        let pause = match fire_due(&engine, &owner, options.page).await {
            Ok(pass) => {
                failures = 0;
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
                match (pass.claimed + pass.busy) as u64 {
                    taken if taken < options.page.max(1) => options.idle,
                    _ if pass.claimed == 0 => BUSY_PAUSE,
                    _ => continue,
                }
            }
            Err(error) if error.is_transient() => {
                failures += 1;
                let wait = std::time::Duration::from_millis(200 * u64::from(failures.min(25)));
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
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

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
                Outcome::Rejected(_) => report.refused += 1,
                Outcome::Duplicate(_) => {}
            }
        }
    }
    Ok(report)
}
