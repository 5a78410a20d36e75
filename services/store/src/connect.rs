//! Opening the database named by `database.url`, and migrating it. The setting names one
//! database, or several PostgreSQL servers of one cluster, separated by commas, of which
//! the writable one is used ([`failover`]).

use std::time::Duration;

use backon::Retryable;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use sea_orm_migration::MigratorTrait;

use crate::migration::Migrator;
use crate::Error;

mod failover;

pub use failover::WATCH_EVERY;

/// The configuration key that holds the URL, named in every error about it.
pub const SETTING: &str = "database.url (COHANDLE__DATABASE__URL)";

/// Connects to `sqlite://…` or `postgres://…`, or to the writable one of several
/// `postgres://…` separated by commas.
pub async fn connect(url: &str) -> Result<DatabaseConnection, Error> {
    let config = |message: String| Error::Config {
        setting: SETTING,
        message,
    };
    let urls: Vec<&str> = url
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    if urls.len() > 1 {
        if let Some(other) = urls.iter().find(|u| !is_postgres(u)) {
            return Err(config(format!(
                "{other:?} is not a postgres:// URL: several servers are several URLs, \
                 each postgres://…, separated by commas (libpq's postgres://host1,host2/db \
                 is not supported)"
            )));
        }
        return failover::connect(&urls).await;
    }
    let url = urls.first().copied().unwrap_or_default();
    let sqlite = url.starts_with("sqlite:");
    if !sqlite && !is_postgres(url) {
        return Err(config(format!(
            "{url:?} is not a sqlite:// or postgres:// URL"
        )));
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(30));
    if sqlite {
        // One writer at a time is how SQLite works; a single connection avoids lock
        // upgrade failures between concurrent transactions.
        // The connection is kept for good: its pragmas are set once below.
        let forever = Duration::from_secs(365 * 24 * 3600);
        options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(forever)
            .max_lifetime(forever);
    } else {
        options
            .max_connections(16)
            .min_connections(1)
            .map_sqlx_postgres_opts(plan_each_execution);
    }
    let db = Database::connect(options).await.map_err(|e| {
        let message = one_line(&e.to_string());
        if crate::error::transient(&e) {
            Error::Unreachable {
                setting: SETTING,
                message,
            }
        } else {
            config(format!("cannot connect: {message}"))
        }
    })?;
    if sqlite {
        db.execute_unprepared(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
        .await?;
    }
    Ok(db)
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The one path's statements keep their text whatever the batch (rows and keys travel as
/// one JSON or array parameter), so each connection keeps them prepared. A cached generic
/// plan is chosen once, by estimates that knew neither the batch's size nor, on a young
/// database, the tables' size (a sequential scan of what was then a small table); planning
/// each execution with its parameters keeps the index joins.
fn plan_each_execution(
    options: sea_orm::sqlx::postgres::PgConnectOptions,
) -> sea_orm::sqlx::postgres::PgConnectOptions {
    options.options([("plan_cache_mode", "force_custom_plan")])
}

/// Connects and brings the schema up to date.
pub async fn connect_and_migrate(url: &str) -> Result<DatabaseConnection, Error> {
    let db = connect(url).await?;
    migrate(&db).await?;
    Ok(db)
}

/// Applies every pending migration, stores the shipped workflow definitions and jurisdictions
/// not stored yet, and places proposals in the jurisdictions their keys name; a no-op when
/// there is nothing to do.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), Error> {
    apply_migrations(db).await?;
    crate::definitions::deploy_shipped(db, crate::clock::Clock::now(&crate::clock::SystemClock))
        .await
        .map_err(|error| match error {
            crate::definitions::DeployError::Store(error) => error,
            other => Error::Corrupt(format!("the shipped definitions: {other}")),
        })?;
    crate::jurisdictions::add_shipped(db).await?;
    let placed = crate::jurisdictions::backfill(db).await?;
    if placed > 0 {
        // Their statistics counted in no jurisdiction until now.
        crate::statistics::rebuild(db).await?;
        tracing::info!(
            placed,
            "proposals placed in the jurisdictions their keys name; statistics recounted"
        );
    }
    Ok(())
}

async fn apply_migrations(db: &DatabaseConnection) -> Result<(), Error> {
    // Roles started together on a fresh database race to migrate it; the loser's statements
    // collide with the winner's. Once the winner is done there is nothing left to do.
    (|| Migrator::up(db, None))
        .retry(crate::retry::policy().with_max_times(8))
        .notify(|error, wait| {
            tracing::debug!(%error, ?wait, "migration collided with another process; trying again");
        })
        .await
        .map_err(Error::Db)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_server_that_does_not_answer_is_unreachable_not_misconfigured() {
        // Nothing listens on port 1: the connection is refused at once.
        let refused = connect("postgres://postgres@127.0.0.1:1/cohandle").await;
        assert!(
            matches!(&refused, Err(Error::Unreachable { .. })),
            "{refused:?}"
        );
        assert!(refused.is_err_and(|e| e.is_transient()));

        // Several servers, none answering: unreachable as well (the roles wait for one).
        let none =
            connect("postgres://postgres@127.0.0.1:1/c,postgres://postgres@127.0.0.1:2/c").await;
        assert!(matches!(&none, Err(Error::Unreachable { .. })), "{none:?}");
        let libpq = connect("postgres://postgres@127.0.0.1:1,127.0.0.1:2/cohandle").await;
        assert!(
            matches!(&libpq, Err(Error::Config { message, .. }) if message.contains("libpq")),
            "{libpq:?}"
        );

        let wrong = connect("mysql://127.0.0.1/cohandle").await;
        assert!(matches!(&wrong, Err(Error::Config { .. })), "{wrong:?}");
        assert!(wrong.is_err_and(|e| !e.is_transient()));
    }
}
