//! Opening a connection to `amqp.url`.
//!
//! lapin 2 runs its I/O on an executor and a reactor of its choosing; by default that is
//! `async-global-executor` with its own threads. We hand it tokio's instead, so that the
//! whole process runs on one runtime: tasks, timers and shutdown are tokio's, and tests
//! drive a worker exactly as the binary does.

use lapin::uri::AMQPUri;
use lapin::{Connection, ConnectionProperties};
use tracing::instrument;

use crate::Error;

/// Parses `amqp.url`, naming the setting in the error. The password is never echoed.
pub fn parse_url(url: &str) -> Result<AMQPUri, Error> {
    url.parse::<AMQPUri>().map_err(|why| {
        Error::Config(format!(
            "not an amqp:// URL ({why}); e.g. amqp://user:password@127.0.0.1:5672/%2f"
        ))
    })
}

/// The same broker and vhost, with other credentials: how `cohandle emit --as` publishes as
/// one agency.
pub fn with_credentials(url: &str, user: &str, password: &str) -> Result<AMQPUri, Error> {
    let mut uri = parse_url(url)?;
    uri.authority.userinfo.username = user.to_owned();
    uri.authority.userinfo.password = password.to_owned();
    Ok(uri)
}

/// Connects on tokio's executor and reactor. `name` shows in the management UI, so that an
/// operator (or a test) can tell the worker's connection from the relay's.
#[instrument(skip(uri), fields(host = %uri.authority.host, vhost = %uri.vhost, user = %uri.authority.userinfo.username))]
pub async fn connect(uri: AMQPUri, name: &str) -> Result<Connection, Error> {
    let properties = ConnectionProperties::default()
        .with_connection_name(name.into())
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio);
    Ok(Connection::connect_uri(uri, properties).await?)
}

/// Connects to `url`.
pub async fn connect_url(url: &str, name: &str) -> Result<Connection, Error> {
    connect(parse_url(url)?, name).await
}

/// Closes `connection` and waits (up to 5 s) for its I/O thread to end. lapin's I/O loop is a
/// thread of its own driven by tokio's reactor: left running, it outlives the runtime at
/// exit and logs I/O errors about it.
pub async fn close(connection: Connection, why: &str) {
    if connection.status().connected() {
        if let Err(error) = connection.close(200, why).await {
            tracing::debug!(%error, "closing the broker connection");
        }
    }
    let (done, ended) = tokio::sync::oneshot::channel();
    // A plain thread, not spawn_blocking: should the wait never end, the runtime still
    // shuts down.
    let _ = std::thread::Builder::new()
        .name("lapin-close".to_owned())
        .spawn(move || {
            let _ = connection.run();
            let _ = done.send(());
        });
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), ended).await;
}
