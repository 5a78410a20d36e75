//! Case 0942 driven end to end over real HTTP, each step sent by its own agency's token.

use crate::support::*;

#[tokio::test]
async fn case_0942_runs_end_to_end_over_http() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        for event in cohandle_workflows::cases::case_0942() {
            // The monitor fires whatever fell due before the step, as `serve` would have.
            app.advance_to(event.occurred_at).await;
            let answer = app.replay(&event).await;
            let status = if event.body.name() == "assign" {
                201
            } else {
                200
            };
            assert_eq!(
                answer.status.as_u16(),
                status,
                "{backend:?} {}: {}",
                event.id,
                answer.body
            );
            let role = match event.actor.kind {
                cohandle_workflows::ActorKind::Assigner => "assigner",
                cohandle_workflows::ActorKind::CongressOffice => "congress_office",
                _ => "agency",
            };
            assert_eq!(
                answer.body["event_id"],
                format!("http/{}/{role}/{}", event.actor.agency, event.id)
            );
        }
        let case = app.get("supervisor", "/v1/proposals/cq-5-3-0942").await;
        expect(&case, 200);
        assert_eq!(case.body["state"], "closed");
        // 12 events of the case and 3 closing dispute windows fired by the monitor.
        assert_eq!(case.body["version"], 15, "{backend:?}");
        let timeline = case.body["timeline"].as_array().unwrap();
        assert_eq!(timeline.len(), 19);
        assert_eq!(timeline[0]["event"], "assign");
        assert_eq!(timeline[18]["event"], "record_disclosure");
        assert!(timeline
            .windows(2)
            .all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64()));
        let lead = &case.body["tasks"][0];
        assert_eq!(
            (lead["agency"].as_str(), lead["state"].as_str()),
            (Some("cq-kjj"), Some("closed"))
        );
        assert_eq!(
            lead["record"]["draft"]["document_number"],
            "渝科局函〔2020〕109号"
        );

        let stats = app.get("supervisor", "/v1/statistics?agency=cq-kjj").await;
        expect(&stats, 200);
        let kjj = &stats.body["agencies"][0]["figures"];
        assert_eq!(kjj["on_time_rate"], 1.0);
        assert_eq!(kjj["completion_rate"], 1.0);
        assert_eq!(kjj["first_time_satisfaction_rate"], 1.0);
        assert_eq!(kjj["class_shares"]["A"], 1.0);
        assert_eq!(kjj["published_share"], 1.0);

        // Sending the whole case again changes nothing: every step is a recognised retry.
        let before = app.version_and_inbox("cq-5-3-0942").await;
        for event in cohandle_workflows::cases::case_0942() {
            let answer = app.replay(&event).await;
            assert!(
                answer.status.is_success() && answer.replayed(),
                "{}",
                answer.body
            );
        }
        assert_eq!(app.version_and_inbox("cq-5-3-0942").await, before);
        let verified = cohandle_store::history::verify(&app.engine, None)
            .await
            .unwrap();
        assert!(verified.broken.is_none());
    }
}
