//! The steady mixed workload: proposals assigned sole, lead with co-handlers, or split, and
//! every step after it in order, each sent by its own agency through the bus (as its own
//! RabbitMQ user) or the API (with its own bearer token). Each proposal's plan is run
//! through the pure domain first, so the generator knows which history rows every event
//! must leave — the audit's yardstick, computed without the engine.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, Utc};
use cohandle_bus::publish::{publish_inbound, Inbound};
use cohandle_proto::ContentType;
use cohandle_workflows::event::Handler;
use cohandle_workflows::model::{
    AssignmentMode, DisclosureConsent, Dispatch, Draft, Feedback, Opinion, ProposalInfo,
    ProposalKind, ResultClass, Satisfaction, Signature, TaskRole,
};
use cohandle_workflows::{
    Actor, ActorKind, AgencyCode, Body, Calendar, Catalog, Event, EventId, Proposal, ProposalKey,
};
use lapin::options::ConfirmSelectOptions;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::ledger::{Door, Expected, ExpectedChange, Ledger, Sent};
use crate::rng::Rng;

pub const DEFINITION: &str = "chongqing-deputy-suggestion";
/// The government office that assigns.
pub const ASSIGNER: &str = "cq-zfbgt";
/// The congress deputy work office, which relays the deputies' receipts.
pub const CONGRESS_OFFICE: &str = "cq-rdgw";
pub const SUPERVISOR: &str = "cq-dc";
/// The handling agencies proposals are assigned to.
pub const HANDLERS: [&str; 6] = ["cq-kjj", "cq-jw", "cq-czj", "cq-fgw", "cq-jjxxw", "cq-stj"];
/// A registered agency that is never given a task: the cross-agency intruder.
pub const OUTSIDER: &str = "cq-wsjkw";

/// Every agency of the campaign with its kind (the `agencies` table and broker users).
pub fn agencies() -> Vec<(&'static str, &'static str)> {
    let mut all = vec![
        (ASSIGNER, "assigner"),
        (CONGRESS_OFFICE, "congress_office"),
        (SUPERVISOR, "supervisor"),
        (OUTSIDER, "agency"),
    ];
    all.extend(HANDLERS.iter().map(|h| (*h, "agency")));
    all
}

/// Text that must be stored and shown verbatim, never executed: SQL and HTML injections.
pub const INJECTIONS: [&str; 6] = [
    "'; DROP TABLE inbox; --",
    "<script>alert('cohandle')</script>",
    "\" OR 1=1 --",
    "Robert'); DELETE FROM history WHERE ('1'='1",
    "<img src=x onerror=alert(1)>&amp;",
    "${jndi:ldap://x}/*%27%22*/",
];

/// One step of a plan.
#[derive(Debug, Clone)]
pub struct Step {
    pub event: Event,
    pub door: Door,
    pub changes: Vec<ExpectedChange>,
}

/// One proposal, start to finish.
#[derive(Debug, Clone)]
pub struct Plan {
    pub key: String,
    pub handlers: Vec<(String, TaskRole)>,
    pub steps: Vec<Step>,
    /// Assigned with a date long past, so that its timers are due at once: the monitors'
    /// share of the work. Nothing else is sent for it.
    pub stale: bool,
    pub injected: bool,
}

/// The clock the generator stamps events with (the engine refuses events from the future).
pub fn now() -> DateTime<Utc> {
    cohandle_store::Clock::now(&cohandle_store::SystemClock)
}

fn agency(code: &str) -> anyhow::Result<AgencyCode> {
    AgencyCode::parse(code).with_context(|| format!("agency code {code}"))
}

/// The China date of `at`.
pub fn china_today(at: DateTime<Utc>) -> NaiveDate {
    cohandle_workflows::engine::china_date(at)
}

/// Builds proposal number `n`'s plan and checks it against the domain.
pub fn plan(
    rng: &mut Rng,
    run: &str,
    n: usize,
    catalog: &Catalog,
    calendar: &Calendar,
) -> anyhow::Result<Plan> {
    let at = now();
    let today = china_today(at);
    let key = format!("cq-camp-{run}-{n:05}");
    let stale = n % 8 == 7;
    let injected = rng.chance(25);
    let text = |rng: &mut Rng, plain: &str| -> String {
        if injected {
            format!("{plain} {}", rng.pick(&INJECTIONS))
        } else {
            plain.to_owned()
        }
    };
    let mut pool: Vec<&str> = HANDLERS.to_vec();
    let mut take = |rng: &mut Rng| pool.remove(rng.below(pool.len()));
    let (mode, handlers): (AssignmentMode, Vec<(String, TaskRole)>) = match rng.below(3) {
        0 => (
            AssignmentMode::Sole,
            vec![(take(rng).to_owned(), TaskRole::Lead)],
        ),
        1 => {
            let lead = take(rng).to_owned();
            let mut h = vec![(lead, TaskRole::Lead)];
            for _ in 0..1 + rng.below(2) {
                h.push((take(rng).to_owned(), TaskRole::CoHandler));
            }
            (AssignmentMode::LeadWithCoHandlers, h)
        }
        _ => (
            AssignmentMode::Split,
            (0..2)
                .map(|_| (take(rng).to_owned(), TaskRole::Split))
                .collect(),
        ),
    };
    let (assigned_on, submitted_on) = if stale {
        (
            today - chrono::Duration::days(60),
            today - chrono::Duration::days(70),
        )
    } else {
        (today, today - chrono::Duration::days(10))
    };
    let deputy = text(rng, "郎平权");
    let info = ProposalInfo {
        kind: ProposalKind::DeputySuggestion,
        number: format!("{n:04}"),
        session: "市五届人大三次会议".to_owned(),
        title: text(rng, &format!("关于第{n}号建议的办理")),
        category: text(rng, "科技"),
        lead_deputy: deputy.clone(),
        co_signers: Vec::new(),
        submitted_on,
        session_closed_on: None,
        disclosure_consent: DisclosureConsent::FullText,
        key_supervision: rng.chance(20),
    };
    let mut bodies: Vec<(String, ActorKind, Body)> = vec![(
        ASSIGNER.to_owned(),
        ActorKind::Assigner,
        Body::Assign(cohandle_workflows::event::Assignment {
            definition: DEFINITION.to_owned(),
            info,
            mode,
            handlers: handlers
                .iter()
                .map(|(a, role)| {
                    Ok(Handler {
                        agency: agency(a)?,
                        role: *role,
                    })
                })
                .collect::<anyhow::Result<_>>()?,
            assigned_on,
        }),
    )];
    if !stale {
        let co: Vec<&String> = handlers
            .iter()
            .filter(|(_, r)| *r == TaskRole::CoHandler)
            .map(|(a, _)| a)
            .collect();
        for (handler, role) in handlers.iter().filter(|(_, r)| *r != TaskRole::CoHandler) {
            let agency_kind = ActorKind::Agency;
            bodies.push((handler.clone(), agency_kind, Body::SignFor));
            if *role == TaskRole::Lead {
                for c in &co {
                    bodies.push(((*c).clone(), agency_kind, Body::Acknowledge));
                }
                for c in &co {
                    bodies.push((
                        (*c).clone(),
                        agency_kind,
                        Body::SubmitOpinion(Opinion {
                            document_number: text(rng, &format!("{c}函〔2026〕{n}号")),
                            summary: text(rng, "协办意见"),
                            submitted_on: Some(today),
                        }),
                    ));
                }
            }
            bodies.push((
                handler.clone(),
                agency_kind,
                Body::DraftReply(Draft {
                    result_class: ResultClass::A,
                    document_number: text(rng, &format!("{handler}函〔2026〕{n}号")),
                    summary: text(rng, "答复函"),
                    co_handler_views: if *role == TaskRole::Lead {
                        co.iter()
                            .map(|c| agency(c))
                            .collect::<anyhow::Result<_>>()?
                    } else {
                        Vec::new()
                    },
                    commits_funds: false,
                }),
            ));
            bodies.push((
                handler.clone(),
                agency_kind,
                Body::SignReply(Signature {
                    signer: text(rng, "许洪斌"),
                    title: text(rng, "局长"),
                    principal_head: true,
                    signed_on: today,
                }),
            ));
            bodies.push((
                handler.clone(),
                agency_kind,
                Body::SendReply(Dispatch {
                    sent_on: today,
                    deputies: vec![deputy.clone()],
                    copies: vec![text(rng, "市人大常委会人代工委")],
                }),
            ));
            bodies.push((
                CONGRESS_OFFICE.to_owned(),
                ActorKind::CongressOffice,
                Body::RecordFeedback {
                    agency: agency(handler)?,
                    feedback: Feedback {
                        satisfaction: Satisfaction::Satisfied,
                        comments: text(rng, "满意"),
                        received_on: today,
                    },
                },
            ));
        }
    }

    let def = catalog
        .latest(DEFINITION)
        .map_err(|e| anyhow::anyhow!("definition {DEFINITION}: {e}"))?;
    let mut state: Option<Proposal> = None;
    let mut steps = Vec::with_capacity(bodies.len());
    for (i, (actor, kind, body)) in bodies.into_iter().enumerate() {
        let event = Event {
            id: EventId::parse(format!("{key}.{i:02}.{}", body.name()))?,
            proposal: ProposalKey::parse(key.clone())?,
            actor: Actor {
                agency: agency(&actor)?,
                kind,
            },
            occurred_at: at,
            body,
        };
        let decision = cohandle_workflows::apply(&def, calendar, state.as_ref(), &event, at)
            .map_err(|r| {
                anyhow::anyhow!(
                    "the campaign's own plan for {key} is refused by the domain at step {i} ({}): {} {} — \
                     if it is `calendar`, the holiday data does not cover the dates of this run",
                    event.body.name(),
                    r.code.as_str(),
                    r.message
                )
            })?;
        let changes = decision
            .changes
            .iter()
            .map(|c| {
                (
                    c.machine.as_str().to_owned(),
                    c.agency.as_ref().map(ToString::to_string),
                    c.from.clone(),
                    c.to.clone(),
                    c.event.clone(),
                )
            })
            .collect();
        state = Some(decision.proposal);
        let door = if rng.chance(60) { Door::Bus } else { Door::Api };
        steps.push(Step {
            event,
            door,
            changes,
        });
    }
    Ok(Plan {
        key,
        handlers,
        steps,
        stale,
        injected,
    })
}

/// The endpoint and body that carry `event` over the API (the event's content under the
/// same field names, with `occurred_at`).
pub fn http_request(event: &Event) -> anyhow::Result<(String, Value)> {
    let key = event.proposal.as_str();
    let mut data = serde_json::to_value(&event.body)?["data"].take();
    if data.is_null() {
        data = json!({});
    }
    let path = match &event.body {
        Body::Assign(_) => {
            data["key"] = json!(key);
            "/v1/proposals".to_owned()
        }
        Body::SignFor => format!("/v1/proposals/{key}/sign-for"),
        Body::Acknowledge => format!("/v1/proposals/{key}/acknowledgement"),
        Body::SubmitOpinion(_) => format!("/v1/proposals/{key}/opinion"),
        Body::DraftReply(_) => format!("/v1/proposals/{key}/draft"),
        Body::SignReply(_) => format!("/v1/proposals/{key}/signature"),
        Body::SendReply(_) => format!("/v1/proposals/{key}/reply"),
        Body::RecordFeedback { agency, feedback } => {
            data = serde_json::to_value(feedback)?;
            format!("/v1/proposals/{key}/tasks/{agency}/feedback")
        }
        other => bail!("the campaign sends no {} over HTTP", other.name()),
    };
    data["occurred_at"] = json!(event.occurred_at);
    Ok((path, data))
}

/// The bus door: one confirm-mode channel per agency user, reopened after a broker restart.
#[derive(Debug)]
pub struct Bus {
    /// The broker's nodes, `host:port`: a user's connection goes to the first that answers.
    nodes: Vec<String>,
    passwords: HashMap<String, String>,
    channels: tokio::sync::Mutex<HashMap<String, (lapin::Connection, lapin::Channel)>>,
}

impl Bus {
    pub fn new(nodes: Vec<String>, passwords: HashMap<String, String>) -> Self {
        Self {
            nodes,
            passwords,
            channels: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn url(&self, user: &str) -> String {
        let password = self.passwords.get(user).map_or("", String::as_str);
        let urls: Vec<String> = self
            .nodes
            .iter()
            .map(|node| format!("amqp://{user}:{password}@{node}/%2f"))
            .collect();
        urls.join(",")
    }

    /// A fresh connection as `user` (for inputs the broker is expected to refuse, which
    /// close their channel).
    pub async fn connect(&self, user: &str) -> anyhow::Result<(lapin::Connection, lapin::Channel)> {
        let connection =
            cohandle_bus::connect::connect_url(&self.url(user), &format!("campaign-{user}"))
                .await?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok((connection, channel))
    }

    async fn channel(&self, user: &str) -> anyhow::Result<lapin::Channel> {
        let mut channels = self.channels.lock().await;
        if let Some((connection, channel)) = channels.get(user) {
            if connection.status().connected() && channel.status().connected() {
                return Ok(channel.clone());
            }
        }
        let (connection, channel) = self.connect(user).await?;
        channels.insert(user.to_owned(), (connection, channel.clone()));
        Ok(channel)
    }

    async fn forget(&self, user: &str) {
        // Closed outside the lock: a connection to a node cut off may take its heartbeat's
        // time to close, and the other agencies publish meanwhile.
        let forgotten = self.channels.lock().await.remove(user);
        if let Some((connection, _)) = forgotten {
            let _ = connection.close(200, "reconnecting").await;
        }
    }

    /// Publishes as `user` until the broker confirms (reconnecting through restarts), or
    /// until `until`. A message sent twice this way is a duplicate the inbox recognises.
    pub async fn publish(&self, user: &str, message: &Inbound, until: Instant) -> bool {
        let mut wait = Duration::from_millis(100);
        loop {
            let attempt = async {
                let channel = self.channel(user).await?;
                tokio::time::timeout(Duration::from_secs(10), publish_inbound(&channel, message))
                    .await
                    .context("no confirm within 10 s")??;
                anyhow::Ok(())
            };
            match attempt.await {
                Ok(()) => return true,
                Err(error) => {
                    tracing::debug!(%user, error = %format!("{error:#}"), "publish failed; retrying");
                    self.forget(user).await;
                }
            }
            if Instant::now() > until {
                return false;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
}

/// The API door.
#[derive(Debug, Clone)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    /// agency → bearer secret of its working token.
    pub tokens: Arc<HashMap<String, String>>,
    /// Answers 5xx other than 503 to planned steps: a server error where the contract
    /// promises 503 (retry with the same key) for an unavailable database.
    pub server_errors: Arc<AtomicU64>,
}

impl Api {
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<Answer> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .timeout(Duration::from_secs(30));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let replayed = response
            .headers()
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true");
        let bytes = response.bytes().await?;
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok(Answer {
            status,
            body,
            replayed,
        })
    }

    /// Sends until answered with something other than a transport error or a 5xx (the
    /// database restarting answers 503): the same `Idempotency-Key` each time.
    pub async fn send_until_answered(
        &self,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Vec<u8>,
        until: Instant,
    ) -> Option<Answer> {
        let mut wait = Duration::from_millis(100);
        loop {
            match self
                .send(reqwest::Method::POST, path, token, key, Some(body.clone()))
                .await
            {
                Ok(answer) if answer.status < 500 => return Some(answer),
                Ok(answer) => {
                    if answer.status != 503 {
                        self.server_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(status = answer.status, %path, body = %answer.body, "server error; retrying");
                    }
                }
                Err(error) => tracing::debug!(%error, %path, "transport error; retrying"),
            }
            if Instant::now() > until {
                return None;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }
}

/// An inbox decision.
#[derive(Debug, Clone)]
pub struct Decided {
    pub outcome: String,
    pub code: Option<String>,
}

/// Waits for event ids to be decided (applied or refused; held is not decided yet),
/// polling the inbox for all waiters at once.
#[derive(Debug, Clone)]
pub struct Watcher {
    db: DatabaseConnection,
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<Decided>>>>,
}

impl Watcher {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            waiting: Arc::default(),
        }
    }

    pub async fn wait(&self, event_id: &str, within: Duration) -> Option<Decided> {
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(event_id.to_owned(), tx);
        let decided = tokio::time::timeout(within, rx).await.ok()?.ok();
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(event_id);
        decided
    }

    /// Polls until `stop` completes. Database errors (a restart) are waited out.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let ids: Vec<String> = self
                .waiting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .keys()
                .cloned()
                .collect();
            for chunk in ids.chunks(500) {
                match decided(&self.db, chunk).await {
                    Ok(found) => {
                        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
                        for (id, decision) in found {
                            if let Some(tx) = waiting.remove(&id) {
                                let _ = tx.send(decision);
                            }
                        }
                    }
                    Err(error) => tracing::debug!(%error, "inbox poll failed; retrying"),
                }
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

async fn decided(
    db: &DatabaseConnection,
    ids: &[String],
) -> anyhow::Result<Vec<(String, Decided)>> {
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        // A held event is not decided yet: its final outcome replaces `held`.
        "SELECT event_id, outcome, code FROM inbox WHERE event_id IN ({}) AND outcome <> 'held'",
        marks.join(", ")
    );
    let rows = db
        .query_all(Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            sql,
            ids.iter().map(|i| sea_orm::Value::from(i.clone())),
        ))
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok((
                row.try_get::<String>("", "event_id")?,
                Decided {
                    outcome: row.try_get("", "outcome")?,
                    code: row.try_get("", "code")?,
                },
            ))
        })
        .collect()
}

/// The id the engine keeps a planned step under: its own over the bus; over HTTP the id
/// is the `Idempotency-Key` scoped to the sender (`http/<agency>/<role>/<key>`).
fn stored_id(step: &Step) -> String {
    let event = &step.event;
    if step.door == Door::Bus {
        return event.id.to_string();
    }
    let role = match event.actor.kind {
        ActorKind::Assigner => "assigner",
        ActorKind::CongressOffice => "congress_office",
        _ => "agency",
    };
    EventId::from_http(&event.actor.agency, role, event.id.as_str())
        .map_or_else(|_| event.id.to_string(), |id| id.to_string())
}

/// Counters the report reads.
#[derive(Debug, Default)]
pub struct Progress {
    pub proposals: AtomicUsize,
    pub decided: AtomicU64,
    pub over_bus: AtomicU64,
    pub over_api: AtomicU64,
    /// Proposals whose driver stopped early (a step not decided as planned).
    pub stalled: AtomicUsize,
    /// Steps published over the bus right after the step before them, not waiting for its
    /// decision.
    pub streamed: AtomicU64,
}

/// A proposal the hostile inputs may aim at: assigned, with its handlers.
#[derive(Debug, Clone)]
pub struct Target {
    pub key: String,
    pub handlers: Vec<(String, TaskRole)>,
    /// An applied event of it, to replay.
    pub applied: Vec<Event>,
}

/// What the drivers share.
#[derive(Debug)]
pub struct Drive {
    pub bus: Arc<Bus>,
    pub api: Api,
    pub watcher: Watcher,
    pub ledger: Ledger,
    pub progress: Arc<Progress>,
    pub targets: Arc<Mutex<Vec<Target>>>,
    /// Nothing is waited on after this moment.
    pub give_up: Instant,
}

impl Drive {
    /// Sends a plan's steps in order, each once the one before was decided; stops at the
    /// first step not decided as planned (the audit reports it). A third of the proposals
    /// are streamed: an agency's consecutive steps over the bus go one after the other
    /// without waiting, as a system sends what happens as it happens, so that a worker
    /// handover can deliver a later one before an earlier one (the engine holds it).
    pub async fn run(&self, plan: Plan, rng: &mut Rng) {
        let streamed = rng.chance(33);
        let mut applied = Vec::new();
        // Published over the bus, decision not awaited yet: (ledger index, event id, event).
        let mut unanswered: Vec<(usize, String, Event)> = Vec::new();
        for (n, step) in plan.steps.iter().enumerate() {
            let id = step.event.id.to_string();
            let index = self.ledger.record(Sent {
                event_id: Some(stored_id(step)),
                proposal: Some(plan.key.clone()),
                door: step.door,
                hostile: false,
                what: step.event.body.name().to_owned(),
                expected: Expected::Applied(step.changes.clone()),
                answer: None,
                breached: false,
            });
            let actor = step.event.actor.agency.to_string();
            let decided = match step.door {
                Door::Bus => {
                    let content_type = if rng.chance(50) {
                        ContentType::Json
                    } else {
                        ContentType::Protobuf
                    };
                    let message = Inbound::event(&step.event, content_type, &actor);
                    if !self.bus.publish(&actor, &message, self.give_up).await {
                        self.ledger.answer(index, "never confirmed".into(), false);
                        None
                    } else {
                        self.progress.over_bus.fetch_add(1, Ordering::Relaxed);
                        unanswered.push((index, id.clone(), step.event.clone()));
                        let same_sender_next = plan.steps.get(n + 1).is_some_and(|next| {
                            next.door == Door::Bus
                                && next.event.actor.agency == step.event.actor.agency
                        });
                        if unanswered.len() > 1 {
                            self.progress.streamed.fetch_add(1, Ordering::Relaxed);
                        }
                        if streamed && same_sender_next {
                            continue;
                        }
                        self.answers(&mut unanswered).await
                    }
                }
                Door::Api => {
                    let token = self.api.tokens.get(&actor).cloned();
                    let sent = match http_request(&step.event) {
                        Ok((path, body)) => {
                            let bytes = serde_json::to_vec(&body).unwrap_or_default();
                            self.api
                                .send_until_answered(
                                    &path,
                                    token.as_deref(),
                                    Some(&id),
                                    bytes,
                                    self.give_up,
                                )
                                .await
                        }
                        Err(error) => {
                            tracing::error!(%error, "no HTTP request for a planned step");
                            None
                        }
                    };
                    self.progress.over_api.fetch_add(1, Ordering::Relaxed);
                    match sent {
                        Some(answer) => {
                            self.ledger.answer(
                                index,
                                format!("HTTP {} {}", answer.status, answer.body["code"]),
                                false,
                            );
                            (200..300)
                                .contains(&answer.status)
                                .then(|| vec![step.event.clone()])
                        }
                        None => None,
                    }
                }
            };
            let Some(decided) = decided else {
                self.progress.stalled.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(proposal = %plan.key, event = %id, "a planned step was not applied; this proposal stops here");
                return;
            };
            self.progress
                .decided
                .fetch_add(decided.len() as u64, Ordering::Relaxed);
            let first = applied.is_empty();
            applied.extend(decided);
            if first {
                self.targets
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Target {
                        key: plan.key.clone(),
                        handlers: plan.handlers.clone(),
                        applied: applied.clone(),
                    });
            } else if let Some(t) = self
                .targets
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter_mut()
                .find(|t| t.key == plan.key)
            {
                t.applied = applied.clone();
            }
        }
    }

    /// Waits for the decision of each event published and not yet answered, in the order
    /// sent; the events if every one was applied.
    async fn answers(&self, unanswered: &mut Vec<(usize, String, Event)>) -> Option<Vec<Event>> {
        let mut applied = Vec::new();
        for (index, id, event) in unanswered.drain(..) {
            let within = self.give_up.saturating_duration_since(Instant::now());
            let d = self.watcher.wait(&id, within).await?;
            self.ledger.answer(
                index,
                format!("{} {}", d.outcome, d.code.unwrap_or_default()),
                false,
            );
            if d.outcome != "applied" {
                return None;
            }
            applied.push(event);
        }
        Some(applied)
    }
}
