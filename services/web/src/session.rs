//! Signing in and out. The visitor pastes a bearer token (`cohandle token create`); it is
//! checked like an API call's and kept in a cookie that scripts cannot read (`HttpOnly`),
//! that no other site's page sends (`SameSite=Strict`), and that travels only over TLS when
//! the request came over TLS (`Secure`). Every request authenticates the cookie's token
//! again, so a revoked token ends its sessions at once.
//!
//! Forms carry a CSRF token: after sign-in, a hash of the session's secret (unforgeable
//! without the secret, which no page shows); on the sign-in form, a random value also set as
//! a cookie (double submit), so that no other site signs a visitor in under its own token.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use cohandle_api::{Principal, Role, Service};
use maud::html;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::page::{self, Refusal};

/// The cookie that holds the signed-in token.
pub const SESSION_COOKIE: &str = "cohandle_session";
/// The cookie that pairs with the sign-in form's CSRF field.
pub const SIGNIN_COOKIE: &str = "cohandle_signin";

/// A signed-in visitor: the token's principal, and the secret the CSRF token derives from.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub principal: Principal,
    secret: String,
}

impl Visitor {
    /// The CSRF token of this session's forms.
    pub fn csrf(&self) -> String {
        csrf_of(&self.secret)
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, given: &str) -> Result<(), Refusal> {
        if same(given, &self.csrf()) {
            Ok(())
        } else {
            Err(Refusal::new(StatusCode::FORBIDDEN, "csrf", ""))
        }
    }

    /// Whether the visitor's role reads everything (the supervisors' views).
    pub fn oversees(&self) -> bool {
        matches!(
            self.principal.role,
            Role::Supervisor | Role::Admin | Role::CongressOffice | Role::Assigner
        )
    }
}

fn csrf_of(secret: &str) -> String {
    hex::encode(Sha256::digest(format!("cohandle-web csrf\n{secret}")))
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A page that needs a visitor sends anyone else to the sign-in form.
#[derive(Debug)]
pub enum SignInFirst {
    /// No session, or its token no longer signs in.
    Needed,
    /// The session's token sent more than its rate limit: 429 with `Retry-After`, the
    /// session kept.
    Limited(cohandle_api::Error),
}

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        match self {
            Self::Needed => {
                // A stale cookie (revoked or expired token) is dropped on the way.
                let jar = CookieJar::new().remove(Cookie::build(SESSION_COOKIE).path("/"));
                (jar, Redirect::to("/signin")).into_response()
            }
            Self::Limited(error) => error.into_response(),
        }
    }
}

impl FromRequestParts<Service> for Visitor {
    type Rejection = SignInFirst;

    async fn from_request_parts(parts: &mut Parts, service: &Service) -> Result<Self, SignInFirst> {
        let jar = CookieJar::from_headers(&parts.headers);
        let secret = jar
            .get(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
            .ok_or(SignInFirst::Needed)?;
        let principal = authenticate(service, &secret)
            .await
            .map_err(|error| match error {
                error @ cohandle_api::Error::RateLimited { .. } => SignInFirst::Limited(error),
                _ => SignInFirst::Needed,
            })?;
        Ok(Self { principal, secret })
    }
}

async fn authenticate(service: &Service, secret: &str) -> Result<Principal, cohandle_api::Error> {
    let now = service.engine().clock().now();
    // A supervisor's scope is read from the jurisdictions, which another process registers.
    service.engine().keep_jurisdictions_current().await;
    let header = format!("Bearer {secret}");
    let principal = cohandle_api::auth::authenticate(service.engine(), now, Some(&header)).await?;
    // The same per-token bucket as the API's: a page is a request of the token it signs in with.
    service.admit(&principal)?;
    Ok(principal)
}

/// Whether the request reached the proxy in front of cohandle over TLS (cohandle itself
/// speaks plain HTTP): then the session cookie is `Secure`.
fn over_tls(headers: &HeaderMap) -> bool {
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get("forwarded")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"));
    forwarded_proto || forwarded
}

fn cookie(name: &'static str, value: String, tls: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(tls)
        .build()
}

/// `/`: the visitor's first page, or the sign-in form.
pub async fn home(visitor: Result<Visitor, SignInFirst>) -> Response {
    match visitor {
        Ok(v) if matches!(v.principal.role, Role::Agency | Role::CongressOffice) => {
            Redirect::to("/tasks").into_response()
        }
        Ok(_) => Redirect::to("/board").into_response(),
        Err(sign_in) => sign_in.into_response(),
    }
}

/// The sign-in form, with a fresh CSRF pair.
pub async fn signin_form(headers: HeaderMap) -> Response {
    let token = uuid::Uuid::new_v4().simple().to_string();
    let jar = CookieJar::new().add(cookie(SIGNIN_COOKIE, token.clone(), over_tls(&headers)));
    (jar, signin_page(StatusCode::OK, &token, None)).into_response()
}

fn signin_page(status: StatusCode, csrf: &str, refusal: Option<&str>) -> Response {
    page::answer(
        status,
        page::shell(
            "登录",
            None,
            html! {
                form.card method="post" action="/signin" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="token" { "令牌" }
                    input #token type="password" name="token" autocomplete="off" required
                        placeholder="chd_…";
                    p.hint { "令牌由管理员用 " code { "cohandle token create" } " 发放，决定您的单位和身份。" }
                    @if let Some(refusal) = refusal {
                        p.refusal role="alert" { (refusal) }
                    }
                    button type="submit" { "登录" }
                }
            },
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct SignIn {
    token: String,
    csrf: String,
}

/// Checks the token and keeps it in the session cookie.
pub async fn signin(
    State(service): State<Service>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<SignIn>,
) -> Response {
    let paired = jar
        .get(SIGNIN_COOKIE)
        .is_some_and(|c| same(c.value(), &form.csrf));
    if !paired {
        return Refusal::new(StatusCode::FORBIDDEN, "csrf", "").into_response();
    }
    let secret = form.token.trim().to_owned();
    match authenticate(&service, &secret).await {
        Ok(principal) => {
            tracing::info!(message = "Signed in to the workbench", agency = %principal.agency, role = %principal.role);
            let jar = jar
                .remove(Cookie::build(SIGNIN_COOKIE).path("/"))
                .add(cookie(SESSION_COOKIE, secret, over_tls(&headers)));
            (jar, Redirect::to("/")).into_response()
        }
        Err(error) => {
            let refusal = Refusal::from(error);
            signin_page(
                StatusCode::UNAUTHORIZED,
                &form.csrf,
                Some(&refusal.sentence()),
            )
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct SignOut {
    csrf: String,
}

/// Forgets the session cookie (the token itself stays valid until revoked).
pub async fn signout(visitor: Visitor, jar: CookieJar, Form(form): Form<SignOut>) -> Response {
    if let Err(refusal) = visitor.check_csrf(&form.csrf) {
        return refusal.into_response();
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    (jar, Redirect::to("/signin")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_depends_on_the_secret_and_compares_whole() {
        assert_ne!(csrf_of("chd_a"), csrf_of("chd_b"));
        assert_eq!(csrf_of("chd_a").len(), 64);
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }

    #[test]
    fn the_cookie_is_secure_only_behind_tls() {
        let mut headers = HeaderMap::new();
        assert!(!over_tls(&headers));
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(over_tls(&headers));
        let c = cookie(SESSION_COOKIE, "s".into(), true).to_string();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
    }
}
