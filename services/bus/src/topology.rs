//! The broker topology, as data: the worker and the relay declare it at start (declaring is
//! idempotent), and `deploy/rabbitmq/definitions.json` holds the same names and arguments
//! (a test loads that file into a vhost and declares this plan over it).
//!
//! ```text
//! publisher ──▶ cohandle.in (topic, key <agency>.<event>)
//!                  │ "#"
//!                  ▼
//!              cohandle.in.hash (x-consistent-hash on header cohandle-proposal)
//!                  ├──▶ cohandle.in.0 … cohandle.in.N-1   quorum, single active consumer
//!                  │        │ nack / delivery limit (broker dead-letters, at-least-once)
//!                  │        ▼
//!                  │    cohandle.retry (fanout) ──▶ cohandle.retry.wait (TTL) ──▶ back to cohandle.in
//!                  │
//! worker ──(what it cannot take, with the reason)──▶ the `dead_letters` table (no queue)
//! relay  ──▶ cohandle.out (topic) ──▶ cohandle.agency.<code>   (agency.<code>, rejected.<code>, …)
//!                  │ unroutable       └▶ cohandle.out.deputies (deputies)
//!                  ▼
//!              cohandle.out.unrouted (fanout, alternate exchange) ──▶ cohandle.out.unrouted
//! ```

use std::time::Duration;

use lapin::options::{
    ExchangeBindOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};
use tracing::instrument;

use crate::Error;

/// Where publishers send events: a topic exchange, routing key `<agency>.<event>`.
pub const INBOUND: &str = "cohandle.in";
/// Spreads events over the partition queues by the proposal key header.
pub const PARTITIONER: &str = "cohandle.in.hash";
/// The header holding the proposal key, which the partitioner hashes.
pub const PROPOSAL_HEADER: &str = "cohandle-proposal";
/// Where a failed delivery waits before it goes round again.
pub const RETRY_EXCHANGE: &str = "cohandle.retry";
pub const RETRY_QUEUE: &str = "cohandle.retry.wait";
/// Where the relay publishes notifications and rejections.
pub const OUTBOUND: &str = "cohandle.out";
/// The outbound exchange's alternate exchange and its queue: nothing is dropped unrouted.
pub const UNROUTED: &str = "cohandle.out.unrouted";
/// Notifications for deputies (routing key `deputies`), for the gateway that writes to them.
pub const DEPUTIES_QUEUE: &str = "cohandle.out.deputies";

/// The name of partition queue `n`.
pub fn partition_queue(n: u16) -> String {
    format!("{INBOUND}.{n}")
}

/// The task queue of one agency: the only queue its RabbitMQ user may read.
pub fn agency_queue(code: &str) -> String {
    format!("cohandle.agency.{code}")
}

/// The settings that shape the topology. The same values must be used by every worker and
/// by `definitions.json`: RabbitMQ refuses to redeclare a queue with other arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// How many partition queues; fixed for a deployment (changing it moves some proposals
    /// to another partition, so drain the queues first).
    pub partitions: u16,
    /// Deliveries of one message (redeliveries after a crash or a lost connection) before
    /// the broker moves it to the retry path.
    pub delivery_limit: u32,
    /// How long a message waits in the retry queue before it goes round again.
    pub retry_delay: Duration,
}

impl Default for Topology {
    fn default() -> Self {
        Self {
            partitions: 4,
            delivery_limit: 10,
            retry_delay: Duration::from_secs(5),
        }
    }
}

/// An argument value, typed so that the same plan renders as AMQP and as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Str(String),
    Int(i64),
    Bool(bool),
}

/// One thing to declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Exchange {
        name: String,
        kind: &'static str,
        args: Vec<(&'static str, Arg)>,
    },
    Queue {
        name: String,
        args: Vec<(&'static str, Arg)>,
    },
    Binding {
        source: String,
        destination: String,
        to_exchange: bool,
        key: String,
    },
}

fn s(v: &str) -> Arg {
    Arg::Str(v.to_owned())
}

fn exchange(name: &str, kind: &'static str, args: Vec<(&'static str, Arg)>) -> Item {
    Item::Exchange {
        name: name.to_owned(),
        kind,
        args,
    }
}

fn queue(name: &str, mut args: Vec<(&'static str, Arg)>) -> Item {
    // Quorum queues: replicated, and the only kind with delivery limits and at-least-once
    // dead-lettering.
    args.insert(0, ("x-queue-type", s("quorum")));
    Item::Queue {
        name: name.to_owned(),
        args,
    }
}

fn bind(source: &str, destination: &str, key: &str) -> Item {
    Item::Binding {
        source: source.to_owned(),
        destination: destination.to_owned(),
        to_exchange: false,
        key: key.to_owned(),
    }
}

impl Topology {
    /// Everything but the agency queues, in declaration order.
    pub fn plan(&self) -> Vec<Item> {
        let mut items = vec![
            exchange(INBOUND, "topic", vec![]),
            exchange(
                PARTITIONER,
                "x-consistent-hash",
                vec![("hash-header", s(PROPOSAL_HEADER))],
            ),
            Item::Binding {
                source: INBOUND.to_owned(),
                destination: PARTITIONER.to_owned(),
                to_exchange: true,
                key: "#".to_owned(),
            },
            exchange(RETRY_EXCHANGE, "fanout", vec![]),
            queue(
                RETRY_QUEUE,
                vec![
                    (
                        "x-message-ttl",
                        Arg::Int(self.retry_delay.as_millis() as i64),
                    ),
                    // Back through the front door: same routing key and headers, so the
                    // same partition.
                    ("x-dead-letter-exchange", s(INBOUND)),
                    ("x-dead-letter-strategy", s("at-least-once")),
                    ("x-overflow", s("reject-publish")),
                ],
            ),
            bind(RETRY_EXCHANGE, RETRY_QUEUE, ""),
            exchange(UNROUTED, "fanout", vec![]),
            queue(UNROUTED, vec![]),
            bind(UNROUTED, UNROUTED, ""),
            exchange(OUTBOUND, "topic", vec![("alternate-exchange", s(UNROUTED))]),
            queue(DEPUTIES_QUEUE, vec![]),
            bind(OUTBOUND, DEPUTIES_QUEUE, "deputies"),
        ];
        for n in 0..self.partitions {
            let name = partition_queue(n);
            items.push(queue(
                &name,
                vec![
                    // One consumer at a time per partition: the order of a proposal's events
                    // is the order they are applied in. Other workers wait as standbys.
                    ("x-single-active-consumer", Arg::Bool(true)),
                    ("x-delivery-limit", Arg::Int(i64::from(self.delivery_limit))),
                    ("x-dead-letter-exchange", s(RETRY_EXCHANGE)),
                    ("x-dead-letter-strategy", s("at-least-once")),
                    ("x-overflow", s("reject-publish")),
                ],
            ));
            // Equal weights: each partition takes an equal share of the hash ring.
            items.push(bind(PARTITIONER, &name, "1"));
        }
        items
    }
}

/// The queue of one agency and its bindings: its tasks and notifications
/// (`agency.<code>`), the refusals of what it sent (`rejected.<code>`), and the broadcast
/// keys of its kind (`supervisors` for proposals of no jurisdiction, `congress_office`); a
/// supervisor's jurisdictions add [`jurisdiction_bindings`].
pub fn agency_plan(code: &str, kind: &str) -> Vec<Item> {
    let name = agency_queue(code);
    let mut items = vec![
        queue(&name, vec![]),
        bind(OUTBOUND, &name, &format!("agency.{code}")),
        bind(OUTBOUND, &name, &format!("rejected.{code}")),
    ];
    match kind {
        "supervisor" => items.push(bind(OUTBOUND, &name, "supervisors")),
        "congress_office" => items.push(bind(OUTBOUND, &name, "congress_office")),
        _ => {}
    }
    items
}

/// The bindings that bring a supervisor the notifications of the jurisdictions it serves
/// and of every jurisdiction below them: the routing key carries the jurisdiction's path
/// (`supervisors.cq.cq-yz`), so one binding per jurisdiction served, `supervisors.#.cq.#`,
/// covers its whole subtree, districts registered later included.
pub fn jurisdiction_bindings(code: &str, kind: &str, served: &[String]) -> Vec<Item> {
    if kind != "supervisor" {
        return Vec::new();
    }
    let name = agency_queue(code);
    served
        .iter()
        .map(|j| bind(OUTBOUND, &name, &format!("supervisors.#.{j}.#")))
        .collect()
}

fn table(args: &[(&'static str, Arg)]) -> FieldTable {
    let mut table = FieldTable::default();
    for (key, value) in args {
        let value = match value {
            Arg::Str(v) => AMQPValue::LongString(LongString::from(v.as_bytes())),
            Arg::Int(v) => AMQPValue::LongLongInt(*v),
            Arg::Bool(v) => AMQPValue::Boolean(*v),
        };
        table.insert((*key).into(), value);
    }
    table
}

/// Declares the items in order. Idempotent; a queue that exists with other arguments makes
/// the broker close the channel with PRECONDITION_FAILED, which is returned as an error.
#[instrument(skip_all, fields(items = items.len()))]
pub async fn declare(channel: &Channel, items: &[Item]) -> Result<(), Error> {
    for item in items {
        match item {
            Item::Exchange { name, kind, args } => {
                let kind = match *kind {
                    "topic" => ExchangeKind::Topic,
                    "fanout" => ExchangeKind::Fanout,
                    "direct" => ExchangeKind::Direct,
                    other => ExchangeKind::Custom(other.to_owned()),
                };
                let options = ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                };
                channel
                    .exchange_declare(name, kind, options, table(args))
                    .await?;
            }
            Item::Queue { name, args } => {
                let options = QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                };
                channel.queue_declare(name, options, table(args)).await?;
            }
            Item::Binding {
                source,
                destination,
                to_exchange: true,
                key,
            } => {
                channel
                    .exchange_bind(
                        destination,
                        source,
                        key,
                        ExchangeBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
            }
            Item::Binding {
                source,
                destination,
                to_exchange: false,
                key,
            } => {
                channel
                    .queue_bind(
                        destination,
                        source,
                        key,
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
            }
        }
    }
    Ok(())
}

/// The plan as the `exchanges`, `queues` and `bindings` of a RabbitMQ definitions file for
/// `vhost`, so that `definitions.json` can be checked against (or regenerated from) the code.
pub fn definitions(items: &[Item], vhost: &str) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let args = |args: &[(&'static str, Arg)]| -> Value {
        let mut map = Map::new();
        for (key, value) in args {
            let value = match value {
                Arg::Str(v) => json!(v),
                Arg::Int(v) => json!(v),
                Arg::Bool(v) => json!(v),
            };
            map.insert((*key).to_owned(), value);
        }
        Value::Object(map)
    };
    let mut exchanges = Vec::new();
    let mut queues = Vec::new();
    let mut bindings = Vec::new();
    for item in items {
        match item {
            Item::Exchange {
                name,
                kind,
                args: a,
            } => exchanges.push(json!({
                "name": name, "vhost": vhost, "type": kind, "durable": true,
                "auto_delete": false, "internal": false, "arguments": args(a),
            })),
            Item::Queue { name, args: a } => queues.push(json!({
                "name": name, "vhost": vhost, "durable": true, "auto_delete": false,
                "arguments": args(a),
            })),
            Item::Binding {
                source,
                destination,
                to_exchange,
                key,
            } => bindings.push(json!({
                "source": source, "vhost": vhost, "destination": destination,
                "destination_type": if *to_exchange { "exchange" } else { "queue" },
                "routing_key": key, "arguments": {},
            })),
        }
    }
    json!({ "exchanges": exchanges, "queues": queues, "bindings": bindings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_partition_is_bound_to_the_partitioner_with_equal_weight() {
        let plan = Topology::default().plan();
        for n in 0..4 {
            assert!(plan.contains(&bind(PARTITIONER, &partition_queue(n), "1")));
        }
    }

    #[test]
    fn agencies_get_their_own_keys_and_their_kind_s_broadcasts() {
        let plan = agency_plan("cq-dc", "supervisor");
        assert!(plan.contains(&bind(OUTBOUND, "cohandle.agency.cq-dc", "agency.cq-dc")));
        assert!(plan.contains(&bind(OUTBOUND, "cohandle.agency.cq-dc", "rejected.cq-dc")));
        assert!(plan.contains(&bind(OUTBOUND, "cohandle.agency.cq-dc", "supervisors")));
        assert_eq!(agency_plan("cq-jw", "agency").len(), 3);
    }
}
