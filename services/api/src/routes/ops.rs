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
        replica_lag_seconds: None,
    })
}

/// Readiness: the database answers. Still ready, but with `warnings`, when something needs
/// the operator soon (from 1 November: next year's holiday arrangement is not loaded; a
/// replica of `database.read_url` far behind, or not answering). With a replica, its lag.
#[utoipa::path(get, path = "/readyz", tag = tags::OPS,
    responses((status = 200, body = Health),
        (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json")))]
pub async fn readyz(State(s): State<Service>) -> Result<Response, Error> {
    s.ready().await?;
    s.engine().keep_calendar_current().await;
    let mut warnings: Vec<String> = s
        .engine()
        .calendar()
        .next_year_warning(s.today())
        .into_iter()
        .collect();
    let (lag, replica_warning) = replica(&s).await;
    warnings.extend(replica_warning);
    Ok(ok(Health {
        status: "ok".to_owned(),
        warnings,
        replica_lag_seconds: lag,
    }))
}

/// A replica more than this many seconds behind is worth a warning.
const REPLICA_LAG_WARNING_SECONDS: f64 = 60.0;

/// The replica's lag, and what the operator should know of it: that it does not answer
/// (supervisors' lists fail until it does), is no replica, or is far behind.
async fn replica(s: &Service) -> (Option<f64>, Option<String>) {
    if !s.has_replica() {
        return (None, None);
    }
    match s.replica_lag().await {
        Ok(Some(lag)) if lag > REPLICA_LAG_WARNING_SECONDS => (
            Some(lag),
            Some(format!(
                "the replica of database.read_url is {lag:.0} s behind the primary: supervisors' lists and statistics are that old"
            )),
        ),
        Ok(Some(lag)) => (Some(lag), None),
        Ok(None) => (
            None,
            Some("database.read_url names a server that is not a streaming replica (or has replayed nothing yet): supervisors read from it all the same".to_owned()),
        ),
        Err(error) => (
            None,
            Some(format!(
                "the replica of database.read_url does not answer ({error}): supervisors' lists and statistics fail until it does"
            )),
        ),
    }
}

/// Prometheus metrics, in the OpenMetrics text format.
#[utoipa::path(get, path = "/metrics", tag = tags::OPS,
    responses((status = 200, body = String, content_type = "application/openmetrics-text; version=1.0.0")))]
pub async fn metrics(State(s): State<Service>) -> Response {
    s.engine().keep_calendar_current().await;
    calendar_metrics(&s);
    s.metrics().replica_lag(replica(&s).await.0);
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
