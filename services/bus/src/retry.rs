//! How the bus's roles wait out transient failures, all by the store's one retry policy
//! ([`cohandle_store::retry::policy`]): a lost broker session is reconnected
//! ([`run_until`]), and a database that is unreachable holds the work in hand until it is
//! back ([`hold`]). Either wait ends early when the role is told to stop.

use std::future::Future;
use std::time::Duration;

use backon::BackoffBuilder;
use tokio::sync::watch;

use crate::Error;

/// The longest wait, should the policy ever run out.
const LONGEST: Duration = Duration::from_secs(5);

/// Completes once the stop flag is up (or its sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// One broker session as [`supervise`] runs it: how it ended, and whether it connected
/// (then the next wait starts from the shortest again).
pub(crate) struct Session {
    pub result: Result<(), Error>,
    pub connected: bool,
}

/// Runs a role until `shutdown` completes: its sessions under [`supervise`], each given the
/// stop flag; on shutdown the flag is raised and the session in hand finishes its work.
pub(crate) async fn run_until<F, Fut>(
    shutdown: impl Future<Output = ()>,
    session: F,
) -> Result<(), Error>
where
    F: Fn(watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = Session>,
{
    let (stop_tx, stop) = watch::channel(false);
    let supervised = supervise(&stop, || session(stop.clone()));
    tokio::pin!(supervised);
    tokio::pin!(shutdown);
    tokio::select! {
        result = &mut supervised => return result,
        () = &mut shutdown => {
            tracing::info!("stopping: finishing the work in hand");
            let _ = stop_tx.send(true);
        }
    }
    supervised.await
}

/// Runs `session` again after every transient failure, waiting by the policy, until it
/// ends cleanly, fails for good, or `stop` is raised.
async fn supervise<F, Fut>(stop: &watch::Receiver<bool>, mut session: F) -> Result<(), Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Session>,
{
    let mut waits = cohandle_store::retry::policy().build();
    loop {
        let Session { result, connected } = session().await;
        if *stop.borrow() {
            return result;
        }
        match result {
            Err(error) if error.is_transient() => {
                if connected {
                    waits = cohandle_store::retry::policy().build();
                }
                let wait = waits.next().unwrap_or(LONGEST);
                tracing::warn!(message = "Lost the broker session; reconnecting", %error, ?wait);
                let mut stop = stop.clone();
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stopped(&mut stop) => return Ok(()),
                }
            }
            other => return other,
        }
    }
}

/// Tries `attempt` again while it fails with an error `transient` accepts, waiting by the
/// policy. `None` when `stop` is raised during a wait (an attempt under way is never cut
/// short).
pub(crate) async fn hold<T, E, F, Fut>(
    stop: &mut watch::Receiver<bool>,
    transient: impl Fn(&E) -> bool,
    mut attempt: F,
) -> Option<Result<T, E>>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut waits = cohandle_store::retry::policy().build();
    loop {
        match attempt().await {
            Err(error) if transient(&error) => {
                let wait = waits.next().unwrap_or(LONGEST);
                tracing::warn!(message = "The database is unreachable; holding the work in hand", %error, ?wait);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stopped(stop) => return None,
                }
            }
            other => return Some(other),
        }
    }
}
