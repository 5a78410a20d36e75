//! The workbench's pages over the million proposals of [`crate::queries`], through HTTP: a
//! real `cohandle serve` application (the API and the workbench, `cohandle_web::app`) on
//! loopback, each page asked with the session cookie of the person who opens it, and timed
//! from the request to the last byte of the answer. Every answer must be 200.

use std::time::Instant;

use chrono::{DateTime, Utc};
use cohandle_api::tokens::{self, NewToken};
use cohandle_api::{Role, Service};
use cohandle_store::Engine;
use cohandle_workflows::AgencyCode;

use crate::percentile;
use crate::queries::Latency;

/// A page's server time, p99, in milliseconds.
pub const PAGE_TARGET_P99_MS: f64 = 100.0;

/// Who opens the pages: a municipal supervisor (its 40 districts), a district supervisor,
/// the municipal congress's supervisor (case 0942's jurisdiction), and an agency.
const PEOPLE: [(&str, &str, Option<&str>); 4] = [
    ("bench-sup-m07", "supervisor", Some("m07")),
    ("bench-sup-m07-d13", "supervisor", Some("m07-d13")),
    ("bench-sup-cq", "supervisor", Some("cq")),
    ("agency-7", "agency", None),
];

/// Registers the people, issues each a token, and times every page `runs` times.
pub async fn run(engine: &Engine, now: DateTime<Utc>, runs: usize) -> anyhow::Result<Vec<Latency>> {
    let mut secrets = Vec::new();
    for (code, kind, jurisdiction) in PEOPLE {
        cohandle_testkit::agencies::register_serving(engine, code, kind, jurisdiction).await?;
        let role = if kind == "supervisor" {
            Role::Supervisor
        } else {
            Role::Agency
        };
        let issued = tokens::create(
            engine,
            now,
            NewToken {
                agency: AgencyCode::parse(code)?,
                role,
                name: Some("bench pages".to_owned()),
                expires_in_days: None,
            },
        )
        .await?;
        secrets.push(issued.secret);
    }
    let [municipal, district, congress, agency] =
        <[String; 4]>::try_from(secrets).map_err(|_| anyhow::anyhow!("one token per person"))?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(cohandle_web::serve(
        listener,
        // What a page costs, not the per-token limit, is what this measures.
        Service::new(engine.clone()).with_rate_limit(None),
        async move {
            let _ = stopped.await;
        },
    ));
    let client = reqwest::Client::new();
    let pages: [(&str, &str, &String); 14] = [
        ("期限看板, next 30 days, municipal supervisor over 40 districts", "/board", &municipal),
        ("期限看板, overdue only, municipal supervisor", "/board?overdue=yes", &municipal),
        ("期限看板, next 30 days, district supervisor", "/board", &district),
        ("期限看板, one district of forty, municipal supervisor", "/board?jurisdiction=m07-d21", &municipal),
        ("期限看板, replies of class B, municipal supervisor", "/board?class=B", &municipal),
        ("查找: assigned in June 2020, municipal supervisor", "/proposals?from=2020-06-01&to=2020-06-30", &municipal),
        ("查找: proposals by number, municipal supervisor", "/proposals?number=4711", &municipal),
        ("查找: proposals by deputy, municipal supervisor", "/proposals?person=%E4%BB%A3%E8%A1%A8123", &municipal),
        ("查找: overdue proposals, district supervisor", "/proposals?overdue=yes", &district),
        ("a proposal: tasks, deadlines, reply, timeline, chain verified (case 0942)", "/proposals/cq-5-3-0942", &congress),
        ("统计 with the 12-month trend, municipal supervisor", "/statistics", &municipal),
        ("统计 of one session, municipal supervisor", "/statistics?session=%E5%B8%82%E4%BA%94%E5%B1%8A%E4%BA%BA%E5%A4%A73%E6%AC%A1%E4%BC%9A%E8%AE%AE", &municipal),
        ("统计 with the trend, district supervisor", "/statistics", &district),
        ("my tasks, an agency with 75,000 tasks", "/tasks", &agency),
    ];
    let mut latencies = Vec::new();
    for (name, path, secret) in pages {
        let url = format!("{base}{path}");
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            let answer = client
                .get(&url)
                .header("cookie", format!("cohandle_session={secret}"))
                .send()
                .await?;
            let status = answer.status();
            let body = answer.bytes().await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(
                status.is_success(),
                "{path} answered {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(400)])
            );
        }
        times.sort_by(f64::total_cmp);
        latencies.push(Latency {
            query: format!("page {path}: {name}"),
            runs,
            p50_ms: percentile(&times, 0.50),
            p99_ms: percentile(&times, 0.99),
            target_p99_ms: PAGE_TARGET_P99_MS,
        });
    }
    let _ = stop.send(());
    server.await??;
    Ok(latencies)
}
