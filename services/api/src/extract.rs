//! Request parts parsed at the door, each failing as a problem document: the caller (its
//! bearer token), the JSON body (an empty body reads as `{}`), the path, the query and the
//! `Idempotency-Key` header.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::StatusCode;
use cohandle_workflows::ids::{check_idempotency_key, IDEMPOTENCY_KEY_MAX};
use cohandle_workflows::EventId;
use serde::de::DeserializeOwned;

use crate::auth::{self, CallerSlot, Principal};
use crate::service::Service;
use crate::Error;

impl FromRequestParts<Service> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, service: &Service) -> Result<Self, Error> {
        let header = match parts.headers.get(AUTHORIZATION) {
            None => None,
            Some(value) => Some(value.to_str().map_err(|_| {
                Error::unauthorized("token_invalid", "the Authorization header is not text")
            })?),
        };
        let now = service.engine().clock().now();
        let principal = auth::authenticate(service.engine(), now, header).await?;
        tracing::Span::current().record("agency", principal.agency.as_str());
        if let Some(slot) = parts.extensions.get::<CallerSlot>() {
            slot.set(&principal);
        }
        service.admit(&principal)?;
        Ok(principal)
    }
}

/// The header whose value becomes the event id.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A JSON body. Unknown fields, wrong types and missing fields are refused (422), malformed
/// JSON is 400, a body that is not JSON 415, one over the size limit 413.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let essence = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                essence == "application/json" || essence.ends_with("+json")
            });
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(bytes_rejection)?;
        // Steps with nothing to say may be sent without a body.
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return axum::Json::<T>::from_bytes(b"{}")
                .map(|axum::Json(v)| Self(v))
                .map_err(json_rejection);
        }
        if is_json != Some(true) {
            return Err(Error::Body {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code: "body_not_json",
                detail: "send the body as JSON, with Content-Type: application/json".to_owned(),
            });
        }
        axum::Json::<T>::from_bytes(&bytes)
            .map(|axum::Json(v)| Self(v))
            .map_err(json_rejection)
    }
}

fn bytes_rejection(rejection: BytesRejection) -> Error {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Error::Body {
            status,
            code: "body_too_large",
            detail: format!(
                "the body is larger than the limit of {} bytes",
                crate::BODY_LIMIT
            ),
        }
    } else {
        Error::Body {
            status,
            code: "body_unreadable",
            detail: rejection.body_text(),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> Error {
    let (status, code) = match &rejection {
        JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "body_invalid"),
        JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "body_malformed"),
        JsonRejection::MissingJsonContentType(_) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "body_not_json")
        }
        _ => (rejection.status(), "body_unreadable"),
    };
    Error::Body {
        status,
        code,
        detail: rejection.body_text(),
    }
}

/// Path parameters, parsed into validated types (a proposal key, an agency code …).
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Self(v))
            .map_err(|e| Error::bad_request("path_invalid", e.body_text()))
    }
}

/// Query parameters; unknown ones are refused.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Self(v))
            .map_err(|e| Error::bad_request("query_invalid", e.body_text()))
    }
}

/// The client's `Idempotency-Key`. It is the caller's own: the event's id is
/// `http/<agency>/<role>/<key>` ([`IdempotencyKey::event_id`]), so the same key sent by
/// another agency or role is another event, and no one can take another's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub String);

impl IdempotencyKey {
    /// The id of the event the caller sends under this key.
    pub fn event_id(&self, principal: &Principal) -> Result<EventId, Error> {
        EventId::from_http(&principal.agency, principal.role.as_str(), &self.0)
            .map_err(|e| Error::bad_request("idempotency_key_invalid", e.to_string()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let value = parts.headers.get(IDEMPOTENCY_KEY).ok_or_else(|| {
            Error::bad_request(
                "idempotency_key_missing",
                format!("every write needs an Idempotency-Key header: a unique id of your choosing (A-Z a-z 0-9 - _ . : /, beginning with a letter or digit, at most {IDEMPOTENCY_KEY_MAX}), sent again unchanged on a retry"),
            )
        })?;
        let text = value.to_str().map_err(|_| {
            Error::bad_request("idempotency_key_invalid", "the Idempotency-Key is not text")
        })?;
        let key = text.trim();
        check_idempotency_key(key)
            .map_err(|e| Error::bad_request("idempotency_key_invalid", e.to_string()))?;
        Ok(Self(key.to_owned()))
    }
}
