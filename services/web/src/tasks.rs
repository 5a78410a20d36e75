//! An agency's own tasks (the congress office's: the replies waiting for a receipt), and
//! the task page: its deadlines, what it has done, and the forms of the steps its holder
//! may take now. A form posts through `Service::submit`, the API's one write path; the
//! engine's refusal comes back as a sentence beside the form.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use cohandle_api::dto::TaskQuery;
use cohandle_api::{Command, Role, Service, Submitted};
use cohandle_workflows::{AgencyCode, EventId};
use maud::html;
use serde::Deserialize;

use crate::page::{self, Refusal};
use crate::proposal::{self, key};
use crate::session::Visitor;
use crate::steps::{self, FormContext, Step, StepForm};
use crate::{live, words};

/// `/tasks`: the visitor's open tasks, refreshed in place when they change.
pub async fn my_tasks(
    State(service): State<Service>,
    visitor: Visitor,
    headers: HeaderMap,
    Query(page): Query<Paging>,
) -> Result<Response, Refusal> {
    let (title, mut query) = match visitor.principal.role {
        Role::Agency => (
            "我的任务",
            TaskQuery {
                open: Some(true),
                limit: Some(cohandle_api::pagination::MAX_LIMIT),
                ..TaskQuery::default()
            },
        ),
        Role::CongressOffice => (
            "待收回执",
            TaskQuery {
                state: Some("replied".to_owned()),
                open: Some(true),
                limit: Some(cohandle_api::pagination::MAX_LIMIT),
                ..TaskQuery::default()
            },
        ),
        _ => return Ok(Redirect::to("/board").into_response()),
    };
    query.cursor = page.cursor.clone().filter(|c| !c.is_empty());
    let tasks = cohandle_api::lists::tasks(&service, &visitor.principal, query).await?;
    let today = service.today();
    let part = html! {
        table #tasks {
            thead { tr { th { "建议/提案" } th { "承办单位" } th { "角色" } th { "状态" } th { "最近期限" } th {} } }
            tbody {
                @for t in &tasks.items {
                    tr.overdue[t.due_on.is_some_and(|d| d < today)] data-proposal=(t.proposal) {
                        td { a href={ "/proposals/" (t.proposal) } { (t.proposal) }
                            @if t.key_supervision { span.tag.key { "重点督办" } } }
                        td { (t.agency) }
                        td { (words::task_role(&t.role)) }
                        td { (words::state(&t.state)) }
                        td { @if let Some(due) = t.due_on {
                            (t.due_deadline.as_deref().map_or("", words::deadline)) "：" (due)
                            @if due < today { span.tag.late { "已逾期" } }
                        } }
                        td { a href={ "/proposals/" (t.proposal) "/tasks/" (t.agency) } { "办理" } }
                    }
                }
                @if tasks.items.is_empty() { tr { td colspan="6" .muted { "没有待办的任务。" } } }
            }
        }
        div.pager {
            @if page.cursor.is_some() { a href="/tasks" { "第一页" } }
            @if let Some(next) = &tasks.next_cursor {
                a href={ "/tasks?" (serde_urlencoded::to_string([("cursor", next)]).unwrap_or_default()) } { "下一页" }
            }
        }
    };
    Ok(live::answer(&headers, &visitor.csrf(), part, |part| {
        page::shell(title, Some(&visitor), part)
    }))
}

/// A page of a list.
#[derive(Debug, Deserialize)]
pub struct Paging {
    cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// `/proposals/{key}/tasks/{agency}`.
pub async fn task(
    State(service): State<Service>,
    visitor: Visitor,
    Path((raw_key, raw_agency)): Path<(String, String)>,
    Query(done): Query<Done>,
) -> Result<Response, Refusal> {
    let done = done.done.as_deref().and_then(Step::parse);
    render(
        &service,
        &visitor,
        raw_key,
        raw_agency,
        StatusCode::OK,
        done,
        None,
    )
    .await
}

fn agency(raw: String) -> Result<AgencyCode, Refusal> {
    AgencyCode::parse(raw.clone()).map_err(|_| {
        Refusal::new(
            StatusCode::NOT_FOUND,
            "task_not_found",
            format!("{raw:?} 不是单位代码"),
        )
    })
}

/// The task page; `refused` puts a sentence beside (or, when its form is gone, above)
/// the forms.
async fn render(
    service: &Service,
    visitor: &Visitor,
    raw_key: String,
    raw_agency: String,
    status: StatusCode,
    done: Option<Step>,
    refused: Option<(Step, String)>,
) -> Result<Response, Refusal> {
    let key = key(raw_key)?;
    let agency = agency(raw_agency)?;
    let view = service.task(&visitor.principal, &key, &agency).await?;
    let (document, _) = service
        .engine()
        .load(key.as_str())
        .await
        .map_err(cohandle_api::Error::from)?
        .ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, "proposal_not_found", ""))?;
    let definition = service
        .engine()
        .catalog()
        .get(&document.definition)
        .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    let available = steps::available(&visitor.principal, &view.summary, &definition);
    let today = service.today();
    let context = |step: Step| FormContext {
        action: format!("/proposals/{key}/tasks/{agency}"),
        csrf: visitor.csrf(),
        proposal: &document,
        today,
        refusal: refused
            .as_ref()
            .filter(|(s, _)| *s == step)
            .map(|(_, sentence)| sentence.clone()),
    };
    let record = proposal::record(&view);
    let s = &view.summary;
    let content = html! {
        dl.facts.card {
            dt { "建议/提案" } dd { a href={ "/proposals/" (key) } { (key) } " " (document.info.title) }
            dt { "承办单位" } dd #task-agency { (s.agency) }
            dt { "角色" } dd { (words::task_role(&s.role)) }
            dt { "状态" } dd #task-state { (words::state(&s.state)) }
            dt { "期限" } dd { @if let Some(r) = &record { (proposal::deadlines(r, today)) } }
        }
        @if let Some(step) = done {
            p.done role="status" { "已提交：" (words::event(step.event())) }
        }
        @if let Some((step, sentence)) = &refused {
            @if !available.contains(step) { p.refusal role="alert" { (sentence) } }
        }
        @if !available.is_empty() {
            h2 { "办理" }
            div.steps { @for step in &available { (steps::form(*step, &context(*step))) } }
        } @else if visitor.principal.actor().is_some() {
            p.muted { "当前没有您可以办理的步骤。" }
        }
    };
    let title = format!("{} · {}", document.info.number, s.agency);
    Ok(page::answer(
        status,
        page::shell(&title, Some(visitor), content),
    ))
}

/// `POST /proposals/{key}/tasks/{agency}/steps/{step}`: one step, through `Service::submit`.
pub async fn take_step(
    State(service): State<Service>,
    visitor: Visitor,
    Path((raw_key, raw_agency, raw_step)): Path<(String, String, String)>,
    Form(form): Form<StepForm>,
) -> Result<Response, Refusal> {
    visitor.check_csrf(&form.csrf)?;
    let step = Step::parse(&raw_step)
        .ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, "no_such_step", raw_step.clone()))?;
    let proposal_key = key(raw_key.clone())?;
    let task_agency = agency(raw_agency.clone())?;
    // An agency acts as itself: a form on another agency's task page is not its own step.
    if visitor.principal.role == Role::Agency && visitor.principal.agency != task_agency {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "not_your_task",
            format!("{} 不能办理 {task_agency} 的任务", visitor.principal.agency),
        ));
    }
    let refuse = |status: StatusCode, sentence: String| {
        render(
            &service,
            &visitor,
            raw_key.clone(),
            raw_agency.clone(),
            status,
            None,
            Some((step, sentence)),
        )
    };
    let id = match EventId::parse(form.idempotency_key.clone()) {
        Ok(id) => id,
        Err(_) => {
            let sentence = words::refusal("csrf").to_owned();
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, sentence).await;
        }
    };
    let body = match form.body(step, &task_agency) {
        Ok(body) => body,
        Err(sentence) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, sentence).await,
    };
    let command = Command {
        id,
        proposal: proposal_key.clone(),
        occurred_at: None,
        body,
    };
    match service.submit(&visitor.principal, command).await {
        // Held until the step it depends on arrives: said on the page, not shown as done.
        Ok(Submitted::Held { held, .. }) => {
            let sentence = words::held(&held.code, held.held_until);
            refuse(StatusCode::ACCEPTED, sentence).await
        }
        Ok(Submitted::Written(_)) => Ok(Redirect::to(&format!(
            "/proposals/{proposal_key}/tasks/{task_agency}?done={}",
            step.event()
        ))
        .into_response()),
        Err(error) => {
            let refusal = Refusal::from(error);
            if refusal.status == StatusCode::FORBIDDEN || refusal.status.is_server_error() {
                return Err(refusal);
            }
            refuse(refusal.status, refusal.sentence()).await
        }
    }
}
