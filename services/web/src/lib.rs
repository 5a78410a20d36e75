//! The web workbench of cohandle: pages for supervisors (督查室, 人大选联工委, 政协提案委) and
//! agency staff, in simplified Chinese, served by the `cohandle` binary beside the API.
//!
//! - [`session`]: sign-in with a bearer token kept in an `HttpOnly`, `SameSite=Strict`
//!   cookie, sign-out, and the CSRF token every form carries.
//! - [`board`]: the deadline board (counts, filters, pages, CSV export through
//!   [`export`]);
//!   [`proposal`]: one proposal with its tasks, each deadline (completed, open, overdue,
//!   missed, provisional), the reply, the timeline and the verification of its history
//!   chain; [`tasks`]: an agency's own tasks and the task page
//!   with the forms of the steps its holder may take now ([`steps`]); [`statistics`]: the
//!   figures per agency, with bars drawn in inline SVG.
//! - [`page`]: the page shell and the one refusal page; [`words`]: the Chinese names of
//!   roles, states, events and refusals; [`live`]: `ETag`s for the parts of a page that
//!   refresh themselves; [`assets`]: the stylesheet and the polling script, compiled in.
//!
//! Every read and write goes through the same [`cohandle_api::Service`] methods as the API,
//! so a page sees exactly what the token's API calls would, and a form is one
//! `Service::submit` with an idempotency key generated into it. This crate never decides a
//! transition, never queries the store beside the service (except two reads of one visible
//! proposal: its history verification and its deadline timers, for how each deadline
//! ended), never writes the store but through `Service::submit`, and loads nothing from
//! outside the binary.

use std::future::Future;

use axum::routing::{get, post};
use axum::Router;
use cohandle_api::Service;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

pub mod assets;
pub mod board;
pub mod export;
pub mod live;
pub mod page;
pub mod proposal;
pub mod session;
pub mod statistics;
pub mod steps;
pub mod tasks;
pub mod words;

/// The workbench's routes alone.
pub fn router(service: Service) -> Router {
    Router::new()
        .route("/", get(session::home))
        .route("/signin", get(session::signin_form).post(session::signin))
        .route("/signout", post(session::signout))
        .route("/board", get(board::board))
        .route("/board.csv", get(board::csv_export))
        .route("/proposals", get(proposal::search))
        .route("/proposals/{key}", get(proposal::proposal))
        .route("/tasks", get(tasks::my_tasks))
        .route("/proposals/{key}/tasks/{agency}", get(tasks::task))
        .route(
            "/proposals/{key}/tasks/{agency}/steps/{step}",
            post(tasks::take_step),
        )
        .route("/statistics", get(statistics::statistics))
        .route("/statistics.csv", get(statistics::csv_export))
        .route("/statistics/trend.csv", get(statistics::trend_csv))
        .route("/assets/{name}", get(assets::asset))
        .layer(axum::middleware::map_response(page::guard_headers))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(page::panicked))
        .with_state(service)
}

/// The API and the workbench in one application, as `cohandle serve` answers.
pub fn app(service: Service) -> Router {
    cohandle_api::router(service.clone()).merge(router(service))
}

/// Serves the API and the workbench on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Service,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(service))
        .with_graceful_shutdown(shutdown)
        .await
}
