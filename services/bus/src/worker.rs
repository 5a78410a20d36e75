//! The worker: consumes the partition queues, applies each batch through the engine's one
//! path in one transaction, and acknowledges the batch only after the commit.
//!
//! Per partition queue (single active consumer, so one worker at a time per partition):
//!
//! 1. collect a batch: the deliveries that have arrived, up to `batch_size` (waiting up to
//!    `linger` for more, when set; by default none: while one batch commits the next one
//!    gathers in the prefetch window, so batches grow with the load on their own);
//! 2. screen each delivery without the database: retried too often, no `user-id`, a body
//!    that does not decode → a dead letter;
//! 3. identify the senders (`user-id` → registered agency and kind) and check each
//!    envelope's claims against them, and its `cohandle-proposal` header against its
//!    proposal key → a dead letter when they differ;
//! 4. record the dead letters in the database and tell their senders (confirmed);
//! 5. `Engine::apply_batch(events, Source::Bus)`: ONE transaction. While the database is
//!    unreachable, wait and try again (nothing is acknowledged meanwhile); if the batch
//!    fails for another reason, apply its events one by one and send the ones that still
//!    fail round the delayed-retry queue;
//! 6. answer the copies: an event id reused for another event is a dead letter (step 4),
//!    a copy of a refused event hears its first refusal again, marked as a repeat;
//! 7. acknowledge: one `basic.ack` with `multiple` up to the last settled delivery.
//!
//! A crash anywhere before 7 leaves the deliveries unacknowledged: the broker redelivers
//! them and the inbox recognises the ones already committed as duplicates. A lost broker
//! connection ends the session; the worker reconnects with backoff and redeclares.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cohandle_proto::{ContentType, Rejected, RejectedReason};
use cohandle_store::Recorded;
use cohandle_store::{Engine, Outcome, Source};
use cohandle_telemetry::{Metrics, Role};
use cohandle_workflows::{Event, Rejection, RejectionCode};
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use tokio::sync::watch;
use tracing::{instrument, Instrument};

use crate::connect::connect_url;
use crate::dead_letter::{self, code, retry_rounds, Ids, Refusal};
use crate::publish::{header_text, publish_confirmed};
use crate::relay::{outbound_properties, Headers};
use crate::retry::{self, stopped};
use crate::topology::{self, agency_plan, partition_queue, Topology, OUTBOUND, PROPOSAL_HEADER};
use crate::{identity, Error};

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// `amqp.url`: the broker and vhost, with the worker's credentials.
    pub url: String,
    pub topology: Topology,
    /// Unacknowledged deliveries the broker may hand each partition's channel at once.
    pub prefetch: u16,
    /// Deliveries applied in one transaction at most.
    pub batch_size: usize,
    /// How long a batch waits for more deliveries after its first (zero: it takes only
    /// what has already arrived).
    pub linger: Duration,
    /// Rounds through the retry queue after which a message is dead-lettered instead.
    pub max_retry_rounds: u64,
    /// Shown in the management UI; consumer tags derive from it.
    pub connection_name: String,
    /// Agencies (code, kind) that may send besides those in the `agencies` table; their
    /// queues are declared too.
    pub agencies: Vec<(String, String)>,
}

impl Options {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            topology: Topology::default(),
            prefetch: 500,
            batch_size: 250,
            linger: Duration::ZERO,
            max_retry_rounds: 5,
            connection_name: format!("cohandle-worker-{}", std::process::id()),
            agencies: Vec::new(),
        }
    }
}

/// What a worker has done so far: cheap to clone, read from anywhere.
#[derive(Debug, Clone, Default)]
pub struct Stats(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    sessions: AtomicU64,
    batches: AtomicU64,
    applied: AtomicU64,
    rejected: AtomicU64,
    held: AtomicU64,
    duplicates: AtomicU64,
    dead_lettered: AtomicU64,
    retried: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Broker sessions started (1 + reconnections).
    pub sessions: u64,
    pub batches: u64,
    pub applied: u64,
    pub rejected: u64,
    /// Held with their proposal on arrival (see `cohandle_store::held`): acknowledged, their
    /// final outcome decided by the engine later.
    pub held: u64,
    pub duplicates: u64,
    pub dead_lettered: u64,
    pub retried: u64,
}

impl Stats {
    pub fn snapshot(&self) -> Snapshot {
        let c = &self.0;
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        Snapshot {
            sessions: get(&c.sessions),
            batches: get(&c.batches),
            applied: get(&c.applied),
            rejected: get(&c.rejected),
            held: get(&c.held),
            duplicates: get(&c.duplicates),
            dead_lettered: get(&c.dead_lettered),
            retried: get(&c.retried),
        }
    }

    fn add(&self, counter: fn(&Counters) -> &AtomicU64, n: u64) {
        counter(&self.0).fetch_add(n, Ordering::Relaxed);
    }
}

/// The worker: `Worker::new(engine, options).run(shutdown)`.
#[derive(Debug)]
pub struct Worker {
    engine: Engine,
    directory: identity::Directory,
    options: Options,
    stats: Stats,
    metrics: Metrics,
}

/// What the screening made of one delivery.
enum Verdict {
    Event {
        event: Box<Event>,
        user: String,
    },
    Dead {
        refusal: Refusal,
        sender: Option<String>,
        ids: Ids,
    },
    /// Failed for a reason of ours: round the retry queue (broker dead-lettering).
    Retry,
    Settled,
}

impl Worker {
    pub fn new(engine: Engine, options: Options) -> Self {
        Self {
            engine,
            directory: identity::Directory::new(&options.agencies),
            options,
            stats: Stats::default(),
            metrics: Metrics::new(&[Role::Worker]),
        }
    }

    /// The same worker counting into `metrics` (the role's `/metrics`).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }

    /// Runs until `shutdown` completes: then each partition finishes the batch in hand,
    /// acknowledges it, and the connection is closed. Broker failures are retried with
    /// backoff for as long as it takes; only a configuration error ends the run early.
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
        stop: watch::Receiver<bool>,
        connected: &mut bool,
    ) -> Result<(), Error> {
        let connection = connect_url(&self.options.url, &self.options.connection_name).await?;
        *connected = true;
        self.stats.add(|c| &c.sessions, 1);
        let result = self.serve(&connection, stop).await;
        // Closing hands every unacknowledged delivery back to its queue at once.
        crate::connect::close(connection, "worker stopping").await;
        result
    }

    async fn serve(
        &self,
        connection: &Connection,
        stop: watch::Receiver<bool>,
    ) -> Result<(), Error> {
        let setup = connection.create_channel().await?;
        let mut items = self.options.topology.plan();
        let agencies = identity::declared(&self.engine, &self.options.agencies).await;
        for (code, kind) in &agencies {
            items.extend(agency_plan(code, kind));
        }
        items.extend(identity::jurisdiction_plans(&self.engine, &agencies).await);
        topology::declare(&setup, &items).await?;
        setup.close(200, "declared").await?;
        tracing::info!(partitions = self.options.topology.partitions, "consuming");
        let partitions = (0..self.options.topology.partitions).map(|n| {
            let queue = partition_queue(n);
            let span = tracing::info_span!("partition", queue = %queue);
            self.partition(connection, queue, stop.clone())
                .instrument(span)
        });
        futures::future::try_join_all(partitions).await?;
        Ok(())
    }

    async fn partition(
        &self,
        connection: &Connection,
        queue: String,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), Error> {
        let channel = connection.create_channel().await?;
        channel
            .basic_qos(self.options.prefetch, BasicQosOptions::default())
            .await?;
        // Confirms for the dead-letter copies and refusal notices sent from this channel.
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let tag = format!("{}/{queue}", self.options.connection_name);
        let mut consumer = channel
            .basic_consume(
                &queue,
                &tag,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        loop {
            let next = tokio::select! {
                biased;
                () = stopped(&mut stop) => break,
                next = consumer.next() => next,
            };
            let mut batch = vec![delivered(next, &queue)?];
            let deadline = tokio::time::Instant::now() + self.options.linger;
            while batch.len() < self.options.batch_size {
                match tokio::time::timeout_at(deadline, consumer.next()).await {
                    Ok(next) => batch.push(delivered(next, &queue)?),
                    Err(_linger_over) => break,
                }
            }
            if !self.handle(&channel, &queue, batch, &mut stop).await? {
                break;
            }
        }
        // Nothing more is delivered; whatever was prefetched but not handled goes back to
        // the queue when the channel closes.
        channel
            .basic_cancel(&tag, BasicCancelOptions::default())
            .await?;
        channel.close(200, "worker stopping").await?;
        Ok(())
    }

    /// Handles one batch. Returns false when told to stop while the database was
    /// unreachable: the batch is then left unacknowledged, for redelivery.
    #[instrument(skip_all, fields(queue = %queue, deliveries = batch.len(), first_tag = batch.first().map(|d| d.delivery_tag), last_tag = batch.last().map(|d| d.delivery_tag)))]
    async fn handle(
        &self,
        channel: &Channel,
        queue: &str,
        batch: Vec<Delivery>,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<bool, Error> {
        let mut verdicts: Vec<Verdict> = batch.iter().map(|d| self.screen(d)).collect();

        let users: BTreeSet<String> = verdicts
            .iter()
            .filter_map(|v| match v {
                Verdict::Event { user, .. } => Some(user.clone()),
                _ => None,
            })
            .collect();
        let resolved = retry::hold(stop, Error::is_transient, || {
            self.directory.resolve(&self.engine, users.iter().cloned())
        })
        .await;
        let Some(known) = resolved else {
            return Ok(false);
        };
        let known = known?;
        let claimed = verdicts.iter().filter_map(|v| match v {
            Verdict::Event { event, user } => Some((&**event, user.as_str())),
            _ => None,
        });
        let found = retry::hold(stop, Error::is_transient, || {
            identity::served_by_assigners(&self.engine, claimed.clone())
        })
        .await;
        let Some(found) = found else {
            return Ok(false);
        };
        let (registry, served) = found?;
        for (delivery, verdict) in batch.iter().zip(verdicts.iter_mut()) {
            if let Verdict::Event { event, user } = verdict {
                let checked = identity::check(event, user, known.get(user.as_str()).copied())
                    .and_then(|()| {
                        identity::may_assign(event, user, &registry, served.get(user.as_str()))
                    })
                    .and_then(|()| partition_header(delivery, event));
                if let Err(refusal) = checked {
                    *verdict = Verdict::Dead {
                        refusal,
                        sender: Some(user.clone()),
                        ids: Ids::of(event),
                    };
                }
            }
        }
        if !self
            .dead_letters(channel, queue, &batch, &mut verdicts, stop)
            .await?
        {
            return Ok(false);
        }

        let (positions, events): (Vec<usize>, Vec<Event>) = verdicts
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                Verdict::Event { event, .. } => Some((i, (**event).clone())),
                _ => None,
            })
            .unzip();
        let Some(outcomes) = self.apply(events, stop).await else {
            return Ok(false);
        };
        for (position, outcome) in positions.into_iter().zip(outcomes) {
            let delivery = &batch[position];
            let decided = std::mem::replace(&mut verdicts[position], Verdict::Settled);
            let Verdict::Event { event, user } = decided else {
                continue;
            };
            let Some(outcome) = outcome else {
                verdicts[position] = Verdict::Retry;
                continue;
            };
            tracing::debug!(
                proposal = %event.proposal, event_id = %event.id, delivery_tag = delivery.delivery_tag,
                outcome = outcome_name(&outcome), "decided"
            );
            match outcome {
                // Not a copy: another event under a decided id, refused as a dead letter.
                Outcome::Duplicate(first) if !first.same_request => {
                    verdicts[position] = Verdict::Dead {
                        refusal: Refusal::new(
                            code::EVENT_ID_REUSED,
                            format!(
                                "event id {} was already used for another event (another sender, \
                                 proposal or content); a copy with the same content is a \
                                 duplicate, another event needs an event id of its own",
                                event.id
                            ),
                        ),
                        sender: Some(user),
                        ids: Ids::of(&event),
                    };
                }
                Outcome::Duplicate(first) if !first.applied && !first.is_held() => {
                    self.stats.add(|c| &c.duplicates, 1);
                    self.metrics.duplicate(Source::Bus, event.body.name());
                    self.repeat_refusal(channel, delivery, &event, &first)
                        .await?;
                }
                outcome => self.count(&event, &outcome),
            }
        }
        if !self
            .dead_letters(channel, queue, &batch, &mut verdicts, stop)
            .await?
        {
            return Ok(false);
        }

        // Settle: the ones for the retry queue one by one, then everything else at once.
        let mut last_ack = None;
        for (delivery, verdict) in batch.iter().zip(&verdicts) {
            match verdict {
                Verdict::Retry => {
                    channel
                        .basic_nack(
                            delivery.delivery_tag,
                            BasicNackOptions {
                                multiple: false,
                                requeue: false,
                            },
                        )
                        .await?;
                    self.stats.add(|c| &c.retried, 1);
                }
                _ => last_ack = Some(delivery.delivery_tag),
            }
        }
        if let Some(tag) = last_ack {
            channel
                .basic_ack(tag, BasicAckOptions { multiple: true })
                .await?;
        }
        self.stats.add(|c| &c.batches, 1);
        Ok(true)
    }

    /// What can be decided about a delivery without the database.
    fn screen(&self, delivery: &Delivery) -> Verdict {
        let props = &delivery.properties;
        let user = props.user_id().as_ref().map(|u| u.to_string());
        let rounds = retry_rounds(props);
        if rounds >= self.options.max_retry_rounds {
            return Verdict::Dead {
                refusal: Refusal::new(
                    code::RETRIES_EXHAUSTED,
                    format!(
                        "went round the retry queue {rounds} times and still failed; see the \
                         worker's log for the error, fix it, then replay"
                    ),
                ),
                sender: user,
                ids: Ids::read(delivery),
            };
        }
        let Some(user) = user else {
            return Verdict::Dead {
                refusal: Refusal::new(
                    code::MISSING_USER_ID,
                    "the message has no user-id property: publish with user_id set to your \
                     RabbitMQ user name (the broker checks it), so that the sender is known",
                ),
                sender: None,
                ids: Ids::read(delivery),
            };
        };
        let content_type = props.content_type().as_ref().map_or("", |c| c.as_str());
        match cohandle_proto::decode(content_type, &delivery.data) {
            Ok(event) => Verdict::Event {
                event: Box::new(event),
                user,
            },
            Err(error) => Verdict::Dead {
                refusal: Refusal::malformed(&error),
                sender: Some(user),
                ids: Ids::read(delivery),
            },
        }
    }

    /// Records the batch's dead letters, tells their senders, and settles them. False when
    /// told to stop while the database was unreachable.
    async fn dead_letters(
        &self,
        channel: &Channel,
        queue: &str,
        batch: &[Delivery],
        verdicts: &mut [Verdict],
        stop: &mut watch::Receiver<bool>,
    ) -> Result<bool, Error> {
        for (delivery, verdict) in batch.iter().zip(verdicts.iter_mut()) {
            if let Verdict::Dead {
                refusal,
                sender,
                ids,
            } = verdict
            {
                if !self
                    .dead_letter(
                        channel,
                        queue,
                        delivery,
                        refusal,
                        sender.as_deref(),
                        ids,
                        stop,
                    )
                    .await?
                {
                    return Ok(false);
                }
                *verdict = Verdict::Settled;
            }
        }
        Ok(true)
    }

    /// Records a refused delivery as a dead letter and tells its sender why. False when
    /// told to stop while the database was unreachable (nothing recorded, nothing told).
    #[allow(clippy::too_many_arguments)]
    #[instrument(skip_all, fields(delivery_tag = delivery.delivery_tag, code = refusal.code, sender, event_id = ids.event_id.as_ref().map(|e| e.to_string()), proposal = ids.proposal.as_ref().map(|p| p.to_string())))]
    async fn dead_letter(
        &self,
        channel: &Channel,
        queue: &str,
        delivery: &Delivery,
        refusal: &Refusal,
        sender: Option<&str>,
        ids: &Ids,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<bool, Error> {
        let letter = dead_letter::arrived(delivery, queue, sender, refusal, ids);
        let id = letter.id.clone();
        let recorded = retry::hold(stop, Error::is_transient, || {
            dead_letter::record(&self.engine, letter.clone(), self.engine.clock().now())
        })
        .await;
        match recorded {
            None => return Ok(false),
            Some(recorded) => recorded?,
        }
        tracing::warn!(dead_letter = %id, reason = %refusal.reason, "dead-lettered");
        self.stats.add(|c| &c.dead_lettered, 1);
        self.metrics.dead_letter(refusal.code);
        // The sender hears why, on its own queue. Not an unknown sender (it has no queue)
        // nor for our own failures (it can do nothing about them).
        let Some(sender) = sender else {
            return Ok(true);
        };
        let reason = match refusal.code {
            code::MALFORMED => RejectedReason::Malformed(refusal.reason.clone()),
            code::IDENTITY_MISMATCH => RejectedReason::Refused(Rejection::new(
                RejectionCode::ActorNotAllowed,
                refusal.reason.clone(),
            )),
            code::JURISDICTION_NOT_YOURS => RejectedReason::Refused(Rejection::new(
                RejectionCode::WrongJurisdiction,
                refusal.reason.clone(),
            )),
            code::EVENT_ID_REUSED => RejectedReason::EventIdReused(refusal.reason.clone()),
            code::MISSING_PARTITION_HEADER => {
                RejectedReason::MissingPartitionHeader(refusal.reason.clone())
            }
            _ => return Ok(true),
        };
        let rejected = Rejected {
            event_id: ids.event_id.clone(),
            proposal: ids.proposal.clone(),
            reason,
            correlation_id: message_id(delivery),
            repeat: false,
        };
        answer(channel, sender, &rejected, &format!("dead-letter:{id}")).await?;
        Ok(true)
    }

    /// Answers a copy of a refused event with its first refusal, marked as a repeat: its id
    /// is used up, and the sender learns that it must send the step under a new one.
    async fn repeat_refusal(
        &self,
        channel: &Channel,
        delivery: &Delivery,
        event: &Event,
        first: &Recorded,
    ) -> Result<(), Error> {
        let code = first
            .code
            .as_deref()
            .and_then(|c| serde_json::from_value(serde_json::Value::from(c)).ok())
            .unwrap_or(RejectionCode::InvalidPayload);
        let mut rejected = Rejected::refused(event, Rejection::new(code, first.message.clone()));
        rejected.correlation_id = message_id(delivery).or(rejected.correlation_id);
        rejected.repeat = true;
        let at = self.engine.clock().now().timestamp_micros();
        tracing::info!(
            proposal = %event.proposal, event_id = %event.id, code = code.as_str(),
            "a copy of a refused event: its first refusal is answered again"
        );
        answer(
            channel,
            event.actor.agency.as_str(),
            &rejected,
            &format!("{}#repeat-{at}", event.id),
        )
        .await
    }

    /// Applies the events in one transaction. `None` when told to stop while the database
    /// was unreachable. Each `None` in the result is an event to send round the retry queue.
    async fn apply(
        &self,
        events: Vec<Event>,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<Vec<Option<Outcome>>> {
        if events.is_empty() {
            return Some(Vec::new());
        }
        let transient = cohandle_store::Error::is_transient;
        let started = tokio::time::Instant::now();
        match retry::hold(stop, transient, || {
            self.engine.apply_batch(events.clone(), Source::Bus)
        })
        .await?
        {
            Ok(outcomes) => {
                self.metrics.batch(events.len(), started.elapsed());
                return Some(outcomes.into_iter().map(Some).collect());
            }
            Err(error) => {
                tracing::error!(message = "Failed to apply a batch; applying its events one by one", %error);
            }
        }
        // The batch rolled back as a whole; find the events that fail on their own.
        let mut results = Vec::with_capacity(events.len());
        for event in events {
            let started = tokio::time::Instant::now();
            let applied = retry::hold(stop, transient, || {
                self.engine.apply(event.clone(), Source::Bus)
            })
            .await?;
            match applied {
                Ok(outcome) => {
                    self.metrics.batch(1, started.elapsed());
                    results.push(Some(outcome));
                }
                Err(error) => {
                    tracing::error!(
                        message = "Failed to apply an event; it goes round the retry queue",
                        proposal = %event.proposal, event_id = %event.id, %error
                    );
                    results.push(None);
                }
            }
        }
        Some(results)
    }

    fn count(&self, event: &Event, outcome: &Outcome) {
        self.metrics.event(Source::Bus, event.body.name(), outcome);
        match outcome {
            Outcome::Applied { .. } => self.stats.add(|c| &c.applied, 1),
            Outcome::Rejected(_) => self.stats.add(|c| &c.rejected, 1),
            Outcome::Held { .. } => self.stats.add(|c| &c.held, 1),
            Outcome::Duplicate(_) => self.stats.add(|c| &c.duplicates, 1),
        }
    }
}

/// The sender's own `message_id`, echoed in answers so that it can match them.
fn message_id(delivery: &Delivery) -> Option<String> {
    delivery
        .properties
        .message_id()
        .as_ref()
        .map(|m| m.to_string())
}

/// The `cohandle-proposal` header must name the envelope's proposal: it chooses the
/// partition, so a message without it (or with another key) could overtake an earlier
/// step of its proposal, or be overtaken. Such a message is refused before it is applied.
fn partition_header(delivery: &Delivery, event: &Event) -> Result<(), Refusal> {
    let header = header_text(&delivery.properties, PROPOSAL_HEADER);
    if header.as_deref() == Some(event.proposal.as_str()) {
        return Ok(());
    }
    let found = match &header {
        None => "has no".to_owned(),
        Some(other) => format!("has {other:?} in its"),
    };
    Err(Refusal::new(
        code::MISSING_PARTITION_HEADER,
        format!(
            "the message {found} {PROPOSAL_HEADER} header: set it to the proposalKey {:?}, which \
             keeps a proposal's events in one partition and so in the order sent; then send it \
             again (the same eventId: it was not applied)",
            event.proposal.as_str()
        ),
    ))
}

/// Publishes a refusal for `sender` on its queue and waits for the confirm.
async fn answer(
    channel: &Channel,
    sender: &str,
    rejected: &Rejected,
    message_id: &str,
) -> Result<(), Error> {
    let content_type = ContentType::Json;
    let body = cohandle_proto::encode_rejected(content_type, rejected);
    let event_id = rejected.event_id.as_ref().map(|e| e.to_string());
    let proposal = rejected.proposal.as_ref().map(|p| p.to_string());
    let properties = outbound_properties(
        crate::relay::REJECTED_TYPE,
        message_id,
        &Headers {
            proposal: proposal.as_deref(),
            event_id: event_id.as_deref(),
            correlation_id: rejected.correlation_id.as_deref(),
        },
        content_type,
    );
    publish_confirmed(
        channel,
        OUTBOUND,
        &format!("rejected.{sender}"),
        properties,
        &body,
        false,
        "a refusal notice",
    )
    .await
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Applied { .. } => "applied",
        Outcome::Rejected(_) => "rejected",
        Outcome::Held { .. } => "held",
        Outcome::Duplicate(_) => "duplicate",
    }
}

fn delivered(next: Option<Result<Delivery, lapin::Error>>, queue: &str) -> Result<Delivery, Error> {
    match next {
        Some(Ok(delivery)) => Ok(delivery),
        Some(Err(error)) => Err(error.into()),
        None => Err(Error::ConsumerCancelled(queue.to_owned())),
    }
}
