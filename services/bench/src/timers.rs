//! Firing timers: with `pending` timers stored, of which `due` come due at once, the time two
//! monitors take to fire the due ones through the engine's one path.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{TimeZone, Utc};
use cohandle_store::{connect, monitor, Engine, ManualClock, Outcome, Source};
use cohandle_workflows::engine::china_offset;
use cohandle_workflows::event::{Assignment, Handler};
use cohandle_workflows::model::{
    AssignmentMode, DisclosureConsent, ProposalInfo, ProposalKind, TaskRole,
};
use cohandle_workflows::{
    Actor, ActorKind, AgencyCode, Body, Calendar, Catalog, Event, EventId, ProposalKey,
};
use sea_orm::{ConnectionTrait, Statement};
use serde::Serialize;

use cohandle_testkit::db::ScratchDb;

/// Timers a lead-with-two-co-handlers assignment schedules under the Chongqing definition.
const TIMERS_PER_PROPOSAL: u64 = 12;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub pending: u64,
    pub due: u64,
    pub monitors: usize,
    /// Passes each monitor runs at once.
    pub claimers: usize,
    /// Timers each pass fires per transaction.
    pub page: u64,
    pub seconds: f64,
    pub fired_per_second: f64,
    /// Plain UPDATEs of the same number of rows, in pages, on the same database: the floor.
    pub raw_claim_per_second: f64,
    pub ratio_to_raw: f64,
    /// What the run left in the database, counted from the rows (the figures hold only if
    /// every due timer fired exactly once and nothing else moved):
    pub outcome: Fired,
}

/// The timers and decisions in the database once the monitors are done.
#[derive(Debug, Clone, Serialize)]
pub struct Fired {
    /// Timer rows marked fired.
    pub timers_fired: u64,
    /// Timer rows still pending although due.
    pub due_left_pending: u64,
    /// Timer rows still pending in the future (untouched).
    pub future_pending: u64,
    /// Decisions the monitors recorded (inbox rows of timer events).
    pub timer_decisions: u64,
    /// Distinct timers among those decisions: equal to `timer_decisions` when none fired twice.
    pub distinct_timer_decisions: u64,
}

fn at(date: &str) -> chrono::DateTime<Utc> {
    let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("valid date");
    china_offset()
        .from_local_datetime(&day.and_hms_opt(10, 0, 0).expect("valid"))
        .single()
        .expect("fixed")
        .with_timezone(&Utc)
}

fn assignment(i: u64) -> anyhow::Result<Event> {
    let code = |s: &str| AgencyCode::parse(s).context("agency code");
    Ok(Event {
        id: EventId::parse(format!("bench-assign-{i}"))?,
        proposal: ProposalKey::parse(format!("cq-bench-{i:07}"))?,
        actor: Actor {
            agency: code("cq-zfbgt")?,
            kind: ActorKind::Assigner,
        },
        occurred_at: at("2020-02-26"),
        body: Body::Assign(Assignment {
            definition: "chongqing-deputy-suggestion".into(),
            info: ProposalInfo {
                kind: ProposalKind::DeputySuggestion,
                number: format!("{i:04}"),
                session: "市五届人大三次会议".into(),
                title: "关于对渝东南地区制造企业科学研究大力扶持的建议".into(),
                category: "科技".into(),
                lead_deputy: "郎平权".into(),
                co_signers: vec![],
                submitted_on: chrono::NaiveDate::from_ymd_opt(2020, 1, 12).expect("valid"),
                session_closed_on: None,
                disclosure_consent: DisclosureConsent::FullText,
                key_supervision: false,
            },
            mode: AssignmentMode::LeadWithCoHandlers,
            handlers: vec![
                Handler {
                    agency: code("cq-kjj")?,
                    role: TaskRole::Lead,
                },
                Handler {
                    agency: code(["cq-jw", "cq-czj", "cq-jxw"][(i % 3) as usize])?,
                    role: TaskRole::CoHandler,
                },
                Handler {
                    agency: code("cq-sfj")?,
                    role: TaskRole::CoHandler,
                },
            ],
            assigned_on: chrono::NaiveDate::from_ymd_opt(2020, 2, 26).expect("valid"),
        }),
    })
}

/// Runs the benchmark on a scratch database of `server`.
/// `page`: timers each monitor fires per transaction (and the raw floor claims per statement).
pub async fn run(
    server: &str,
    pending: u64,
    due: u64,
    monitors: usize,
    page: u64,
) -> anyhow::Result<Report> {
    let scratch = ScratchDb::create(server).await?;
    let result = run_in(&scratch.url, pending, due, monitors, page).await;
    scratch.drop_now().await?;
    result
}

async fn run_in(
    url: &str,
    pending: u64,
    due: u64,
    monitors: usize,
    page: u64,
) -> anyhow::Result<Report> {
    let db = connect::connect_and_migrate(url).await?;
    let clock = Arc::new(ManualClock::new(at("2020-02-26")));
    let engine = Engine::new(
        db.clone(),
        Arc::new(Catalog::shipped()),
        Arc::new(Calendar::china_official()),
        clock.clone(),
    );

    // The due timers belong to real proposals, so that firing them is real work.
    let proposals = due.div_ceil(TIMERS_PER_PROPOSAL);
    let seed_started = Instant::now();
    let mut i = 0;
    while i < proposals {
        let batch: Vec<Event> = (i..(i + 250).min(proposals))
            .map(assignment)
            .collect::<anyhow::Result<_>>()?;
        i += batch.len() as u64;
        let outcomes = engine.apply_batch(batch, Source::Cli).await?;
        anyhow::ensure!(
            outcomes.iter().all(Outcome::is_applied),
            "seeding refused an assignment"
        );
    }
    let due_timers = proposals * TIMERS_PER_PROPOSAL;
    // The rest wait in the far future, for proposals of later years.
    let filler = pending.saturating_sub(due_timers);
    db.execute_unprepared(&format!(
        "INSERT INTO timers (id, proposal_key, agency, deadline, kind, due_on, generation, fire_at, state, late) \
         SELECT 'future/' || g, 'future-' || (g / 12), 'cq-kjj', 'reply', 'reminder', DATE '2026-06-30', 0, \
                TIMESTAMPTZ '2026-06-23 01:00:00+00' + (g % 1000) * INTERVAL '1 minute', 'pending', false \
         FROM generate_series(1, {filler}) AS g"
    ))
    .await?;
    db.execute_unprepared("ANALYZE timers").await?;
    eprintln!("  seeded {proposals} proposals ({due_timers} due timers) and {filler} future timers in {:.1}s", seed_started.elapsed().as_secs_f64());

    // The raw floor: claiming and marking the same number of rows with plain statements.
    let raw = raw_claims(&db, due_timers, page).await?;

    clock.set(at("2020-12-31"));
    let started = Instant::now();
    let mut handles = Vec::new();
    // Each monitor runs its passes as `cohandle monitor` does: several claimers at once.
    let claimers = monitor::Options::default().claimers;
    for m in 0..monitors {
        for c in 0..claimers {
            let engine = engine.clone();
            handles.push(tokio::spawn(async move {
                monitor::catch_up(&engine, &format!("bench-{m}/{c}"), page).await
            }));
        }
    }
    let mut fired = 0;
    for handle in handles {
        let pass = handle.await??;
        fired += pass.applied;
    }
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        fired as u64 == due_timers,
        "fired {fired} of {due_timers} due timers"
    );
    let rate = due_timers as f64 / seconds;
    let now = cohandle_store::Clock::now(clock.as_ref()).to_rfc3339();
    let count = |sql: String| {
        let db = &db;
        async move {
            let row = db
                .query_one(Statement::from_string(db.get_database_backend(), sql))
                .await?
                .context("a count answers one row")?;
            anyhow::Ok(u64::try_from(row.try_get_by_index::<i64>(0)?)?)
        }
    };
    let outcome = Fired {
        timers_fired: count("SELECT COUNT(*) FROM timers WHERE state = 'fired'".into()).await?,
        due_left_pending: count(format!(
            "SELECT COUNT(*) FROM timers WHERE state = 'pending' AND fire_at <= TIMESTAMPTZ '{now}'"
        ))
        .await?,
        future_pending: count(format!(
            "SELECT COUNT(*) FROM timers WHERE state = 'pending' AND fire_at > TIMESTAMPTZ '{now}'"
        ))
        .await?,
        timer_decisions: count("SELECT COUNT(*) FROM inbox WHERE source = 'timer'".into()).await?,
        distinct_timer_decisions: count(
            "SELECT COUNT(DISTINCT event_id) FROM inbox WHERE source = 'timer'".into(),
        )
        .await?,
    };
    Ok(Report {
        pending: due_timers + filler,
        due: due_timers,
        monitors,
        claimers,
        page,
        seconds,
        fired_per_second: rate,
        raw_claim_per_second: raw,
        ratio_to_raw: rate / raw,
        outcome,
    })
}

/// Rows per second for claim-then-mark on a copy of the due rows, `page` rows a statement.
async fn raw_claims(db: &sea_orm::DatabaseConnection, rows: u64, page: u64) -> anyhow::Result<f64> {
    db.execute_unprepared(&format!(
        "CREATE TABLE raw_timers AS SELECT id, fire_at, state, claimed_by FROM timers WHERE fire_at < TIMESTAMPTZ '2021-01-01' LIMIT {rows}; \
         CREATE INDEX raw_timers_due ON raw_timers (state, fire_at)"
    ))
    .await?;
    let started = Instant::now();
    loop {
        let claimed = db
            .execute(Statement::from_string(
                db.get_database_backend(),
                format!("WITH c AS (SELECT id FROM raw_timers WHERE state = 'pending' ORDER BY fire_at LIMIT {page} FOR UPDATE SKIP LOCKED) \
                 UPDATE raw_timers SET state = 'fired', claimed_by = 'raw' FROM c WHERE raw_timers.id = c.id"),
            ))
            .await?
            .rows_affected();
        if claimed == 0 {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    db.execute_unprepared("DROP TABLE raw_timers").await?;
    Ok(rows as f64 / seconds.max(1e-9))
}
