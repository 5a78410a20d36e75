//! `cohandle demo`: case 0942 replayed end to end through the engine's one path, on the
//! configured database (the embedded SQLite file by default), with its timeline and figures.

use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use cohandle_store::entities::{agency, timer};
use cohandle_store::{monitor, queries, Engine, ManualClock, Outcome, Source};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

/// The agencies of the case: (code, name, kind).
pub const AGENCIES: &[(&str, &str, &str)] = &[
    ("cq-zfbgt", "重庆市人民政府办公厅", "assigner"),
    ("cq-rdgw", "重庆市人大常委会人代工委", "congress_office"),
    ("cq-kjj", "重庆市科学技术局", "agency"),
    ("cq-jw", "重庆市教育委员会", "agency"),
    ("cq-czj", "重庆市财政局", "agency"),
    ("cq-dc", "重庆市政府督查室", "supervisor"),
];

pub const CASE_KEY: &str = "cq-5-3-0942";

pub async fn run(engine: &Engine, clock: &Arc<ManualClock>) -> anyhow::Result<()> {
    for (code, name, kind) in AGENCIES {
        let row = agency::ActiveModel {
            code: Set((*code).into()),
            name: Set((*name).into()),
            kind: Set((*kind).into()),
            created_at: Set(clock.now_utc()),
        };
        agency::Entity::insert(row)
            .on_conflict(
                OnConflict::column(agency::Column::Code)
                    .do_nothing()
                    .to_owned(),
            )
            .do_nothing()
            .exec(engine.db())
            .await
            .context("creating the agencies")?;
    }
    println!("Case 0942 (市五届人大三次会议第0942号建议), replayed through the engine:\n");
    for event in cohandle_workflows::cases::case_0942() {
        // The monitor fires whatever fell due before this step, as it would have then.
        clock.set(event.occurred_at);
        monitor::catch_up(engine, "demo", 100).await?;
        let name = event.body.name();
        let outcome = engine.apply(event.clone(), Source::Cli).await?;
        let verdict = match &outcome {
            Outcome::Applied { state, .. } => format!("applied (proposal {state})"),
            Outcome::Rejected(r) => format!("REFUSED {}: {}", r.code.as_str(), r.message),
            Outcome::Duplicate(_) => "already applied earlier (duplicate)".to_owned(),
        };
        println!(
            "  {}  {:<18} {:<10} {verdict}",
            cohandle_workflows::engine::china_date(event.occurred_at),
            name,
            event.actor.agency
        );
    }
    print_timeline(engine, CASE_KEY).await?;
    print_statistics(engine).await?;
    Ok(())
}

trait NowUtc {
    fn now_utc(&self) -> chrono::DateTime<Utc>;
}

impl NowUtc for Arc<ManualClock> {
    fn now_utc(&self) -> chrono::DateTime<Utc> {
        cohandle_store::Clock::now(self.as_ref())
    }
}

pub async fn print_timeline(engine: &Engine, key: &str) -> anyhow::Result<()> {
    let (proposal, version) = engine
        .load(key)
        .await?
        .context("the case is not in the database")?;
    println!(
        "\nTimeline of {key} (version {version}, now {}):",
        proposal.state
    );
    for row in queries::timeline(engine.db(), key).await? {
        let who = row.agency.as_deref().unwrap_or("proposal");
        println!(
            "  #{:<3} {}  {:<18} {:<10} {:>12} → {:<13} by {} ({})",
            row.seq,
            cohandle_workflows::engine::china_date(row.occurred_at),
            row.event_type,
            who,
            row.from_state,
            row.to_state,
            row.actor_agency,
            row.actor_role
        );
    }
    println!("\nDeadlines (met when the step came before the due date; windows simply close):");
    let timers = timer::Entity::find()
        .filter(timer::Column::ProposalKey.eq(key))
        .filter(timer::Column::Kind.eq("expiry"))
        .order_by_asc(timer::Column::DueOn)
        .all(engine.db())
        .await?;
    for t in timers {
        let verdict = match t.state.as_str() {
            "cancelled" => "met: the step came before it".to_owned(),
            "fired" if t.deadline == "dispute_window" => "closed without a dispute".to_owned(),
            "fired" => "MISSED: it passed".to_owned(),
            other => other.to_owned(),
        };
        println!(
            "  {:<8} {:<20} due {}  {verdict}",
            t.agency, t.deadline, t.due_on
        );
    }
    Ok(())
}

pub async fn print_statistics(engine: &Engine) -> anyhow::Result<()> {
    let stats = queries::statistics(engine.db(), None).await?;
    let pct = |r: Option<f64>| r.map_or("—".to_owned(), |r| format!("{:.1}%", r * 100.0));
    println!("\nStatistics (all agencies):");
    println!(
        "  completion rate (办结率)            {}",
        pct(stats.completion_rate)
    );
    println!(
        "  on-time reply rate                 {}",
        pct(stats.on_time_rate)
    );
    println!(
        "  first-time satisfaction            {}",
        pct(stats.first_time_satisfaction_rate)
    );
    println!(
        "  final satisfaction                 {}",
        pct(stats.final_satisfaction_rate)
    );
    println!(
        "  meeting rate (见面率)               {}",
        pct(stats.meeting_rate)
    );
    for (class, share) in &stats.class_shares {
        println!(
            "  class {class} share                      {:.1}%",
            share * 100.0
        );
    }
    println!(
        "  published in full                  {}",
        pct(stats.published_share)
    );
    Ok(())
}
