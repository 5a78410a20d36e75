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
    /// One message went unconfirmed `attempts` times in a row (`amqp.publish_attempts`):
    /// nacked, or its connection lost before the confirm, each time.
    #[error("gave up on {what} after {attempts} attempt(s) in a row, each nacked or cut off before the broker confirmed it (the last: {why}); the broker or its cluster does not take messages: see its logs (amqp.publish_attempts, COHANDLE__AMQP__PUBLISH_ATTEMPTS, is the bound)")]
    Unconfirmed {
        what: String,
        attempts: u32,
        why: String,
    },
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
            Self::Amqp(error) => broker_transient(error),
            Self::NotConfirmed { .. } | Self::ConsumerCancelled(_) => true,
            Self::Store(error) => error.is_transient(),
            Self::Config(_) | Self::Replay(_) | Self::Unconfirmed { .. } => false,
        }
    }
}

impl Error {
    /// Whether the broker refused the request itself (no right to it, nothing by that
    /// name, a property or size it does not take): the same message would be refused again,
    /// on any node. A nack and a lost connection are not refusals.
    pub fn is_refusal(&self) -> bool {
        use lapin::protocol::{
            AMQPErrorKind as Kind, AMQPHardError as Hard, AMQPSoftError as Soft,
        };
        let Self::Amqp(lapin::Error::ProtocolError(error)) = self else {
            return false;
        };
        matches!(
            error.kind(),
            Kind::Soft(
                Soft::ACCESSREFUSED
                    | Soft::NOTFOUND
                    | Soft::PRECONDITIONFAILED
                    | Soft::CONTENTTOOLARGE
            ) | Kind::Hard(Hard::NOTALLOWED | Hard::COMMANDINVALID | Hard::SYNTAXERROR)
        )
    }
}

/// Whether a broker error is one a new connection may cure, by its variant: the connection
/// or channel went away (a broker restart, the network, a missed heartbeat), or the broker
/// closed it (`connection-forced` on a restart, a queue deleted under a consumer). A
/// broker speaking another protocol version, or a frame we cannot write, would only come
/// back.
fn broker_transient(error: &lapin::Error) -> bool {
    use lapin::Error as E;
    !matches!(
        error,
        E::InvalidProtocolVersion(_) | E::SerialisationError(_)
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_lost_broker_is_waited_out_and_a_foreign_protocol_is_not() {
        let lost = lapin::Error::IOError(Arc::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert!(Error::Amqp(lost).is_transient());
        assert!(Error::Amqp(lapin::Error::MissingHeartbeatError).is_transient());
        assert!(Error::ConsumerCancelled("q".into()).is_transient());
        assert!(!Error::Config("x".into()).is_transient());
        assert!(!Error::Store(cohandle_store::Error::Corrupt("x".into())).is_transient());
        assert!(Error::Store(cohandle_store::Error::Conflict).is_transient());
    }
}
