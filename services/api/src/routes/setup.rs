//! Onboarding over HTTP, for admin tokens: deploy workflow definitions, register
//! jurisdictions and the agencies that serve them. `cohandle workflows deploy` and
//! `cohandle jurisdiction …` do the same from the shell.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cohandle_store::agencies::{self, Agency, Known};
use cohandle_store::definitions::{self, DeployError, Deployed};
use cohandle_store::jurisdictions::{self, AddError, NewJurisdiction};
use cohandle_workflows::AgencyCode;

use super::{ok, tags, ReadErrors, WriteErrors};
use crate::access;
use crate::auth::{Principal, Role};
use crate::dto::{
    AgencyEntry, DefinitionDeployment, DefinitionUpload, DeployedDefinitionView,
    JurisdictionAgencies, JurisdictionJoined, JurisdictionView, NewJurisdictionRequest,
};
use crate::extract::{ApiPath, JsonBody};
use crate::service::Service;
use crate::Error;

type Answer = Result<Response, Error>;

const MANAGE: &[Role] = &[Role::Admin];

fn refused(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Error {
    Error::Body {
        status,
        code,
        detail: detail.into(),
    }
}

/// Deploy a workflow definition (its TOML text): checked as `cohandle workflows check` does,
/// stored as an immutable version that every role uses within 30 s. The same rules again
/// change nothing (200); other rules under a stored version are refused (409).
#[utoipa::path(post, path = "/v1/definitions", tag = tags::SETUP, request_body = DefinitionUpload,
    responses((status = 201, body = DefinitionDeployment, description = "A new version, stored"),
        (status = 200, body = DefinitionDeployment, description = "The same version was deployed before"),
        WriteErrors), security(("bearer" = [])))]
pub async fn deploy_definition(
    State(s): State<Service>,
    p: Principal,
    body: Result<JsonBody<DefinitionUpload>, Error>,
) -> Answer {
    access::require(&p, MANAGE, "deploy workflow definitions")?;
    let JsonBody(upload) = body?;
    let by = format!(
        "{} (token {})",
        p.agency,
        p.token_id.as_deref().unwrap_or("in process")
    );
    let now = s.engine().clock().now();
    let deployed = definitions::deploy_with(s.engine(), &upload.file, &upload.content, &by, now)
        .await
        .map_err(|error| match error {
            DeployError::Invalid { .. } => refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "definition_invalid",
                error.to_string(),
            ),
            DeployError::Changed { .. } => refused(
                StatusCode::CONFLICT,
                "definition_version_taken",
                error.to_string(),
            ),
            DeployError::Store(error) => Error::Store(error),
        })?;
    s.engine().refresh_definitions().await?;
    let (status, view) = match deployed {
        Deployed::New { name, version } => (
            StatusCode::CREATED,
            DefinitionDeployment {
                name,
                version,
                new: true,
            },
        ),
        Deployed::Unchanged { name, version } => (
            StatusCode::OK,
            DefinitionDeployment {
                name,
                version,
                new: false,
            },
        ),
    };
    Ok((status, Json(view)).into_response())
}

/// Every deployed definition version, with how many proposals run on it.
#[utoipa::path(get, path = "/v1/definitions", tag = tags::SETUP,
    responses((status = 200, body = Vec<DeployedDefinitionView>), ReadErrors), security(("bearer" = [])))]
pub async fn list_definitions(State(s): State<Service>, p: Principal) -> Answer {
    access::require(&p, MANAGE, "list the deployed definitions")?;
    let rows = definitions::list_with(s.engine()).await?;
    Ok(ok(rows
        .into_iter()
        .map(DeployedDefinitionView::from)
        .collect::<Vec<_>>()))
}

/// Register a jurisdiction: its code begins its proposals' keys (`<code>-…`). The same one
/// again changes nothing (200, and allows the definitions given); another under a taken code
/// is refused (409), as is a code that would take keys another jurisdiction already uses.
#[utoipa::path(post, path = "/v1/jurisdictions", tag = tags::SETUP, request_body = NewJurisdictionRequest,
    responses((status = 201, body = JurisdictionView, description = "Registered"),
        (status = 200, body = JurisdictionView, description = "Registered before, unchanged"),
        WriteErrors), security(("bearer" = [])))]
pub async fn add_jurisdiction(
    State(s): State<Service>,
    p: Principal,
    body: Result<JsonBody<NewJurisdictionRequest>, Error>,
) -> Answer {
    access::require(&p, MANAGE, "register jurisdictions")?;
    let JsonBody(new) = body?;
    let code = new.code.clone();
    let added = jurisdictions::add(
        s.engine(),
        NewJurisdiction {
            code: new.code,
            name: new.name,
            parent: new.parent,
            level: new.level,
            definitions: new.definitions,
        },
    )
    .await
    .map_err(|error| match error {
        AddError::Invalid(detail) => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "jurisdiction_invalid",
            detail,
        ),
        AddError::NoParent(_) => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "jurisdiction_parent_unknown",
            error.to_string(),
        ),
        AddError::Exists { .. } | AddError::TakesKeys { .. } => refused(
            StatusCode::CONFLICT,
            "jurisdiction_conflict",
            error.to_string(),
        ),
        AddError::Store(error) => Error::Store(error),
    })?;
    s.engine().refresh_jurisdictions().await?;
    let view = view_of(&s, &code).await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)).into_response())
}

/// Every jurisdiction: code, name, parent, level, definitions and the agencies serving it.
#[utoipa::path(get, path = "/v1/jurisdictions", tag = tags::SETUP,
    responses((status = 200, body = Vec<JurisdictionView>), ReadErrors), security(("bearer" = [])))]
pub async fn list_jurisdictions(State(s): State<Service>, p: Principal) -> Answer {
    access::require(&p, MANAGE, "list the jurisdictions")?;
    let registry = jurisdictions::list(s.engine()).await?;
    let mut views = Vec::with_capacity(registry.len());
    for j in registry.all() {
        views.push(JurisdictionView::new(
            j,
            jurisdictions::members(s.engine(), &j.code).await?,
        ));
    }
    Ok(ok(views))
}

/// Register agencies (or correct their names and kinds) and make them serve the
/// jurisdiction; every entry is checked before any is stored.
#[utoipa::path(post, path = "/v1/jurisdictions/{code}/agencies", tag = tags::SETUP,
    params(("code" = String, Path, description = "The jurisdiction's code, e.g. yz-zx")),
    request_body = JurisdictionAgencies,
    responses((status = 200, body = JurisdictionJoined),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json", description = "No such jurisdiction (`jurisdiction_not_found`)"),
        WriteErrors), security(("bearer" = [])))]
pub async fn join_agencies(
    State(s): State<Service>,
    p: Principal,
    path: Result<ApiPath<String>, Error>,
    body: Result<JsonBody<JurisdictionAgencies>, Error>,
) -> Answer {
    access::require(&p, MANAGE, "make agencies serve a jurisdiction")?;
    let ApiPath(code) = path?;
    let JsonBody(request) = body?;
    if !jurisdictions::exists(s.engine(), &code).await? {
        return Err(Error::not_found(
            "jurisdiction_not_found",
            format!("jurisdiction {code} is not registered (POST /v1/jurisdictions)"),
        ));
    }
    let problems: Vec<String> = request
        .agencies
        .iter()
        .enumerate()
        .flat_map(|(i, a)| check(i, a))
        .collect();
    if !problems.is_empty() {
        return Err(refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "agency_invalid",
            format!("nothing stored: {}", problems.join("; ")),
        ));
    }
    let now = s.engine().clock().now();
    for entry in &request.agencies {
        agencies::register_with(
            s.engine(),
            Agency {
                code: entry.code.clone(),
                name: entry.name.clone(),
                kind: entry.kind.clone(),
                created_at: now,
            },
            Known::Update,
        )
        .await?;
    }
    let codes: Vec<String> = request.agencies.iter().map(|a| a.code.clone()).collect();
    jurisdictions::join(s.engine(), &code, &codes).await?;
    Ok(ok(JurisdictionJoined {
        jurisdiction: code,
        agencies: codes,
    }))
}

const KINDS: [&str; 4] = ["assigner", "agency", "congress_office", "supervisor"];

fn check(i: usize, entry: &AgencyEntry) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(e) = entry.code.parse::<AgencyCode>() {
        problems.push(format!("agencies[{i}].code: {e}"));
    }
    if !KINDS.contains(&entry.kind.as_str()) {
        problems.push(format!(
            "agencies[{i}].kind: {:?} is not one of {}",
            entry.kind,
            KINDS.join(", ")
        ));
    }
    if entry.name.trim().is_empty() {
        problems.push(format!("agencies[{i}].name: empty"));
    }
    problems
}

async fn view_of(s: &Service, code: &str) -> Result<JurisdictionView, Error> {
    let registry = jurisdictions::list(s.engine()).await?;
    let j = registry.get(code).ok_or_else(|| {
        cohandle_store::Error::Corrupt(format!("jurisdiction {code} vanished after it was added"))
    })?;
    Ok(JurisdictionView::new(
        j,
        jurisdictions::members(s.engine(), code).await?,
    ))
}
