//! The figures supervisors report, overall and per agency (an agency sees the overall
//! figures and its own): 办结率, 按时答复率, 满意率 and the shares of result classes A–D, as
//! a table and as bars drawn in inline SVG. Read through `Service::statistics`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cohandle_api::dto::{Figures, StatisticsQuery, StatisticsView};
use cohandle_api::Service;
use maud::{html, Markup};

use crate::export;
use crate::page::{self, Refusal};
use crate::session::Visitor;

fn rate(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

fn share(figures: &Figures, class: &str) -> String {
    rate(figures.class_shares.get(class).copied())
}

/// The columns of the table and of its CSV.
const COLUMNS: [&str; 12] = [
    "单位",
    "承办件数",
    "办结",
    "办结率",
    "答复件数",
    "按时答复率",
    "首次满意率",
    "最终满意率",
    "A 类",
    "B 类",
    "C 类",
    "D 类",
];

/// One row's cells, in the order of [`COLUMNS`].
fn cells(name: &str, f: &Figures) -> Vec<String> {
    let mut cells = vec![
        name.to_owned(),
        f.handler_tasks.to_string(),
        f.completed.to_string(),
        rate(f.completion_rate),
        f.replies.to_string(),
        rate(f.on_time_rate),
        rate(f.first_time_satisfaction_rate),
        rate(f.final_satisfaction_rate),
    ];
    cells.extend(["A", "B", "C", "D"].map(|class| share(f, class)));
    cells
}

fn rows(view: &StatisticsView) -> Vec<Vec<String>> {
    std::iter::once(cells("全部", &view.overall))
        .chain(view.agencies.iter().map(|a| cells(&a.agency, &a.figures)))
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

/// The figures the visitor may read: the API's `/v1/statistics`.
async fn figures(service: &Service, visitor: &Visitor) -> Result<StatisticsView, Refusal> {
    Ok(service
        .statistics(&visitor.principal, StatisticsQuery::default())
        .await?)
}

/// `/statistics`.
pub async fn statistics(
    State(service): State<Service>,
    visitor: Visitor,
) -> Result<Response, Refusal> {
    let view = figures(&service, &visitor).await?;
    let content = html! {
        p { a href="/statistics.csv" download { "导出 CSV" } }
        table #statistics {
            thead { tr { @for column in COLUMNS { th { (column) } } } }
            tbody {
                @for row in rows(&view) {
                    tr data-agency=(row[0]) { @for cell in &row { td { (cell) } } }
                }
            }
        }
        p.muted { "满意率指满意和基本满意的回执所占比例；A–D 为首次答复中各类办理结果所占比例。" }
        div.charts {
            (bars("办结率", &view, |f| f.completion_rate))
            (bars("按时答复率", &view, |f| f.on_time_rate))
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
) -> Result<Response, Refusal> {
    let view = figures(&service, &visitor).await?;
    let name = format!("statistics-{}.csv", service.today());
    export::csv(&name, &COLUMNS, rows(&view))
}
