//! Who is calling: bearer tokens per agency and role, stored only as SHA-256 hashes. The
//! authenticated token alone decides the actor of every event; no request body can.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use cohandle_store::handle::Handle;
use cohandle_workflows::{Actor, ActorKind, AgencyCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::Error;

/// What a token may do. Roles are coarse; which proposal and task an agency may touch is
/// decided per request (see [`crate::access`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The government office (or congress office) that assigns (交办) and decides.
    Assigner,
    /// A handling agency: lead, co-handler, sole or split handler, by its tasks.
    Agency,
    /// The congress deputy work office (人代工委), which relays deputies' receipts.
    CongressOffice,
    /// A supervisor (督办): reads everything, writes nothing.
    Supervisor,
    /// Manages tokens and reads everything; writes no event.
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Assigner,
        Role::Agency,
        Role::CongressOffice,
        Role::Supervisor,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assigner => "assigner",
            Self::Agency => "agency",
            Self::CongressOffice => "congress_office",
            Self::Supervisor => "supervisor",
            Self::Admin => "admin",
        }
    }

    /// The agency kind (`agencies.kind`) this role's tokens are issued to; admin tokens go
    /// to any registered agency.
    pub fn kind(self) -> Option<&'static str> {
        match self {
            Self::Assigner => Some("assigner"),
            Self::Agency => Some("agency"),
            Self::CongressOffice => Some("congress_office"),
            Self::Supervisor => Some("supervisor"),
            Self::Admin => None,
        }
    }

    /// The kind of actor the engine sees for events sent under this role, if it sends any.
    pub fn actor_kind(self) -> Option<ActorKind> {
        match self {
            Self::Assigner => Some(ActorKind::Assigner),
            Self::Agency => Some(ActorKind::Agency),
            Self::CongressOffice => Some(ActorKind::CongressOffice),
            Self::Supervisor | Self::Admin => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
                format!("{s:?} is not a role; one of {}", names.join(", "))
            })
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token it authenticated with; `None` for in-process callers such as the demo.
    pub token_id: Option<String>,
    pub name: String,
    pub agency: AgencyCode,
    pub role: Role,
    /// The jurisdictions its agency serves (`cohandle jurisdiction join`): where an assigner
    /// assigns and what a supervisor watches, with the jurisdictions below them.
    pub jurisdictions: Vec<String>,
}

impl Principal {
    /// A caller inside this process (the demo, operator tools), authenticated by being there.
    /// The HTTP door builds principals only from tokens, in [`authenticate`].
    pub fn in_process(agency: AgencyCode, role: Role) -> Self {
        Self {
            token_id: None,
            name: format!("{agency} ({role}, in process)"),
            agency,
            role,
            jurisdictions: Vec::new(),
        }
    }

    /// The same caller serving `jurisdictions`.
    pub fn serving(self, jurisdictions: Vec<String>) -> Self {
        Self {
            jurisdictions,
            ..self
        }
    }

    /// The sender of an event, when this role sends events at all.
    pub fn actor(&self) -> Option<Actor> {
        self.role.actor_kind().map(|kind| Actor {
            agency: self.agency.clone(),
            kind,
        })
    }
}

/// The prefix of every secret, so that a leaked one is recognisable by secret scanners.
pub const SECRET_PREFIX: &str = "chd_";

/// The stored form of a secret: SHA-256, hex. Secrets carry 256 random bits, so a plain hash
/// (no salt, no slow KDF) cannot be reversed by guessing.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Checks a bearer token against the tokens table at `now`.
#[tracing::instrument(skip_all)]
pub async fn authenticate(
    store: &impl Handle,
    now: DateTime<Utc>,
    authorization: Option<&str>,
) -> Result<Principal, Error> {
    let Some(value) = authorization else {
        return Err(Error::unauthorized(
            "token_missing",
            "this endpoint needs a bearer token: Authorization: Bearer <token> (`cohandle token create`)",
        ));
    };
    let secret = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => {
            return Err(Error::unauthorized(
                "token_invalid",
                "the Authorization header must read `Bearer <token>`",
            ))
        }
    };
    let unknown = || Error::unauthorized("token_invalid", "the bearer token is not known");
    if !secret.starts_with(SECRET_PREFIX) {
        return Err(unknown());
    }
    let row = cohandle_store::tokens::by_secret_hash(store, &secret_hash(secret))
        .await?
        .ok_or_else(unknown)?;
    if let Some(at) = row.revoked_at {
        return Err(Error::unauthorized(
            "token_revoked",
            format!("token {} was revoked at {at}", row.id),
        ));
    }
    if let Some(at) = row.expires_at.filter(|at| *at <= now) {
        return Err(Error::unauthorized(
            "token_expired",
            format!("token {} expired at {at}", row.id),
        ));
    }
    let role = Role::from_str(&row.role)
        .map_err(|why| cohandle_store::Error::Corrupt(format!("token {}: {why}", row.id)))?;
    let agency = AgencyCode::parse(row.agency.clone())
        .map_err(|e| cohandle_store::Error::Corrupt(format!("token {}: {e}", row.id)))?;
    let jurisdictions = cohandle_store::jurisdictions::of_agency(store, agency.as_str()).await?;
    Ok(Principal {
        token_id: Some(row.id),
        name: row.name,
        agency,
        role,
        jurisdictions,
    })
}

/// Where the door leaves the caller it authenticated, so that the access audit, which sees
/// only the request and its answer, can name it.
#[derive(Debug, Clone, Default)]
pub struct CallerSlot(std::sync::Arc<std::sync::Mutex<Option<Principal>>>);

impl CallerSlot {
    pub(crate) fn set(&self, principal: &Principal) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(principal.clone());
    }

    /// The caller, once a handler authenticated it.
    pub fn get(&self) -> Option<Principal> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_back_from_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().unwrap_err().contains("assigner"));
    }

    #[test]
    fn only_sending_roles_have_an_actor() {
        let code = AgencyCode::parse("cq-dc").unwrap();
        assert!(Principal::in_process(code.clone(), Role::Supervisor)
            .actor()
            .is_none());
        assert_eq!(
            Principal::in_process(code, Role::CongressOffice)
                .actor()
                .map(|a| a.kind),
            Some(ActorKind::CongressOffice)
        );
    }
}
