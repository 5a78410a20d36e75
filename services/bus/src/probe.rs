//! What the bus roles' `/readyz` and `/metrics` ask the broker: whether it takes a
//! connection, and how many messages are ready in each partition queue (a passive declare
//! reads the count without touching the queue). One connection of its own, opened on the
//! first question and again after it is lost, so that a probe never disturbs the role's.

use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::Connection;
use tokio::sync::Mutex;

use crate::connect::connect_url;
use crate::topology::partition_queue;
use crate::Error;

/// A question to the broker gives up after this long: a probe answers, even "no".
const PATIENCE: Duration = Duration::from_secs(3);

/// The probe's connection to `amqp.url`.
#[derive(Debug)]
pub struct Broker {
    url: String,
    name: String,
    connection: Mutex<Option<Connection>>,
}

impl Broker {
    /// `name` shows in the management UI beside the role's own connection.
    pub fn new(url: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            name: name.into(),
            connection: Mutex::new(None),
        }
    }

    /// Ok when the broker takes (or keeps) the probe's connection.
    pub async fn check(&self) -> Result<(), Error> {
        self.partition_depths(0).await.map(|_| ())
    }

    /// Messages ready in partition queues `0..partitions`, as (partition, count). A queue
    /// not declared yet (the worker declares them at its start) is left out.
    pub async fn partition_depths(&self, partitions: u16) -> Result<Vec<(u16, u32)>, Error> {
        let mut held = self.connection.lock().await;
        let asked = tokio::time::timeout(PATIENCE, async {
            let connection = match held.take() {
                Some(connection) if connection.status().connected() => connection,
                _ => connect_url(&self.url, &self.name).await?,
            };
            let connection = held.insert(connection);
            let mut depths = Vec::with_capacity(usize::from(partitions));
            for partition in 0..partitions {
                // A passive declare of a missing queue closes its channel: one per queue.
                let channel = connection.create_channel().await?;
                let declared = channel
                    .queue_declare(
                        &partition_queue(partition),
                        QueueDeclareOptions {
                            passive: true,
                            ..QueueDeclareOptions::default()
                        },
                        FieldTable::default(),
                    )
                    .await;
                if let Ok(queue) = declared {
                    depths.push((partition, queue.message_count()));
                    let _ = channel.close(200, "read").await;
                }
            }
            Ok(depths)
        })
        .await;
        let answer = asked.unwrap_or_else(|_| {
            Err(Error::Config(format!(
                "the broker did not answer within {PATIENCE:?}"
            )))
        });
        if answer.is_err() {
            // Ask again on a fresh connection next time.
            *held = None;
        }
        answer
    }
}
