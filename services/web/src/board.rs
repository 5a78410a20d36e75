//! The deadline board: every running obligation overdue or due within N days, most urgent
//! first, filtered by agency and key supervision, with the counts at the top (each one count
//! of the store, whatever the number), a page at a time; the same list as CSV. It reads
//! `lists::deadlines`, the API's `/v1/deadlines`, so an agency's board holds its own tasks
//! only.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Duration;
use cohandle_api::dto::{DeadlineEntry, DeadlineList, DeadlineQuery};
use cohandle_api::lists;
use cohandle_api::Service;
use maud::{html, Markup};
use serde::Deserialize;

use crate::page::{self, Refusal};
use crate::session::Visitor;
use crate::{export, live, words};

/// How far ahead the board looks unless told.
pub const DEFAULT_DAYS: i64 = 30;
/// Rows per page on the board.
const PAGE: u64 = 50;
/// The most rows a count or an export walks through.
const MOST: usize = 10_000;

/// The board's filters as a form sends them (an empty field is no filter).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BoardQuery {
    pub days: Option<String>,
    pub agency: Option<String>,
    /// `yes`: only key supervision (重点督办); `no`: only the others.
    pub key: Option<String>,
    /// `yes`: only overdue; `no`: only upcoming.
    pub overdue: Option<String>,
    /// A workflow definition's name.
    pub definition: Option<String>,
    /// The result class of the proposal's latest reply, `A`–`D`.
    pub class: Option<String>,
    /// A jurisdiction's code: it and those below it.
    pub jurisdiction: Option<String>,
    pub cursor: Option<String>,
}

fn given(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn yes_no(value: Option<&String>) -> Option<bool> {
    match given(value) {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => None,
    }
}

impl BoardQuery {
    fn days(&self) -> i64 {
        given(self.days.as_ref())
            .and_then(|d| d.parse().ok())
            .filter(|d: &i64| (0..=3660).contains(d))
            .unwrap_or(DEFAULT_DAYS)
    }

    /// The service's query for one page of this board.
    fn deadlines(&self, service: &Service, limit: u64) -> DeadlineQuery {
        DeadlineQuery {
            until: Some(service.today() + Duration::days(self.days())),
            agency: given(self.agency.as_ref()).map(str::to_owned),
            overdue: yes_no(self.overdue.as_ref()),
            key_supervision: yes_no(self.key.as_ref()),
            definition: given(self.definition.as_ref()).map(str::to_owned),
            result_class: given(self.class.as_ref()).map(str::to_owned),
            jurisdiction: given(self.jurisdiction.as_ref()).map(str::to_owned),
            cursor: given(self.cursor.as_ref()).map(str::to_owned),
            limit: Some(limit),
            ..DeadlineQuery::default()
        }
    }

    /// The query string of this board, on another page.
    fn with_cursor(&self, cursor: Option<&str>) -> String {
        let mut pairs = Vec::new();
        let fields = [
            ("days", &self.days),
            ("agency", &self.agency),
            ("key", &self.key),
            ("overdue", &self.overdue),
            ("definition", &self.definition),
            ("class", &self.class),
            ("jurisdiction", &self.jurisdiction),
        ];
        for (name, value) in fields {
            if let Some(v) = given(value.as_ref()) {
                pairs.push((name, v.to_owned()));
            }
        }
        if let Some(c) = cursor {
            pairs.push(("cursor", c.to_owned()));
        }
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }
}

/// Every entry of the board's filters, page after page, up to [`MOST`].
async fn all_entries(
    service: &Service,
    visitor: &Visitor,
    query: &BoardQuery,
) -> Result<Vec<DeadlineEntry>, Refusal> {
    let mut query = query.clone();
    query.cursor = None;
    let mut entries = Vec::new();
    loop {
        let page = lists::deadlines(
            service,
            &visitor.principal,
            query.deadlines(service, cohandle_api::pagination::MAX_LIMIT),
        )
        .await?;
        entries.extend(page.items.into_iter().map(|row| row.entry));
        match page.next_cursor {
            Some(next) if entries.len() < MOST => query.cursor = Some(next),
            _ => return Ok(entries),
        }
    }
}

/// `/board`.
pub async fn board(
    State(service): State<Service>,
    visitor: Visitor,
    headers: HeaderMap,
    Query(query): Query<BoardQuery>,
) -> Result<Response, Refusal> {
    let page = lists::deadlines(
        &service,
        &visitor.principal,
        query.deadlines(&service, PAGE),
    )
    .await?;
    let counts =
        lists::deadline_counts(&service, &visitor.principal, query.deadlines(&service, 1)).await?;
    let (overdue, soon, key) = (counts.overdue, counts.upcoming, counts.key_supervision);
    let part = html! {
        div.counts {
            div.count.late { "已逾期" b data-count="overdue" { (overdue) } }
            div.count.soon { (query.days()) " 天内到期" b data-count="soon" { (soon) } }
            div.count { "其中重点督办" b data-count="key" { (key) } }
        }
        (table(&page, &query))
    };
    let freshness = page::freshness(&service, &visitor).await;
    let filters = html! {
        (freshness)
        (filters(&query, &visitor, &definitions(&service), page::jurisdiction_field(
            &service,
            &visitor,
            given(query.jurisdiction.as_ref()),
        )))
    };
    Ok(live::answer(&headers, &visitor.csrf(), part, |part| {
        page::shell(
            "期限看板",
            Some(&visitor),
            html! {
                (filters)
                (part)
            },
        )
    }))
}

/// The loaded workflow definitions, by name and title, each once.
fn definitions(service: &Service) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = service
        .engine()
        .catalog()
        .all()
        .map(|d| (d.name.clone(), d.title.clone()))
        .collect();
    all.sort();
    all.dedup_by(|a, b| a.0 == b.0);
    all
}

fn filters(
    query: &BoardQuery,
    visitor: &Visitor,
    definitions: &[(String, String)],
    jurisdiction: Markup,
) -> Markup {
    let selected = |value: &Option<String>, option: &str| given(value.as_ref()) == Some(option);
    html! {
        form.filters method="get" action="/board" {
            label { "到期天数" input type="number" name="days" min="0" max="3660" value=(query.days()); }
            @if visitor.oversees() {
                label { "承办单位" input type="text" name="agency" placeholder="如 cq-jw" value=(given(query.agency.as_ref()).unwrap_or("")); }
            }
            (jurisdiction)
            label { "重点督办"
                select name="key" {
                    option value="" { "全部" }
                    option value="yes" selected[selected(&query.key, "yes")] { "仅重点督办" }
                    option value="no" selected[selected(&query.key, "no")] { "非重点督办" }
                }
            }
            label { "办理规则"
                select name="definition" {
                    option value="" { "全部" }
                    @for (name, title) in definitions {
                        option value=(name) selected[selected(&query.definition, name)] { (title) }
                    }
                }
            }
            label { "答复类别"
                select name="class" {
                    option value="" { "全部" }
                    @for class in ["A", "B", "C", "D"] {
                        option value=(class) selected[selected(&query.class, class)] { (class) " 类" }
                    }
                }
            }
            label { "逾期"
                select name="overdue" {
                    option value="" { "全部" }
                    option value="yes" selected[selected(&query.overdue, "yes")] { "仅已逾期" }
                    option value="no" selected[selected(&query.overdue, "no")] { "仅未逾期" }
                }
            }
            button type="submit" { "筛选" }
            a href={ "/board.csv?" (query.with_cursor(None)) } download { "导出 CSV" }
        }
    }
}

fn table(page: &DeadlineList, query: &BoardQuery) -> Markup {
    html! {
        p.muted { "今天（北京时间）：" (page.today) "。按紧迫程度排序：逾期最久的在前。" }
        table #deadlines {
            thead { tr {
                th { "到期日" } th { "剩余" } th { "建议/提案" } th { "承办单位" }
                th { "角色" } th { "状态" } th { "期限" }
            } }
            tbody {
                @for row in &page.items {
                    @let e = &row.entry;
                    tr.overdue[e.overdue] data-proposal=(e.proposal) data-agency=(e.agency) {
                        td { (e.due_on)
                            @if e.provisional { span.tag.provisional title="该年度官方节假日安排尚未发布，日期可能调整" { "临时" } }
                        }
                        td { (left(e)) }
                        td { a href={ "/proposals/" (e.proposal) } title=(row.title) { (e.proposal) }
                            @if e.key_supervision { span.tag.key { "重点督办" } }
                        }
                        td { (e.agency) }
                        td { (words::task_role(&e.role)) }
                        td { (words::state(&e.state)) }
                        td { (e.deadline.as_deref().map_or("", words::deadline)) }
                    }
                }
                @if page.items.is_empty() {
                    tr { td colspan="7" .muted { "没有符合条件的期限。" } }
                }
            }
        }
        div.pager {
            @if given(query.cursor.as_ref()).is_some() {
                a href={ "/board?" (query.with_cursor(None)) } { "第一页" }
            }
            @if let Some(next) = &page.next_cursor {
                a href={ "/board?" (query.with_cursor(Some(next))) } { "下一页" }
            }
        }
    }
}

/// "逾期 3 个工作日" or "还有 5 个工作日".
fn left(e: &DeadlineEntry) -> Markup {
    let (late, days, unit) = match e.working_days_left {
        Some(n) => (n < 0 || e.overdue, n.abs(), "个工作日"),
        None => (e.overdue, e.days_left.abs(), "天"),
    };
    html! {
        @if late { span.tag.late { "逾期 " (days) " " (unit) } }
        @else if days <= 5 { span.tag.soon { "还有 " (days) " " (unit) } }
        @else { "还有 " (days) " " (unit) }
    }
}

/// `/board.csv`: the board's rows (all pages) as CSV, UTF-8 with a byte-order mark so that
/// Excel reads the Chinese.
pub async fn csv_export(
    State(service): State<Service>,
    visitor: Visitor,
    Query(query): Query<BoardQuery>,
) -> Result<Response, Refusal> {
    let entries = all_entries(&service, &visitor, &query).await?;
    let rows = entries.iter().map(|e| {
        vec![
            e.proposal.clone(),
            e.agency.clone(),
            words::task_role(&e.role).to_owned(),
            words::state(&e.state).to_owned(),
            e.deadline.as_deref().map_or("", words::deadline).to_owned(),
            e.due_on.to_string(),
            e.working_days_left
                .map(|n| n.to_string())
                .unwrap_or_default(),
            yes_or_no(e.overdue),
            yes_or_no(e.provisional),
            yes_or_no(e.key_supervision),
            e.session.clone(),
        ]
    });
    let header = [
        "建议/提案",
        "承办单位",
        "角色",
        "状态",
        "期限",
        "到期日",
        "剩余工作日",
        "是否逾期",
        "临时日期",
        "重点督办",
        "届次",
    ];
    export::csv(&format!("deadlines-{}.csv", service.today()), &header, rows)
}

fn yes_or_no(flag: bool) -> String {
    if flag { "是" } else { "否" }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_link_keeps_the_filters_and_encodes_the_cursor() {
        let query = BoardQuery {
            days: Some("7".into()),
            agency: Some(String::new()),
            key: Some("yes".into()),
            overdue: None,
            definition: None,
            class: Some("B".into()),
            jurisdiction: None,
            cursor: None,
        };
        assert_eq!(
            query.with_cursor(Some("a+b/c=")),
            "days=7&key=yes&class=B&cursor=a%2Bb%2Fc%3D"
        );
        assert_eq!(query.days(), 7);
        assert_eq!(BoardQuery::default().days(), DEFAULT_DAYS);
    }
}
