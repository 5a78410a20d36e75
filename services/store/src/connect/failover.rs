//! `database.url` naming several PostgreSQL servers: the primary and its standbys, in any
//! order. sqlx has no multi-host URL (libpq's `postgres://h1,h2/db`), so the setting is a
//! list of URLs and the pool is pointed at the one that takes writes.
//!
//! - At the start every server is asked in turn (`pg_is_in_recovery()` and
//!   `transaction_read_only`); the pool connects to the first writable one.
//! - A watcher asks the server in use again every [`WATCH_EVERY`], on a connection of its
//!   own, and at once when a new pooled connection finds its server read-only. Should the
//!   server no longer answer, or no longer take writes (a failover: the primary died and a
//!   standby was promoted, or it was demoted), the watcher finds the writable one and
//!   points the pool at it; connections opened before the move are dropped as they come
//!   back to the pool rather than handed out again.
//! - A transaction under way when the server went read-only or away fails with an error
//!   the store calls transient (a lost connection, SQLSTATE `25006`
//!   `read_only_sql_transaction`); its caller tries again by the one retry policy and so
//!   reaches the new primary. A commit whose acknowledgement was lost is found on that retry
//!   by the inbox: the same event id is a duplicate, never applied twice.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sea_orm::sqlx::{self, ConnectOptions as _, Connection as _};
use sea_orm::{DatabaseConnection, SqlxPostgresConnector};

use super::SETTING;
use crate::Error;

/// How often the watcher asks the server in use whether it still takes writes.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);

/// How long one server has to answer the question.
const PATIENCE: Duration = Duration::from_secs(5);

/// The servers of `database.url`, and which one the pool uses.
#[derive(Debug)]
struct Servers {
    options: Vec<PgConnectOptions>,
    /// Index into `options` of the server in use.
    current: AtomicUsize,
    /// When the pool last moved to another server: connections opened before are dropped.
    moved_at: Mutex<Instant>,
    /// Woken by a new connection that found its server read-only.
    suspect: tokio::sync::Notify,
}

impl Servers {
    fn describe(&self, n: usize) -> String {
        let options = &self.options[n];
        format!(
            "server {} ({}:{})",
            n + 1,
            options.get_host(),
            options.get_port()
        )
    }

    /// Whether a connection opened `age` ago was opened before the last move.
    fn stale(&self, age: Duration) -> bool {
        let moved_at = *self.moved_at.lock().unwrap_or_else(|e| e.into_inner());
        Instant::now()
            .checked_sub(age)
            .is_some_and(|opened| opened < moved_at)
    }
}

/// Connects to the writable server among `urls` (each a `postgres://` URL).
pub(super) async fn connect(urls: &[&str]) -> Result<DatabaseConnection, Error> {
    let mut options = Vec::with_capacity(urls.len());
    for (n, url) in urls.iter().enumerate() {
        let parsed = url
            .parse::<PgConnectOptions>()
            .map_err(|why| Error::Config {
                setting: SETTING,
                message: format!(
                    "server {} of {}: not a postgres:// URL ({why})",
                    n + 1,
                    urls.len()
                ),
            })?;
        options.push(super::plan_each_execution(parsed).disable_statement_logging());
    }
    let servers = Arc::new(Servers {
        current: AtomicUsize::new(0),
        moved_at: Mutex::new(Instant::now()),
        suspect: tokio::sync::Notify::new(),
        options,
    });
    let first = first_writable(&servers, 0).await?;
    servers.current.store(first, Ordering::SeqCst);
    let on_connect = servers.clone();
    let on_acquire = servers.clone();
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |connection, _| {
            let servers = on_connect.clone();
            Box::pin(async move {
                // A new connection that reached a server no longer taking writes wakes the
                // watcher. It is not refused here (a connection refused by this hook stalls
                // the pool's acquire until its timeout): its first write fails with `25006`,
                // a transient error, and by the retry the pool has moved and drops it.
                if !writable(connection).await? {
                    servers.suspect.notify_one();
                }
                Ok(())
            })
        })
        .before_acquire(move |_, meta| {
            let fresh = !on_acquire.stale(meta.age);
            Box::pin(async move { Ok(fresh) })
        })
        .connect_with(servers.options[first].clone())
        .await
        .map_err(|error| Error::Unreachable {
            setting: SETTING,
            message: format!("{}: {error}", servers.describe(first)),
        })?;
    tokio::spawn(watch(pool.clone(), servers));
    Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
}

/// Whether the server behind `connection` takes writes.
async fn writable(connection: &mut PgConnection) -> Result<bool, sqlx::Error> {
    let (in_recovery, read_only): (bool, String) =
        sqlx::query_as("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")
            .fetch_one(connection)
            .await?;
    Ok(!in_recovery && read_only == "off")
}

/// Asks server `n` on a connection of its own.
async fn ask(servers: &Servers, n: usize) -> Result<bool, String> {
    let asked = tokio::time::timeout(PATIENCE, async {
        let mut connection = PgConnection::connect_with(&servers.options[n]).await?;
        let answer = writable(&mut connection).await;
        let _ = connection.close().await;
        answer
    })
    .await;
    match asked {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {PATIENCE:?}")),
    }
}

/// The first server that takes writes: `prefer` first, then the others in the order of the
/// setting (a server in use that still takes writes is kept, should an old primary come
/// back beside the new one).
async fn first_writable(servers: &Servers, prefer: usize) -> Result<usize, Error> {
    let mut why = Vec::new();
    let others = (0..servers.options.len()).filter(|n| *n != prefer);
    for n in std::iter::once(prefer).chain(others) {
        match ask(servers, n).await {
            Ok(true) => return Ok(n),
            Ok(false) => why.push(format!(
                "{}: does not take writes (a standby, or read-only)",
                servers.describe(n)
            )),
            Err(error) => why.push(format!("{}: {error}", servers.describe(n))),
        }
    }
    // Unreachable, not misconfigured: during a failover no server takes writes for a moment,
    // and the long-running roles wait for one that does.
    Err(Error::Unreachable {
        setting: SETTING,
        message: format!("no server takes writes: {}", why.join("; ")),
    })
}

/// Keeps the pool on the writable server; see the module. Ends when the pool is closed.
async fn watch(pool: PgPool, servers: Arc<Servers>) {
    let mut watching: Option<PgConnection> = None;
    loop {
        tokio::select! {
            () = tokio::time::sleep(WATCH_EVERY) => {}
            () = servers.suspect.notified() => {}
        }
        if pool.is_closed() {
            return;
        }
        let current = servers.current.load(Ordering::SeqCst);
        let fine = match &mut watching {
            Some(connection) => tokio::time::timeout(PATIENCE, writable(connection))
                .await
                .is_ok_and(|answer| answer.is_ok_and(|writable| writable)),
            None => false,
        };
        if fine {
            continue;
        }
        if let Some(connection) = watching.take() {
            drop(connection);
        }
        match first_writable(&servers, current).await {
            Ok(found) => {
                if found != current {
                    pool.set_connect_options(servers.options[found].clone());
                    servers.current.store(found, Ordering::SeqCst);
                    *servers.moved_at.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
                    tracing::warn!(
                        message = "The database server in use no longer takes writes; moved to the one that does",
                        from = %servers.describe(current),
                        to = %servers.describe(found),
                    );
                }
                watching = tokio::time::timeout(
                    PATIENCE,
                    PgConnection::connect_with(&servers.options[found]),
                )
                .await
                .ok()
                .and_then(Result::ok);
            }
            Err(error) => {
                tracing::warn!(message = "No database server takes writes; asking again", %error);
            }
        }
    }
}
