//! One page of the outbox as the relay publishes it: taken under the relay lock in a
//! transaction of its own, which marks the confirmed rows sent (and records the dead letter
//! of a row that does not read back) and commits when the page is done. A relay killed
//! mid-page leaves every row of it unsent: they go again, in order.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseTransaction, TransactionTrait};

use crate::dead_letters::{self, Arrived};
use crate::{relay, Engine, Error};

/// An outbox row not yet published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsent {
    pub id: i64,
    pub message_id: String,
    pub proposal_key: String,
    pub event_id: String,
    pub routing_key: String,
    /// The outbound message as JSON (`engine::OutboundMessage`).
    pub payload: String,
}

/// A page being published.
pub struct Page {
    txn: DatabaseTransaction,
    /// Oldest first: id order is commit order within a proposal.
    pub rows: Vec<Unsent>,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("rows", &self.rows.len())
            .finish()
    }
}

impl Page {
    /// Waits for the relay lock and takes up to `limit` unsent rows.
    pub async fn take(engine: &Engine, limit: u64) -> Result<Self, Error> {
        let txn = engine.db().begin().await?;
        relay::lock(&txn).await?;
        let rows = relay::unsent(&txn, limit)
            .await?
            .into_iter()
            .map(|row| Unsent {
                id: row.id,
                message_id: row.message_id,
                proposal_key: row.proposal_key,
                event_id: row.event_id,
                routing_key: row.routing_key,
                payload: row.payload,
            })
            .collect();
        Ok(Self { txn, rows })
    }

    /// Records the dead letter of a row that cannot be published, with the page.
    pub async fn dead_letter(&self, letter: Arrived, now: DateTime<Utc>) -> Result<(), Error> {
        dead_letters::record(&self.txn, letter, now).await
    }

    /// Marks `sent` (their confirms arrived, or their dead letters are recorded) and
    /// commits the page.
    pub async fn finish(self, sent: &[i64], now: DateTime<Utc>) -> Result<(), Error> {
        relay::mark_sent(&self.txn, sent, now).await?;
        self.txn.commit().await?;
        Ok(())
    }
}
