//! The outbox relay: publishes the rows the engine wrote to `outbox` (in the same
//! transaction as the change that caused them) to `cohandle.out`, with publisher confirms,
//! and marks them sent only once the broker has confirmed them.
//!
//! A page is read in id order under a database lock (one relay publishes at a time, so
//! pages never overtake each other), published on one channel (the broker keeps a
//! channel's order), confirmed, marked, committed. A crash before the mark publishes the
//! page again after the restart; every message carries the outbox `message_id`, so
//! consumers drop the copies. Nothing is marked sent that the broker did not confirm.
//!
//! A nack and a connection lost before the confirm are one and the same to the relay: the
//! rows confirmed before it are marked, and from the first unconfirmed one the page goes
//! again, after a wait, on a new connection (to the first node of `amqp.url` that answers),
//! up to `publish_attempts` times in a row for one message; then the relay stops with
//! [`Error::Unconfirmed`], naming it.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cohandle_proto::{ContentType, OutboundNotification, Rejected, RejectedReason};
use cohandle_store::outbox::{OutboundBody, OutboundMessage};
use cohandle_store::outbox_page::{Page, Unsent};
use cohandle_store::Engine;
use cohandle_telemetry::{Metrics, Role};
use cohandle_workflows::{EventId, ProposalKey};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Channel};
use tokio::sync::watch;
use tracing::instrument;

use crate::connect::connect_url;
use crate::dead_letter::{self, code, Refusal};
use crate::publish::{long_string, Attempts, DEFAULT_PUBLISH_ATTEMPTS, PERSISTENT};
use crate::retry::{self, stopped};
use crate::topology::{self, agency_plan, Topology, OUTBOUND, PROPOSAL_HEADER};
use crate::{identity, Error};

/// The header naming the event that caused an outbound message.
pub const EVENT_ID_HEADER: &str = "cohandle-event-id";
/// The header echoing the refused message's own `message_id` on a `Rejected`.
pub const CORRELATION_HEADER: &str = "cohandle-correlation-id";

/// The headers of an outbound message; every one is sent, empty when unknown (a message
/// whose ids could not be read), so a consumer can always read them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Headers<'a> {
    pub proposal: Option<&'a str>,
    pub event_id: Option<&'a str>,
    /// Set on a `Rejected`: the refused message's `message_id`.
    pub correlation_id: Option<&'a str>,
}

/// How a relay behaves.
#[derive(Debug, Clone)]
pub struct Options {
    pub url: String,
    pub topology: Topology,
    /// Rows published and confirmed per transaction.
    pub page: u64,
    /// Pause between polls when the outbox is empty.
    pub idle: Duration,
    /// The encoding of outbound messages (the AMQP `content_type` says which).
    pub content_type: ContentType,
    pub connection_name: String,
    /// Agencies (code, kind) whose queues to declare besides those in the `agencies` table.
    pub agencies: Vec<(String, String)>,
    /// Attempts of one message, each nacked or cut off, before the relay gives up.
    pub publish_attempts: u32,
}

impl Options {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            topology: Topology::default(),
            page: 500,
            idle: Duration::from_millis(200),
            content_type: ContentType::Json,
            connection_name: format!("cohandle-relay-{}", std::process::id()),
            agencies: Vec::new(),
            publish_attempts: DEFAULT_PUBLISH_ATTEMPTS,
        }
    }
}

/// Messages published and confirmed so far.
#[derive(Debug, Clone, Default)]
pub struct Stats(Arc<AtomicU64>);

impl Stats {
    pub fn published(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// How often the relay binds the supervisors' queues to their jurisdictions again.
const BIND_AGAIN: Duration = Duration::from_secs(60);

/// The relay: `Relay::new(engine, options).run(shutdown)`.
#[derive(Debug)]
pub struct Relay {
    engine: Engine,
    options: Options,
    stats: Stats,
    metrics: Metrics,
    attempts: tokio::sync::Mutex<Attempts>,
}

impl Relay {
    pub fn new(engine: Engine, options: Options) -> Self {
        Self {
            attempts: tokio::sync::Mutex::new(Attempts::new(options.publish_attempts)),
            engine,
            options,
            stats: Stats::default(),
            metrics: Metrics::new(&[Role::Relay]),
        }
    }

    /// The same relay counting into `metrics` (the role's `/metrics`).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }

    /// Publishes until `shutdown` completes (the page in hand is finished first).
    /// Broker and database failures are waited out with backoff.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let this = &self;
        retry::run_until(shutdown, move |stop| async move {
            let mut connected = false;
            let result = this.session(stop, &mut connected).await;
            retry::Session { result, connected }
        })
        .await
    }

    async fn session(
        &self,
        mut stop: watch::Receiver<bool>,
        connected: &mut bool,
    ) -> Result<(), Error> {
        let connection = connect_url(&self.options.url, &self.options.connection_name).await?;
        *connected = true;
        let result =
            async {
                let channel = connection.create_channel().await?;
                let mut items = self.options.topology.plan();
                let mut declared = HashSet::new();
                let agencies = identity::declared(&self.engine, &self.options.agencies).await;
                for (code, kind) in &agencies {
                    items.extend(agency_plan(code, kind));
                    declared.insert(code.clone());
                }
                items.extend(identity::jurisdiction_plans(&self.engine, &agencies).await);
                topology::declare(&channel, &items).await?;
                let declared = tokio::sync::Mutex::new(declared);
                channel
                    .confirm_select(ConfirmSelectOptions::default())
                    .await?;
                let mut bound_at = Instant::now();
                loop {
                    if bound_at.elapsed() >= BIND_AGAIN {
                        self.bind_supervisors(&channel).await?;
                        bound_at = Instant::now();
                    }
                    let passed = retry::hold(&mut stop, |error: &Error| {
                    matches!(error, Error::Store(store) if store.is_transient())
                }, || self.pass(&channel, &declared))
                .await;
                    let pause = match passed {
                        None => break,
                        Some(Ok(published)) if published as u64 >= self.options.page => continue,
                        Some(Ok(_)) => self.options.idle,
                        Some(Err(error)) => return Err(error),
                    };
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = stopped(&mut stop) => break,
                    }
                }
                // An idle relay learns of a lost connection only at its next publish: at
                // the stop, with nothing left to publish, a closed channel is no failure.
                if let Err(error) = channel.close(200, "relay stopping").await {
                    tracing::debug!(%error, "closing the relay's channel");
                }
                Ok(())
            }
            .await;
        crate::connect::close(connection, "relay stopping").await;
        result
    }

    /// Binds the supervisors' queues again to the jurisdictions they serve now, so that a
    /// supervisor that joined a jurisdiction gets its notifications without a restart.
    async fn bind_supervisors(&self, channel: &Channel) -> Result<(), Error> {
        let supervisors: Vec<(String, String)> =
            identity::declared(&self.engine, &self.options.agencies)
                .await
                .into_iter()
                .filter(|(_, kind)| kind == "supervisor")
                .collect();
        let mut items: Vec<_> = supervisors
            .iter()
            .flat_map(|(code, kind)| agency_plan(code, kind))
            .collect();
        items.extend(identity::jurisdiction_plans(&self.engine, &supervisors).await);
        topology::declare(channel, &items).await
    }

    /// Publishes one page of unsent rows; returns how many were confirmed and marked.
    #[instrument(skip_all)]
    pub async fn pass(
        &self,
        channel: &Channel,
        declared: &tokio::sync::Mutex<HashSet<String>>,
    ) -> Result<usize, Error> {
        let page = Page::take(&self.engine, self.options.page).await?;
        let now = self.engine.clock().now();
        if page.rows.is_empty() {
            page.finish(&[], now).await?;
            return Ok(0);
        }
        let rows = &page.rows;
        let mut declared = declared.lock().await;
        // A queue for every agency addressed, before its first message: an agency named
        // only in an assignment (or a reassignment) gets its tasks from the start.
        for row in rows {
            if let Some(code) = addressed_agency(&row.routing_key) {
                if declared.insert(code.to_owned()) {
                    topology::declare(channel, &agency_plan(code, "agency")).await?;
                }
            }
        }
        let mut pending = Vec::with_capacity(rows.len());
        let mut confirmed = Vec::with_capacity(rows.len());
        let mut dead_lettered = 0;
        // The first row the broker did not confirm, and why: the rest of the page goes
        // again after it, in order, on a new connection.
        let mut unconfirmed: Option<(i64, String, String)> = None;
        for row in rows {
            match outbound(row, self.options.content_type) {
                Ok((properties, body)) => {
                    let published = channel
                        .basic_publish(
                            OUTBOUND,
                            &row.routing_key,
                            BasicPublishOptions::default(),
                            &body,
                            properties,
                        )
                        .await;
                    match published {
                        Ok(confirm) => pending.push((row, confirm)),
                        Err(error) => {
                            let why = format!("the connection was lost ({error})");
                            unconfirmed = Some((row.id, row.message_id.clone(), why));
                            break;
                        }
                    }
                }
                Err(why) => {
                    // Never skipped silently: an unreadable row becomes a dead letter, in
                    // the transaction that marks it done.
                    tracing::error!(message = "Outbox row does not read back; dead-lettering it", outbox_id = row.id, message_id = %row.message_id, %why);
                    let refusal = Refusal::new(code::OUTBOX_UNREADABLE, why);
                    page.dead_letter(unreadable(row, &refusal), now).await?;
                    confirmed.push(row.id);
                    dead_lettered += 1;
                }
            }
        }
        // Those published before a failure are confirmed (and marked) first: what the
        // broker took is not published again.
        for (row, confirm) in pending {
            let why = match confirm.await {
                Ok(Confirmation::Ack(_) | Confirmation::NotRequested) => {
                    confirmed.push(row.id);
                    continue;
                }
                Ok(Confirmation::Nack(_)) => "the broker nacked it".to_owned(),
                Err(error) => format!("the connection was lost before the confirm ({error})"),
            };
            unconfirmed = Some((row.id, row.message_id.clone(), why));
            break;
        }
        drop(declared);
        page.finish(&confirmed, now).await?;
        for _ in 0..dead_lettered {
            self.metrics.dead_letter(code::OUTBOX_UNREADABLE);
        }
        self.stats
            .0
            .fetch_add(confirmed.len() as u64, Ordering::Relaxed);
        tracing::debug!(published = confirmed.len(), "outbox page published");
        let mut attempts = self.attempts.lock().await;
        let Some((id, message_id, why)) = unconfirmed else {
            attempts.confirmed();
            return Ok(confirmed.len());
        };
        // A nack and a lost connection alike: wait, then the same message again on a new
        // connection (perhaps to another node), up to `publish_attempts` times in a row.
        let what = || format!("outbox row {id} (message_id {message_id})");
        let wait = attempts.failed(&message_id, what, &why)?;
        drop(attempts);
        tokio::time::sleep(wait).await;
        Err(Error::NotConfirmed { what: what(), why })
    }
}

/// The agency whose queue a routing key reaches (`agency.<code>`, `rejected.<code>`).
fn addressed_agency(routing_key: &str) -> Option<&str> {
    routing_key
        .strip_prefix("agency.")
        .or_else(|| routing_key.strip_prefix("rejected."))
        .filter(|code| !code.is_empty())
}

/// The AMQP `type` of a refusal.
pub const REJECTED_TYPE: &str = "cohandle.v1.Rejected";

/// The properties of a message on `cohandle.out`: `type` names the message
/// (`cohandle.v1.Notification` or `cohandle.v1.Rejected`), `message_id` is unique per
/// message (consumers drop duplicates by it), headers carry the proposal and the event
/// (and on a `Rejected`, the refused message's own id).
pub fn outbound_properties(
    type_name: &str,
    message_id: &str,
    ids: &Headers<'_>,
    content_type: ContentType,
) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        PROPOSAL_HEADER.into(),
        long_string(ids.proposal.unwrap_or_default()),
    );
    headers.insert(
        EVENT_ID_HEADER.into(),
        long_string(ids.event_id.unwrap_or_default()),
    );
    if type_name == REJECTED_TYPE {
        headers.insert(
            CORRELATION_HEADER.into(),
            long_string(ids.correlation_id.unwrap_or_default()),
        );
    }
    BasicProperties::default()
        .with_content_type(ShortString::from(content_type.as_str()))
        .with_delivery_mode(PERSISTENT)
        .with_message_id(ShortString::from(message_id))
        .with_type(ShortString::from(type_name))
        .with_app_id(ShortString::from("cohandle"))
        .with_headers(headers)
}

/// The wire form of an outbox row.
fn outbound(row: &Unsent, content_type: ContentType) -> Result<(BasicProperties, Vec<u8>), String> {
    let message: OutboundMessage =
        serde_json::from_str(&row.payload).map_err(|e| format!("payload: {e}"))?;
    let proposal = ProposalKey::parse(message.proposal.clone()).map_err(|e| e.to_string())?;
    let event_id = EventId::parse(message.event_id.clone()).map_err(|e| e.to_string())?;
    let (type_name, body) = match message.body {
        OutboundBody::Notification(notification) => (
            "cohandle.v1.Notification",
            cohandle_proto::encode_notification(
                content_type,
                &OutboundNotification {
                    proposal,
                    event_id,
                    notification,
                },
            ),
        ),
        OutboundBody::Rejected(rejection) => (
            REJECTED_TYPE,
            cohandle_proto::encode_rejected(
                content_type,
                &Rejected {
                    correlation_id: Some(event_id.to_string()),
                    event_id: Some(event_id),
                    proposal: Some(proposal),
                    reason: RejectedReason::Refused(rejection),
                    repeat: false,
                },
            ),
        ),
    };
    let properties = outbound_properties(
        type_name,
        &row.message_id,
        &Headers {
            proposal: Some(&row.proposal_key),
            event_id: Some(&row.event_id),
            // A workflow refusal is decided after the message was read; its id is the
            // event id, which the contract asks senders to use as their `message_id`.
            correlation_id: Some(&row.event_id),
        },
        content_type,
    );
    Ok((properties, body))
}

/// The dead letter of an outbox row that does not read back.
fn unreadable(row: &Unsent, refusal: &Refusal) -> cohandle_store::dead_letters::Arrived {
    cohandle_store::dead_letters::Arrived {
        id: dead_letter::dead_letter_id(None, &row.routing_key, row.payload.as_bytes()),
        code: refusal.code.to_owned(),
        reason: refusal.reason.clone(),
        field: None,
        sender: None,
        routing_key: row.routing_key.clone(),
        queue: "outbox".to_owned(),
        content_type: Some("application/json".to_owned()),
        message_id: Some(row.message_id.clone()),
        headers: serde_json::json!({}),
        body: row.payload.clone().into_bytes(),
        event_id: Some(row.event_id.clone()),
        proposal_key: Some(row.proposal_key.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agency_and_rejected_keys_name_a_queue_others_do_not() {
        assert_eq!(addressed_agency("agency.cq-jw"), Some("cq-jw"));
        assert_eq!(addressed_agency("rejected.cq-czj"), Some("cq-czj"));
        assert_eq!(addressed_agency("supervisors"), None);
        assert_eq!(addressed_agency("agency."), None);
    }
}
