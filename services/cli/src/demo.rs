//! `cohandle demo`: case 0942 replayed end to end through the API's service layer (the
//! functions the HTTP handlers call once a token is authenticated, and so through the
//! engine's one path), on the configured database (the embedded SQLite file by default),
//! with its timeline and figures.

use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use cohandle_api::{Command, Principal, Role, Service, Submitted};
use cohandle_store::agencies::{self, Agency, Known};
use cohandle_store::jurisdictions;
use cohandle_store::{cli_door, monitor, Engine, ManualClock, Source};
use cohandle_workflows::{Actor, ActorKind};

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

/// Its jurisdiction: Chongqing's municipal congress.
pub const JURISDICTION: &str = "cq";

/// Writes a line to standard output. A reader that went away (`cohandle demo | head`) ends
/// the demo with a `BrokenPipe` error, which `main` takes as a quiet end, not a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

pub async fn run(engine: &Engine, clock: &Arc<ManualClock>) -> anyhow::Result<()> {
    for (code, name, kind) in AGENCIES {
        let agency = Agency {
            code: (*code).into(),
            name: (*name).into(),
            kind: (*kind).into(),
            created_at: clock.now_utc(),
        };
        agencies::register_with(engine, agency, Known::Keep)
            .await
            .context("creating the agencies")?;
    }
    // Every agency of the case serves Chongqing's municipal congress, whose key it carries.
    let codes: Vec<String> = AGENCIES
        .iter()
        .map(|(code, _, _)| (*code).to_owned())
        .collect();
    jurisdictions::join(engine, JURISDICTION, &codes)
        .await
        .context("making the agencies serve Chongqing's congress")?;
    say!("Case 0942 (市五届人大三次会议第0942号建议), replayed through the API's service layer:\n");
    // The events take the API's path (role and scope checks, the actor taken from the
    // principal, idempotency by key) but are recorded as an import: each is decided at its
    // real 2020 time, and the inbox marks it `import`.
    let service = Service::new(engine.clone()).with_source(Source::Import);
    for event in cohandle_workflows::cases::case_0942() {
        // The monitor fires whatever fell due before this step, as it would have then.
        clock.set(event.occurred_at);
        monitor::catch_up(engine, "demo", 100).await?;
        let name = event.body.name();
        let principal = principal_of(&event.actor)?;
        let command = Command {
            id: event.id.clone(),
            proposal: event.proposal.clone(),
            occurred_at: Some(event.occurred_at),
            body: event.body.clone(),
        };
        let verdict = match service.submit(&principal, command).await {
            Ok(Submitted::Written(written)) if written.replayed => {
                "already applied earlier (duplicate)".to_owned()
            }
            Ok(Submitted::Written(written)) => {
                format!("applied (proposal {})", written.outcome.state)
            }
            Ok(Submitted::Held { held, .. }) => {
                format!("HELD until {}: {}", held.held_until, held.message)
            }
            Err(cohandle_api::Error::Rejected { code, message, .. }) => {
                format!("REFUSED {code}: {message}")
            }
            Err(other) => return Err(other).context("replaying case 0942"),
        };
        say!(
            "  {}  {:<18} {:<10} {verdict}",
            cohandle_workflows::engine::china_date(event.occurred_at),
            name,
            event.actor.agency
        );
    }
    print_timeline(engine, CASE_KEY).await?;
    print_statistics(engine).await?;
    say!(
        "\nOver HTTP: `cohandle token create --agency cq-dc --role supervisor` prints a token; then\n\
         `cohandle serve` and\n  curl -H 'Authorization: Bearer <token>' http://127.0.0.1:8080/v1/proposals/{CASE_KEY}"
    );
    Ok(())
}

/// The principal a recorded event's sender authenticates as, in process (no token).
fn principal_of(actor: &Actor) -> anyhow::Result<Principal> {
    let role = match actor.kind {
        ActorKind::Assigner => Role::Assigner,
        ActorKind::Agency => Role::Agency,
        ActorKind::CongressOffice => Role::CongressOffice,
        ActorKind::Supervisor => Role::Supervisor,
        ActorKind::Timer => anyhow::bail!("the case holds a timer event; the monitor sends those"),
    };
    Ok(Principal::in_process(actor.agency.clone(), role).serving(vec![JURISDICTION.to_owned()]))
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
    say!(
        "\nTimeline of {key} (version {version}, now {}):",
        proposal.state
    );
    for row in cli_door::timeline(engine, key).await? {
        let who = row.agency.as_deref().unwrap_or("proposal");
        say!(
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
    say!("\nDeadlines (met when the step came before the due date; windows simply close):");
    for t in cli_door::deadlines(engine, key).await? {
        let verdict = match t.state.as_str() {
            "cancelled" => "met: the step came before it".to_owned(),
            "fired" if t.deadline == "dispute_window" => "closed without a dispute".to_owned(),
            "fired" => "MISSED: it passed".to_owned(),
            other => other.to_owned(),
        };
        say!(
            "  {:<8} {:<20} due {}  {verdict}",
            t.agency,
            t.deadline,
            t.due_on
        );
    }
    Ok(())
}

pub async fn print_statistics(engine: &Engine) -> anyhow::Result<()> {
    let stats = cli_door::statistics(engine, None).await?;
    let pct = |r: Option<f64>| r.map_or("—".to_owned(), |r| format!("{:.1}%", r * 100.0));
    say!("\nStatistics (all agencies):");
    say!(
        "  completion rate (办结率)            {}",
        pct(stats.completion_rate)
    );
    say!(
        "  on-time reply rate                 {}",
        pct(stats.on_time_rate)
    );
    say!(
        "  first-time satisfaction            {}",
        pct(stats.first_time_satisfaction_rate)
    );
    say!(
        "  final satisfaction                 {}",
        pct(stats.final_satisfaction_rate)
    );
    say!(
        "  meeting rate (见面率)               {}",
        pct(stats.meeting_rate)
    );
    for (class, share) in &stats.class_shares {
        say!(
            "  class {class} share                      {:.1}%",
            share * 100.0
        );
    }
    say!(
        "  published in full                  {}",
        pct(stats.published_share)
    );
    Ok(())
}
