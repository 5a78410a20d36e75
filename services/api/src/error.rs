//! The one error type of the API and its one HTTP mapping: every refusal and failure leaves
//! as `application/problem+json` (RFC 9457) with a stable, machine-readable `code`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cohandle_workflows::RejectionCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Set on an answer that repeats the first outcome of an `Idempotency-Key` seen before.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable bearer token: missing, unknown, expired or revoked.
    #[error("{detail}")]
    Unauthorized { code: &'static str, detail: String },
    /// Authenticated, but this role or agency may not do this.
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    #[error("{detail}")]
    NotFound { code: &'static str, detail: String },
    /// A header, a path segment, the query or a cursor does not parse.
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// The body does not parse or breaks a rule of its shape; the status says how
    /// (400 malformed JSON, 413 too large, 415 not JSON, 422 wrong fields or types).
    #[error("{detail}")]
    Body {
        status: StatusCode,
        code: &'static str,
        detail: String,
    },
    /// The engine refused the event (recorded in its inbox with this code and reason).
    #[error("{code}: {message}")]
    Rejected {
        code: String,
        message: String,
        /// The refusal is the first outcome of an `Idempotency-Key` seen before.
        replayed: bool,
    },
    /// The caller already spent its `Idempotency-Key` on a different request.
    #[error("the Idempotency-Key of event {key:?} was already used by this caller for a different request")]
    KeyReused { key: String },
    /// The token sent more than its rate limit allows; `retry_after` is in whole seconds.
    #[error("{detail}")]
    RateLimited { retry_after: u64, detail: String },
    #[error(transparent)]
    Store(#[from] cohandle_store::Error),
    /// A failure of the server's own, told in its log; the client learns only that it failed.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            detail: detail.into(),
        }
    }

    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Unauthorized {
            code,
            detail: detail.into(),
        }
    }

    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            detail: detail.into(),
        }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    /// A body that parsed but breaks a rule of its shape (e.g. a field that needs another).
    pub fn invalid_body(detail: impl Into<String>) -> Self {
        Self::Body {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "body_invalid",
            detail: detail.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Body { status, .. } => *status,
            Self::Rejected { code, .. } => rejection_status(code),
            Self::KeyReused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Store(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> &str {
        match self {
            Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::NotFound { code, .. }
            | Self::BadRequest { code, .. }
            | Self::Body { code, .. } => code,
            Self::Rejected { code, .. } => code,
            Self::KeyReused { .. } => "idempotency_key_reused",
            Self::RateLimited { .. } => "rate_limited",
            Self::Store(e) if e.is_transient() => "unavailable",
            Self::Store(_) | Self::Internal(_) => "internal",
        }
    }

    /// The problem document this error answers with.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let detail = match self {
            // The database's words stay in the log; the client learns only that it failed.
            Self::Store(e) if e.is_transient() => {
                "the database is unavailable or busy; retry with the same Idempotency-Key"
                    .to_owned()
            }
            Self::Store(_) | Self::Internal(_) => {
                "an internal error occurred; it is in the server's log".to_owned()
            }
            other => other.to_string(),
        };
        Problem::new(status, self.code(), detail)
    }
}

/// How a domain refusal answers: 403 when the sender may not send it, 409 when the proposal
/// is not in a state for it, 422 when its content is wrong.
pub fn rejection_status(code: &str) -> StatusCode {
    const CONFLICT: [RejectionCode; 4] = [
        RejectionCode::WrongState,
        RejectionCode::GuardFailed,
        RejectionCode::UnknownProposal,
        RejectionCode::AlreadyExists,
    ];
    if code == RejectionCode::ActorNotAllowed.as_str() {
        StatusCode::FORBIDDEN
    } else if CONFLICT.iter().any(|c| c.as_str() == code) {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// An RFC 9457 problem document, with the stable `code` as an extension member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:cohandle:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem (the HTTP reason phrase).
    pub title: String,
    pub status: u16,
    /// What went wrong this time, for a person.
    pub detail: String,
    /// The stable, machine-readable reason, e.g. `role_not_allowed`, `wrong_state`.
    pub code: String,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("urn:cohandle:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
        }
    }
}

/// The `code` of a problem answer, kept on the response for the access audit.
#[derive(Debug, Clone)]
pub struct ProblemCode(pub String);

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            body,
        )
            .into_response();
        response.extensions_mut().insert(ProblemCode(self.code));
        response
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match &self {
            Self::Store(error) => {
                tracing::error!(message = "Failed to serve a request", %error);
            }
            Self::Internal(error) => {
                tracing::error!(message = "Failed to serve a request", %error);
            }
            Self::Rejected { code, message, .. } => {
                tracing::info!(code = %code, reason = %message, "event refused");
            }
            _ => {}
        }
        let mut response = self.problem().into_response();
        let headers = response.headers_mut();
        match &self {
            Self::Unauthorized { code, .. } => {
                let challenge = if *code == "token_missing" {
                    r#"Bearer realm="cohandle""#.to_owned()
                } else {
                    format!(
                        r#"Bearer realm="cohandle", error="invalid_token", error_description="{code}""#
                    )
                };
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    headers.insert(header::WWW_AUTHENTICATE, value);
                }
            }
            Self::Rejected { replayed: true, .. } => {
                headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
            }
            Self::RateLimited { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            Self::Store(e) if e.is_transient() => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_map_to_403_409_or_422() {
        assert_eq!(rejection_status("actor_not_allowed"), StatusCode::FORBIDDEN);
        assert_eq!(rejection_status("wrong_state"), StatusCode::CONFLICT);
        assert_eq!(rejection_status("already_exists"), StatusCode::CONFLICT);
        assert_eq!(
            rejection_status("invalid_payload"),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            rejection_status("clock_skew"),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    #[test]
    fn problems_name_their_code_in_the_type() {
        let p = Error::forbidden("role_not_allowed", "no").problem();
        assert_eq!(p.kind, "urn:cohandle:problem:role_not_allowed");
        assert_eq!((p.status, p.title.as_str()), (403, "Forbidden"));
    }
}
