//! Dead letters as rows, on both databases: recorded, seen again, listed with filters
//! without being changed, and marked when replayed.

use chrono::{Duration, TimeZone, Utc};
use cohandle_store::connect;
use cohandle_store::dead_letters::{self, Arrived, Filter};

use crate::support::*;

fn arrived(id: &str, code: &str, sender: &str) -> Arrived {
    Arrived {
        id: id.to_owned(),
        code: code.to_owned(),
        reason: format!("{code}: why"),
        field: None,
        sender: Some(sender.to_owned()),
        routing_key: format!("{sender}.acknowledge"),
        queue: "cohandle.in.0".to_owned(),
        content_type: Some("application/json".to_owned()),
        message_id: Some(format!("{id}-message")),
        headers: serde_json::json!({"cohandle-proposal": "cq-5-3-0942"}),
        body: vec![0, 159, 146, 150],
        event_id: Some(format!("{id}-event")),
        proposal_key: Some("cq-5-3-0942".to_owned()),
    }
}

#[tokio::test]
async fn dead_letters_are_recorded_seen_again_listed_and_marked_replayed() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let conn = connect::connect_and_migrate(&db.url).await.unwrap();
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        dead_letters::record(&conn, arrived("a", "malformed", "cq-jw"), at)
            .await
            .unwrap();
        dead_letters::record(&conn, arrived("b", "event_id_reused", "cq-czj"), at)
            .await
            .unwrap();
        let later = at + Duration::minutes(5);
        dead_letters::record(&conn, arrived("a", "malformed", "cq-jw"), later)
            .await
            .unwrap();

        let all = dead_letters::list(&conn, &Filter::default()).await.unwrap();
        assert_eq!(all.len(), 2, "{backend:?}");
        let a = &all[0];
        assert_eq!((a.id.as_str(), a.times_seen), ("a", 2), "{backend:?}");
        assert_eq!(
            (a.first_seen_at, a.last_seen_at),
            (at, later),
            "{backend:?}"
        );
        assert_eq!(a.body, vec![0, 159, 146, 150]);
        assert_eq!(
            dead_letters::list(&conn, &Filter::default()).await.unwrap(),
            all
        );

        let only = |f: Filter| {
            let conn = conn.clone();
            async move {
                dead_letters::list(&conn, &f)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|l| l.id)
                    .collect::<Vec<_>>()
            }
        };
        let code = Filter {
            code: Some("event_id_reused".into()),
            ..Filter::default()
        };
        assert_eq!(only(code).await, ["b"]);
        let agency = Filter {
            agency: Some("cq-jw".into()),
            ..Filter::default()
        };
        assert_eq!(only(agency).await, ["a"]);
        let since = Filter {
            since: Some(at + Duration::minutes(1)),
            ..Filter::default()
        };
        assert_eq!(only(since).await, ["a"]);
        assert_eq!(
            dead_letters::waiting(&conn, "b-event").await.unwrap().len(),
            1
        );

        dead_letters::mark_replayed(&conn, "b", "applied as b-event", later)
            .await
            .unwrap();
        assert_eq!(only(Filter::default()).await, ["a"]);
        let with_replayed = Filter {
            replayed: true,
            ..Filter::default()
        };
        let b = dead_letters::list(&conn, &with_replayed)
            .await
            .unwrap()
            .into_iter()
            .find(|l| l.id == "b")
            .unwrap();
        assert_eq!(b.replay_outcome.as_deref(), Some("applied as b-event"));
        // Arriving again after its replay, it waits again.
        dead_letters::record(&conn, arrived("b", "event_id_reused", "cq-czj"), later)
            .await
            .unwrap();
        assert_eq!(only(Filter::default()).await, ["a", "b"]);
    }
}
