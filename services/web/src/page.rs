//! The page shell (head, navigation, the signed-in visitor, sign-out) and the one page a
//! refusal or failure answers with.

use std::any::Any;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use cohandle_api::{Role, Service};
use cohandle_workflows::engine::china_offset;
use maud::{html, Markup, DOCTYPE};

use crate::assets;
use crate::session::Visitor;
use crate::words;

/// A whole page: `title`, the navigation for `visitor` (none before sign-in), `content`.
pub fn shell(title: &str, visitor: Option<&Visitor>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · 建议提案办理工作台" }
                link rel="stylesheet" href=(assets::url("workbench.css"));
                script src=(assets::url("live.js")) defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "建议提案办理工作台" }
                    @if let Some(visitor) = visitor {
                        nav {
                            @for (href, label) in navigation(visitor.principal.role) {
                                a href=(href) { (label) }
                            }
                        }
                        span.who {
                            (visitor.principal.agency) " · " (words::role(visitor.principal.role))
                        }
                        form.signout method="post" action="/signout" {
                            input type="hidden" name="csrf" value=(visitor.csrf());
                            button type="submit" { "退出" }
                        }
                    }
                }
                main { h1 { (title) } (content) }
            }
        }
    }
}

/// The most jurisdictions a filter offers as a list; past it, a code is typed.
const LISTED_JURISDICTIONS: usize = 300;

/// The jurisdiction filter of a list: the jurisdictions `visitor` watches (a supervisor's and
/// those below them; every one for the other overseeing roles), `chosen` selected; nothing
/// for an agency, or when there is no more than one to choose.
pub fn jurisdiction_field(service: &Service, visitor: &Visitor, chosen: Option<&str>) -> Markup {
    if !visitor.oversees() {
        return html! {};
    }
    let registry = service.engine().jurisdictions();
    let codes = match visitor.principal.role {
        Role::Supervisor => registry.below(&visitor.principal.jurisdictions),
        _ => registry.all().map(|j| j.code.clone()).collect(),
    };
    if codes.len() < 2 {
        return html! {};
    }
    let name = |code: &str| {
        registry
            .get(code)
            .map(|j| j.name.clone())
            .unwrap_or_default()
    };
    html! {
        label { "辖区"
            @if codes.len() <= LISTED_JURISDICTIONS {
                select name="jurisdiction" {
                    option value="" { "全部" }
                    @for code in &codes {
                        option value=(code) selected[chosen == Some(code.as_str())] { (name(code)) "（" (code) "）" }
                    }
                }
            } @else {
                input type="text" name="jurisdiction" placeholder="辖区代码，如 cq-yz" value=(chosen.unwrap_or(""));
            }
        }
    }
}

/// How old what a supervisor sees may be, when its lists and figures are read from a
/// replica (`database.read_url`): nothing otherwise, or when the lag is unknown.
pub async fn freshness(service: &Service, visitor: &Visitor) -> Markup {
    if visitor.principal.role != Role::Supervisor || !service.has_replica() {
        return html! {};
    }
    lag_note(service.replica_lag().await.ok().flatten())
}

/// The note of [`freshness`] for a replica `lag` seconds behind.
pub fn lag_note(lag: Option<f64>) -> Markup {
    match lag {
        Some(lag) if lag < 1.0 => html! {
            p.muted.freshness data-lag="0" { "本页数据读自只读副本，打开时与主库同步。" }
        },
        Some(lag) => html! {
            p.muted.freshness data-lag=(format!("{lag:.0}")) {
                "本页数据读自只读副本，打开时约落后 " (format!("{lag:.0}")) " 秒；刚办理的步骤可能稍后才显示。"
            }
        },
        None => html! {},
    }
}

/// The pages a role opens from the navigation; what it may not use is not listed.
fn navigation(role: Role) -> &'static [(&'static str, &'static str)] {
    match role {
        Role::Agency => &[
            ("/tasks", "我的任务"),
            ("/board", "期限"),
            ("/statistics", "统计"),
        ],
        Role::CongressOffice => &[
            ("/tasks", "待收回执"),
            ("/board", "期限看板"),
            ("/proposals", "查找"),
            ("/statistics", "统计"),
        ],
        Role::Assigner | Role::Supervisor | Role::Admin => &[
            ("/board", "期限看板"),
            ("/proposals", "查找"),
            ("/statistics", "统计"),
        ],
    }
}

/// A moment as the pages show it: China time, to the minute.
pub fn moment(at: DateTime<Utc>) -> String {
    at.with_timezone(&china_offset())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// A page answered with a status and a sentence: a refusal of the engine or of access, a
/// page that does not exist, a failure.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: String,
    pub detail: String,
}

impl Refusal {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            detail: detail.into(),
        }
    }

    /// The sentence a person reads: the Chinese explanation, then the engine's words.
    pub fn sentence(&self) -> String {
        if self.detail.is_empty() {
            words::refusal(&self.code).to_owned()
        } else {
            format!("{}（{}）", words::refusal(&self.code), self.detail)
        }
    }
}

impl From<cohandle_api::Error> for Refusal {
    fn from(error: cohandle_api::Error) -> Self {
        let problem = error.problem();
        if problem.status >= 500 {
            tracing::error!(message = "A workbench page failed", error = %error);
        }
        Self {
            status: error.status(),
            code: error.code().to_owned(),
            detail: problem.detail,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let title = if self.status == StatusCode::NOT_FOUND {
            "没有这个页面"
        } else if self.status.is_server_error() {
            "出错了"
        } else {
            "不能办理"
        };
        let body = shell(
            title,
            None,
            html! {
                p.refusal role="alert" data-code=(self.code) { (self.sentence()) }
                p { a href="/" { "返回工作台" } }
            },
        );
        answer(self.status, body)
    }
}

/// Headers every workbench answer carries: its own origin only for scripts, styles, fetches
/// and form targets, never inside another site's frame, no type sniffing, no referrer to
/// other origins.
pub async fn guard_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// What a panicking handler answers.
pub fn panicked(_: Box<dyn Any + Send>) -> Response {
    Refusal::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "服务器内部错误，已记入日志",
    )
    .into_response()
}

/// A page as an HTML answer that no cache keeps (it carries the visitor's data).
pub fn answer(status: StatusCode, body: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.into_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::lag_note;

    #[test]
    fn a_replica_behind_is_said_in_seconds_and_no_lag_says_nothing() {
        let note = lag_note(Some(12.4)).into_string();
        assert!(note.contains("data-lag=\"12\""), "{note}");
        assert!(note.contains("约落后 12 秒"), "{note}");
        assert!(lag_note(None).into_string().is_empty());
        let caught_up = lag_note(Some(0.2)).into_string();
        assert!(caught_up.contains("与主库同步"), "{caught_up}");
    }
}
