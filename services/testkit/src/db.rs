//! A database of the test's own: a fresh PostgreSQL database, or a fresh SQLite file.

use std::sync::Arc;

use anyhow::Context;
use cohandle_store::{connect, Clock, Engine};
use cohandle_workflows::{Calendar, Catalog};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, TransactionTrait};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// The server the PostgreSQL tests use (`$COHANDLE_TEST_POSTGRES`, no database);
/// `deploy/dev/ensure-postgres.sh` starts it.
pub fn postgres_server() -> String {
    std::env::var("COHANDLE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A database of its own for one test, dropped (PostgreSQL) or deleted (SQLite) after it.
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    /// The PostgreSQL database, dropped with it.
    scratch: Option<ScratchDb>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                Self {
                    url,
                    backend,
                    scratch: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let scratch = ScratchDb::create(&postgres_server()).await.unwrap();
                Self {
                    url: scratch.url.clone(),
                    backend,
                    scratch: Some(scratch),
                    _dir: None,
                }
            }
        }
    }

    /// The engine on this database, migrated, with the shipped definitions and the official
    /// calendar, on `clock`.
    pub async fn engine(&self, clock: Arc<dyn Clock>) -> Engine {
        let db = connect::connect_and_migrate(&self.url).await.unwrap();
        Engine::new(
            db,
            Arc::new(Catalog::shipped()),
            Arc::new(Calendar::china_official()),
            clock,
        )
    }

    /// Cuts the database off (PostgreSQL): new connections are refused and the open ones
    /// are terminated, as when the server goes down. Other databases are untouched.
    pub async fn go_down(&self) {
        let name = self.name();
        let admin = admin(&postgres_server()).await.unwrap();
        for sql in [
            format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"),
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            ),
        ] {
            admin.execute_unprepared(&sql).await.unwrap();
        }
        admin.close().await.unwrap();
    }

    /// Lets connections in again.
    pub async fn come_back(&self) {
        let name = self.name();
        let admin = admin(&postgres_server()).await.unwrap();
        admin
            .execute_unprepared(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
            .await
            .unwrap();
        admin.close().await.unwrap();
    }

    /// Makes every writer of `table` wait (PostgreSQL: `LOCK TABLE … IN EXCLUSIVE MODE` in
    /// a transaction of its own; reads go on) until [`WritesHeld::release`], as a slow
    /// database would keep a worker's batch uncommitted.
    pub async fn hold_writes(&self, table: &str) -> WritesHeld {
        let db = Database::connect(&self.url).await.unwrap();
        let txn = db.begin().await.unwrap();
        txn.execute_unprepared(&format!("LOCK TABLE {table} IN EXCLUSIVE MODE"))
            .await
            .unwrap();
        WritesHeld { db, txn }
    }

    /// The PostgreSQL database's name.
    fn name(&self) -> &str {
        &self
            .scratch
            .as_ref()
            .expect("cutting off a PostgreSQL database")
            .name
    }
}

/// Writers of a table waiting, until released (see [`TestDb::hold_writes`]).
#[derive(Debug)]
pub struct WritesHeld {
    db: DatabaseConnection,
    txn: sea_orm::DatabaseTransaction,
}

impl WritesHeld {
    /// Lets the waiting writers go on.
    pub async fn release(self) {
        self.txn.commit().await.unwrap();
        self.db.close().await.unwrap();
    }
}

/// A database of its own on the PostgreSQL server `server` (a URL without a database,
/// e.g. `postgres://postgres@127.0.0.1:5432`), dropped by [`ScratchDb::drop_now`] or, failing
/// that, when it goes out of scope.
#[derive(Debug)]
pub struct ScratchDb {
    server: String,
    name: String,
    pub url: String,
}

impl ScratchDb {
    pub async fn create(server: &str) -> anyhow::Result<Self> {
        let name = format!("cohandle_test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin(server).await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .context("creating a scratch database")?;
        admin.close().await?;
        Ok(Self {
            server: server.to_owned(),
            url: format!("{server}/{name}"),
            name,
        })
    }

    pub async fn drop_now(mut self) -> anyhow::Result<()> {
        let name = std::mem::take(&mut self.name);
        let admin = admin(&self.server).await?;
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        Ok(())
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if !self.name.is_empty() {
            drop_database(self.server.clone(), std::mem::take(&mut self.name));
        }
    }
}

async fn admin(server: &str) -> anyhow::Result<DatabaseConnection> {
    Database::connect(format!("{server}/postgres"))
        .await
        .with_context(|| {
            format!("cannot reach PostgreSQL at {server} (run deploy/dev/ensure-postgres.sh)")
        })
}

/// Drops a database, from a `Drop`.
fn drop_database(server: String, name: String) {
    crate::finish_in_drop(async move {
        if let Ok(admin) = admin(&server).await {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    });
}
