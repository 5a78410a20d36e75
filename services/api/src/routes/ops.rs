//! For operators and orchestrators: liveness, readiness (the database answers), metrics.
//! None needs a token.

use axum::extract::State;
use axum::response::Response;

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
        warnings: Vec::new(),
    })
}

/// Readiness: the database answers. Still ready, but with `warnings`, when something needs
/// the operator soon (from 1 November: next year's holiday arrangement is not loaded).
#[utoipa::path(get, path = "/readyz", tag = tags::OPS,
    responses((status = 200, body = Health),
        (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json")))]
pub async fn readyz(State(s): State<Service>) -> Result<Response, Error> {
    s.ready().await?;
    s.engine().keep_calendar_current().await;
    Ok(ok(Health {
        status: "ok".to_owned(),
        warnings: s
            .engine()
            .calendar()
            .next_year_warning(s.today())
            .into_iter()
            .collect(),
    }))
}

/// Prometheus metrics, in the OpenMetrics text format.
#[utoipa::path(get, path = "/metrics", tag = tags::OPS,
    responses((status = 200, body = String, content_type = "application/openmetrics-text; version=1.0.0")))]
pub async fn metrics(State(s): State<Service>) -> Response {
    s.engine().keep_calendar_current().await;
    calendar_metrics(&s);
    cohandle_telemetry::endpoint::metrics_response(s.metrics())
}

/// Whether this year's and next year's working days are counted over the official
/// arrangement (1) or provisionally (0): alert on `cohandle_calendar_year_official == 0`
/// for next year from November.
fn calendar_metrics(s: &Service) {
    use chrono::Datelike;
    use cohandle_workflows::calendar::YearStatus;
    let calendar = s.engine().calendar();
    let this_year = s.today().year();
    for year in [this_year, this_year + 1] {
        s.metrics()
            .calendar_year(year, calendar.year_status(year) == YearStatus::Official);
    }
}
