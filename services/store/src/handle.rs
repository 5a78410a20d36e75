//! What the store's reads, and its writes beside the engine (tokens, the access audit), run
//! on: the engine a door holds, or a connection of one's own (`connect::connect`, as the
//! command line opens one). A caller passes either and never reaches the connection inside,
//! so every table is read and written here, in the store.

use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::Engine;

/// An engine or a connection; see the module.
pub trait Handle: sealed::Connection + Sync {}

impl Handle for Engine {}

impl Handle for DatabaseConnection {}

/// A read-only copy of the database (a PostgreSQL streaming replica) that reads may go to,
/// behind the primary by [`replica_lag`].
#[derive(Debug, Clone)]
pub struct Replica(DatabaseConnection);

impl Replica {
    /// The replica behind `db`, a connection `connect::connect` opened (never migrated: a
    /// replica is read-only, and follows the primary's schema).
    pub fn new(db: DatabaseConnection) -> Self {
        Self(db)
    }
}

impl Handle for Replica {}

/// Where one read goes: the engine's own database, or a replica of it.
#[derive(Debug, Clone, Copy)]
pub enum Reads<'a> {
    Primary(&'a Engine),
    Replica(&'a Replica),
}

impl Handle for Reads<'_> {}

/// The connection behind a handle, for this crate only.
pub(crate) fn connection(store: &impl Handle) -> &DatabaseConnection {
    store.connection(sealed::Key(()))
}

/// The trait is public, so that it may bound [`Handle`], but lives in a module no other
/// crate can name, and its method wants a key only this crate can make.
mod sealed {
    use sea_orm::DatabaseConnection;

    #[derive(Debug)]
    pub struct Key(pub(super) ());

    pub trait Connection {
        fn connection(&self, key: Key) -> &DatabaseConnection;
    }

    impl Connection for crate::Engine {
        fn connection(&self, _: Key) -> &DatabaseConnection {
            self.db()
        }
    }

    impl Connection for DatabaseConnection {
        fn connection(&self, _: Key) -> &DatabaseConnection {
            self
        }
    }

    impl Connection for super::Replica {
        fn connection(&self, _: Key) -> &DatabaseConnection {
            &self.0
        }
    }

    impl Connection for super::Reads<'_> {
        fn connection(&self, key: Key) -> &DatabaseConnection {
            match self {
                super::Reads::Primary(engine) => engine.connection(key),
                super::Reads::Replica(replica) => replica.connection(key),
            }
        }
    }
}

/// Whether the database answers.
pub async fn ping(store: &impl Handle) -> Result<(), crate::Error> {
    Ok(connection(store).ping().await?)
}

/// How long [`replica_lag`] waits for the replica: it is asked on every readiness probe,
/// metrics scrape and supervisor's page, none of which may hang on a replica that is gone.
const LAG_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// How far the database behind `store` is behind its primary, in seconds: 0 when it has
/// replayed all it received, else the time since the last transaction it replayed; `None`
/// when it is no replica (a primary, or SQLite). Unreachable when it does not answer within
/// [`LAG_PATIENCE`].
pub async fn replica_lag(store: &impl Handle) -> Result<Option<f64>, crate::Error> {
    let db = connection(store);
    if db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(None);
    }
    let asked = db.query_one(sea_orm::Statement::from_string(
        sea_orm::DatabaseBackend::Postgres,
            "SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL \
                 WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
                 ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END::float8 AS lag",
    ));
    let row = tokio::time::timeout(LAG_PATIENCE, asked)
        .await
        .map_err(|_| crate::Error::Unreachable {
            setting: "database.read_url (COHANDLE__DATABASE__READ_URL)",
            message: format!("no answer within {} s", LAG_PATIENCE.as_secs()),
        })??
        .ok_or_else(|| crate::Error::Corrupt("the replica's lag answered no row".to_owned()))?;
    Ok(row.try_get::<Option<f64>>("", "lag")?)
}
