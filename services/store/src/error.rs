use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// What can go wrong below the domain: the database, or stored data that does not parse.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database: {0}")]
    Db(DbErr),
    /// Another writer changed the proposal first; the engine retries.
    #[error("the proposal changed while the event was being applied")]
    Conflict,
    #[error("gave up after {0} attempts, each overtaken by a concurrent change")]
    TooManyConflicts(usize),
    #[error("stored data does not read back: {0}")]
    Corrupt(String),
    #[error("{setting}: {message}")]
    Config {
        setting: &'static str,
        message: String,
    },
    /// The database the setting names does not answer (down, restarting, unreachable).
    #[error("{setting}: cannot connect: {message}")]
    Unreachable {
        setting: &'static str,
        message: String,
    },
}

impl From<DbErr> for Error {
    fn from(error: DbErr) -> Self {
        // A unique key taken by a concurrent writer means we lost a race: retry.
        if let Some(SqlErr::UniqueConstraintViolation(_)) = error.sql_err() {
            return Error::Conflict;
        }
        match sql_state(&error).as_deref() {
            Some(SERIALIZATION_FAILURE | DEADLOCK_DETECTED) => Error::Conflict,
            _ => Error::Db(error),
        }
    }
}

/// PostgreSQL's `serialization_failure`: the transaction lost to a concurrent one.
const SERIALIZATION_FAILURE: &str = "40001";
/// PostgreSQL's `deadlock_detected`: chosen as the victim of a lock cycle.
const DEADLOCK_DETECTED: &str = "40P01";
/// PostgreSQL's `read_only_sql_transaction`: a write on a server that no longer takes them.
const READ_ONLY_SQL_TRANSACTION: &str = "25006";

impl Error {
    /// Whether waiting and trying again may succeed: a lost race, or the database down,
    /// restarting or busy.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Conflict | Error::TooManyConflicts(_) | Error::Unreachable { .. } => true,
            Error::Db(error) => transient(error),
            Error::Corrupt(_) | Error::Config { .. } => false,
        }
    }
}

/// How a database that went away, restarts or is busy shows through sea-orm and sqlx. A
/// restarted server shows on a pooled connection as a query error carrying an I/O error or
/// a SQLSTATE, not as a connection error; found by the fault campaign (a PostgreSQL restart
/// made the API answer 500 instead of 503, and the monitor stop).
pub(crate) fn transient(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => {
            match error {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Tls(_) => true,
                sqlx::Error::Database(error) => {
                    error.code().is_some_and(|code| transient_code(&code))
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whether a database error code is one a retry can outlive. PostgreSQL (SQLSTATE):
/// `40001` serialization failure, `40P01` deadlock, class `08` connection exceptions, class
/// `57P` operator intervention (`57P01` admin shutdown, `57P02` crash shutdown, `57P03`
/// cannot connect now: starting up or in recovery), `53300` too many connections, `25006`
/// read-only transaction (the server was a primary and is now a standby, or read-only: with
/// several servers in `database.url` the pool moves to the writable one, see
/// `connect::failover`). SQLite
/// (result codes, extended or primary): `SQLITE_BUSY` (5) and `SQLITE_LOCKED` (6). A
/// SQLSTATE always has five characters; SQLite's codes have fewer digits.
fn transient_code(code: &str) -> bool {
    if code.len() == 5 {
        return matches!(
            code,
            SERIALIZATION_FAILURE | DEADLOCK_DETECTED | "53300" | READ_ONLY_SQL_TRANSACTION
        ) || code.starts_with("08")
            || code.starts_with("57P");
    }
    code.parse::<u32>()
        .is_ok_and(|sqlite| matches!(sqlite & 0xff, 5 | 6))
}

/// The database's own error code (PostgreSQL's SQLSTATE, SQLite's result code), if any.
fn sql_state(error: &DbErr) -> Option<String> {
    match error {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(error)))
        | DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(error))) => {
            error.code().map(|code| code.into_owned())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: std::io::ErrorKind) -> Error {
        Error::Db(DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Io(
            kind.into(),
        ))))
    }

    #[test]
    fn a_lost_connection_is_transient_whatever_sqlx_calls_it() {
        for kind in [
            std::io::ErrorKind::ConnectionReset,
            std::io::ErrorKind::BrokenPipe,
            std::io::ErrorKind::UnexpectedEof,
        ] {
            assert!(io(kind).is_transient(), "{kind:?}");
        }
        let pool = Error::from(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout));
        assert!(pool.is_transient(), "{pool}");
        // The message no longer decides: a query error that only mentions a connection is not.
        let text = Error::Db(DbErr::Custom(
            "connection refused by the planner".to_owned(),
        ));
        assert!(!text.is_transient());
        let missing = Error::Db(DbErr::Query(RuntimeErr::SqlxError(
            sqlx::Error::RowNotFound,
        )));
        assert!(!missing.is_transient());
        assert!(!Error::Corrupt("x".to_owned()).is_transient());
    }

    #[test]
    fn codes_a_retry_can_outlive() {
        for code in [
            "40001", "40P01", "08006", "08001", "57P01", "57P03", "53300", "25006", "5", "517",
            "6", "262",
        ] {
            assert!(transient_code(code), "{code}");
        }
        for code in ["42P01", "23505", "22001", "10005", "1", "19", "2067"] {
            assert!(!transient_code(code), "{code}");
        }
    }
}
