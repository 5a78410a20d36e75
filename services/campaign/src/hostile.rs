//! Hostile input, each with the outcome it must have, recorded in the ledger before it is
//! sent. Over the bus: bytes that are not a message of the contract, unknown event types,
//! oversized payloads, events for proposals nobody assigned, envelopes claiming another
//! agency (and forged `user-id`s and routing keys, which the broker itself refuses),
//! replays, timestamps far in the future or the past, NUL characters. Over the API: no,
//! wrong, expired and revoked tokens; reads and writes across agencies; SQL and HTML
//! injection in text, keys and paths; oversized and deeply nested bodies.
//!
//! The decoders themselves are fuzzed by the proptests in `proto/tests/it/hostile.rs`;
//! here the same kinds of bytes go through the running worker.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use cohandle_bus::dead_letter::dead_letter_id;
use cohandle_bus::publish::Inbound;
use cohandle_proto::ContentType;
use cohandle_workflows::model::TaskRole;
use cohandle_workflows::{Actor, ActorKind, AgencyCode, Body, Event, EventId, ProposalKey};
use serde_json::json;

use crate::ledger::{Door, Expected, Ledger, Sent};
use crate::rng::Rng;
use crate::workload::{
    self, Api, Bus, Target, ASSIGNER, HANDLERS, INJECTIONS, OUTSIDER, SUPERVISOR,
};

/// Tokens that must open nothing.
#[derive(Debug, Clone)]
pub struct BadTokens {
    pub expired: String,
    pub revoked: String,
}

#[derive(Debug)]
pub struct Hostile {
    pub bus: Arc<Bus>,
    pub api: Api,
    pub ledger: Ledger,
    pub targets: Arc<Mutex<Vec<Target>>>,
    pub bad: BadTokens,
    pub run: String,
    pub rng: Rng,
    pub n: usize,
    pub give_up: Instant,
    /// The generator's catalog and calendar (the same the roles use).
    pub catalog: Arc<cohandle_workflows::Catalog>,
    pub calendar: Arc<cohandle_workflows::Calendar>,
}

fn id(text: &str) -> Option<EventId> {
    EventId::parse(text).ok()
}

impl Hostile {
    fn next_id(&mut self, what: &str) -> String {
        self.n += 1;
        format!("hostile-{}-{:05}-{what}", self.run, self.n)
    }

    fn target(&mut self) -> Option<Target> {
        let targets = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        if targets.is_empty() {
            return None;
        }
        let i = self.rng.below(targets.len());
        Some(targets[i].clone())
    }

    fn record(&self, sent: Sent) -> usize {
        self.ledger.record(sent)
    }

    fn event(
        &self,
        event_id: &str,
        proposal: &str,
        actor: &str,
        kind: ActorKind,
        body: Body,
    ) -> Option<Event> {
        Some(Event {
            id: id(event_id)?,
            proposal: ProposalKey::parse(proposal).ok()?,
            actor: Actor {
                agency: AgencyCode::parse(actor).ok()?,
                kind,
            },
            occurred_at: workload::now(),
            body,
        })
    }

    /// Publishes raw bytes as `user` and records what must become of them.
    #[allow(clippy::too_many_arguments)]
    async fn publish_raw(
        &mut self,
        what: &str,
        user: &str,
        user_id: Option<&str>,
        routing_key: String,
        proposal: &str,
        event_id: Option<String>,
        content_type: &str,
        body: Vec<u8>,
        expected: Expected,
    ) {
        let index = self.record(Sent {
            event_id: event_id.clone(),
            proposal: Some(proposal.to_owned()),
            door: Door::Bus,
            hostile: true,
            what: what.to_owned(),
            expected: expected.clone(),
            answer: None,
            breached: false,
        });
        let message = Inbound {
            routing_key,
            proposal: Some(proposal.to_owned()),
            message_id: event_id,
            user_id: user_id.unwrap_or("").to_owned(),
            content_type: content_type.to_owned(),
            body,
        };
        if expected == Expected::BrokerRefuses || user_id.is_none() {
            // Its own connection: a refusal closes the channel, and a missing user-id
            // needs properties the shared publisher would not send.
            let confirmed = match self.bus.connect(user).await {
                Ok((connection, channel)) => {
                    let mut properties = message.properties();
                    if user_id.is_none() {
                        properties = lapin::BasicProperties::default()
                            .with_content_type(content_type.into())
                            .with_delivery_mode(2)
                            .with_headers(properties.headers().clone().unwrap_or_default());
                    }
                    let result = tokio::time::timeout(
                        Duration::from_secs(10),
                        cohandle_bus::publish::publish_confirmed(
                            &channel,
                            cohandle_bus::topology::INBOUND,
                            &message.routing_key,
                            properties,
                            &message.body,
                            false,
                            "a hostile message",
                        ),
                    )
                    .await;
                    let _ = connection.close(200, "done").await;
                    matches!(result, Ok(Ok(())))
                }
                Err(_) => false,
            };
            let breached = confirmed && expected == Expected::BrokerRefuses;
            self.ledger.answer(
                index,
                if confirmed { "confirmed" } else { "refused" }.to_owned(),
                breached,
            );
            return;
        }
        let confirmed = self.bus.publish(user, &message, self.give_up).await;
        self.ledger.answer(
            index,
            if confirmed {
                "confirmed"
            } else {
                "never confirmed"
            }
            .to_owned(),
            false,
        );
    }

    async fn publish_event(
        &mut self,
        what: &str,
        user: &str,
        event: &Event,
        content_type: ContentType,
        expected: Expected,
    ) {
        let body = cohandle_proto::encode(content_type, event, &cohandle_proto::Trace::default());
        let routing_key = format!("{user}.{}", event.body.name());
        let expected = match expected {
            Expected::DeadLetter { code, .. } => Expected::DeadLetter {
                code,
                id: dead_letter_id(Some(user), &routing_key, &body),
            },
            other => other,
        };
        self.publish_raw(
            what,
            user,
            Some(user),
            routing_key,
            event.proposal.as_str(),
            Some(event.id.to_string()),
            content_type.as_str(),
            body,
            expected,
        )
        .await;
    }

    /// One hostile bus input of kind `kind` (they rotate).
    pub async fn bus(&mut self, kind: usize) {
        let user = (*self.rng.pick(&HANDLERS)).to_owned();
        let target = self.target();
        let proposal = target
            .as_ref()
            .map_or_else(|| format!("cq-ghost-{}", self.run), |t| t.key.clone());
        match kind % 12 {
            0 | 1 | 3 => {
                let (what, content_type, body) = match kind % 12 {
                    0 => {
                        let mut body = br#"{"eventId": "x", "proposalKey": "#.to_vec();
                        body.extend(self.rng.bytes(40));
                        ("malformed JSON", "application/json", body)
                    }
                    1 => {
                        let mut body = vec![0xFF, 0xFF];
                        let n = 64 + self.rng.below(400);
                        body.extend(self.rng.bytes(n));
                        ("malformed protobuf", "application/x-protobuf", body)
                    }
                    _ => {
                        let big = "大".repeat(100_000);
                        let body = json!({"schemaVersion": 1, "eventId": self.next_id("big"),
                            "proposalKey": proposal, "actorAgency": user, "actorKind": "ACTOR_KIND_AGENCY",
                            "occurredAt": workload::now(), "submitOpinion": {"documentNumber": "x", "summary": big}});
                        (
                            "oversized payload",
                            "application/json",
                            body.to_string().into_bytes(),
                        )
                    }
                };
                let routing_key = format!("{user}.submit_opinion");
                let dead = dead_letter_id(Some(&user), &routing_key, &body);
                self.publish_raw(
                    what,
                    &user,
                    Some(&user),
                    routing_key,
                    &proposal,
                    None,
                    content_type,
                    body,
                    Expected::DeadLetter {
                        code: "malformed",
                        id: dead,
                    },
                )
                .await;
            }
            2 => {
                let event_id = self.next_id("unknown-type");
                let body = json!({"schemaVersion": 1, "eventId": event_id, "proposalKey": proposal,
                    "actorAgency": user, "actorKind": "ACTOR_KIND_AGENCY", "occurredAt": workload::now(),
                    "launchMissiles": {"target": "everything"}})
                .to_string()
                .into_bytes();
                let routing_key = format!("{user}.launch_missiles");
                let dead = dead_letter_id(Some(&user), &routing_key, &body);
                self.publish_raw(
                    "unknown event type",
                    &user,
                    Some(&user),
                    routing_key,
                    &proposal,
                    Some(event_id),
                    "application/json",
                    body,
                    Expected::DeadLetter {
                        code: "malformed",
                        id: dead,
                    },
                )
                .await;
            }
            4 => {
                let event_id = self.next_id("ghost");
                let ghost = format!("cq-ghost-{}-{}", self.run, self.n);
                if let Some(event) = self.event(
                    &event_id,
                    &ghost,
                    &user,
                    ActorKind::Agency,
                    Body::Acknowledge,
                ) {
                    self.publish_event(
                        "event for an unknown proposal",
                        &user,
                        &event,
                        ContentType::Json,
                        Expected::Rejected("unknown_proposal"),
                    )
                    .await;
                }
            }
            5 => {
                // Published by `user`, claiming to be one of the target's handlers.
                let Some(t) = target else { return };
                let Some((victim, _)) = t.handlers.iter().find(|(h, _)| *h != user).cloned() else {
                    return;
                };
                let event_id = self.next_id("impostor");
                if let Some(event) =
                    self.event(&event_id, &t.key, &victim, ActorKind::Agency, Body::SignFor)
                {
                    self.publish_event(
                        "envelope claims another agency",
                        &user,
                        &event,
                        ContentType::Json,
                        Expected::DeadLetter {
                            code: "identity_mismatch",
                            id: String::new(),
                        },
                    )
                    .await;
                }
            }
            6 | 7 => {
                let Some(t) = target else { return };
                let Some((victim, _)) = t.handlers.iter().find(|(h, _)| *h != user).cloned() else {
                    return;
                };
                let event_id = self.next_id("forged");
                let Some(event) =
                    self.event(&event_id, &t.key, &victim, ActorKind::Agency, Body::SignFor)
                else {
                    return;
                };
                let body = cohandle_proto::encode_json(&event);
                let (what, user_id, routing_key) = if kind % 12 == 6 {
                    (
                        "forged user-id (another agency's)",
                        victim.clone(),
                        format!("{user}.sign_for"),
                    )
                } else {
                    (
                        "routing key of another agency",
                        user.clone(),
                        format!("{victim}.sign_for"),
                    )
                };
                self.publish_raw(
                    what,
                    &user,
                    Some(&user_id),
                    routing_key,
                    &t.key,
                    Some(event_id),
                    "application/json",
                    body,
                    Expected::BrokerRefuses,
                )
                .await;
            }
            8 => {
                let Some(t) = target else { return };
                let Some(old) = t.applied.get(self.rng.below(t.applied.len())).cloned() else {
                    return;
                };
                let sender = old.actor.agency.to_string();
                self.publish_event(
                    "replay of an old event",
                    &sender,
                    &old,
                    ContentType::Protobuf,
                    Expected::Duplicate,
                )
                .await;
            }
            9 | 10 => {
                let Some(t) = target else { return };
                let (handler, role) = t.handlers[self.rng.below(t.handlers.len())].clone();
                let body = if role == TaskRole::CoHandler {
                    Body::Acknowledge
                } else {
                    Body::SignFor
                };
                let future = kind % 12 == 9;
                let event_id = self.next_id(if future { "future" } else { "past" });
                let Some(mut event) =
                    self.event(&event_id, &t.key, &handler, ActorKind::Agency, body)
                else {
                    return;
                };
                event.occurred_at = if future {
                    workload::now() + chrono::Duration::days(30)
                } else {
                    Utc.with_ymd_and_hms(2001, 1, 1, 0, 0, 0)
                        .single()
                        .unwrap_or_else(workload::now)
                };
                self.publish_event(
                    if future {
                        "timestamp 30 days in the future"
                    } else {
                        "timestamp in 2001, before the assignment"
                    },
                    &handler,
                    &event,
                    ContentType::Json,
                    Expected::Rejected("clock_skew"),
                )
                .await;
            }
            _ => {
                // A NUL character in a text field: no stored text may hold one.
                let event_id = self.next_id("nul");
                let key = format!("cq-nul-{}-{}", self.run, self.n);
                let Some(mut event) = self.nul_assignment(&event_id, &key) else {
                    return;
                };
                event.actor.agency = match AgencyCode::parse(ASSIGNER) {
                    Ok(a) => a,
                    Err(_) => return,
                };
                self.publish_event(
                    "NUL character in a text field",
                    ASSIGNER,
                    &event,
                    ContentType::Json,
                    Expected::Rejected("invalid_payload"),
                )
                .await;
            }
        }
    }

    fn nul_assignment(&mut self, event_id: &str, key: &str) -> Option<Event> {
        let mut rng = self.rng.fork();
        let plan = match workload::plan(&mut rng, &self.run, 0, &self.catalog, &self.calendar) {
            Ok(plan) => plan,
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "cannot build the NUL assignment");
                return None;
            }
        };
        let mut event = plan.steps.first()?.event.clone();
        event.id = id(event_id)?;
        event.proposal = ProposalKey::parse(key).ok()?;
        if let Body::Assign(a) = &mut event.body {
            a.info.title = "标题\u{0}'; DROP TABLE proposals; --".to_owned();
        }
        Some(event)
    }

    #[allow(clippy::too_many_arguments)]
    async fn http(
        &mut self,
        what: &str,
        method: reqwest::Method,
        path: &str,
        token: Option<String>,
        key: Option<String>,
        body: Option<Vec<u8>>,
        expected: Expected,
    ) {
        let index = self.record(Sent {
            event_id: key.clone(),
            proposal: None,
            door: Door::Api,
            hostile: true,
            what: what.to_owned(),
            expected: expected.clone(),
            answer: None,
            breached: false,
        });
        let mut wait = Duration::from_millis(100);
        let answer = loop {
            match self
                .api
                .send(
                    method.clone(),
                    path,
                    token.as_deref(),
                    key.as_deref(),
                    body.clone(),
                )
                .await
            {
                // The database restarting answers 503: the request is tried again, as a
                // client would; any other answer is the answer.
                Ok(a) if a.status == 503 && Instant::now() < self.give_up => {}
                Ok(a) => break Some(a),
                Err(_) if Instant::now() < self.give_up => {}
                Err(_) => break None,
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        };
        let Some(answer) = answer else {
            self.ledger.answer(index, "no answer".to_owned(), false);
            return;
        };
        let breached = match &expected {
            Expected::HttpRefused(allowed) => {
                (200..300).contains(&answer.status) || !allowed.contains(&answer.status)
            }
            _ => answer.status >= 500,
        };
        self.ledger.answer(
            index,
            format!("HTTP {} {}", answer.status, answer.body["code"]),
            breached && (200..300).contains(&answer.status),
        );
    }

    /// One hostile API input of kind `kind` (they rotate).
    pub async fn api(&mut self, kind: usize) {
        let Some(t) = self.target() else { return };
        let tokens = self.api.tokens.clone();
        let token = |agency: &str| tokens.get(agency).cloned();
        let handler = t.handlers[0].0.clone();
        let step = |key: &str| format!("/v1/proposals/{key}/sign-for");
        let empty = Some(b"{}".to_vec());
        let refused = |codes: &[u16]| Expected::HttpRefused(codes.to_vec());
        let post = reqwest::Method::POST;
        let get = reqwest::Method::GET;
        match kind % 14 {
            0 => {
                let key = self.next_id("no-token");
                self.http(
                    "write without a token",
                    post,
                    &step(&t.key),
                    None,
                    Some(key),
                    empty,
                    refused(&[401]),
                )
                .await;
            }
            1..=3 => {
                let (what, label, token) = match kind % 14 {
                    1 => (
                        "wrong-token",
                        "write with a wrong token",
                        hex_of(&self.rng.bytes(32)),
                    ),
                    2 => (
                        "expired-token",
                        "write with an expired token",
                        self.bad.expired.clone(),
                    ),
                    _ => (
                        "revoked-token",
                        "write with a revoked token",
                        self.bad.revoked.clone(),
                    ),
                };
                let key = self.next_id(what);
                self.http(
                    label,
                    post,
                    &step(&t.key),
                    Some(token),
                    Some(key),
                    empty,
                    refused(&[401]),
                )
                .await;
            }
            4 => {
                let path = format!("/v1/proposals/{}", t.key);
                self.http(
                    "read another agency's proposal",
                    get,
                    &path,
                    token(OUTSIDER),
                    None,
                    None,
                    refused(&[403]),
                )
                .await;
            }
            5 => {
                let path = format!("/v1/proposals/{}/tasks/{handler}", t.key);
                self.http(
                    "read another agency's task",
                    get,
                    &path,
                    token(OUTSIDER),
                    None,
                    None,
                    refused(&[403]),
                )
                .await;
            }
            6 => {
                let key = self.next_id("cross-write");
                self.http(
                    "write to another agency's proposal",
                    post,
                    &step(&t.key),
                    token(OUTSIDER),
                    Some(key),
                    empty,
                    refused(&[403]),
                )
                .await;
            }
            7 => {
                // A co-handler (or the other split handler) doing the lead's step, or the
                // lead acknowledging as if it were a co-handler: inside the proposal, wrong part.
                let other = t
                    .handlers
                    .iter()
                    .find(|(h, _)| *h != handler)
                    .map(|(h, _)| h.clone());
                let key = self.next_id("wrong-part");
                let path = format!("/v1/proposals/{}/opinion", t.key);
                let body =
                    serde_json::to_vec(&json!({"document_number": "x", "summary": INJECTIONS[0]}))
                        .ok();
                let who = other.unwrap_or(handler);
                let refusal = if t
                    .handlers
                    .iter()
                    .any(|(h, r)| *h == who && *r == TaskRole::CoHandler)
                {
                    // A co-handler's own opinion is its part: sent twice it is refused by state
                    // at worst. Aim at the lead's step instead.
                    return self.http("co-handler signs the lead's reply", post, &format!("/v1/proposals/{}/signature", t.key), token(&who), Some(key),
                        serde_json::to_vec(&json!({"signer": "x", "title": "x", "principal_head": true, "signed_on": "2026-01-01"})).ok(),
                        refused(&[403, 409, 422])).await;
                } else {
                    refused(&[403, 409, 422])
                };
                self.http(
                    "lead sends a co-handler's opinion",
                    post,
                    &path,
                    token(&who),
                    Some(key),
                    body,
                    refusal,
                )
                .await;
            }
            8 => {
                let key = self.next_id("supervisor-write");
                let path = format!("/v1/proposals/{}/acknowledgement", t.key);
                self.http(
                    "supervisor writes",
                    post,
                    &path,
                    token(SUPERVISOR),
                    Some(key),
                    empty,
                    refused(&[403]),
                )
                .await;
            }
            9 => {
                let key = format!("x'; DROP TABLE inbox; --{}", self.n);
                self.n += 1;
                self.http(
                    "SQL injection in the Idempotency-Key",
                    post,
                    &step(&t.key),
                    token(&handler),
                    Some(key),
                    empty,
                    refused(&[400]),
                )
                .await;
            }
            10 => {
                let path = "/v1/proposals/cq-1'%20OR%20'1'%3D'1/tasks/%3Cscript%3E/feedback";
                let key = self.next_id("path-injection");
                self.http(
                    "SQL and HTML injection in the path",
                    post,
                    path,
                    token(workload::CONGRESS_OFFICE),
                    Some(key),
                    empty,
                    refused(&[400, 403, 404, 422]),
                )
                .await;
                let query = "/v1/deadlines?agency=cq-kjj'%20OR%201=1--&overdue=%3Cscript%3E";
                self.http(
                    "SQL injection in a query",
                    get,
                    query,
                    token(OUTSIDER),
                    None,
                    None,
                    refused(&[400, 403, 422]),
                )
                .await;
            }
            11 => {
                let key = self.next_id("agency-injection");
                let mut body = json!({"key": format!("cq-inj-{}-{}", self.run, self.n), "definition": workload::DEFINITION,
                    "info": {"kind": "deputy_suggestion", "number": "1", "session": "s", "title": INJECTIONS[1],
                        "lead_deputy": "x", "submitted_on": "2026-01-01", "disclosure_consent": "full_text"},
                    "mode": "sole", "handlers": [{"agency": "cq-kjj'; DROP TABLE tasks; --", "role": "lead"}],
                    "assigned_on": "2026-01-02"});
                body["info"]["category"] = json!(INJECTIONS[2]);
                self.http(
                    "SQL injection in an agency code",
                    post,
                    "/v1/proposals",
                    token(ASSIGNER),
                    Some(key),
                    serde_json::to_vec(&body).ok(),
                    refused(&[400, 422]),
                )
                .await;
            }
            12 => {
                let key = self.next_id("oversized");
                let body = serde_json::to_vec(
                    &json!({"document_number": "x", "summary": "大".repeat(40_000)}),
                )
                .ok();
                let path = format!("/v1/proposals/{}/opinion", t.key);
                self.http(
                    "oversized body",
                    post,
                    &path,
                    token(&handler),
                    Some(key),
                    body,
                    refused(&[413]),
                )
                .await;
                let key = self.next_id("nested");
                let depth = 20_000;
                let mut nested = String::from(r#"{"document_number": "x", "summary": "#);
                nested.push_str(&"[".repeat(depth));
                nested.push_str(&"]".repeat(depth));
                nested.push('}');
                self.http(
                    "deeply nested body",
                    reqwest::Method::POST,
                    &path,
                    token(&handler),
                    Some(key),
                    Some(nested.into_bytes()),
                    refused(&[400, 422]),
                )
                .await;
            }
            _ => {
                let key = self.next_id("nul");
                let proposal = format!("cq-nul-api-{}-{}", self.run, self.n);
                if let Some(event) = self.nul_assignment(&key, &proposal) {
                    if let Ok((path, body)) = workload::http_request(&event) {
                        self.http(
                            "NUL character in a text field",
                            post,
                            &path,
                            token(ASSIGNER),
                            Some(key),
                            serde_json::to_vec(&body).ok(),
                            refused(&[422]),
                        )
                        .await;
                    }
                }
            }
        }
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
