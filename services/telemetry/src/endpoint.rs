//! The operators' endpoints of a role without an HTTP API of its own (worker, relay,
//! monitor): `GET /metrics`, `GET /healthz` (200 while the process runs) and `GET /readyz`
//! (200 when the role's database, and broker for the bus roles, answer; else 503 with why),
//! on `metrics.listen`.

use std::future::Future;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::{Metrics, Role, CONTENT_TYPE};

/// What a role tells its endpoints.
pub trait Probe: Clone + Send + Sync + 'static {
    /// Ok when the role's connections work; otherwise why not, for the 503's body.
    fn ready(&self) -> impl Future<Output = Result<(), String>> + Send;

    /// Refreshes the gauges the role samples (queue depths, backlogs) just before a scrape,
    /// so that they cost nothing while nobody looks and are never stale when someone does.
    fn collect(&self, metrics: &Metrics) -> impl Future<Output = ()> + Send;
}

/// `metrics.listen` when unset: each role on a port of its own, on the loopback.
pub fn default_listen(role: Role) -> Option<&'static str> {
    match role {
        Role::Worker => Some("127.0.0.1:9464"),
        Role::Relay => Some("127.0.0.1:9465"),
        Role::Monitor => Some("127.0.0.1:9466"),
        Role::Api => None,
    }
}

/// The address a role serves its endpoints on: the setting, else the role's default;
/// `None` for `off`.
pub fn listen_address(setting: Option<&str>, role: Role) -> Option<String> {
    match setting.map(str::trim) {
        Some(off) if off.eq_ignore_ascii_case("off") => None,
        Some(address) => Some(address.to_owned()),
        None => default_listen(role).map(str::to_owned),
    }
}

/// Binds `address`, naming it and the setting in the error: a role whose endpoints cannot
/// be served stops at its start rather than run unobserved.
pub async fn bind(address: &str) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address).await.map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!(
                "cannot listen on {address} (metrics.listen, COHANDLE__METRICS__LISTEN; `off` serves nothing): {error}"
            ),
        )
    })
}

/// `/metrics`, `/healthz` and `/readyz` over `metrics` and `probe`.
pub fn router<P: Probe>(metrics: Metrics, probe: P) -> Router {
    Router::new()
        .route("/metrics", get(scrape::<P>))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readiness::<P>))
        .with_state((metrics, probe))
}

/// Serves [`router`] on `listener` until `shutdown` completes.
pub async fn serve<P: Probe>(
    listener: tokio::net::TcpListener,
    metrics: Metrics,
    probe: P,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics, probe))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The metrics page as a response, with its content type: also what the API's `/metrics`
/// answers.
pub fn metrics_response(metrics: &Metrics) -> Response {
    let mut response = metrics.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

async fn scrape<P: Probe>(State((metrics, probe)): State<(Metrics, P)>) -> Response {
    probe.collect(&metrics).await;
    metrics_response(&metrics)
}

async fn readiness<P: Probe>(State((_, probe)): State<(Metrics, P)>) -> Response {
    match probe.ready().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Switch(Arc<AtomicBool>);

    impl Probe for Switch {
        async fn ready(&self) -> Result<(), String> {
            if self.0.load(Ordering::Relaxed) {
                Ok(())
            } else {
                Err("the database does not answer".to_owned())
            }
        }

        async fn collect(&self, metrics: &Metrics) {
            metrics.consumer_lag(3, 42);
        }
    }

    #[test]
    fn each_role_has_its_own_port_and_off_serves_nothing() {
        assert_eq!(
            listen_address(None, Role::Relay).as_deref(),
            Some("127.0.0.1:9465")
        );
        assert_eq!(
            listen_address(Some("0.0.0.0:9100"), Role::Worker).as_deref(),
            Some("0.0.0.0:9100")
        );
        assert_eq!(listen_address(Some("off"), Role::Monitor), None);
    }

    #[tokio::test]
    async fn endpoints_answer_over_http() {
        let listener = bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let switch = Switch::default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            Metrics::new(&[Role::Worker]),
            switch.clone(),
            async {
                let _ = stopped.await;
            },
        ));
        let get = |path: &str| reqwest::get(format!("http://{address}{path}"));
        assert_eq!(get("/healthz").await.unwrap().status(), 200);
        let unready = get("/readyz").await.unwrap();
        assert_eq!(unready.status(), 503);
        assert!(unready.text().await.unwrap().contains("database"));
        switch.0.store(true, Ordering::Relaxed);
        assert_eq!(get("/readyz").await.unwrap().status(), 200);
        let page = get("/metrics").await.unwrap();
        assert_eq!(page.headers()["content-type"], CONTENT_TYPE);
        let text = page.text().await.unwrap();
        assert!(
            text.contains(r#"cohandle_consumer_lag_messages{partition="3"} 42"#),
            "{text}"
        );
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_taken_address_is_named_in_the_error() {
        let taken = bind("127.0.0.1:0").await.unwrap();
        let address = taken.local_addr().unwrap().to_string();
        let error = bind(&address).await.unwrap_err();
        assert!(error.to_string().contains(&address), "{error}");
        assert!(error.to_string().contains("metrics.listen"), "{error}");
    }
}
