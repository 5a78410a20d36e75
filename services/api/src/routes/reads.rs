//! Reads, scoped to the caller: supervisors, admins and the congress office see everything;
//! an assigner or agency what it assigned or has a task in (see [`crate::access`]).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use chrono::NaiveDate;
use cohandle_workflows::{AgencyCode, ProposalKey};

use super::{ok, tags, ReadErrors};
use crate::auth::Principal;
use crate::dto::{
    AgencyCodeText, DeadlineList, DeadlineQuery, Figures, Me, ProposalKeyText, ProposalQuery,
    ProposalSummary, ProposalView, StatisticsQuery, StatisticsView, TaskQuery, TaskSummary,
    TaskView, TrendQuery, TrendView,
};
use crate::export::{self, Format};
use crate::extract::{ApiPath, ApiQuery};
use crate::lists;
use crate::pagination::Page;
use crate::service::Service;
use crate::Error;

type Answer = Result<Response, Error>;

/// List proposals: searched by number, title words, deputy or member name and category;
/// filtered by state, agency, jurisdiction, session, kind, days of assignment, due date,
/// overdue and key supervision; sorted by key, assignment day or due date; a page at a time, with the total on `total=true`; as CSV
/// on `format=csv` or `Accept: text/csv`. A state or kind no proposal can have is refused
/// (`unknown_filter_value`) with the values allowed.
#[utoipa::path(get, path = "/v1/proposals", tag = tags::READS, params(ProposalQuery),
    responses((status = 200, description = "A page of proposals", content((Page<ProposalSummary> = "application/json"), (String = "text/csv")),
        headers(("Next-Cursor" = String, description = "On a CSV answer: the cursor of the next page, absent on the last"))), ReadErrors),
    security(("bearer" = [])))]
pub async fn list_proposals(
    State(s): State<Service>,
    p: Principal,
    headers: HeaderMap,
    query: Result<ApiQuery<ProposalQuery>, Error>,
) -> Answer {
    let ApiQuery(query) = query?;
    let format = Format::asked(query.format.as_deref(), &headers)?;
    let page = lists::proposals(&s, &p, query).await?;
    match format {
        Format::Json => Ok(ok(page)),
        Format::Csv => {
            let rows = page.items.iter().map(|p| {
                vec![
                    p.key.clone(),
                    p.number.clone(),
                    p.title.clone(),
                    p.kind.clone(),
                    p.session.clone(),
                    p.state.clone(),
                    p.assigner.clone(),
                    p.mode.clone(),
                    p.key_supervision.to_string(),
                    p.assigned_on.to_string(),
                    day(p.due_on),
                    p.definition.clone(),
                ]
            });
            let header = [
                "key",
                "number",
                "title",
                "kind",
                "session",
                "state",
                "assigner",
                "mode",
                "key_supervision",
                "assigned_on",
                "due_on",
                "definition",
            ];
            csv_page("proposals.csv", &header, rows, page.next_cursor.as_deref())
        }
    }
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

/// List tasks: an agency's own, an assigner's proposals', or anyone's for supervisors;
/// filtered by state, open, session, kind, role and running deadline; the total on
/// `total=true`; CSV on `format=csv` or `Accept: text/csv`.
#[utoipa::path(get, path = "/v1/tasks", tag = tags::READS, params(TaskQuery),
    responses((status = 200, description = "A page of tasks", content((Page<TaskSummary> = "application/json"), (String = "text/csv")),
        headers(("Next-Cursor" = String, description = "On a CSV answer: the cursor of the next page, absent on the last"))), ReadErrors),
    security(("bearer" = [])))]
pub async fn list_tasks(
    State(s): State<Service>,
    p: Principal,
    headers: HeaderMap,
    query: Result<ApiQuery<TaskQuery>, Error>,
) -> Answer {
    let ApiQuery(query) = query?;
    let format = Format::asked(query.format.as_deref(), &headers)?;
    let page = lists::tasks(&s, &p, query).await?;
    match format {
        Format::Json => Ok(ok(page)),
        Format::Csv => {
            let rows = page.items.iter().map(|t| {
                vec![
                    t.proposal.clone(),
                    t.position.to_string(),
                    t.agency.clone(),
                    t.role.clone(),
                    t.state.clone(),
                    t.active.to_string(),
                    t.terminal.to_string(),
                    day(t.due_on),
                    t.due_deadline.clone().unwrap_or_default(),
                    t.session.clone(),
                    t.kind.clone(),
                    t.key_supervision.to_string(),
                ]
            });
            let header = [
                "proposal",
                "position",
                "agency",
                "role",
                "state",
                "active",
                "terminal",
                "due_on",
                "due_deadline",
                "session",
                "kind",
                "key_supervision",
            ];
            csv_page("tasks.csv", &header, rows, page.next_cursor.as_deref())
        }
    }
}

/// Upcoming and overdue deadlines, earliest first, with the working days left over the
/// official holiday calendar and the proposal's number, title, lead deputy and lead agency;
/// filtered by agency, jurisdiction, definition, session, kind, role, deadline name, the
/// result class of the reply, overdue, days overdue and key supervision; the total on
/// `total=true`; CSV on `format=csv` or `Accept: text/csv`.
#[utoipa::path(get, path = "/v1/deadlines", tag = tags::READS, params(DeadlineQuery),
    responses((status = 200, description = "A page of deadlines", content((DeadlineList = "application/json"), (String = "text/csv")),
        headers(("Next-Cursor" = String, description = "On a CSV answer: the cursor of the next page, absent on the last"))), ReadErrors),
    security(("bearer" = [])))]
pub async fn deadlines(
    State(s): State<Service>,
    p: Principal,
    headers: HeaderMap,
    query: Result<ApiQuery<DeadlineQuery>, Error>,
) -> Answer {
    let ApiQuery(query) = query?;
    let format = Format::asked(query.format.as_deref(), &headers)?;
    let list = lists::deadlines(&s, &p, query).await?;
    match format {
        Format::Json => Ok(ok(list)),
        Format::Csv => {
            let rows = list.items.iter().map(|d| {
                let e = &d.entry;
                vec![
                    e.proposal.clone(),
                    d.number.clone(),
                    d.title.clone(),
                    d.lead_deputy.clone(),
                    d.lead_agency.clone().unwrap_or_default(),
                    e.agency.clone(),
                    e.role.clone(),
                    e.state.clone(),
                    e.deadline.clone().unwrap_or_default(),
                    e.due_on.to_string(),
                    e.days_left.to_string(),
                    e.working_days_left
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                    e.overdue.to_string(),
                    e.provisional.to_string(),
                    e.session.clone(),
                    e.kind.clone(),
                    e.key_supervision.to_string(),
                ]
            });
            let header = [
                "proposal",
                "number",
                "title",
                "lead_deputy",
                "lead_agency",
                "agency",
                "role",
                "state",
                "deadline",
                "due_on",
                "days_left",
                "working_days_left",
                "overdue",
                "provisional",
                "session",
                "kind",
                "key_supervision",
            ];
            csv_page(
                &format!("deadlines-{}.csv", list.today),
                &header,
                rows,
                list.next_cursor.as_deref(),
            )
        }
    }
}

/// Statistics overall and per agency: completion, on-time replies (obligations past due and
/// still open count against it), first-time and final satisfaction, meetings, class shares
/// A/B/C/D, published share, co-handlers' opinion timeliness; of every proposal the caller
/// sees, or of one session, kind or period of assignment. As CSV (one row overall, then one
/// per agency) on `format=csv` or `Accept: text/csv`.
#[utoipa::path(get, path = "/v1/statistics", tag = tags::READS, params(StatisticsQuery),
    responses((status = 200, description = "The figures", content((StatisticsView = "application/json"), (String = "text/csv"))), ReadErrors),
    security(("bearer" = [])))]
pub async fn statistics(
    State(s): State<Service>,
    p: Principal,
    headers: HeaderMap,
    query: Result<ApiQuery<StatisticsQuery>, Error>,
) -> Answer {
    let ApiQuery(query) = query?;
    let format = Format::asked(query.format.as_deref(), &headers)?;
    let view = s.statistics(&p, query).await?;
    match format {
        Format::Json => Ok(ok(view)),
        Format::Csv => {
            let rate = |r: Option<f64>| r.map(|r| format!("{r:.4}")).unwrap_or_default();
            let row = |scope: &str, f: &Figures| {
                let share = |class: &str| rate(f.class_shares.get(class).copied());
                vec![
                    scope.to_owned(),
                    f.handler_tasks.to_string(),
                    f.co_handler_tasks.to_string(),
                    f.completed.to_string(),
                    rate(f.completion_rate),
                    f.replies.to_string(),
                    rate(f.on_time_rate),
                    f.overdue_replies.to_string(),
                    rate(f.first_time_satisfaction_rate),
                    rate(f.final_satisfaction_rate),
                    rate(f.meeting_rate),
                    share("A"),
                    share("B"),
                    share("C"),
                    share("D"),
                    rate(f.published_share),
                    f.opinions.to_string(),
                    rate(f.opinion_on_time_rate),
                    f.overdue_opinions.to_string(),
                ]
            };
            let rows = std::iter::once(row("overall", &view.overall))
                .chain(view.agencies.iter().map(|a| row(&a.agency, &a.figures)));
            let header = [
                "agency",
                "handler_tasks",
                "co_handler_tasks",
                "completed",
                "completion_rate",
                "replies",
                "on_time_rate",
                "overdue_replies",
                "first_time_satisfaction_rate",
                "final_satisfaction_rate",
                "meeting_rate",
                "class_a_share",
                "class_b_share",
                "class_c_share",
                "class_d_share",
                "published_share",
                "opinions",
                "opinion_on_time_rate",
                "overdue_opinions",
            ];
            export::csv_answer(&format!("statistics-{}.csv", view.today), &header, rows)
        }
    }
}

/// The month-by-month trend: proposals assigned, first replies recorded (and on time), first
/// receipts (and satisfied), co-handlers' opinions (and on time), each in the month it
/// happened; of every proposal the caller's figures count, or of one session or kind. As
/// CSV on `format=csv` or `Accept: text/csv`.
#[utoipa::path(get, path = "/v1/statistics/trend", tag = tags::READS, params(TrendQuery),
    responses((status = 200, description = "The months, oldest first", content((TrendView = "application/json"), (String = "text/csv"))), ReadErrors),
    security(("bearer" = [])))]
pub async fn trend(
    State(s): State<Service>,
    p: Principal,
    headers: HeaderMap,
    query: Result<ApiQuery<TrendQuery>, Error>,
) -> Answer {
    let ApiQuery(query) = query?;
    let format = Format::asked(query.format.as_deref(), &headers)?;
    let view = s.trend(&p, query).await?;
    match format {
        Format::Json => Ok(ok(view)),
        Format::Csv => {
            let rate = |r: Option<f64>| r.map(|r| format!("{r:.4}")).unwrap_or_default();
            let rows = view.months.iter().map(|m| {
                vec![
                    m.month.clone(),
                    m.assigned.to_string(),
                    m.replies.to_string(),
                    m.replies_on_time.to_string(),
                    rate(m.on_time_rate),
                    m.receipts.to_string(),
                    m.satisfied.to_string(),
                    rate(m.satisfaction_rate),
                    m.opinions.to_string(),
                    m.opinions_on_time.to_string(),
                    rate(m.opinion_on_time_rate),
                ]
            });
            let header = [
                "month",
                "assigned",
                "replies",
                "replies_on_time",
                "on_time_rate",
                "receipts",
                "satisfied",
                "satisfaction_rate",
                "opinions",
                "opinions_on_time",
                "opinion_on_time_rate",
            ];
            export::csv_answer(
                &format!("trend-{}-{}.csv", view.from, view.to),
                &header,
                rows,
            )
        }
    }
}

/// A page as CSV, the next page's cursor in `Next-Cursor`.
fn csv_page(
    file_name: &str,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
    next_cursor: Option<&str>,
) -> Answer {
    let mut response = export::csv_answer(file_name, header, rows)?;
    if let Some(cursor) = next_cursor.and_then(|c| HeaderValue::from_str(c).ok()) {
        response.headers_mut().insert(NEXT_CURSOR, cursor);
    }
    Ok(response)
}

/// The header that carries a CSV page's next cursor.
pub const NEXT_CURSOR: &str = "next-cursor";

fn day(day: Option<NaiveDate>) -> String {
    day.map(|d| d.to_string()).unwrap_or_default()
}

/// The caller, as its token says: agency and role.
#[utoipa::path(get, path = "/v1/me", tag = tags::READS,
    responses((status = 200, body = Me), ReadErrors), security(("bearer" = [])))]
pub async fn me(State(s): State<Service>, p: Principal) -> Answer {
    Ok(ok(s.me(&p)))
}
