//! Per-token rate limits: a token that sends more than its bucket holds is answered 429 with
//! `Retry-After`, kept in the access audit; other tokens are not slowed by it.

use std::num::NonZeroU32;

use cohandle_api::RateLimit;
use cohandle_store::audit::{self, Search};

use crate::support::*;

fn one_per_second_bursts_of_three() -> Option<RateLimit> {
    Some(RateLimit {
        per_second: NonZeroU32::new(1).unwrap(),
        burst: NonZeroU32::new(3).unwrap(),
    })
}

#[tokio::test]
async fn a_token_over_its_limit_is_answered_429_with_retry_after() {
    let app = spawn_app_limited(Backend::Sqlite, one_per_second_bursts_of_three()).await;
    for _ in 0..3 {
        expect(&app.get("supervisor", "/v1/me").await, 200);
    }
    let over = app.get("supervisor", "/v1/me").await;
    expect(&over, 429);
    assert!(over.is_problem(), "{over:?}");
    assert_eq!(over.code(), "rate_limited");
    let wait: u64 = over.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");

    // Writes count too, and are refused before the engine sees them.
    let write = app
        .post(
            "supervisor",
            "/v1/proposals/cq-rl/tasks/cq-kjj/feedback",
            "rl-1",
            serde_json::json!({}),
        )
        .await;
    expect(&write, 429);
    let (_, inbox) = app.version_and_inbox("cq-rl").await;
    assert_eq!(inbox, 0, "a limited request reaches no table but the audit");

    // Another token has its own bucket.
    expect(&app.get("assigner", "/v1/me").await, 200);

    let rows = audit::search(
        &app.engine,
        &Search {
            limit: 100,
            ..Search::default()
        },
    )
    .await
    .unwrap();
    let limited: Vec<_> = rows.iter().filter(|r| r.status == 429).collect();
    assert_eq!(limited.len(), 2, "{rows:?}");
    assert!(limited
        .iter()
        .all(|r| r.code.as_deref() == Some("rate_limited")
            && r.role.as_deref() == Some("supervisor")));
}

#[tokio::test]
async fn without_a_limit_a_token_is_never_answered_429() {
    let app = spawn_app_limited(Backend::Sqlite, None).await;
    for _ in 0..150 {
        expect(&app.get("supervisor", "/v1/me").await, 200);
    }
}

#[test]
fn the_document_declares_429_on_reads_and_writes() {
    let doc = serde_json::to_value(cohandle_api::openapi()).unwrap();
    let me = &doc["paths"]["/v1/me"]["get"]["responses"]["429"];
    assert!(me["headers"]["Retry-After"].is_object(), "{me}");
    let feedback =
        &doc["paths"]["/v1/proposals/{key}/tasks/{agency}/feedback"]["post"]["responses"]["429"];
    assert!(feedback.is_object(), "{feedback}");
}
