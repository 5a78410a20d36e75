//! Events held with their proposal, waiting for the step they depend on (see
//! `cohandle_store::held`): the operators' and supervisors' view of what is not decided yet.

use axum::extract::State;
use axum::response::Response;
use cohandle_store::held;
use cohandle_workflows::ProposalKey;

use super::{ok, tags, ReadErrors};
use crate::access::Scope;
use crate::auth::Principal;
use crate::dto::{HeldEventView, HeldEvents, HeldQuery};
use crate::extract::ApiQuery;
use crate::service::Service;
use crate::{pagination, Error};

/// Events held now, oldest first: each arrived before the step it depends on and is applied
/// when that step arrives, or refused when its window ends. Supervisors and admins see every
/// held event; any other token the events its own agency sent.
#[utoipa::path(get, path = "/v1/held-events", tag = tags::READS, params(HeldQuery),
    responses((status = 200, body = HeldEvents), ReadErrors), security(("bearer" = [])))]
pub async fn list_held(
    State(s): State<Service>,
    p: Principal,
    query: Result<ApiQuery<HeldQuery>, Error>,
) -> Result<Response, Error> {
    let ApiQuery(query) = query?;
    let limit = pagination::limit(query.limit)?;
    let proposal = match query.proposal {
        Some(key) => Some(
            ProposalKey::parse(key)
                .map_err(|e| Error::bad_request("invalid_proposal", e.to_string()))?
                .to_string(),
        ),
        None => None,
    };
    let scope = s.scope(&p);
    let agency = match &scope {
        Scope::All | Scope::Within(_) => None,
        Scope::Own(_) | Scope::Relays(_) => Some(p.agency.to_string()),
    };
    // A supervisor's: the held events whose keys name its jurisdictions. Held events are few
    // (they wait minutes), so they are read whole and narrowed here.
    let within = match scope {
        Scope::Within(codes) => Some(codes),
        _ => None,
    };
    let filter = held::Filter {
        agency,
        proposal,
        since: None,
        limit: within.is_none().then_some(limit),
    };
    let registry = s.engine().jurisdictions();
    let items = held::list(s.engine(), &filter)
        .await?
        .into_iter()
        .filter(|h| {
            within.as_ref().is_none_or(|codes| {
                registry
                    .of_key(&h.proposal_key)
                    .is_some_and(|j| codes.contains(&j.code))
            })
        })
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(HeldEventView::from)
        .collect();
    Ok(ok(HeldEvents { items }))
}
