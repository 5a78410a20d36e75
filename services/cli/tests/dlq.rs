//! `cohandle dlq list` as an operator runs it: the dead letters are read from the database,
//! and listing them, however often, leaves every record as it was.

use std::process::Command;

use chrono::{TimeZone, Utc};
use cohandle_store::dead_letters::{self, Arrived, Filter};

fn dlq_list(url: &str, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_cohandle"))
        .args(["dlq", "list"])
        .args(args)
        .env("COHANDLE__DATABASE__URL", url)
        .env_remove("COHANDLE__AMQP__URL")
        .output()
        .expect("cohandle runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

#[tokio::test]
async fn listing_twice_leaves_every_dead_letter_as_it_was() {
    let dir = std::env::temp_dir().join(format!("cohandle-dlq-list-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let url = format!("sqlite://{}?mode=rwc", dir.join("dlq.db").display());
    let db = cohandle_store::connect::connect_and_migrate(&url)
        .await
        .expect("a database");
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
    let letter = Arrived {
        id: "0123456789abcdef01234567".to_owned(),
        code: "event_id_reused".to_owned(),
        reason: "event id cq-5-3-0942-ack-jw was already used for another event".to_owned(),
        field: None,
        sender: Some("cq-jw".to_owned()),
        routing_key: "cq-jw.submit_opinion".to_owned(),
        queue: "cohandle.in.2".to_owned(),
        content_type: Some("application/json".to_owned()),
        message_id: Some("jw-0001".to_owned()),
        headers: serde_json::json!({"cohandle-proposal": "cq-5-3-0942"}),
        body: br#"{"eventId":"cq-5-3-0942-ack-jw"}"#.to_vec(),
        event_id: Some("cq-5-3-0942-ack-jw".to_owned()),
        proposal_key: Some("cq-5-3-0942".to_owned()),
    };
    dead_letters::record(&db, letter, at).await.unwrap();
    let before = dead_letters::list(&db, &Filter::default()).await.unwrap();

    let first = dlq_list(&url, &[]);
    let second = dlq_list(&url, &[]);
    assert_eq!(first, second);
    for shown in [
        "0123456789abcdef01234567",
        "event_id_reused",
        "cq-jw",
        "jw-0001",
    ] {
        assert!(first.contains(shown), "{shown} missing from:\n{first}");
    }
    assert_eq!(
        dead_letters::list(&db, &Filter::default()).await.unwrap(),
        before
    );

    let id = before[0].id.as_str();
    assert!(!dlq_list(&url, &["--code", "malformed"]).contains(id));
    assert!(!dlq_list(&url, &["--agency", "cq-czj"]).contains(id));
    assert!(!dlq_list(&url, &["--since", "2026-12-02"]).contains(id));
    assert!(dlq_list(
        &url,
        &[
            "--code",
            "event_id_reused",
            "--agency",
            "cq-jw",
            "--proposal",
            "cq-5-3-0942",
            "--since",
            "2026-12-01T07:00:00Z"
        ]
    )
    .contains(id));
    assert_eq!(
        dead_letters::list(&db, &Filter::default()).await.unwrap(),
        before
    );
    db.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// An event held for an earlier step shows beside the dead letters, with until when, and
/// not among the refusals a replay could apply.
#[tokio::test]
async fn a_held_event_is_listed_with_the_end_of_its_window() {
    use std::sync::Arc;

    use cohandle_store::{Engine, Outcome, Source, SystemClock};
    use cohandle_workflows::{Actor, ActorKind, AgencyCode, Body, Event, EventId, ProposalKey};

    let dir = std::env::temp_dir().join(format!("cohandle-dlq-held-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let url = format!("sqlite://{}?mode=rwc", dir.join("held.db").display());
    let db = cohandle_store::connect::connect_and_migrate(&url)
        .await
        .expect("a database");
    let engine = Engine::new(
        db.clone(),
        Arc::new(cohandle_workflows::Catalog::shipped()),
        Arc::new(cohandle_workflows::Calendar::china_official()),
        Arc::new(SystemClock),
    );
    let early = Event {
        id: EventId::parse("cq-5-3-0942-ack-jw").unwrap(),
        proposal: ProposalKey::parse("cq-5-3-0942").unwrap(),
        actor: Actor {
            agency: AgencyCode::parse("cq-jw").unwrap(),
            kind: ActorKind::Agency,
        },
        occurred_at: cohandle_store::Clock::now(&SystemClock),
        body: Body::Acknowledge,
    };
    let outcome = engine.apply(early, Source::Bus).await.unwrap();
    let Outcome::Held { until, .. } = outcome else {
        panic!("{outcome:?}")
    };

    let listed = dlq_list(&url, &[]);
    let (held, refused) = listed
        .split_once("Refused events a replay could apply")
        .expect("both sections");
    assert!(held.contains("Held events"), "{listed}");
    assert!(held.contains("cq-5-3-0942-ack-jw"), "{listed}");
    assert!(held.contains("unknown_proposal"), "{listed}");
    assert!(
        held.contains(&until.format("%Y-%m-%d %H:%M:%S").to_string()),
        "{listed}"
    );
    assert!(!refused.contains("cq-5-3-0942-ack-jw"), "{listed}");
    assert!(!dlq_list(&url, &["--agency", "cq-czj"]).contains("cq-5-3-0942-ack-jw"));
    db.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
