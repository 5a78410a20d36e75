//! What can go wrong on the bus side.

/// Why a bus role stopped or an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("broker: {0}")]
    Amqp(#[from] lapin::Error),
    #[error(transparent)]
    Store(#[from] cohandle_store::Error),
    #[error("amqp.url (COHANDLE__AMQP__URL): {0}")]
    Config(String),
    /// The broker refused (nack) or could not route a message it had to take.
    #[error("the broker did not take the message for {what}: {why}")]
    NotConfirmed { what: String, why: String },
    /// A consumer was cancelled by the broker (queue deleted, node down): reconnect.
    #[error("the broker cancelled the consumer on {0}")]
    ConsumerCancelled(String),
    #[error("{0}")]
    Replay(String),
}

impl Error {
    /// Whether reconnecting (or waiting) may help; otherwise the role stops.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Amqp(_) | Self::NotConfirmed { .. } | Self::ConsumerCancelled(_) => true,
            Self::Store(e) => waits_out(e),
            Self::Config(_) | Self::Replay(_) => false,
        }
    }
}

impl From<sea_orm::DbErr> for Error {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Store(error.into())
    }
}

/// Whether a store error is one to wait out rather than act on: the store's own transient
/// errors, and every way a lost database connection shows (a restarted or unreachable
/// server surfaces as I/O errors on pooled connections, which the store does not classify).
/// Waiting on an error that is not transient only holds a partition, with a warning each
/// time; acting on a transient one would send good events round the retry queue.
pub fn waits_out(error: &cohandle_store::Error) -> bool {
    if error.is_transient() {
        return true;
    }
    let cohandle_store::Error::Db(db) = error else {
        return false;
    };
    let text = db.to_string().to_lowercase();
    [
        "connection",
        "communicating",
        "timed out",
        "broken pipe",
        "reset by peer",
        "shutting down",
        "terminating",
        "pool",
    ]
    .iter()
    .any(|sign| text.contains(sign))
}
