use sea_orm::{DbErr, SqlErr};

/// What can go wrong below the domain: the database, or stored data that does not parse.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database: {0}")]
    Db(DbErr),
    /// Another writer changed the proposal first; the engine retries.
    #[error("the proposal changed while the event was being applied")]
    Conflict,
    #[error("gave up after {0} attempts, each overtaken by a concurrent change")]
    TooManyConflicts(u32),
    #[error("stored data does not read back: {0}")]
    Corrupt(String),
    #[error("{setting}: {message}")]
    Config {
        setting: &'static str,
        message: String,
    },
}

impl From<DbErr> for Error {
    fn from(error: DbErr) -> Self {
        // A unique key taken by a concurrent writer means we lost a race: retry.
        match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Error::Conflict,
            // PostgreSQL's deadlock_detected and serialization_failure: retry as well.
            _ if ["40P01", "40001"]
                .iter()
                .any(|code| error.to_string().contains(code)) =>
            {
                Error::Conflict
            }
            _ if error.to_string().contains("deadlock detected") => Error::Conflict,
            _ => Error::Db(error),
        }
    }
}

impl Error {
    /// Whether waiting and trying again may succeed (the database is down or busy).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Db(DbErr::Conn(_) | DbErr::ConnectionAcquire(_))
                | Error::Conflict
                | Error::TooManyConflicts(_)
        ) || matches!(self, Error::Db(e) if lost_connection(&e.to_string()))
    }
}

/// How a restarted or unreachable server shows on a pooled connection: sqlx reports it as
/// a query error ("error communicating with database: Connection reset by peer", "Broken
/// pipe", "terminating connection due to administrator command", "the database system is
/// starting up"), not as a connection error. Found by the fault campaign: a PostgreSQL
/// restart made the API answer 500 instead of 503, and the monitor stop.
fn lost_connection(message: &str) -> bool {
    let message = message.to_lowercase();
    [
        "connection",
        "communicating",
        "broken pipe",
        "reset by peer",
        "timed out",
        "shutting down",
        "terminating",
        "starting up",
        "recovery mode",
        "pool",
    ]
    .iter()
    .any(|sign| message.contains(sign))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_connection_is_transient_whatever_sqlx_calls_it() {
        let query = |m: &str| Error::Db(DbErr::Custom(m.to_owned()));
        for message in [
            "Query Error: error communicating with database: Connection reset by peer (os error 104)",
            "error communicating with database: Broken pipe (os error 32)",
            "FATAL: terminating connection due to administrator command",
            "FATAL: the database system is starting up",
        ] {
            assert!(query(message).is_transient(), "{message}");
        }
        assert!(!query("relation \"proposals\" does not exist").is_transient());
        assert!(!Error::Corrupt("x".to_owned()).is_transient());
    }
}
