//! Workflow definitions deployed at run time reach engines that are already running.

use cohandle_store::definitions::{self, Deployed};
use cohandle_store::{Outcome, Source};
use cohandle_workflows::model::ProposalKind;
use cohandle_workflows::Body;

use crate::support::*;

const CPPCC: &str = include_str!("../../../../workflows/definitions/cppcc-proposal.toml");

/// A county's CPPCC rules: the shipped ones under another name, replies due in two months.
fn county() -> String {
    CPPCC
        .replace("name = \"cppcc-proposal\"", "name = \"yz-cppcc-proposal\"")
        .replace(
            "[deadlines.reply]\nduration = \"3m\"",
            "[deadlines.reply]\nduration = \"2m\"",
        )
}

fn county_assignment(id: &str, key: &str) -> cohandle_workflows::Event {
    let mut event = assign(id, key, "2020-02-26");
    if let Body::Assign(assignment) = &mut event.body {
        assignment.definition = "yz-cppcc-proposal".into();
        assignment.info.kind = ProposalKind::CppccProposal;
    }
    event
}

#[tokio::test]
async fn a_deployed_definition_reaches_a_running_engine_without_a_restart() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let engine = db.engine(clock("2020-02-26")).await;
        // Another role of the same deployment, started before the county's rules existed.
        let other = db.engine(clock("2020-02-26")).await;
        // The county: its keys begin with yz-, and it assigns under its own rules.
        cohandle_store::jurisdictions::add(
            &engine,
            cohandle_store::jurisdictions::NewJurisdiction {
                code: "yz".into(),
                name: "政协重庆市渝中区委员会".into(),
                parent: Some("cq-zx".into()),
                level: "district".into(),
                definitions: vec!["yz-cppcc-proposal".into()],
            },
        )
        .await
        .unwrap();

        let before = engine
            .apply(county_assignment("yz-1", "yz-2020-1"), Source::Bus)
            .await
            .unwrap();
        assert!(
            matches!(&before, Outcome::Rejected(r) if r.message.contains("yz-cppcc-proposal")),
            "{backend:?}: {before:?}"
        );

        let deployed =
            definitions::deploy(engine.db(), "yz.toml", &county(), "yz-it", at("2020-02-26"))
                .await
                .unwrap();
        assert_eq!(
            deployed,
            Deployed::New {
                name: "yz-cppcc-proposal".into(),
                version: 1
            }
        );
        other.refresh_definitions().await.unwrap();
        let after = other
            .apply(county_assignment("yz-2", "yz-2020-2"), Source::Bus)
            .await
            .unwrap();
        assert!(
            matches!(after, Outcome::Applied { .. }),
            "{backend:?}: {after:?}"
        );
        let listed = definitions::list(engine.db()).await.unwrap();
        let county = listed
            .iter()
            .find(|d| d.name == "yz-cppcc-proposal")
            .expect("listed");
        assert_eq!((county.version, county.proposals), (1, 1), "{backend:?}");
        assert_eq!(county.deployed_by, "yz-it");
    }
}
