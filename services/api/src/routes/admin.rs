//! Token management for admin tokens; `cohandle token …` does the same from the shell.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{ok, tags, ReadErrors, WriteErrors};
use crate::access;
use crate::auth::{Principal, Role};
use crate::dto::PageQuery;
use crate::extract::{ApiPath, ApiQuery, JsonBody};
use crate::pagination::{self, Cursor, Page};
use crate::service::Service;
use crate::tokens::{self, IssuedToken, NewToken, TokenInfo};
use crate::Error;

type Answer = Result<Response, Error>;

const MANAGE: &[Role] = &[Role::Admin];

/// List tokens (never their secrets).
#[utoipa::path(get, path = "/v1/tokens", tag = tags::ADMIN, params(PageQuery),
    responses((status = 200, body = Page<TokenInfo>), ReadErrors), security(("bearer" = [])))]
pub async fn list_tokens(
    State(s): State<Service>,
    p: Principal,
    query: Result<ApiQuery<PageQuery>, Error>,
) -> Answer {
    access::require(&p, MANAGE, "manage tokens")?;
    let ApiQuery(query) = query?;
    let limit = pagination::limit(query.limit)?;
    let cursor = query.cursor.map(Cursor::new);
    Ok(ok(tokens::list(s.engine(), cursor.as_ref(), limit).await?))
}

/// Issue a token for an agency and role; the answer shows its secret, this once.
#[utoipa::path(post, path = "/v1/tokens", tag = tags::ADMIN, request_body = NewToken,
    responses((status = 201, body = IssuedToken), WriteErrors), security(("bearer" = [])))]
pub async fn create_token(
    State(s): State<Service>,
    p: Principal,
    body: Result<JsonBody<NewToken>, Error>,
) -> Answer {
    access::require(&p, MANAGE, "manage tokens")?;
    let JsonBody(new) = body?;
    let now = s.engine().clock().now();
    let issued = tokens::create(s.engine(), now, new).await?;
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

/// Revoke a token from now on (the row stays, for the record).
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = tags::ADMIN,
    params(("id" = String, Path, description = "The token's id, e.g. tok_0123abcd4567ef89")),
    responses((status = 200, body = TokenInfo), ReadErrors), security(("bearer" = [])))]
pub async fn revoke_token(
    State(s): State<Service>,
    p: Principal,
    path: Result<ApiPath<String>, Error>,
) -> Answer {
    access::require(&p, MANAGE, "manage tokens")?;
    let ApiPath(id) = path?;
    let now = s.engine().clock().now();
    Ok(ok(tokens::revoke(s.engine(), now, &id).await?))
}
