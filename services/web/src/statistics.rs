//! The figures supervisors report, overall and per agency (an agency sees the overall
//! figures and its own): 办结率, 按时答复率 (obligations past due count against it), 满意率,
//! 见面率, the shares of result classes A–D and co-handlers' 协办意见按时率, as a table and as
//! bars drawn in inline SVG, narrowed to a session or a kind; and the month-by-month trend
//! over the months chosen. (The API also narrows the figures to a period of assignment.) Read through `Service::statistics` and `Service::trend`, the
//! API's `/v1/statistics` and `/v1/statistics/trend`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use cohandle_api::dto::{Figures, StatisticsQuery, StatisticsView, TrendQuery, TrendView};
use cohandle_api::Service;
use maud::{html, Markup};
use serde::Deserialize;

use crate::export;
use crate::page::{self, Refusal};
use crate::session::Visitor;

fn rate(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

fn share(figures: &Figures, class: &str) -> String {
    rate(figures.class_shares.get(class).copied())
}

/// The filters as the form sends them (an empty field is no filter).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filters {
    pub session: Option<String>,
    /// `deputy_suggestion` or `cppcc_proposal`.
    pub kind: Option<String>,
    /// `YYYY-MM-DD`: the trend's first month.
    pub from: Option<String>,
    /// `YYYY-MM-DD`: the trend's last month.
    pub to: Option<String>,
}

fn given(value: Option<&String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn day(name: &str, value: Option<&String>) -> Result<Option<NaiveDate>, Refusal> {
    given(value)
        .map(|v| {
            NaiveDate::parse_from_str(&v, "%Y-%m-%d").map_err(|_| {
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_date",
                    format!("{name} is {v:?}: write a day as YYYY-MM-DD, e.g. 2020-03-01"),
                )
            })
        })
        .transpose()
}

impl Filters {
    fn statistics(&self) -> Result<StatisticsQuery, Refusal> {
        Ok(StatisticsQuery {
            session: given(self.session.as_ref()),
            kind: given(self.kind.as_ref()),
            ..StatisticsQuery::default()
        })
    }

    fn trend(&self) -> Result<TrendQuery, Refusal> {
        Ok(TrendQuery {
            session: given(self.session.as_ref()),
            kind: given(self.kind.as_ref()),
            from: day("from", self.from.as_ref())?,
            to: day("to", self.to.as_ref())?,
            ..TrendQuery::default()
        })
    }

    /// This form's query string, for the export links.
    fn query_string(&self) -> String {
        let fields = [
            ("session", &self.session),
            ("kind", &self.kind),
            ("from", &self.from),
            ("to", &self.to),
        ];
        let pairs: Vec<(&str, String)> = fields
            .into_iter()
            .filter_map(|(name, value)| given(value.as_ref()).map(|v| (name, v)))
            .collect();
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }
}

/// The columns of the table and of its CSV.
const COLUMNS: [&str; 17] = [
    "单位",
    "承办件数",
    "协办件数",
    "办结",
    "办结率",
    "答复件数",
    "逾期未答复",
    "按时答复率",
    "首次满意率",
    "最终满意率",
    "见面率",
    "A 类",
    "B 类",
    "C 类",
    "D 类",
    "协办意见",
    "协办意见按时率",
];

/// One row's cells, in the order of [`COLUMNS`].
fn cells(name: &str, f: &Figures) -> Vec<String> {
    let mut cells = vec![
        name.to_owned(),
        f.handler_tasks.to_string(),
        f.co_handler_tasks.to_string(),
        f.completed.to_string(),
        rate(f.completion_rate),
        f.replies.to_string(),
        f.overdue_replies.to_string(),
        rate(f.on_time_rate),
        rate(f.first_time_satisfaction_rate),
        rate(f.final_satisfaction_rate),
        rate(f.meeting_rate),
    ];
    cells.extend(["A", "B", "C", "D"].map(|class| share(f, class)));
    cells.push(f.opinions.to_string());
    cells.push(rate(f.opinion_on_time_rate));
    cells
}

fn rows(view: &StatisticsView) -> Vec<Vec<String>> {
    std::iter::once(cells("全部", &view.overall))
        .chain(view.agencies.iter().map(|a| cells(&a.agency, &a.figures)))
        .collect()
}

/// The columns of the trend's table and of its CSV.
const TREND_COLUMNS: [&str; 8] = [
    "月份",
    "交办件数",
    "答复件数",
    "按时答复",
    "按时答复率",
    "回执件数",
    "满意率",
    "协办意见按时率",
];

fn trend_rows(view: &TrendView) -> Vec<Vec<String>> {
    view.months
        .iter()
        .map(|m| {
            vec![
                m.month.clone(),
                m.assigned.to_string(),
                m.replies.to_string(),
                m.replies_on_time.to_string(),
                rate(m.on_time_rate),
                m.receipts.to_string(),
                rate(m.satisfaction_rate),
                rate(m.opinion_on_time_rate),
            ]
        })
        .collect()
}

/// Horizontal bars of one rate per agency, 0–100 %.
fn bars(caption: &str, view: &StatisticsView, rate_of: fn(&Figures) -> Option<f64>) -> Markup {
    let rows: Vec<(&str, Option<f64>)> = view
        .agencies
        .iter()
        .map(|a| (a.agency.as_str(), rate_of(&a.figures)))
        .collect();
    const ROW: usize = 24;
    const LABEL: usize = 100;
    const WIDTH: usize = 260;
    let height = rows.len() * ROW + 8;
    html! {
        figure.card {
            figcaption { (caption) }
            svg.bars xmlns="http://www.w3.org/2000/svg" width=(LABEL + WIDTH + 60) height=(height) role="img" aria-label=(caption) {
                @for (i, (name, value)) in rows.iter().enumerate() {
                    @let y = i * ROW + 4;
                    @let filled = value.map_or(0.0, |v| v.clamp(0.0, 1.0) * WIDTH as f64);
                    text x="0" y=(y + 15) { (name) }
                    rect.track x=(LABEL) y=(y) width=(WIDTH) height="18" {}
                    rect.bar x=(LABEL) y=(y) width=(format!("{filled:.1}")) height="18" {}
                    text x=(LABEL + WIDTH + 6) y=(y + 15) { (rate(*value)) }
                }
            }
        }
    }
}

/// Columns of replies per month, the on-time share of each drawn darker inside it.
fn monthly(view: &TrendView) -> Markup {
    const COLUMN: usize = 36;
    const HEIGHT: usize = 140;
    let most = view
        .months
        .iter()
        .map(|m| m.replies)
        .max()
        .unwrap_or(0)
        .max(1);
    let width = view.months.len() * COLUMN + 8;
    let caption = "每月答复件数（深色为按时答复）";
    html! {
        figure.card {
            figcaption { (caption) }
            svg.bars #trend-chart xmlns="http://www.w3.org/2000/svg" width=(width) height=(HEIGHT + 40) role="img" aria-label=(caption) {
                @for (i, m) in view.months.iter().enumerate() {
                    @let x = i * COLUMN + 4;
                    @let all = m.replies as f64 / most as f64 * HEIGHT as f64;
                    @let on_time = m.replies_on_time as f64 / most as f64 * HEIGHT as f64;
                    rect.track x=(x) y=(format!("{:.1}", HEIGHT as f64 - all)) width=(COLUMN - 8) height=(format!("{all:.1}")) {}
                    rect.bar x=(x) y=(format!("{:.1}", HEIGHT as f64 - on_time)) width=(COLUMN - 8) height=(format!("{on_time:.1}")) {}
                    text x=(x) y=(HEIGHT + 14) { (m.month.get(2..).unwrap_or(&m.month)) }
                    text x=(x) y=(HEIGHT + 30) { (m.replies) }
                }
            }
        }
    }
}

fn form(filters: &Filters) -> Markup {
    let value = |v: &Option<String>| given(v.as_ref()).unwrap_or_default();
    let kind = value(&filters.kind);
    html! {
        form.filters method="get" action="/statistics" {
            label { "届次 " input type="text" name="session" value=(value(&filters.session)) placeholder="如 市五届人大三次会议"; }
            label { "类别 "
                select name="kind" {
                    option value="" selected[kind.is_empty()] { "全部" }
                    option value="deputy_suggestion" selected[kind == "deputy_suggestion"] { "代表建议" }
                    option value="cppcc_proposal" selected[kind == "cppcc_proposal"] { "政协提案" }
                }
            }
            label { "逐月趋势自 " input type="date" name="from" value=(value(&filters.from)); }
            label { "至 " input type="date" name="to" value=(value(&filters.to)); }
            button type="submit" { "统计" }
        }
    }
}

/// `/statistics`.
pub async fn statistics(
    State(service): State<Service>,
    visitor: Visitor,
    Query(filters): Query<Filters>,
) -> Result<Response, Refusal> {
    let view = service
        .statistics(&visitor.principal, filters.statistics()?)
        .await?;
    let trend = service.trend(&visitor.principal, filters.trend()?).await?;
    let query = filters.query_string();
    let freshness = page::freshness(&service, &visitor).await;
    let content = html! {
        (form(&filters))
        (freshness)
        p {
            a href=(format!("/statistics.csv?{query}")) download { "导出 CSV" }
            " · "
            a href=(format!("/statistics/trend.csv?{query}")) download { "导出逐月趋势 CSV" }
        }
        table #statistics {
            thead { tr { @for column in COLUMNS { th { (column) } } } }
            tbody {
                @for row in rows(&view) {
                    tr data-agency=(row[0]) { @for cell in &row { td { (cell) } } }
                }
            }
        }
        p.muted {
            "截至 " (view.today) "。按时答复率 = 按期答复件数 ÷（已答复件数 + 已逾期仍未答复件数）；"
            "协办意见按时率同理。满意率指满意和基本满意的回执所占比例；A–D 为首次答复中各类办理结果所占比例。"
        }
        div.charts {
            (bars("办结率", &view, |f| f.completion_rate))
            (bars("按时答复率", &view, |f| f.on_time_rate))
            (bars("协办意见按时率", &view, |f| f.opinion_on_time_rate))
        }
        h2 { "逐月趋势（" (trend.from.format("%Y-%m")) " 至 " (trend.to.format("%Y-%m")) "）" }
        div.charts { (monthly(&trend)) }
        table #trend {
            thead { tr { @for column in TREND_COLUMNS { th { (column) } } } }
            tbody {
                @for row in trend_rows(&trend) {
                    tr data-month=(row[0]) { @for cell in &row { td { (cell) } } }
                }
            }
        }
    };
    Ok(page::answer(
        StatusCode::OK,
        page::shell("办理统计", Some(&visitor), content),
    ))
}

/// `/statistics.csv`: the table above as CSV.
pub async fn csv_export(
    State(service): State<Service>,
    visitor: Visitor,
    Query(filters): Query<Filters>,
) -> Result<Response, Refusal> {
    let view = service
        .statistics(&visitor.principal, filters.statistics()?)
        .await?;
    let name = format!("statistics-{}.csv", view.today);
    export::csv(&name, &COLUMNS, rows(&view))
}

/// `/statistics/trend.csv`: the months above as CSV.
pub async fn trend_csv(
    State(service): State<Service>,
    visitor: Visitor,
    Query(filters): Query<Filters>,
) -> Result<Response, Refusal> {
    let trend = service.trend(&visitor.principal, filters.trend()?).await?;
    let name = format!("trend-{}-{}.csv", trend.from, trend.to);
    export::csv(&name, &TREND_COLUMNS, trend_rows(&trend))
}
