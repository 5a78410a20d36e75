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
        ) || matches!(self, Error::Db(e) if e.to_string().contains("connection"))
    }
}
