//! Issuing, listing and revoking bearer tokens; shared by `cohandle token …` and the admin
//! endpoints. A secret is returned once, at creation, and only its hash is kept.

use axum::http::StatusCode;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use cohandle_store::handle::Handle;
use cohandle_store::tokens::{self as stored, Token};
use cohandle_workflows::AgencyCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{secret_hash, Role, SECRET_PREFIX};
use crate::pagination::{Cursor, Page};
use crate::Error;

/// The longest life a token can be given, in days.
pub const MAX_DAYS: u32 = 3650;

/// The most tokens an agency may hold at once for one role (neither revoked nor expired):
/// issuing is not idempotent (a secret is shown once and not kept), so it is bounded.
pub const MAX_ACTIVE_PER_ROLE: u64 = 20;

/// Refuses a token for an agency that is not registered, or registered as another kind,
/// and one beyond [`MAX_ACTIVE_PER_ROLE`].
async fn may_issue(store: &impl Handle, now: DateTime<Utc>, new: &NewToken) -> Result<(), Error> {
    let unprocessable = |code, detail: String| Error::Body {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code,
        detail,
    };
    let registered = stored::registered_kind(store, new.agency.as_str())
        .await?
        .ok_or_else(|| {
            unprocessable(
                "agency_unknown",
                format!(
                    "agency {} is not registered; register it first (`cohandle agency add {} --kind …`)",
                    new.agency, new.agency
                ),
            )
        })?;
    if let Some(kind) = new.role.kind().filter(|k| *k != registered) {
        return Err(unprocessable(
            "agency_kind_mismatch",
            format!(
                "agency {} is registered as {registered}, so it takes no {} token (those go to agencies of kind {kind})",
                new.agency, new.role
            ),
        ));
    }
    let active = stored::active(store, new.agency.as_str(), new.role.as_str(), now).await?;
    if active >= MAX_ACTIVE_PER_ROLE {
        return Err(Error::Body {
            status: StatusCode::CONFLICT,
            code: "too_many_tokens",
            detail: format!(
                "agency {} already holds {active} active {} tokens, the most allowed ({MAX_ACTIVE_PER_ROLE}); revoke one first",
                new.agency, new.role
            ),
        });
    }
    Ok(())
}

/// What to issue.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// The agency the token acts for, e.g. `cq-kjj`: a registered agency, of the role's kind
    /// (`assigner`, `agency`, `congress_office`, `supervisor`; admin tokens: any).
    #[schema(value_type = crate::dto::AgencyCodeText)]
    pub agency: AgencyCode,
    pub role: Role,
    /// A label for people, e.g. the system or person using it.
    #[serde(default)]
    pub name: Option<String>,
    /// Days until it expires (1 to 3650); never when absent.
    #[serde(default, deserialize_with = "whole_days")]
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
}

/// A whole number of days, written `30` or `30.0`: JSON Schema counts both as integers, so
/// a client generated from the document may send either.
fn whole_days<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let Some(days) = Option::<f64>::deserialize(d)? else {
        return Ok(None);
    };
    if days.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&days) {
        return Err(serde::de::Error::custom(format!(
            "expires_in_days is {days}; give a whole number of days, 1 to {MAX_DAYS}"
        )));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // whole, in range
    Ok(Some(days as u32))
}

/// A token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub agency: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token just issued, with the secret shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IssuedToken {
    #[serde(flatten)]
    pub token: TokenInfo,
    /// Send as `Authorization: Bearer <secret>`. It is not stored and cannot be shown again.
    pub secret: String,
}

impl From<Token> for TokenInfo {
    fn from(row: Token) -> Self {
        Self {
            id: row.id,
            name: row.name,
            agency: row.agency,
            role: row.role,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| cohandle_store::Error::Config {
        setting: "operating system randomness",
        message: e.to_string(),
    })?;
    Ok(bytes)
}

/// Issues a token valid from `now`, for a registered agency of the role's kind.
#[tracing::instrument(skip_all, fields(agency = %new.agency, role = %new.role))]
pub async fn create(
    store: &impl Handle,
    now: DateTime<Utc>,
    new: NewToken,
) -> Result<IssuedToken, Error> {
    let expires_at = match new.expires_in_days {
        None => None,
        Some(days) if (1..=MAX_DAYS).contains(&days) => Some(now + Duration::days(days.into())),
        Some(days) => {
            return Err(Error::invalid_body(format!(
                "expires_in_days is {days}; give 1 to {MAX_DAYS}, or leave it out for a token that does not expire"
            )))
        }
    };
    may_issue(store, now, &new).await?;
    let id = format!("tok_{}", hex::encode(random_bytes::<8>()?));
    let secret = format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)
    );
    let name = new
        .name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("{} {}", new.agency, new.role));
    let row = stored::insert(
        store,
        stored::NewToken {
            token: Token {
                id,
                name,
                agency: new.agency.to_string(),
                role: new.role.as_str().to_owned(),
                created_at: now,
                expires_at,
                revoked_at: None,
            },
            secret_hash: secret_hash(&secret),
        },
    )
    .await?;
    Ok(IssuedToken {
        token: row.into(),
        secret,
    })
}

/// Revokes a token from `now` on; revoking it again keeps the first moment.
#[tracing::instrument(skip(store, now))]
pub async fn revoke(store: &impl Handle, now: DateTime<Utc>, id: &str) -> Result<TokenInfo, Error> {
    stored::revoke(store, id, now)
        .await?
        .map(TokenInfo::from)
        .ok_or_else(|| Error::not_found("token_not_found", format!("no token has the id {id:?}")))
}

/// Tokens ordered by id, a page after the cursor.
pub async fn list(
    store: &impl Handle,
    cursor: Option<&Cursor>,
    limit: u64,
) -> Result<Page<TokenInfo>, Error> {
    let after = match cursor {
        Some(cursor) => Some(cursor.decode::<(String,)>()?.0),
        None => None,
    };
    let page = stored::list(store, after.as_deref(), limit).await?;
    Page::from_store(page, |t| Cursor::encode(&(t.id.clone(),)))
        .map(|page| page.map(TokenInfo::from))
}
