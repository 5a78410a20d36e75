//! For operators and orchestrators: liveness, readiness (the database answers), metrics.
//! None needs a token.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::{ok, tags};
use crate::dto::Health;
use crate::error::Problem;
use crate::service::Service;
use crate::Error;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = tags::OPS,
    responses((status = 200, body = Health)))]
pub async fn healthz() -> Response {
    ok(Health {
        status: "ok".to_owned(),
    })
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = tags::OPS,
    responses((status = 200, body = Health),
        (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json")))]
pub async fn readyz(State(s): State<Service>) -> Result<Response, Error> {
    s.ready().await?;
    Ok(ok(Health {
        status: "ok".to_owned(),
    }))
}

/// Prometheus metrics, in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = tags::OPS,
    responses((status = 200, body = String, content_type = "text/plain; version=0.0.4")))]
pub async fn metrics(State(s): State<Service>) -> Response {
    let mut response = s.metrics().render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
