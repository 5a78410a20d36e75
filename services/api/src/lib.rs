//! The HTTP door of cohandle: agencies record their steps and supervisors read deadlines,
//! timelines and statistics, each with a bearer token that fixes its agency and role.
//!
//! - [`service`]: what handlers call after authentication — [`Service::submit`] sends every
//!   write through `Engine::apply` (idempotent by the `Idempotency-Key`), the reads are
//!   scoped to the caller. `cohandle demo` replays its case through the same functions.
//! - [`auth`] and [`tokens`]: hashed bearer tokens per agency and role; [`access`]: which
//!   role sends which event and which proposals and tasks an agency sees.
//! - [`routes`]: the axum handlers, each registered with its OpenAPI description, so
//!   `/openapi.json` is generated from them; [`dto`]: request and answer shapes.
//! - [`lists`]: the lists as supervisors search them (search, sort, totals, filters checked
//!   against what exists); [`export`]: lists and figures as CSV that Excel opens.
//! - [`error`]: the one error type, answered as `application/problem+json` with a stable
//!   `code`; [`extract`]: body, path, query and `Idempotency-Key` parsing into it.
//! - [`metrics`]: Prometheus counters at `/metrics`; [`ratelimit`]: a bucket per token, 429
//!   with `Retry-After` when it is empty.
//!
//! This crate never decides a transition (the engine does) and never lets a request body
//! choose its actor: the token does.

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub mod access;
pub mod auth;
pub mod dto;
pub mod error;
pub mod export;
pub mod extract;
pub mod lists;
pub mod metrics;
pub mod pagination;
pub mod ratelimit;
pub mod routes;
pub mod service;
pub mod tokens;

pub use auth::{Principal, Role};
pub use error::{Error, Problem};
pub use ratelimit::RateLimit;
pub use service::{Command, Commits, GroupCommit, Service, Submitted, Written};

/// The largest request body accepted, in bytes; a larger one is answered 413.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "cohandle",
        description = "Routes deputies' suggestions (人大代表建议) and CPPCC proposals (政协提案) among co-handling agencies. \
Every write is an event sent through the engine's one path and is idempotent by its `Idempotency-Key` header, the caller's own: the event's id is `http/<agency>/<role>/<key>`. \
The bearer token decides the sender's agency and role; errors are `application/problem+json` (RFC 9457) with a stable `code`."
    ),
    modifiers(&BearerAuth),
    components(schemas(
        dto::ProposalKeyText,
        dto::AgencyCodeText,
        dto::IdempotencyKeyText,
        dto::HeldOutcome
    )),
    tags(
        (name = "assigner", description = "The office that assigns (交办) and decides disputes, disagreements and extensions"),
        (name = "lead agency", description = "The lead (主办), sole or split handler: from signing for the task to publishing the reply"),
        (name = "partner agencies", description = "Co-handlers (会办/协办): acknowledge, opinion, dispute, decline"),
        (name = "congress office", description = "The deputy work office: feedback receipts (回执)"),
        (name = "supervision and reads", description = "Proposals, tasks, timelines, deadlines, statistics; scoped to the caller"),
        (name = "tokens", description = "Bearer tokens, for admin tokens"),
        (name = "jurisdictions and definitions", description = "Onboarding, for admin tokens: deploy workflow definitions, register jurisdictions and the agencies that serve them"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from `cohandle token create` (or POST /v1/tokens)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Request bodies refuse unknown fields (`deny_unknown_fields`); utoipa says so for structs
/// but not for the variants of a tagged enum, so the document is closed here for those. It
/// runs on the whole document, once the routes have added their schemas.
struct ClosedVariants;

impl utoipa::Modify for ClosedVariants {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{AdditionalProperties, Schema};
        use utoipa::openapi::RefOr;
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let Some(RefOr::T(Schema::OneOf(one_of))) =
            components.schemas.get_mut("DisputeDecisionRequest")
        else {
            return;
        };
        for item in &mut one_of.items {
            if let RefOr::T(Schema::Object(object)) = item {
                object.additional_properties =
                    Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
        }
    }
}

/// Every route with its documentation, in one router.
fn documented() -> OpenApiRouter<Service> {
    use routes::{admin, held, ops, reads, setup, writes};
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(writes::assign, reads::list_proposals))
        .routes(routes!(reads::get_proposal))
        .routes(routes!(writes::decide_dispute))
        .routes(routes!(writes::settle_disagreement))
        .routes(routes!(writes::approve_extension))
        .routes(routes!(writes::refuse_extension))
        .routes(routes!(writes::merge_into))
        .routes(routes!(writes::absorb))
        .routes(routes!(writes::sign_for))
        .routes(routes!(writes::raise_disagreement))
        .routes(routes!(writes::record_contact))
        .routes(routes!(writes::draft_reply))
        .routes(routes!(writes::return_draft))
        .routes(routes!(writes::sign_reply))
        .routes(routes!(writes::send_reply))
        .routes(routes!(writes::report_progress))
        .routes(routes!(writes::conclude_follow_up))
        .routes(routes!(writes::record_consultation))
        .routes(routes!(writes::request_extension))
        .routes(routes!(writes::record_disclosure))
        .routes(routes!(writes::pause_clock))
        .routes(routes!(writes::resume_clock))
        .routes(routes!(writes::acknowledge))
        .routes(routes!(writes::submit_opinion))
        .routes(routes!(writes::dispute))
        .routes(routes!(writes::decline))
        .routes(routes!(writes::record_feedback))
        .routes(routes!(reads::get_task))
        .routes(routes!(reads::list_tasks))
        .routes(routes!(reads::deadlines))
        .routes(routes!(reads::statistics))
        .routes(routes!(reads::trend))
        .routes(routes!(reads::me))
        .routes(routes!(held::list_held))
        .routes(routes!(admin::list_tokens, admin::create_token))
        .routes(routes!(admin::revoke_token))
        .routes(routes!(setup::deploy_definition, setup::list_definitions))
        .routes(routes!(setup::add_jurisdiction, setup::list_jurisdictions))
        .routes(routes!(setup::join_agencies))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
}

/// The OpenAPI document, generated from the routes.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented_parts().1
}

fn documented_parts() -> (axum::Router<Service>, utoipa::openapi::OpenApi) {
    use utoipa::Modify;
    let (routes, mut doc) = documented().split_for_parts();
    ClosedVariants.modify(&mut doc);
    (routes, doc)
}

/// The whole application: routes, `/openapi.json`, limits, metrics, tracing.
pub fn router(service: Service) -> Router {
    let (routes, doc) = documented_parts();
    let doc = Arc::new(doc);
    routes
        .route(
            "/openapi.json",
            get(move || {
                let doc = Arc::clone(&doc);
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(service.clone(), observe))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred; it is in the server's log",
                )
                .into_response()
            },
        ))
        .with_state(service)
}

async fn not_found() -> Response {
    Problem::new(
        StatusCode::NOT_FOUND,
        "no_such_route",
        "no such path; the API is described at /openapi.json",
    )
    .into_response()
}

async fn method_not_allowed() -> Response {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not take that method; see /openapi.json",
    )
    .into_response()
}

/// Observes every request: counts its answer by route template (never the raw path, which
/// would explode the label set) and status, and keeps it in the access audit (等保 2.0) —
/// time, token, agency, role, method, route, proposal, outcome, latency — as a row of
/// `access_audit` and a JSON log line (target `cohandle::audit`), before the answer leaves.
async fn observe(State(service): State<Service>, mut request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let path = request.uri().path().to_owned();
    let method = request.method().as_str().to_owned();
    // Definitions deployed, holiday files loaded and jurisdictions registered by another
    // process reach this one's reads too, not only its writes (each look is due at most every
    // 30 s): a supervisor's scope is read from the jurisdictions.
    service.engine().keep_definitions_current().await;
    service.engine().keep_calendar_current().await;
    service.engine().keep_jurisdictions_current().await;
    let caller = auth::CallerSlot::default();
    request.extensions_mut().insert(caller.clone());
    let at = service.engine().clock().now();
    let started = tokio::time::Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    service.metrics().request(
        &method,
        route.as_deref().unwrap_or("unmatched"),
        status,
        elapsed,
    );
    let principal = caller.get();
    let entry = cohandle_store::audit::Entry {
        id: 0,
        at,
        token_id: principal.as_ref().and_then(|p| p.token_id.clone()),
        agency: principal.as_ref().map(|p| p.agency.to_string()),
        role: principal.as_ref().map(|p| p.role.as_str().to_owned()),
        proposal_key: proposal_named(route.as_deref(), &path, &response),
        route: route.unwrap_or_else(|| path.chars().take(512).collect()),
        method,
        status: i32::from(status),
        code: response
            .extensions()
            .get::<error::ProblemCode>()
            .map(|c| c.0.clone()),
        latency_us: i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX),
    };
    tracing::info!(
        target: "cohandle::audit",
        record = %cohandle_store::audit::as_json(&entry),
        "access"
    );
    if let Err(error) = cohandle_store::audit::record(service.engine(), entry).await {
        tracing::error!(message = "Failed to keep a request in the access audit", %error);
    }
    response
}

/// The proposal a request names: the `{key}` of its route, or the `Location` of a proposal
/// an assignment created.
fn proposal_named(route: Option<&str>, path: &str, response: &Response) -> Option<String> {
    const PREFIX: &str = "/v1/proposals/";
    if route.is_some_and(|r| r.starts_with("/v1/proposals/{key}")) {
        let rest = path.strip_prefix(PREFIX)?;
        return rest
            .split('/')
            .next()
            .map(|k| k.chars().take(128).collect());
    }
    let location = response.headers().get(axum::http::header::LOCATION)?;
    location
        .to_str()
        .ok()?
        .strip_prefix(PREFIX)
        .map(|k| k.chars().take(128).collect())
}

/// Serves the API on `listener` until `shutdown` completes; requests in flight finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Service,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(service))
        .with_graceful_shutdown(shutdown)
        .await
}
