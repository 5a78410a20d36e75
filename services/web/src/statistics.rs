//! The figures supervisors report, overall and per agency (an agency sees the overall
//! figures and its own): 办结率, 按时答复率, 满意率 and the shares of result classes A–D, as
//! a table and as bars drawn in inline SVG. Read through `Service::statistics`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cohandle_api::dto::{Figures, StatisticsQuery};
use cohandle_api::Service;
use maud::{html, Markup};

use crate::page::{self, Refusal};
use crate::session::Visitor;

fn rate(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

fn share(figures: &Figures, class: &str) -> String {
    rate(figures.class_shares.get(class).copied())
}

fn row(name: &str, f: &Figures) -> Markup {
    html! {
        tr data-agency=(name) {
            td { (name) }
            td { (f.handler_tasks) }
            td { (f.completed) }
            td { (rate(f.completion_rate)) }
            td { (f.replies) }
            td { (rate(f.on_time_rate)) }
            td { (rate(f.first_time_satisfaction_rate)) }
            td { (rate(f.final_satisfaction_rate)) }
            @for class in ["A", "B", "C", "D"] { td { (share(f, class)) } }
        }
    }
}

/// Horizontal bars of one rate per agency, 0–100 %.
fn bars(caption: &str, rows: &[(&str, Option<f64>)]) -> Markup {
    const ROW: usize = 24;
    const LABEL: usize = 110;
    const WIDTH: usize = 320;
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

/// `/statistics`.
pub async fn statistics(
    State(service): State<Service>,
    visitor: Visitor,
) -> Result<Response, Refusal> {
    let view = service
        .statistics(&visitor.principal, StatisticsQuery::default())
        .await?;
    let completion: Vec<(&str, Option<f64>)> = view
        .agencies
        .iter()
        .map(|a| (a.agency.as_str(), a.figures.completion_rate))
        .collect();
    let on_time: Vec<(&str, Option<f64>)> = view
        .agencies
        .iter()
        .map(|a| (a.agency.as_str(), a.figures.on_time_rate))
        .collect();
    let content = html! {
        table #statistics {
            thead { tr {
                th { "单位" } th { "承办件数" } th { "办结" } th { "办结率" } th { "答复件数" }
                th { "按时答复率" } th { "首次满意率" } th { "最终满意率" }
                th { "A 类" } th { "B 类" } th { "C 类" } th { "D 类" }
            } }
            tbody {
                (row("全部", &view.overall))
                @for a in &view.agencies { (row(&a.agency, &a.figures)) }
            }
        }
        p.muted { "满意率指满意和基本满意的回执所占比例；A–D 为首次答复中各类办理结果所占比例。" }
        div.steps {
            (bars("办结率", &completion))
            (bars("按时答复率", &on_time))
        }
    };
    Ok(page::answer(
        StatusCode::OK,
        page::shell("办理统计", Some(&visitor), content),
    ))
}
