//! The access audit: every request, read or write, answered or refused, is kept with its
//! caller, route, proposal, outcome and latency.

use cohandle_store::audit::{self, Search};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn every_request_is_kept_in_the_access_audit() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        app.assign("cq-au").await;
        expect(&app.get("supervisor", "/v1/proposals/cq-au").await, 200);
        expect(&app.get("outsider", "/v1/proposals/cq-au").await, 403);
        expect(&app.get("", "/v1/proposals/cq-au").await, 401);

        let db = &app.engine;
        let about = |key: &str| Search {
            proposal_key: Some(key.to_owned()),
            limit: 100,
            ..Search::default()
        };
        let rows = audit::search(db, &about("cq-au")).await.unwrap();
        assert_eq!(rows.len(), 4, "{backend:?} {rows:?}");
        let assigned = &rows[0];
        assert_eq!(
            (
                assigned.method.as_str(),
                assigned.route.as_str(),
                assigned.status
            ),
            ("POST", "/v1/proposals", 201)
        );
        assert_eq!(assigned.role.as_deref(), Some("assigner"));
        // A supervisor's read of the proposal, with its token.
        let read = &rows[1];
        assert_eq!(read.route, "/v1/proposals/{key}");
        assert_eq!(
            (read.agency.as_deref(), read.role.as_deref(), read.status),
            (Some("cq-dc"), Some("supervisor"), 200)
        );
        assert!(read
            .token_id
            .as_deref()
            .is_some_and(|t| t.starts_with("tok_")));
        assert!(read.latency_us >= 0);
        assert_eq!(rows[2].code.as_deref(), Some("not_your_proposal"));
        assert_eq!(rows[2].agency.as_deref(), Some("cq-other"));
        assert_eq!(
            (rows[3].token_id.as_deref(), rows[3].code.as_deref()),
            (None, Some("token_missing"))
        );

        let by_supervisor = Search {
            role: Some("supervisor".into()),
            limit: 100,
            ..Search::default()
        };
        assert_eq!(audit::search(db, &by_supervisor).await.unwrap().len(), 1);
        let refused = Search {
            refused: true,
            limit: 100,
            ..Search::default()
        };
        assert_eq!(audit::search(db, &refused).await.unwrap().len(), 2);
        assert_eq!(audit::as_json(&rows[1])["proposal"], json!("cq-au"));
    }
}
