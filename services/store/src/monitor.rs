//! The deadline monitor: fires due timers through the engine's one path, exactly once.
//!
//! A monitor claims a page of due timers (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so monitors
//! never take the same one; SQLite: one writer at a time), applies a `TimerFired` event for
//! each with the event id `timer:<timer id>`, and marks them fired. Should it die between
//! claim and mark, the claim expires and another monitor fires the timer again; the event id
//! makes that second firing a recognised duplicate, so the effect happens once.

use chrono::{DateTime, Duration, Utc};
use cohandle_workflows::event::TimerKind;
use cohandle_workflows::{Actor, ActorKind, AgencyCode, Body, Event, EventId, ProposalKey};
use sea_orm::{ConnectionTrait, DatabaseBackend, FromQueryResult, Statement};

use crate::engine::{Engine, Outcome, Source};
use crate::entities::timer;
use crate::Error;

/// The agency code timer events are sent under.
pub const MONITOR_AGENCY: &str = "cohandle-monitor";

/// A claim older than this is considered abandoned by a dead monitor.
pub const CLAIM_LEASE: Duration = Duration::minutes(5);

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
}

/// Claims up to `limit` due timers for `owner`, oldest first.
pub async fn claim(engine: &Engine, owner: &str, limit: u64) -> Result<Vec<timer::Model>, Error> {
    let db = engine.db();
    let now = engine.clock().now();
    let backend = db.get_database_backend();
    let stale = now - CLAIM_LEASE;
    let (sql, values): (&str, Vec<sea_orm::Value>) = match backend {
        DatabaseBackend::Postgres => (
            "UPDATE timers SET state = 'claimed', claimed_by = $1, claimed_at = $2 \
             WHERE id IN (SELECT id FROM timers \
                 WHERE (state = 'pending' AND fire_at <= $2) OR (state = 'claimed' AND claimed_at < $3) \
                 ORDER BY fire_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING *",
            vec![owner.into(), now.into(), stale.into(), (limit as i64).into()],
        ),
        _ => (
            "UPDATE timers SET state = 'claimed', claimed_by = ?1, claimed_at = ?2 \
             WHERE id IN (SELECT id FROM timers \
                 WHERE (state = 'pending' AND fire_at <= ?2) OR (state = 'claimed' AND claimed_at < ?3) \
                 ORDER BY fire_at, id LIMIT ?4) \
             RETURNING *",
            vec![owner.into(), now.into(), stale.into(), (limit as i64).into()],
        ),
    };
    let rows =
        timer::Model::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
            .all(db)
            .await?;
    let mut rows = rows;
    rows.sort_by(|a, b| (a.fire_at, &a.id).cmp(&(b.fire_at, &b.id)));
    Ok(rows)
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

/// One pass: claim due timers, fire them in due order, mark them fired.
pub async fn fire_due(engine: &Engine, owner: &str, limit: u64) -> Result<Pass, Error> {
    let claimed = claim(engine, owner, limit).await?;
    let mut pass = Pass {
        claimed: claimed.len(),
        ..Pass::default()
    };
    if claimed.is_empty() {
        return Ok(pass);
    }
    let events = claimed
        .iter()
        .map(timer_event)
        .collect::<Result<Vec<_>, _>>()?;
    let outcomes = engine.apply_batch(events, Source::Timer).await?;
    for outcome in &outcomes {
        match outcome {
            Outcome::Applied { .. } => pass.applied += 1,
            Outcome::Rejected(_) => pass.refused += 1,
            Outcome::Duplicate(_) => pass.duplicates += 1,
        }
    }
    let now = engine.clock().now();
    let late: Vec<&timer::Model> = claimed
        .iter()
        .filter(|t| now - t.fire_at > LATE_AFTER)
        .collect();
    pass.late = late.len();
    mark_fired(engine, owner, &claimed, now).await?;
    Ok(pass)
}

async fn mark_fired(
    engine: &Engine,
    owner: &str,
    rows: &[timer::Model],
    now: DateTime<Utc>,
) -> Result<(), Error> {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    for late in [false, true] {
        let ids: Vec<String> = rows
            .iter()
            .filter(|t| (now - t.fire_at > LATE_AFTER) == late)
            .map(|t| t.id.clone())
            .collect();
        for chunk in ids.chunks(500) {
            timer::Entity::update_many()
                .col_expr(timer::Column::State, Expr::value("fired"))
                .col_expr(timer::Column::FiredAt, Expr::value(now))
                .col_expr(timer::Column::Late, Expr::value(late))
                .filter(timer::Column::Id.is_in(chunk.iter().cloned()))
                .filter(timer::Column::State.eq("claimed"))
                .filter(timer::Column::ClaimedBy.eq(owner))
                .exec(engine.db())
                .await?;
        }
    }
    Ok(())
}

/// Fires everything due now, page after page, until nothing is due.
pub async fn catch_up(engine: &Engine, owner: &str, page: u64) -> Result<Pass, Error> {
    let mut total = Pass::default();
    loop {
        let pass = fire_due(engine, owner, page).await?;
        if pass.claimed == 0 {
            return Ok(total);
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
    /// Pause between polls when nothing is due.
    pub idle: std::time::Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            owner: format!("monitor-{}", std::process::id()),
            page: 500,
            idle: std::time::Duration::from_secs(1),
        }
    }
}

/// Fires due timers until `shutdown` completes; a pass in progress finishes first.
pub async fn run(
    engine: Engine,
    options: Options,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Error> {
    tokio::pin!(shutdown);
    let mut failures: u32 = 0;
    loop {
        let pause = match fire_due(&engine, &options.owner, options.page).await {
            Ok(pass) => {
                failures = 0;
                if pass.claimed > 0 {
                    tracing::info!(
                        claimed = pass.claimed,
                        applied = pass.applied,
                        refused = pass.refused,
                        late = pass.late,
                        "fired due timers"
                    );
                }
                if pass.claimed as u64 == options.page {
                    continue;
                }
                options.idle
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
            () = &mut shutdown => return Ok(()),
            () = tokio::time::sleep(pause) => {}
        }
    }
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
