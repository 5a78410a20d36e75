//! The bus commands: `cohandle worker`, `relay`, `dlq list`, `dlq replay` and `emit`.
//! Everything they do is `cohandle_bus`'s; this file reads the settings and prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use cohandle_bus::publish::{publish_inbound, Attempts, Inbound};
use cohandle_bus::replay::{self, Correction, Which};
use cohandle_bus::{connect, dead_letter, relay, worker, Topology};
use cohandle_proto::ContentType;
use cohandle_store::dead_letters::Filter;
use cohandle_store::Engine;
use cohandle_telemetry::{Metrics, Role};
use lapin::options::ConfirmSelectOptions;

use crate::observe::RoleProbe;
use crate::settings::{Amqp, Settings};

/// The bus's knobs, read with the rest of the configuration (`settings.rs`), turned into
/// the bus roles' options here.
impl Amqp {
    /// The broker URL, or why a bus command cannot run.
    pub fn url(&self) -> anyhow::Result<&str> {
        self.url.as_deref().context(
            "amqp.url is unset: set it (e.g. COHANDLE__AMQP__URL=amqp://guest:guest@127.0.0.1:5672/%2f) to use the bus",
        )
    }

    pub fn topology(&self) -> Topology {
        Topology {
            partitions: self.partitions,
            delivery_limit: self.delivery_limit,
            retry_delay: Duration::from_millis(self.retry_delay_ms),
        }
    }

    /// `amqp.agencies`: `code` (an agency) or `code:kind`, kind one of assigner, agency,
    /// congress_office, supervisor.
    pub fn agencies(&self) -> anyhow::Result<Vec<(String, String)>> {
        self.agencies
            .iter()
            .filter(|a| !a.trim().is_empty())
            .map(|a| {
                let (code, kind) = match a.split_once(':') {
                    Some((code, kind)) => (code.trim(), kind.trim()),
                    None => (a.trim(), "agency"),
                };
                cohandle_workflows::AgencyCode::parse(code)
                    .with_context(|| format!("amqp.agencies: {code:?}"))?;
                if cohandle_bus::identity::actor_kind(kind).is_none() {
                    bail!("amqp.agencies: {a:?}: the kind is one of assigner, agency, congress_office, supervisor");
                }
                Ok((code.to_owned(), kind.to_owned()))
            })
            .collect()
    }

    pub fn worker_options(&self) -> anyhow::Result<worker::Options> {
        let mut options = worker::Options::new(self.url()?);
        options.topology = self.topology();
        options.prefetch = self.prefetch;
        options.batch_size = self.batch_size.max(1);
        options.linger = Duration::from_millis(self.linger_ms);
        options.max_retry_rounds = self.max_retry_rounds;
        options.agencies = self.agencies()?;
        Ok(options)
    }

    pub fn relay_options(&self) -> anyhow::Result<relay::Options> {
        let mut options = relay::Options::new(self.url()?);
        options.topology = self.topology();
        options.content_type = ContentType::parse(&self.content_type)
            .context("amqp.content_type (COHANDLE__AMQP__CONTENT_TYPE)")?;
        options.agencies = self.agencies()?;
        options.publish_attempts = self.publish_attempts;
        Ok(options)
    }
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Dead letters (with their reasons) and refused events a replay could apply, from the
    /// database; listing changes nothing.
    List(ListArgs),
    /// Apply dead letters or refused events again, once their cause is fixed; recorded as
    /// replays (inbox source `replay`; refused events get the id `<id>/replay-<n>`).
    Replay {
        /// A dead-letter id or event id (as `dlq list` shows them).
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        id: Option<String>,
        /// Every dead letter waiting, and every refused event (of `dlq list`) whose proposal
        /// exists now.
        #[arg(long)]
        all: bool,
        /// A corrected body (proto3 JSON) for the dead letter named by --id.
        #[arg(long, requires = "id")]
        body: Option<PathBuf>,
    },
}

/// Which dead letters and refused events `dlq list` shows.
#[derive(Debug, Default, Args)]
pub struct ListArgs {
    /// Only this code (`malformed`, `event_id_reused`, `wrong_state`, `unknown_proposal` …).
    #[arg(long)]
    pub code: Option<String>,
    /// Only what this agency sent.
    #[arg(long)]
    pub agency: Option<String>,
    /// Only this proposal.
    #[arg(long)]
    pub proposal: Option<String>,
    /// Only what arrived (or was refused) at or after this moment: RFC 3339, or a date
    /// YYYY-MM-DD (from its midnight, UTC).
    #[arg(long, value_parser = parse_since)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Also the dead letters already replayed, with the outcome.
    #[arg(long)]
    pub replayed: bool,
}

fn parse_since(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|date| date.and_time(chrono::NaiveTime::MIN).and_utc())
        .map_err(|_| format!("{text:?} is neither an RFC 3339 time nor a date YYYY-MM-DD"))
}

#[derive(Debug, Args)]
pub struct EmitArgs {
    /// A proto3-JSON envelope, or a JSON array of them (published in order).
    pub file: PathBuf,
    /// Publish as this agency's RabbitMQ user (default: each envelope's actorAgency).
    #[arg(long = "as")]
    pub as_agency: Option<String>,
    /// The agency user's password (default: $COHANDLE_AGENCY_PASSWORD, else the agency
    /// code, which is what `deploy/dev/rabbitmq-agency-users.sh` sets for development).
    #[arg(long)]
    pub password: Option<String>,
    /// Send the bytes as they are, without checking them (to try the dead-letter path).
    #[arg(long, requires = "as_agency")]
    pub unchecked: bool,
    /// Send binary protobuf instead of the JSON as written.
    #[arg(long, conflicts_with = "unchecked")]
    pub protobuf: bool,
}

/// `cohandle worker`: consumes until SIGTERM or Ctrl-C.
pub async fn worker(settings: &Settings, engine: Engine) -> anyhow::Result<ExitCode> {
    let amqp = &settings.amqp;
    let metrics = Metrics::new(&[Role::Worker]);
    let probe = RoleProbe::new(&[Role::Worker], &engine, Some(amqp));
    crate::observe::start(settings, Role::Worker, &metrics, probe).await?;
    let worker = cohandle_bus::Worker::new(engine, amqp.worker_options()?).with_metrics(metrics);
    eprintln!(
        "cohandle worker: consuming {} partition queue(s); stop with Ctrl-C or SIGTERM",
        amqp.partitions
    );
    let stats = worker.stats();
    worker.run(crate::shutdown_signal()).await?;
    let s = stats.snapshot();
    eprintln!(
        "cohandle worker stopped: {} applied, {} refused, {} held, {} duplicates, {} dead-lettered, {} sent round the retry queue",
        s.applied, s.rejected, s.held, s.duplicates, s.dead_lettered, s.retried
    );
    Ok(ExitCode::SUCCESS)
}

/// `cohandle relay`: publishes the outbox until SIGTERM or Ctrl-C.
pub async fn relay(settings: &Settings, engine: Engine) -> anyhow::Result<ExitCode> {
    let metrics = Metrics::new(&[Role::Relay]);
    let probe = RoleProbe::new(&[Role::Relay], &engine, Some(&settings.amqp));
    crate::observe::start(settings, Role::Relay, &metrics, probe).await?;
    let relay =
        cohandle_bus::Relay::new(engine, settings.amqp.relay_options()?).with_metrics(metrics);
    eprintln!("cohandle relay: publishing the outbox to cohandle.out; stop with Ctrl-C or SIGTERM");
    let stats = relay.stats();
    relay.run(crate::shutdown_signal()).await?;
    eprintln!(
        "cohandle relay stopped: {} message(s) published",
        stats.published()
    );
    Ok(ExitCode::SUCCESS)
}

/// `cohandle dlq …`: reads and writes the database only (the dead letters are kept there).
pub async fn dlq(amqp: &Amqp, engine: Engine, command: DlqCommand) -> anyhow::Result<ExitCode> {
    let directory = cohandle_bus::identity::Directory::new(&amqp.agencies()?);
    match command {
        DlqCommand::List(args) => list(&engine, &args).await,
        DlqCommand::Replay { id, all, body } => {
            replay(&engine, &directory, id.as_deref(), all, body.as_deref()).await
        }
    }
}

async fn list(engine: &Engine, args: &ListArgs) -> anyhow::Result<ExitCode> {
    let filter = Filter {
        code: args.code.clone(),
        agency: args.agency.clone(),
        proposal: args.proposal.clone(),
        since: args.since,
        replayed: args.replayed,
    };
    let letters = dead_letter::list(engine, &filter).await?;
    println!("Dead letters ({}):", letters.len());
    let time = |at: &chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%d %H:%M:%S").to_string();
    for l in &letters {
        println!(
            "  {}  {:<24} from {:<10} key {:<26} event {}",
            l.id,
            l.code,
            l.sender.as_deref().unwrap_or("(unknown)"),
            l.routing_key,
            l.event_id.as_deref().unwrap_or("(unreadable)"),
        );
        println!("      reason:   {}", l.reason);
        if let Some(field) = &l.field {
            println!("      field:    {field}");
        }
        println!(
            "      proposal: {}  message_id: {}",
            l.proposal_key.as_deref().unwrap_or("(unreadable)"),
            l.message_id.as_deref().unwrap_or("(none)")
        );
        println!(
            "      seen:     {} time(s), first {}, last {} (from {})",
            l.times_seen,
            time(&l.first_seen_at),
            time(&l.last_seen_at),
            l.queue
        );
        if let (Some(at), Some(outcome)) = (&l.replayed_at, &l.replay_outcome) {
            println!("      replayed: {} — {outcome}", time(at));
        }
    }
    let held = cohandle_store::held::list(
        engine,
        &cohandle_store::held::Filter {
            agency: args.agency.clone(),
            proposal: args.proposal.clone(),
            since: args.since,
            limit: None,
        },
    )
    .await?;
    println!(
        "\nHeld events, waiting for an earlier step of their proposal ({}):",
        held.len()
    );
    for h in &held {
        println!(
            "  {}  {:<16} proposal {} from {} ({}, by {}, held {}, refused at {} if it still does not fit)",
            h.event_id,
            h.code,
            h.proposal_key,
            h.agency,
            h.event_type,
            h.source,
            time(&h.held_at),
            time(&h.until)
        );
        println!("      waiting: {}", h.message);
    }
    let parked = replay::parked(engine, &filter).await?;
    println!("\nRefused events a replay could apply ({}):", parked.len());
    for p in &parked {
        println!(
            "  {}  {:<16} proposal {} from {} ({}, refused {}){}",
            p.row.event_id,
            p.row.code.as_deref().unwrap_or("?"),
            p.row.proposal_key,
            p.row.actor_agency,
            p.row.event_type,
            time(&p.row.recorded_at),
            match (p.proposal_exists, p.attempts) {
                (false, _) => " — its proposal is not assigned yet".to_owned(),
                (true, 0) => " — replay it once its cause is gone".to_owned(),
                (true, n) => format!(" — replayed {n} time(s), refused each time"),
            }
        );
        println!("      reason: {}", p.row.message);
    }
    Ok(ExitCode::SUCCESS)
}

async fn replay(
    engine: &Engine,
    directory: &cohandle_bus::identity::Directory,
    id: Option<&str>,
    all: bool,
    body: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let correction = match body {
        Some(path) => Some(Correction {
            content_type: ContentType::Json,
            body: crate::read(path)?.into_bytes(),
        }),
        None => None,
    };
    let mut failed = 0;
    let mut done = 0;
    let which = if all {
        Which::All
    } else {
        Which::Id(id.unwrap_or_default())
    };
    for (letter, result) in
        replay::dead_letters(engine, directory, which, correction.as_ref()).await?
    {
        done += 1;
        failed += usize::from(!result.decided());
        println!("dead letter {} ({}): {result}", letter.id, letter.code);
    }
    let mut refused = Vec::new();
    if all {
        refused = replay::parked(engine, &Filter::default())
            .await?
            .into_iter()
            .filter(|p| p.proposal_exists)
            .map(|p| p.row.event_id)
            .collect();
    } else if done == 0 {
        refused.extend(id.map(str::to_owned));
    }
    for event_id in refused {
        let result = replay::refused(engine, &event_id).await?;
        done += 1;
        failed += usize::from(matches!(result, replay::Replayed::Failed(_)));
        println!("refused event {event_id}: {result}");
    }
    if done == 0 {
        println!("nothing to replay");
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The channel of `message`'s user, on a connection opened (to the first node of
/// `amqp.url` that answers) if there is none yet.
async fn channel_for<'c>(
    url: &str,
    args: &EmitArgs,
    message: &Inbound,
    connections: &'c mut Vec<(String, lapin::Connection, lapin::Channel)>,
) -> anyhow::Result<&'c lapin::Channel> {
    let at = match connections
        .iter()
        .position(|(u, _, _)| *u == message.user_id)
    {
        Some(at) => at,
        None => {
            let password = args
                .password
                .clone()
                .or_else(|| std::env::var("COHANDLE_AGENCY_PASSWORD").ok())
                .unwrap_or_else(|| message.user_id.clone());
            let uris = connect::with_credentials(url, &message.user_id, &password)?;
            let connection = connect::connect_any(&uris, "cohandle-emit")
                .await
                .with_context(|| format!("connecting as RabbitMQ user {:?}", message.user_id))?;
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            connections.push((message.user_id.clone(), connection, channel));
            connections.len() - 1
        }
    };
    Ok(&connections[at].2)
}

/// `cohandle emit FILE.json`: needs the broker only, not the database. Each message is
/// published until the broker confirms it: a nack and a lost connection alike are tried
/// again, the same message on a new connection, up to `amqp.publish_attempts` times.
pub async fn emit(amqp: &Amqp, args: EmitArgs) -> anyhow::Result<ExitCode> {
    let text = crate::read(&args.file)?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", args.file.display()))?;
    let envelopes = match value {
        serde_json::Value::Array(items) => items,
        one => vec![one],
    };
    let mut messages = Vec::with_capacity(envelopes.len());
    for (n, envelope) in envelopes.iter().enumerate() {
        let bytes = serde_json::to_vec(envelope)?;
        if args.unchecked {
            let user = args.as_agency.clone().unwrap_or_default();
            messages.push(Inbound {
                routing_key: format!("{user}.unchecked"),
                proposal: envelope["proposalKey"].as_str().map(str::to_owned),
                message_id: envelope["eventId"].as_str().map(str::to_owned),
                user_id: user,
                content_type: ContentType::Json.as_str().to_owned(),
                body: bytes,
            });
            continue;
        }
        let event =
            cohandle_proto::decode(ContentType::Json.as_str(), &bytes).with_context(|| {
                format!(
                    "{} (envelope {}) is not a valid event",
                    args.file.display(),
                    n + 1
                )
            })?;
        let user = args
            .as_agency
            .clone()
            .unwrap_or_else(|| event.actor.agency.to_string());
        let content_type = if args.protobuf {
            ContentType::Protobuf
        } else {
            ContentType::Json
        };
        let mut message = Inbound::event(&event, content_type, &user);
        if !args.protobuf {
            // The JSON exactly as written, so that what arrives is what the file says.
            message.body = bytes;
        }
        messages.push(message);
    }
    // One connection per agency user, opened as needed (to the first node of amqp.url
    // that answers), and opened again after a nack or a lost connection.
    let url = amqp.url()?;
    let mut connections: Vec<(String, lapin::Connection, lapin::Channel)> = Vec::new();
    let mut attempts = Attempts::new(amqp.publish_attempts);
    for message in &messages {
        let what = || {
            format!(
                "event {} (as {})",
                message.message_id.as_deref().unwrap_or("(no id)"),
                message.user_id
            )
        };
        loop {
            let channel = channel_for(url, &args, message, &mut connections).await?;
            let why = match publish_inbound(channel, message).await {
                Ok(()) => break,
                Err(error) if error.is_refusal() => {
                    return Err(error)
                        .with_context(|| format!("publishing as {:?}", message.user_id))
                }
                Err(error) => error.to_string(),
            };
            // A nack or a lost connection: the same message again, on a new connection.
            if let Some(at) = connections
                .iter()
                .position(|(u, _, _)| *u == message.user_id)
            {
                let (_, connection, _) = connections.swap_remove(at);
                connect::close(connection, "not confirmed").await;
            }
            let wait = attempts.failed(
                message.message_id.as_deref().unwrap_or_default(),
                what,
                &why,
            )?;
            eprintln!("not confirmed ({why}); publishing it again in {wait:?}");
            tokio::time::sleep(wait).await;
        }
        attempts.confirmed();
        println!(
            "published {} as {} to cohandle.in, key {} (proposal {})",
            message.message_id.as_deref().unwrap_or("(no id)"),
            message.user_id,
            message.routing_key,
            message.proposal.as_deref().unwrap_or("?"),
        );
    }
    for (_, connection, _) in connections {
        connect::close(connection, "done").await;
    }
    Ok(ExitCode::SUCCESS)
}
