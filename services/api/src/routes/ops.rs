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

/// Prometheus metrics, in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = tags::OPS,
    responses((status = 200, body = String, content_type = "text/plain; version=0.0.4")))]
pub async fn metrics(State(s): State<Service>) -> Response {
    s.engine().keep_calendar_current().await;
    let mut text = s.metrics().render();
    text.push_str(&calendar_metrics(&s));
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Whether this year's and next year's working days are counted over the official
/// arrangement (1) or provisionally (0): alert on `cohandle_calendar_year_official == 0`
/// for next year from November.
fn calendar_metrics(s: &Service) -> String {
    use chrono::Datelike;
    use cohandle_workflows::calendar::YearStatus;
    let calendar = s.engine().calendar();
    let this_year = s.today().year();
    let mut out = String::from(
        "# HELP cohandle_calendar_year_official Whether a year's official holiday arrangement is loaded (0: its deadlines are provisional).\n\
         # TYPE cohandle_calendar_year_official gauge\n",
    );
    for year in [this_year, this_year + 1] {
        let official = u8::from(calendar.year_status(year) == YearStatus::Official);
        out.push_str(&format!(
            "cohandle_calendar_year_official{{year=\"{year}\"}} {official}\n"
        ));
    }
    out
}
