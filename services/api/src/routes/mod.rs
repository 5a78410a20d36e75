//! The HTTP surface: every route is registered together with its OpenAPI description
//! (`utoipa_axum::routes!`), so the document at `/openapi.json` is the router itself.
//!
//! - [`writes`]: one POST per event, each through [`crate::Service::submit`];
//! - [`reads`]: proposals, tasks, deadlines, statistics, the caller;
//! - [`admin`]: tokens; [`setup`]: definitions, jurisdictions and their agencies;
//!   [`ops`]: health, readiness, metrics.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::error::{Problem, REPLAYED_HEADER};
use crate::service::{Submitted, Written};

pub mod admin;
pub mod held;
pub mod ops;
pub mod reads;
pub mod setup;
pub mod writes;

/// Tags that group the operations in the document.
pub mod tags {
    pub const ASSIGNER: &str = "assigner";
    pub const LEAD: &str = "lead agency";
    pub const PARTNER: &str = "partner agencies";
    pub const CONGRESS_OFFICE: &str = "congress office";
    pub const READS: &str = "supervision and reads";
    pub const ADMIN: &str = "tokens";
    pub const SETUP: &str = "jurisdictions and definitions";
    pub const OPS: &str = "operations";
}

/// What a write may answer besides its success: held (202), or an error.
#[derive(Debug, utoipa::IntoResponses)]
#[allow(dead_code)] // only described, never built: errors are built as `crate::Error`
pub enum WriteErrors {
    /// Held with its proposal (`status: held`): the event arrived before the step it depends
    /// on (`unknown_proposal`, `wrong_state` or `guard_failed` now). It is applied when that
    /// step arrives, or refused at `held_until` with its code on the sender's queue
    /// (`rejected.<agency>`) and in the answer to a retry with the same `Idempotency-Key`.
    #[response(status = 202)]
    Held(crate::dto::HeldOutcome),
    /// Malformed JSON, a missing or invalid `Idempotency-Key`, or a path that does not parse.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// No valid bearer token (missing, unknown, expired, revoked).
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The token's role may not send this event (`role_not_allowed`), the proposal is not the
    /// agency's (`not_your_proposal`), or the engine refused the sender (`actor_not_allowed`).
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// The engine refused the event in the proposal's present state: `already_exists`; or
    /// `wrong_state`, `guard_failed`, `unknown_proposal` for an event that was held (202) and
    /// whose window ended, answered to a retry with its `Idempotency-Key`.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// The body is over the size limit.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The body is not JSON.
    #[response(status = 415, content_type = "application/problem+json")]
    NotJson(Problem),
    /// Unknown, missing or mistyped fields (`body_invalid`); content the engine refused
    /// (`invalid_payload`, `unknown_task`, `calendar`, `clock_skew`, `wrong_jurisdiction`); or an
    /// `Idempotency-Key` already used for a different request (`idempotency_key_reused`).
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(Problem),
    /// The token sent more than its rate limit (`rate_limited`); retry after `Retry-After`
    /// seconds.
    #[response(status = 429, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before the next request")))]
    TooManyRequests(Problem),
    /// The database is unavailable; retry with the same `Idempotency-Key`.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// The errors a read may answer.
#[derive(Debug, utoipa::IntoResponses)]
#[allow(dead_code)] // only described
pub enum ReadErrors {
    /// A query parameter, cursor, limit or path that does not parse.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// No valid bearer token.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// Not the caller's to read (`not_your_proposal`, `not_your_task`, `not_your_agency`,
    /// `jurisdiction_not_yours`, `role_not_allowed`).
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such proposal, task or token.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// The token sent more than its rate limit (`rate_limited`); retry after `Retry-After`
    /// seconds.
    #[response(status = 429, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before the next request")))]
    TooManyRequests(Problem),
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// Answers a write: an accepted event as [`written`]; a held one with 202 and its
/// [`crate::dto::HeldOutcome`], marked when it repeats the first outcome of the same
/// `Idempotency-Key`.
pub fn submitted(submitted: Submitted) -> Response {
    match submitted {
        Submitted::Written(accepted) => written(accepted),
        Submitted::Held { held, replayed } => {
            let mut response = (StatusCode::ACCEPTED, Json(held)).into_response();
            if replayed {
                response
                    .headers_mut()
                    .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
            }
            response
        }
    }
}

/// Answers an accepted event: 201 with its location for a new proposal, 200 otherwise,
/// marked when it repeats the first outcome of the same `Idempotency-Key`.
pub fn written(written: Written) -> Response {
    let created = written.outcome.event == "assign";
    let location = format!("/v1/proposals/{}", written.outcome.proposal);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(written.outcome)).into_response();
    let headers = response.headers_mut();
    if created {
        if let Ok(value) = HeaderValue::from_str(&location) {
            headers.insert(header::LOCATION, value);
        }
    }
    if written.replayed {
        headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

/// A JSON answer with 200.
pub fn ok<T: Serialize>(value: T) -> Response {
    Json(value).into_response()
}
