//! Reads, scoped to the caller: supervisors, admins and the congress office see everything;
//! an assigner or agency what it assigned or has a task in (see [`crate::access`]).

use axum::extract::State;
use axum::response::Response;
use cohandle_workflows::{AgencyCode, ProposalKey};

use super::{ok, tags, ReadErrors};
use crate::auth::Principal;
use crate::dto::{
    AgencyCodeText, DeadlineQuery, Deadlines, Me, ProposalKeyText, ProposalQuery, ProposalSummary,
    ProposalView, StatisticsQuery, StatisticsView, TaskQuery, TaskSummary, TaskView,
};
use crate::extract::{ApiPath, ApiQuery};
use crate::pagination::Page;
use crate::service::Service;
use crate::Error;

type Answer = Result<Response, Error>;

/// List proposals, filtered by state, agency, session, kind, due date, overdue and key
/// supervision; a page at a time.
#[utoipa::path(get, path = "/v1/proposals", tag = tags::READS, params(ProposalQuery),
    responses((status = 200, body = Page<ProposalSummary>), ReadErrors), security(("bearer" = [])))]
pub async fn list_proposals(
    State(s): State<Service>,
    p: Principal,
    query: Result<ApiQuery<ProposalQuery>, Error>,
) -> Answer {
    let ApiQuery(query) = query?;
    Ok(ok(s.list_proposals(&p, query).await?))
}

/// One proposal with its tasks and whole timeline. An agency sees the records and history
/// rows of the tasks it may read.
#[utoipa::path(get, path = "/v1/proposals/{key}", tag = tags::READS,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key")),
    responses((status = 200, body = ProposalView), ReadErrors), security(("bearer" = [])))]
pub async fn get_proposal(
    State(s): State<Service>,
    p: Principal,
    path: Result<ApiPath<ProposalKey>, Error>,
) -> Answer {
    let ApiPath(key) = path?;
    Ok(ok(s.proposal(&p, &key).await?))
}

/// One agency's task in a proposal, with its record: its own, a lead's co-handlers', or
/// any for the assigner of the proposal and for supervisors.
#[utoipa::path(get, path = "/v1/proposals/{key}/tasks/{agency}", tag = tags::READS,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), ("agency" = AgencyCodeText, Path, description = "The task's agency")),
    responses((status = 200, body = TaskView), ReadErrors), security(("bearer" = [])))]
pub async fn get_task(
    State(s): State<Service>,
    p: Principal,
    path: Result<ApiPath<(ProposalKey, AgencyCode)>, Error>,
) -> Answer {
    let ApiPath((key, agency)) = path?;
    Ok(ok(s.task(&p, &key, &agency).await?))
}

/// List tasks: an agency's own, an assigner's proposals', or anyone's for supervisors.
#[utoipa::path(get, path = "/v1/tasks", tag = tags::READS, params(TaskQuery),
    responses((status = 200, body = Page<TaskSummary>), ReadErrors), security(("bearer" = [])))]
pub async fn list_tasks(
    State(s): State<Service>,
    p: Principal,
    query: Result<ApiQuery<TaskQuery>, Error>,
) -> Answer {
    let ApiQuery(query) = query?;
    Ok(ok(s.list_tasks(&p, query).await?))
}

/// Upcoming and overdue deadlines, earliest first, with the working days left over the
/// official holiday calendar.
#[utoipa::path(get, path = "/v1/deadlines", tag = tags::READS, params(DeadlineQuery),
    responses((status = 200, body = Deadlines), ReadErrors), security(("bearer" = [])))]
pub async fn deadlines(
    State(s): State<Service>,
    p: Principal,
    query: Result<ApiQuery<DeadlineQuery>, Error>,
) -> Answer {
    let ApiQuery(query) = query?;
    Ok(ok(s.deadlines(&p, query).await?))
}

/// Statistics overall and per agency: completion, on-time replies, first-time and final
/// satisfaction, meetings, class shares A/B/C/D, published share.
#[utoipa::path(get, path = "/v1/statistics", tag = tags::READS, params(StatisticsQuery),
    responses((status = 200, body = StatisticsView), ReadErrors), security(("bearer" = [])))]
pub async fn statistics(
    State(s): State<Service>,
    p: Principal,
    query: Result<ApiQuery<StatisticsQuery>, Error>,
) -> Answer {
    let ApiQuery(query) = query?;
    Ok(ok(s.statistics(&p, query).await?))
}

/// The caller, as its token says: agency and role.
#[utoipa::path(get, path = "/v1/me", tag = tags::READS,
    responses((status = 200, body = Me), ReadErrors), security(("bearer" = [])))]
pub async fn me(State(s): State<Service>, p: Principal) -> Answer {
    Ok(ok(s.me(&p)))
}
