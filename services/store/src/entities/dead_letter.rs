//! What a door could not take (a body that is not a message of the contract, a sender that
//! is not who it claims, an event id reused for another event, a message that failed too
//! often), kept for the operators with its reason until it is replayed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dead_letters")]
pub struct Model {
    /// A digest of sender, routing key and body: the same message arriving again is the
    /// same dead letter.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `malformed`, `missing_user_id`, `unknown_sender`, `identity_mismatch`,
    /// `event_id_reused`, `missing_partition_header`, `retries_exhausted`,
    /// `outbox_unreadable`.
    pub code: String,
    /// The reason as a sentence for a person.
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    /// The field at fault as a proto path, when one is.
    pub field: Option<String>,
    /// The validated sender (the AMQP `user-id`), when there was one.
    pub sender: Option<String>,
    pub routing_key: String,
    /// Where it was taken from: a partition queue, or `outbox`.
    pub queue: String,
    pub content_type: Option<String>,
    /// The sender's AMQP `message_id`.
    pub message_id: Option<String>,
    /// The AMQP headers as the sender set them, a JSON object of strings.
    #[sea_orm(column_type = "Text")]
    pub headers: String,
    #[sea_orm(column_type = "Blob")]
    pub body: Vec<u8>,
    /// The event id and proposal key, when they could be read.
    pub event_id: Option<String>,
    pub proposal_key: Option<String>,
    pub first_seen_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    /// How many times it arrived (a redelivery, or the sender sending it again).
    pub times_seen: i32,
    /// When a replay was decided by the engine; `None` while it waits.
    pub replayed_at: Option<DateTimeUtc>,
    /// What the replay came to.
    #[sea_orm(column_type = "Text", nullable)]
    pub replay_outcome: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
