//! One proposal as a supervisor reads it: what it is, each task with its deadlines (open,
//! overdue, provisional) and what it has done, the reply and the deputy's receipts, every
//! step of the timeline (who, when), and whether its history chain verifies; it refreshes
//! itself when a step changes it. Also the search that leads there.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use cohandle_api::dto::{ProposalQuery, ProposalView, TaskView};
use cohandle_api::Service;
use cohandle_store::history;
use cohandle_store::queries::{self, DeadlineTimer};
use cohandle_workflows::definition::DeadlineKind;
use cohandle_workflows::model::Task;
use cohandle_workflows::ProposalKey;
use maud::{html, Markup};
use serde::Deserialize;

use crate::page::{self, Refusal};
use crate::session::Visitor;
use crate::{live, words};

/// Parses a key from a path, a missing proposal when it is not one.
pub fn key(raw: String) -> Result<ProposalKey, Refusal> {
    ProposalKey::parse(raw.clone()).map_err(|_| {
        Refusal::new(
            StatusCode::NOT_FOUND,
            "proposal_not_found",
            format!("{raw:?} 不是建议或提案的编号"),
        )
    })
}

/// The task record inside a task view, when the visitor may read it.
pub fn record(view: &TaskView) -> Option<Task> {
    view.record
        .as_ref()
        .and_then(|r| serde_json::from_value(r.clone()).ok())
}

/// `/proposals/{key}`.
pub async fn proposal(
    State(service): State<Service>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Response, Refusal> {
    let key = key(raw)?;
    let view = service.proposal(&visitor.principal, &key).await?;
    let verification = history::verify(service.engine(), Some(key.as_str()))
        .await
        .map_err(cohandle_api::Error::from)?;
    let today = service.today();
    let records = deadline_records(&service, &view, today).await?;
    let title = format!("{} {}", view.info.number, view.info.title);
    let content = html! {
        (facts(&view))
        h2 { "承办任务与期限" }
        (tasks(&view, today))
        h2 { "期限记录" }
        (records)
        (reply(&view))
        h2 { "办理过程" }
        (timeline(&view))
        h2 { "历史记录校验" }
        @match &verification.broken {
            None => p.verify.ok #verify {
                "完整：共 " (verification.rows) " 条记录，哈希链无断点（与 "
                code { "cohandle history verify" } " 结果一致）。"
            },
            Some(b) => p.verify.broken #verify {
                "断裂：第 " (b.seq) " 条记录有误：" (b.reason)
            },
        }
    };
    Ok(live::answer(&headers, &visitor.csrf(), content, |part| {
        page::shell(&title, Some(&visitor), part)
    }))
}

fn facts(view: &ProposalView) -> Markup {
    let s = &view.summary;
    html! {
        dl.facts.card {
            dt { "编号" } dd #proposal-key { (s.key) }
            dt { "届次" } dd { (s.session) }
            dt { "领衔代表" } dd { (view.info.lead_deputy) }
            dt { "类别" } dd { (view.info.category) }
            dt { "交办单位" } dd { (s.assigner) " · " (s.assigned_on) }
            dt { "状态" } dd { (words::state(&s.state))
                @if s.key_supervision { span.tag.key { "重点督办" } } }
            dt { "最近期限" } dd { (s.due_on.map(|d| d.to_string()).unwrap_or_else(|| "—".into())) }
            dt { "办理规则" } dd { (s.definition) }
        }
    }
}

fn tasks(view: &ProposalView, today: NaiveDate) -> Markup {
    html! {
        table #tasks {
            thead { tr { th { "承办单位" } th { "角色" } th { "状态" } th { "期限" } th { "已办" } } }
            tbody {
                @for t in &view.tasks {
                    @let record = record(t);
                    tr {
                        td { a href={ "/proposals/" (t.summary.proposal) "/tasks/" (t.summary.agency) } { (t.summary.agency) } }
                        td { (words::task_role(&t.summary.role)) }
                        td { (words::state(&t.summary.state))
                            @if !t.summary.active { span.tag { "已调整" } } }
                        td { @match &record {
                            Some(r) => (deadlines(r, today)),
                            None => span.muted { "（无权查看）" },
                        } }
                        td { @if let Some(r) = &record { (done(r)) } }
                    }
                }
            }
        }
    }
}

/// Each running deadline: due date, overdue or open, provisional, paused.
pub fn deadlines(task: &Task, today: NaiveDate) -> Markup {
    html! {
        @if task.deadlines.is_empty() { span.muted { "无进行中的期限" } }
        @for (name, d) in &task.deadlines {
            div.deadline data-deadline=(name) {
                (words::deadline(name)) "：" (d.due)
                @if d.paused_on.is_some() { span.tag { "已暂停" } }
                @else if d.due < today { span.tag.late { "已逾期" } }
                @else { span.tag.soon { "进行中" } }
                @if d.provisional { span.tag.provisional title="该年度官方节假日安排尚未发布，日期可能调整" { "临时" } }
            }
        }
    }
}

/// How a deadline ended, or stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// The step came, and stopped the deadline before its expiry fired.
    Met,
    /// Running, not yet due.
    Open,
    /// Running and past due (the monitor has not fired it yet).
    Overdue,
    /// An obligation whose due date passed without the step.
    Missed,
    /// A window (dispute, feedback) that closed.
    Closed,
}

impl Standing {
    fn tag(self) -> Markup {
        match self {
            Self::Met => html! { span.tag.met data-standing="met" { "已完成" } },
            Self::Open => html! { span.tag.soon data-standing="open" { "进行中" } },
            Self::Overdue => html! { span.tag.late data-standing="overdue" { "已逾期" } },
            Self::Missed => html! { span.tag.late data-standing="missed" { "逾期未办" } },
            Self::Closed => html! { span.tag data-standing="closed" { "期满" } },
        }
    }
}

/// Every deadline of the tasks the visitor may read, from the deadline timers (the last
/// generation of each: a moved deadline counts by its new date), with how it ended.
async fn deadline_records(
    service: &Service,
    view: &ProposalView,
    today: NaiveDate,
) -> Result<Markup, Refusal> {
    let readable: Vec<&str> = view
        .tasks
        .iter()
        .filter(|t| t.record.is_some())
        .map(|t| t.summary.agency.as_str())
        .collect();
    let timers = queries::deadline_timers(service.engine(), &view.summary.key, &readable)
        .await
        .map_err(cohandle_api::Error::from)?;
    let definition = service
        .engine()
        .load(&view.summary.key)
        .await
        .map_err(cohandle_api::Error::from)?
        .and_then(|(document, _)| service.engine().catalog().get(&document.definition).ok());
    let window = |deadline: &str| {
        definition
            .as_ref()
            .and_then(|d| d.deadlines.get(deadline))
            .is_some_and(|rule| rule.kind == DeadlineKind::Window)
    };
    // The last generation of each (agency, deadline).
    let mut last: Vec<&DeadlineTimer> = Vec::new();
    for t in &timers {
        match last.last_mut() {
            Some(prev) if prev.agency == t.agency && prev.deadline == t.deadline => *prev = t,
            _ => last.push(t),
        }
    }
    let calendar = service.engine().calendar();
    Ok(html! {
        table #deadline-records {
            thead { tr { th { "承办单位" } th { "期限" } th { "到期日" } th { "结果" } } }
            tbody {
                @for t in &last {
                    @let standing = match t.state.as_str() {
                        "cancelled" => Standing::Met,
                        "fired" if window(&t.deadline) => Standing::Closed,
                        "fired" => Standing::Missed,
                        _ if t.due_on < today => Standing::Overdue,
                        _ => Standing::Open,
                    };
                    tr data-agency=(t.agency) data-deadline=(t.deadline) {
                        td { (t.agency) }
                        td { (words::deadline(&t.deadline)) }
                        td { (t.due_on) }
                        td { (standing.tag())
                            @if matches!(standing, Standing::Open | Standing::Overdue) && calendar.is_provisional(t.due_on) {
                                span.tag.provisional title="该年度官方节假日安排尚未发布，日期可能调整" { "临时" }
                            }
                        }
                    }
                }
                @if last.is_empty() { tr { td colspan="4" .muted { "没有期限记录。" } } }
            }
        }
    })
}

/// What the task has done so far: acknowledged, its opinion, its reply.
fn done(task: &Task) -> Markup {
    html! {
        @if let Some(on) = task.acknowledged_on { div { span.tag.met { "已签收" } " " (on) } }
        @if let Some(o) = &task.opinion {
            div { span.tag.met { "协办意见" } " " (o.document_number) "：" (o.summary) }
        }
        @if let Some(d) = &task.draft { div { span.tag.met { "答复稿" } " " (d.document_number) } }
        @if let Some(r) = task.replies.first() { div { span.tag.met { "已答复" } " " (r.sent_on) } }
    }
}

fn reply(view: &ProposalView) -> Markup {
    let handlers: Vec<Task> = view
        .tasks
        .iter()
        .filter(|t| t.summary.role != "co_handler")
        .filter_map(record)
        .filter(|t| t.draft.is_some() || !t.replies.is_empty())
        .collect();
    html! {
        @if !handlers.is_empty() { h2 { "答复与回执" } }
        @for t in &handlers {
            div.card.reply {
                p { b { (t.agency) } " 的答复" }
                @if let Some(d) = &t.draft {
                    dl.facts {
                        dt { "发文字号" } dd { (d.document_number) }
                        dt { "办理结果" } dd { (format!("{:?}", d.result_class)) " 类" }
                        dt { "内容摘要" } dd { (d.summary) }
                    }
                }
                @if let Some(s) = &t.signature { p { "审签：" (s.signer) "（" (s.title) "）" (s.signed_on) } }
                @for r in &t.replies { p { "答复：" (r.sent_on) " 致 " (r.deputies.join("、")) } }
                @for f in &t.feedback {
                    p { "回执：" (words::satisfaction(f.satisfaction))
                        "（" (f.received_on) "）" (f.comments) }
                }
            }
        }
    }
}

fn timeline(view: &ProposalView) -> Markup {
    html! {
        table #timeline {
            thead { tr { th { "#" } th { "记录时间" } th { "事项" } th { "单位" } th { "状态变化" } th { "办理人" } } }
            tbody {
                @for e in &view.timeline {
                    tr data-event=(e.event) {
                        td { (e.seq) }
                        @let recorded = page::moment(e.recorded_at);
                        @let occurred = page::moment(e.occurred_at);
                        td { (recorded)
                            @if occurred != recorded { div.muted { "发生于 " (occurred) } } }
                        td { (words::event(&e.event)) }
                        td { (e.agency.as_deref().unwrap_or("—")) }
                        td { (words::state(&e.from)) " → " (words::state(&e.to)) }
                        td { (e.actor_agency) " · " (words::actor_role(&e.actor_role)) }
                    }
                }
            }
        }
    }
}

/// The search form's fields.
#[derive(Debug, Deserialize)]
pub struct Search {
    /// A proposal's key: straight to its page.
    pub q: Option<String>,
    pub state: Option<String>,
    pub overdue: Option<String>,
    /// Part of the proposal's number.
    pub number: Option<String>,
    /// Words of the title.
    pub title: Option<String>,
    /// Part of a deputy's or member's name.
    pub person: Option<String>,
    pub category: Option<String>,
    /// An agency with an active task in it.
    pub agency: Option<String>,
    /// A jurisdiction's code: it and those below it.
    pub jurisdiction: Option<String>,
    /// Assigned on or after (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Assigned on or before (`YYYY-MM-DD`).
    pub to: Option<String>,
    pub cursor: Option<String>,
}

/// `/proposals`: go to a key, or list the proposals the visitor sees, filtered.
pub async fn search(
    State(service): State<Service>,
    visitor: Visitor,
    Query(search): Query<Search>,
) -> Result<Response, Refusal> {
    let q = search.q.as_deref().map(str::trim).unwrap_or("");
    if !q.is_empty() {
        let key = key(q.to_owned())?;
        return Ok(Redirect::to(&format!("/proposals/{key}")).into_response());
    }
    let nonempty = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let day = |name: &str, v: &Option<String>| -> Result<Option<NaiveDate>, Refusal> {
        nonempty(v)
            .map(|text| {
                text.parse::<NaiveDate>().map_err(|_| {
                    Refusal::from(cohandle_api::Error::bad_request(
                        "query_invalid",
                        format!("{name} 应为日期（如 2026-01-31），而不是 {text:?}"),
                    ))
                })
            })
            .transpose()
    };
    let query = ProposalQuery {
        state: nonempty(&search.state),
        overdue: nonempty(&search.overdue).map(|v| v == "yes"),
        number: nonempty(&search.number),
        title: nonempty(&search.title),
        person: nonempty(&search.person),
        category: nonempty(&search.category),
        agency: nonempty(&search.agency),
        jurisdiction: nonempty(&search.jurisdiction),
        assigned_from: day("交办起", &search.from)?,
        assigned_to: day("交办止", &search.to)?,
        total: Some(true),
        cursor: nonempty(&search.cursor),
        ..ProposalQuery::default()
    };
    let found = cohandle_api::lists::proposals(&service, &visitor.principal, query).await?;
    let given = |v: &Option<String>| v.clone().unwrap_or_default();
    let kept: Vec<(&str, String)> = [
        ("state", &search.state),
        ("overdue", &search.overdue),
        ("number", &search.number),
        ("title", &search.title),
        ("person", &search.person),
        ("category", &search.category),
        ("agency", &search.agency),
        ("jurisdiction", &search.jurisdiction),
        ("from", &search.from),
        ("to", &search.to),
    ]
    .into_iter()
    .filter_map(|(name, v)| nonempty(v).map(|v| (name, v)))
    .collect();
    // The next page keeps the search.
    let next_page = found.next_cursor.as_ref().map(|next| {
        let mut pairs = kept.clone();
        pairs.push(("cursor", next.clone()));
        format!(
            "/proposals?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    });
    let chosen = |v: &Option<String>, option: &str| nonempty(v).as_deref() == Some(option);
    let jurisdiction = page::jurisdiction_field(
        &service,
        &visitor,
        nonempty(&search.jurisdiction).as_deref(),
    );
    let freshness = page::freshness(&service, &visitor).await;
    let content = html! {
        (freshness)
        form.filters method="get" action="/proposals" {
            label { "建议号" input type="text" name="q" placeholder="如 cq-5-3-0942"; }
            label { "编号含" input type="text" name="number" value=(given(&search.number)); }
            label { "标题词" input type="text" name="title" value=(given(&search.title)); }
            label { "代表委员" input type="text" name="person" value=(given(&search.person)); }
            label { "类别" input type="text" name="category" value=(given(&search.category)); }
            label { "承办单位" input type="text" name="agency" placeholder="如 cq-jw" value=(given(&search.agency)); }
            (jurisdiction)
            label { "交办起" input type="date" name="from" value=(given(&search.from)); }
            label { "交办止" input type="date" name="to" value=(given(&search.to)); }
            label { "状态" select name="state" {
                option value="" { "全部" }
                option value="open" selected[chosen(&search.state, "open")] { "办理中" }
                option value="closed" selected[chosen(&search.state, "closed")] { "已办结" }
            } }
            label { "逾期" select name="overdue" {
                option value="" { "全部" }
                option value="yes" selected[chosen(&search.overdue, "yes")] { "有逾期" }
            } }
            button type="submit" { "查找" }
        }
        @if let Some(total) = found.total { p.count { "共 " (total) " 件" } }
        table #proposals {
            thead { tr { th { "编号" } th { "标题" } th { "届次" } th { "状态" } th { "最近期限" } } }
            tbody {
                @for p in &found.items {
                    tr {
                        td { a href={ "/proposals/" (p.key) } { (p.key) } }
                        td { (p.title) @if p.key_supervision { span.tag.key { "重点督办" } } }
                        td { (p.session) }
                        td { (words::state(&p.state)) }
                        td { (p.due_on.map(|d| d.to_string()).unwrap_or_default()) }
                    }
                }
            }
        }
        @if let Some(next) = &next_page {
            div.pager { a href=(next) { "下一页" } }
        }
    };
    Ok(page::answer(
        StatusCode::OK,
        page::shell("查找建议提案", Some(&visitor), content),
    ))
}
