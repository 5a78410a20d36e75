//! Supervisors' lists and statistics read from `database.read_url`; everyone else's, and
//! every write, from the engine's database. The stand-in for the replica is a second
//! database holding other proposals, so that which one answered shows in every answer.

use crate::support::*;
use cohandle_testkit::Backend;

fn keys(answer: &Answer, field: &str) -> Vec<String> {
    let mut keys: Vec<String> = answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap().to_owned())
        .collect();
    keys.dedup();
    keys
}

#[tokio::test]
async fn a_supervisor_reads_the_replica_and_everyone_else_the_primary() {
    let other = spawn_app(Backend::Postgres).await;
    other.assign("cq-2020-777").await;
    let replica = Replica::new(
        cohandle_store::connect::connect(&other.db.url)
            .await
            .unwrap(),
    );
    let app = spawn_app_reading_from(Backend::Postgres, replica).await;
    app.assign("cq-2020-001").await;

    for path in [
        "/v1/proposals",
        "/v1/tasks",
        "/v1/deadlines?until=2021-01-01",
    ] {
        let field = if path == "/v1/proposals" {
            "key"
        } else {
            "proposal"
        };
        let watched = app.get("supervisor", path).await;
        expect(&watched, 200);
        assert_eq!(keys(&watched, field), ["cq-2020-777"], "{path}");
        let own = app.get("lead", path).await;
        expect(&own, 200);
        assert_eq!(keys(&own, field), ["cq-2020-001"], "{path}");
    }
    let figures = app.get("supervisor", "/v1/statistics").await;
    expect(&figures, 200);
    assert_eq!(
        figures.body["overall"]["handler_tasks"], 1,
        "{}",
        figures.body
    );
    // One proposal's page, which a step follows, is the primary's.
    expect(
        &app.get("supervisor", "/v1/proposals/cq-2020-001").await,
        200,
    );

    // A second database is no streaming replica: the operator is told, and the lag is unknown.
    let ready = app.get("", "/readyz").await;
    expect(&ready, 200);
    assert!(
        ready.body.get("replica_lag_seconds").is_none(),
        "{}",
        ready.body
    );
    assert!(
        ready.body["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("not a streaming replica")),
        "{}",
        ready.body
    );
    let metrics = app.get("", "/metrics").await;
    assert!(
        metrics
            .body
            .as_str()
            .unwrap()
            .contains("cohandle_replica_lag_seconds -1"),
        "{}",
        metrics.body
    );
    // Without a replica, readiness says nothing of one.
    let ready = other.get("", "/readyz").await;
    assert!(ready.body.get("warnings").is_none(), "{}", ready.body);
}
