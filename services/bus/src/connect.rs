//! Opening a connection to `amqp.url`: one broker node, or the nodes of one cluster.
//!
//! lapin 2 runs its I/O on an executor and a reactor of its choosing; by default that is
//! `async-global-executor` with its own threads. We hand it tokio's instead, so that the
//! whole process runs on one runtime: tasks, timers and shutdown are tokio's, and tests
//! drive a worker exactly as the binary does.
//!
//! `amqp.url` may name several nodes, separated by commas (a comma inside a URL is written
//! `%2C`). A role connects to the first that answers, in the order given; when its
//! connection is lost it starts again from the first, so a dead node costs one refused (or,
//! unanswered, [`PATIENCE`]-long) attempt and the others are tried next.

use std::time::Duration;

use lapin::uri::AMQPUri;
use lapin::{Connection, ConnectionProperties};
use tracing::instrument;

use crate::Error;

/// How long one node has to take a connection before the next is tried: a node cut off by
/// the network does not refuse, it does not answer.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The AMQP heartbeat asked for when the URL names none (`?heartbeat=N` does): the
/// connection is given up after two missed, so a node cut off by the network is left within
/// 20 s (the broker's own default, 60 s, would take two minutes).
pub const HEARTBEAT_SECONDS: u16 = 10;

/// Parses one `amqp://` URL, naming the setting in the error. The password is never echoed.
pub fn parse_url(url: &str) -> Result<AMQPUri, Error> {
    let mut uri = url.trim().parse::<AMQPUri>().map_err(|why| {
        Error::Config(format!(
            "not an amqp:// URL ({why}); e.g. amqp://user:password@127.0.0.1:5672/%2f"
        ))
    })?;
    uri.query.heartbeat.get_or_insert(HEARTBEAT_SECONDS);
    Ok(uri)
}

/// Parses `amqp.url`: one URL, or several separated by commas (the nodes of one cluster).
pub fn parse_urls(urls: &str) -> Result<Vec<AMQPUri>, Error> {
    let nodes: Vec<&str> = urls.split(',').filter(|u| !u.trim().is_empty()).collect();
    if nodes.is_empty() {
        return Err(Error::Config("names no broker".to_owned()));
    }
    nodes
        .into_iter()
        .enumerate()
        .map(|(n, url)| {
            parse_url(url).map_err(|error| match error {
                Error::Config(why) if n > 0 => Error::Config(format!("node {}: {why}", n + 1)),
                other => other,
            })
        })
        .collect()
}

/// The same brokers and vhost, with other credentials: how `cohandle emit --as` publishes
/// as one agency.
pub fn with_credentials(urls: &str, user: &str, password: &str) -> Result<Vec<AMQPUri>, Error> {
    let mut uris = parse_urls(urls)?;
    for uri in &mut uris {
        uri.authority.userinfo.username = user.to_owned();
        uri.authority.userinfo.password = password.to_owned();
    }
    Ok(uris)
}

/// Connects on tokio's executor and reactor. `name` shows in the management UI, so that an
/// operator (or a test) can tell the worker's connection from the relay's.
#[instrument(skip(uri), fields(host = %uri.authority.host, port = uri.authority.port, vhost = %uri.vhost, user = %uri.authority.userinfo.username))]
pub async fn connect(uri: AMQPUri, name: &str) -> Result<Connection, Error> {
    let properties = ConnectionProperties::default()
        .with_connection_name(name.into())
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio);
    match tokio::time::timeout(PATIENCE, Connection::connect_uri(uri, properties)).await {
        Ok(connected) => Ok(connected?),
        Err(_) => Err(Error::Amqp(lapin::Error::IOError(std::sync::Arc::new(
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the node did not answer within {PATIENCE:?}"),
            ),
        )))),
    }
}

/// Connects to the first of `uris` that answers. A node that refuses for good (wrong
/// credentials, say) does not stop the others being tried; the error returned is the last
/// node's.
pub async fn connect_any(uris: &[AMQPUri], name: &str) -> Result<Connection, Error> {
    let mut last = None;
    for (n, uri) in uris.iter().enumerate() {
        match connect(uri.clone(), name).await {
            Ok(connection) => {
                if n > 0 {
                    tracing::info!(
                        node = n + 1,
                        host = %uri.authority.host,
                        port = uri.authority.port,
                        "connected to a later node of amqp.url; the ones before did not answer"
                    );
                }
                return Ok(connection);
            }
            Err(error) => {
                if uris.len() > 1 {
                    tracing::warn!(message = "A broker node does not answer; trying the next", node = n + 1, host = %uri.authority.host, port = uri.authority.port, %error);
                }
                last = Some(error);
            }
        }
    }
    Err(last.unwrap_or_else(|| Error::Config("names no broker".to_owned())))
}

/// Connects to the first node of `urls` (`amqp.url`) that answers.
pub async fn connect_url(urls: &str, name: &str) -> Result<Connection, Error> {
    connect_any(&parse_urls(urls)?, name).await
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_heartbeat_is_asked_for_unless_the_url_names_one() {
        let default = parse_url("amqp://u:p@127.0.0.1:5672/%2f").unwrap();
        assert_eq!(default.query.heartbeat, Some(HEARTBEAT_SECONDS));
        let named = parse_url("amqp://u:p@127.0.0.1:5672/%2f?heartbeat=30").unwrap();
        assert_eq!(named.query.heartbeat, Some(30));
    }
}
