//! The supervisors' and agencies' reads with a million proposals stored, spread over 3,000
//! district jurisdictions in 75 municipal ones: overdue by agency, upcoming deadlines, a
//! district's and a municipality's supervisor (its 40 districts), statistics and the monthly
//! trend, one proposal; then the workbench's pages through HTTP ([`crate::pages`]). p50 and
//! p99 over repeated runs. Each is the
//! store function the API's handler calls (`cohandle_store::queries`), with the filters and
//! the scope that handler gives it for the request named, and a page of 50.
//!
//! The million are written straight into the tables the queries read (proposals, tasks,
//! replies, feedback), in the shapes the engine writes them (a proposal's document holds only
//! what the lists read of it: its lead deputy, co-signers and category); one proposal, the case 0942,
//! goes through the engine so that its timeline is real. Rows written beside the engine
//! leave the statistics counters behind, so they are rebuilt from the rows after the seeding
//! (timed on its own).

use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use cohandle_store::queries::{
    self, Counted, DeadlineFilter, Overdue, ProposalFilter, ProposalOrder, ProposalSearch, Scope,
    TaskMatch, TaskScope,
};
use cohandle_store::statistics;
use cohandle_store::{Clock, Engine, ManualClock, Source};
use cohandle_workflows::{AgencyCode, Calendar, Catalog};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub query: String,
    pub runs: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The p99 it must not exceed: [`QUERY_TARGET_P99_MS`] for a query, more for a page.
    pub target_p99_ms: f64,
}

/// A supervisor's query, p99, in milliseconds.
pub const QUERY_TARGET_P99_MS: f64 = 20.0;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub proposals: u64,
    pub seed_seconds: f64,
    /// Of the seeding: recomputing the statistics counters from the seeded rows.
    pub rebuild_seconds: f64,
    pub latencies: Vec<Latency>,
}

const AGENCIES: u64 = 40;

/// The jurisdictions the proposals are spread over: 75 municipal ones over 40 districts each,
/// 3,000 districts in all, each proposal in district `g % 3000`.
const MUNICIPALITIES: u64 = 75;
const DISTRICTS_EACH: u64 = 40;
/// SQL: the district of proposal `g`, and district number `d`'s code (`m07-d13`).
const DISTRICT_OF_G: &str =
    "'m' || lpad(((g % 3000) / 40)::text, 2, '0') || '-d' || lpad(((g % 3000) % 40)::text, 2, '0')";
const DISTRICT_OF_D: &str =
    "'m' || lpad((d / 40)::text, 2, '0') || '-d' || lpad((d % 40)::text, 2, '0')";

/// Seeds `proposals` synthetic proposals and times the queries.
pub async fn run(db: &DatabaseConnection, proposals: u64, runs: usize) -> anyhow::Result<Report> {
    let started = Instant::now();
    let stmts = [
        format!(
            "INSERT INTO proposals (key, definition_name, definition_version, kind, number, session, title, assigner, mode, state, \
             key_supervision, assigned_on, due_on, version, document, created_at, updated_at, history_seq, history_hash, jurisdiction, people) \
             SELECT 'q-' || lpad(g::text, 8, '0'), 'chongqing-deputy-suggestion', 1, 'deputy_suggestion', g::text, \
                    '市五届人大' || (g % 5) || '次会议', '关于加强科技创新的建议', 'cq-zfbgt', 'lead_with_co_handlers', \
                    CASE WHEN g % 10 < 6 THEN 'closed' ELSE 'open' END, g % 50 = 0, \
                    DATE '2020-01-01' + (g % 700), \
                    CASE WHEN g % 10 < 6 THEN NULL ELSE DATE '2020-04-01' + (g % 700) END, \
                    12, json_build_object('info', json_build_object('lead_deputy', '代表' || (g % 997), \
                        'co_signers', json_build_array('代表' || (g % 991)), 'category', '科技'))::text, \
                    now(), now(), 0, '', {DISTRICT_OF_G}, '代表' || (g % 997) || chr(10) || '代表' || (g % 991) \
             FROM generate_series(1, {proposals}) g"
        ),
        format!(
            "INSERT INTO tasks (proposal_key, position, agency, role, state, active, terminal, due_on, due_deadline, session, kind, key_supervision, jurisdiction) \
             SELECT 'q-' || lpad(g::text, 8, '0'), r, 'agency-' || ((g + r * 7) % {AGENCIES}), \
                    CASE WHEN r = 0 THEN 'lead' ELSE 'co_handler' END, \
                    CASE WHEN g % 10 < 6 THEN (CASE WHEN r = 0 THEN 'closed' ELSE 'opinion_sent' END) ELSE (CASE WHEN r = 0 THEN 'handling' ELSE 'acknowledged' END) END, \
                    true, g % 10 < 6, \
                    CASE WHEN g % 10 < 6 THEN NULL ELSE DATE '2020-04-01' + (g % 700) END, \
                    CASE WHEN g % 10 < 6 THEN NULL ELSE 'reply' END, \
                    '市五届人大' || (g % 5) || '次会议', 'deputy_suggestion', g % 50 = 0, {DISTRICT_OF_G} \
             FROM generate_series(1, {proposals}) g, generate_series(0, 2) r"
        ),
        // The jurisdictions: MUNICIPALITIES municipal ones, each over DISTRICTS_EACH districts.
        format!(
            "INSERT INTO jurisdictions (code, name, parent, level, created_at) \
             SELECT 'm' || lpad(m::text, 2, '0'), '市' || m, NULL, 'municipal', now() \
             FROM generate_series(0, {MUNICIPALITIES} - 1) m \
             UNION ALL SELECT {DISTRICT_OF_D}, '区' || d, 'm' || lpad((d / {DISTRICTS_EACH})::text, 2, '0'), 'district', now() \
             FROM generate_series(0, {MUNICIPALITIES} * {DISTRICTS_EACH} - 1) d"
        ),
        format!(
            "INSERT INTO replies (proposal_key, agency, round, document_number, result_class, signer, signed_on, sent_on, due_on, on_time, met_deputy) \
             SELECT 'q-' || lpad(g::text, 8, '0'), 'agency-' || (g % {AGENCIES}), 1, '函〔2020〕' || g || '号', \
                    (ARRAY['A','B','C','D'])[1 + g % 4], '局长', DATE '2020-03-01' + (g % 700), DATE '2020-03-01' + (g % 700), \
                    DATE '2020-04-01' + (g % 700), g % 97 <> 0, g % 3 = 0 \
             FROM generate_series(1, {proposals}) g WHERE g % 10 < 6"
        ),
        format!(
            "INSERT INTO feedback (proposal_key, agency, round, satisfaction, received_on) \
             SELECT 'q-' || lpad(g::text, 8, '0'), 'agency-' || (g % {AGENCIES}), 1, \
                    CASE WHEN g % 101 = 0 THEN 'dissatisfied' ELSE 'satisfied' END, DATE '2020-04-01' + (g % 700) \
             FROM generate_series(1, {proposals}) g WHERE g % 10 < 6"
        ),
        // As autovacuum leaves a table loaded long ago: statistics known, pages all-visible.
        "VACUUM ANALYZE".to_owned(),
    ];
    for sql in stmts {
        db.execute_unprepared(&sql).await?;
    }
    let rebuild_started = Instant::now();
    statistics::rebuild(db).await?;
    let rebuild_seconds = rebuild_started.elapsed().as_secs_f64();
    // One real proposal with a real history.
    let clock = Arc::new(ManualClock::new(chrono::DateTime::UNIX_EPOCH));
    let engine = Engine::new(
        db.clone(),
        Arc::new(Catalog::shipped()),
        Arc::new(Calendar::china_official()),
        clock.clone(),
    );
    for event in cohandle_workflows::cases::case_0942() {
        clock.set(event.occurred_at);
        engine.apply(event, Source::Cli).await?;
    }
    let seed_seconds = started.elapsed().as_secs_f64();

    let today = NaiveDate::from_ymd_opt(2021, 1, 15).expect("valid");
    // The pages' today is the engine's.
    clock.set(today.and_hms_opt(2, 0, 0).expect("valid").and_utc());
    let engine = &engine;
    let page = 50;
    let agency = |n: u64| format!("agency-{}", n % AGENCIES);
    let mut latencies = Vec::new();
    let mut n = 0u64;
    latencies.push(
        time(
            "overdue of one agency (GET /v1/proposals?agency=…&overdue=true, supervisor)",
            runs,
            || {
                n += 1;
                let filter = ProposalFilter {
                    agency: Some(agency(n)),
                    overdue: Some(Overdue::On(today)),
                    ..ProposalFilter::default()
                };
                async move {
                    queries::list_proposals(engine, &Scope::All, &filter, None, page)
                        .await
                        .map(|_| ())
                }
            },
        )
        .await?,
    );
    latencies.push(
        time(
            "an agency's own overdue proposals (GET /v1/proposals?overdue=true, its token)",
            runs,
            || {
                n += 1;
                let scope = Scope::Own(AgencyCode::parse(agency(n)).expect("agency-N is a code"));
                let filter = ProposalFilter {
                    overdue: Some(Overdue::On(today)),
                    ..ProposalFilter::default()
                };
                async move {
                    queries::list_proposals(engine, &scope, &filter, None, page)
                        .await
                        .map(|_| ())
                }
            },
        )
        .await?,
    );
    // What `GET /v1/deadlines?until=<a week on>` reads, for a supervisor (every task) or an
    // agency's token (its own).
    let next_week = |within| {
        let filter = DeadlineFilter {
            within,
            until: today + chrono::Days::new(7),
            overdue: None,
            key_supervision: None,
            definition: None,
        };
        async move {
            queries::deadlines(engine, &filter, None, page)
                .await
                .map(|_| ())
        }
    };
    latencies.push(
        time(
            "upcoming deadlines, next 7 days (GET /v1/deadlines?until=…, supervisor)",
            runs,
            || next_week(TaskScope::default()),
        )
        .await?,
    );
    latencies.push(
        time(
            "an agency's deadlines, next 7 days (GET /v1/deadlines?until=…, its token)",
            runs,
            || {
                n += 1;
                next_week(TaskScope {
                    agency: Some(agency(n)),
                    ..TaskScope::default()
                })
            },
        )
        .await?,
    );
    latencies.push(
        time(
            "an agency's own proposals by due date (GET /v1/proposals?sort=due_on, its token)",
            runs,
            || {
                n += 1;
                let scope = Scope::Own(AgencyCode::parse(agency(n)).expect("agency-N is a code"));
                let filter = ProposalFilter {
                    state: Some("open".to_owned()),
                    ..ProposalFilter::default()
                };
                async move {
                    queries::search_proposals(
                        engine,
                        &scope,
                        &filter,
                        &ProposalSearch::default(),
                        ProposalOrder::DueOn,
                        None,
                        page,
                    )
                    .await
                    .map(|_| ())
                }
            },
        )
        .await?,
    );
    latencies.push(
        time(
            "proposals by title words (GET /v1/proposals?title=科技 创新, supervisor)",
            runs,
            || async {
                let search = ProposalSearch {
                    title: Some("科技 创新".to_owned()),
                    ..ProposalSearch::default()
                };
                queries::search_proposals(
                    engine,
                    &Scope::All,
                    &ProposalFilter::default(),
                    &search,
                    ProposalOrder::Key,
                    None,
                    page,
                )
                .await
                .map(|_| ())
            },
        )
        .await?,
    );
    latencies.push(
        time(
            "overdue deadlines with their proposals' heads (GET /v1/deadlines?overdue=true, supervisor)",
            runs,
            || async {
                let filter = DeadlineFilter {
                    within: TaskScope::default(),
                    until: today,
                    overdue: Some(Overdue::On(today)),
                    key_supervision: None,
                    definition: None,
                };
                let found = queries::matching_deadlines(
                    engine,
                    &filter,
                    &TaskMatch::default(),
                    None,
                    page,
                )
                .await?;
                let keys: Vec<&str> = found.items.iter().map(|t| t.proposal_key.as_str()).collect();
                queries::proposal_heads(engine, &keys).await.map(|_| ())
            },
        )
        .await?,
    );
    // Supervisors by jurisdiction: one district's (its own), and a municipality's over its
    // 40 districts, as `Service::scope` gives them (the registry's `below`).
    let registry = &cohandle_store::jurisdictions::list(engine).await?;
    // `GET /v1/statistics` as `Service::statistics` reads it.
    let report = move |counted: Counted| async move {
        queries::statistics_report(engine, registry, &counted, today)
            .await
            .map(|_| ())
    };
    let district = |n: u64| {
        let d = n % (MUNICIPALITIES * DISTRICTS_EACH);
        vec![format!(
            "m{:02}-d{:02}",
            d / DISTRICTS_EACH,
            d % DISTRICTS_EACH
        )]
    };
    let municipality = |n: u64| registry.below(&[format!("m{:02}", n % MUNICIPALITIES)]);
    anyhow::ensure!(
        municipality(0).len() as u64 == DISTRICTS_EACH + 1,
        "the municipal supervisor oversees {} jurisdictions",
        municipality(0).len()
    );
    for (who, codes_of) in [
        (
            "a district supervisor",
            &district as &dyn Fn(u64) -> Vec<String>,
        ),
        ("a municipal supervisor over 40 districts", &municipality),
    ] {
        latencies.push(
            time(
                &format!("overdue proposals of {who} (GET /v1/proposals?overdue=true)"),
                runs,
                || {
                    n += 1;
                    let scope = Scope::Within(codes_of(n));
                    let filter = ProposalFilter {
                        overdue: Some(Overdue::On(today)),
                        ..ProposalFilter::default()
                    };
                    async move {
                        queries::list_proposals(engine, &scope, &filter, None, page)
                            .await
                            .map(|_| ())
                    }
                },
            )
            .await?,
        );
        latencies.push(
            time(
                &format!("deadlines of {who}, next 7 days (GET /v1/deadlines?until=…)"),
                runs,
                || {
                    n += 1;
                    next_week(TaskScope {
                        jurisdictions: Some(codes_of(n)),
                        ..TaskScope::default()
                    })
                },
            )
            .await?,
        );
        latencies.push(
            time(
                &format!("statistics of {who} (GET /v1/statistics)"),
                runs,
                || {
                    n += 1;
                    let counted = Counted {
                        within: Some(codes_of(n)),
                        ..Counted::default()
                    };
                    report(counted)
                },
            )
            .await?,
        );
        latencies.push(
            time(
                &format!("statistics of {who}, one session (GET /v1/statistics?session=…)"),
                runs.min(50),
                || {
                    n += 1;
                    let counted = Counted {
                        within: Some(codes_of(n)),
                        session: Some(format!("市五届人大{}次会议", n % 5)),
                        ..Counted::default()
                    };
                    report(counted)
                },
            )
            .await?,
        );
        latencies.push(
            time(
                &format!("monthly trend of {who}, 12 months (GET /v1/statistics/trend)"),
                runs.min(50),
                || {
                    n += 1;
                    let counted = Counted {
                        within: Some(codes_of(n)),
                        ..Counted::default()
                    };
                    let from = NaiveDate::from_ymd_opt(2020, 2, 1).expect("valid");
                    async move {
                        queries::statistics_trend(engine, registry, &counted, from, today)
                            .await
                            .map(|_| ())
                    }
                },
            )
            .await?,
        );
    }
    latencies.push(
        time(
            "statistics of one agency (GET /v1/statistics?agency=…)",
            runs,
            || {
                n += 1;
                let counted = Counted {
                    agency: Some(agency(n)),
                    ..Counted::default()
                };
                report(counted)
            },
        )
        .await?,
    );
    latencies.push(
        time(
            "statistics overall (GET /v1/statistics, admin)",
            runs.min(20),
            || report(Counted::default()),
        )
        .await?,
    );
    latencies.push(
        time(
            "one proposal: row, tasks, timeline (GET /v1/proposals/{key}, case 0942)",
            runs,
            || async {
                let key = "cq-5-3-0942";
                queries::proposal(engine, key).await?;
                queries::tasks_of(engine, key).await?;
                queries::timeline(engine, key).await.map(|_| ())
            },
        )
        .await?,
    );
    // The workbench's pages through HTTP, on the same data.
    latencies.extend(crate::pages::run(engine, clock.now(), runs.min(50)).await?);
    Ok(Report {
        proposals,
        seed_seconds,
        rebuild_seconds,
        latencies,
    })
}

async fn time<F, Fut>(query: &str, runs: usize, mut call: F) -> anyhow::Result<Latency>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), cohandle_store::Error>>,
{
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        call().await?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| crate::percentile(&samples, q);
    Ok(Latency {
        query: query.to_owned(),
        runs,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        target_p99_ms: QUERY_TARGET_P99_MS,
    })
}
