//! Loading and validating definitions, and keeping every version.

use cohandle_workflows::definition::{Catalog, CatalogError, Definition, SHIPPED};
use cohandle_workflows::model::{AssignmentMode, TaskRole};

use crate::support::*;

const CQ_TEXT: &str = include_str!("../../definitions/chongqing-deputy-suggestion.toml");

/// A table of `text`, from its header to the blank line after it.
fn table(text: &str, header: &str) -> String {
    let start = text
        .find(&format!("\n{header}\n"))
        .unwrap_or_else(|| panic!("no {header}"))
        + 1;
    let end = text[start..]
        .find("\n\n")
        .map_or(text.len(), |at| start + at + 1);
    text[start..end].to_owned()
}

#[test]
fn every_shipped_definition_loads() {
    for (file, text) in SHIPPED {
        let def = Definition::load(file, text).unwrap_or_else(|p| panic!("{p}"));
        assert!(def.version >= 1);
    }
    assert_eq!(Catalog::shipped().all().count(), 3);
}

/// A definition broken in ten ways at once: all ten are reported, with lines.
#[test]
fn a_broken_definition_reports_every_problem_at_once() {
    let broken = CQ_TEXT
        // a missing deadline
        .replace(&table(CQ_TEXT, "[deadlines.rehandling]"), "")
        // an unknown event
        .replace("event = \"sign_for\"", "event = \"sign_for_it\"")
        // an unknown target state
        .replace("to = \"following_up\"", "to = \"follow_up\"")
        // a guard and an effect missing from the registry
        .replace("guards = [\"signer_authorized\"]", "guards = [\"signer_is_nice\"]")
        .replace("effects = [\"notify(deputies)\", \"notify(assigner)\"]\n\n[[machines.handler.transitions]]\nevent = \"request_extension\"", "effects = [\"notify(deputies)\", \"send_flowers\"]\n\n[[machines.handler.transitions]]\nevent = \"request_extension\"")
        // an unreachable state and a state with no way out
        .replace("  { name = \"closed\", terminal = true, description = \"finished\" },", "  { name = \"closed\", terminal = true, description = \"finished\" },\n  { name = \"limbo\" },")
        // an unknown actor
        .replace("actors = [\"congress_office\"]\nguards = [\"first_dissatisfaction\"]", "actors = [\"deputy\"]\nguards = [\"first_dissatisfaction\"]")
        // a duplicate and a conflicting transition
        + "\n[[machines.co_handler.transitions]]\nevent = \"acknowledge\"\nfrom = [\"assigned\"]\nto = \"acknowledged\"\nactors = [\"co_handler\"]\n"
        + "\n[[machines.co_handler.transitions]]\nevent = \"decline\"\nfrom = [\"acknowledged\"]\nto = \"opinion_sent\"\nactors = [\"co_handler\"]\n";
    let problems = Definition::load("broken.toml", &broken)
        .expect_err("broken")
        .0;
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let expect = [
        "deadline \"rehandling\" is missing",
        "event \"sign_for_it\" is unknown",
        "unknown state \"follow_up\"",
        "guard \"signer_is_nice\" is not in the registry",
        "effect \"send_flowers\" is not in the registry",
        "state \"limbo\" cannot be reached",
        "state \"limbo\" is not terminal but no transition leaves it",
        "actor \"deputy\" is unknown",
        "duplicates the one at line",
        "conflicts with the one at line",
        "names deadline \"rehandling\", which is not defined",
    ];
    for needle in expect {
        assert!(
            text.iter().any(|t| t.contains(needle)),
            "no problem mentions {needle:?}; got:\n{}",
            text.join("\n")
        );
    }
    assert!(text.iter().all(|t| t.starts_with("broken.toml")));
    let with_lines = problems.iter().filter(|p| p.line.is_some()).count();
    assert!(
        with_lines >= 7,
        "most problems point at a line: {}",
        text.join("\n")
    );
    let sign_for_line = broken
        .lines()
        .position(|l| l.contains("sign_for_it"))
        .unwrap()
        + 1;
    assert!(problems
        .iter()
        .any(|p| p.line == Some(sign_for_line) && p.message.contains("sign_for_it")));
}

#[test]
fn syntax_errors_and_unknown_keys_are_reported_with_their_line() {
    let problems = Definition::load("x.toml", "name = \"x\"\nversion = 1\nnonsense = [\n")
        .unwrap_err()
        .0;
    assert_eq!(problems.len(), 1);
    assert!(problems[0].line.is_some());
    let problems = Definition::load(
        "x.toml",
        &CQ_TEXT.replace("max = \"6m\"", "max = \"6m\"\nmaximum = 2"),
    )
    .unwrap_err()
    .0;
    assert!(problems[0].message.contains("maximum"), "{}", problems[0]);
    let problems = Definition::load(
        "x.toml",
        &CQ_TEXT.replace("duration = \"3m\"", "duration = \"3 months\""),
    )
    .unwrap_err()
    .0;
    assert!(
        problems[0].to_string().contains("3 months"),
        "{}",
        problems[0]
    );
}

#[test]
fn a_deadline_counted_from_receipt_cannot_start_at_creation() {
    let reply = table(CQ_TEXT, "[deadlines.reply]");
    let text = CQ_TEXT.replace(
        &reply,
        &reply.replace("from = \"assignment\"", "from = \"receipt\""),
    );
    let problems = Definition::load("x.toml", &text).unwrap_err();
    assert!(
        problems.to_string().contains("counts from receipt"),
        "{problems}"
    );
}

#[test]
fn a_running_proposal_keeps_its_version() {
    let mut catalog = Catalog::shipped();
    let v1 = catalog.latest("chongqing-deputy-suggestion").unwrap();
    let mut w = World::with(v1.clone());
    w.ok(
        assigner(),
        "2020-03-02",
        assignment(
            &v1,
            AssignmentMode::Sole,
            &[("cq-kjj", TaskRole::Lead)],
            "2020-03-02",
        ),
    );
    assert_eq!(w.due("cq-kjj", "reply"), Some(date("2020-06-02")));

    // Version 2 gives two months; loading it changes neither version 1 nor the proposal.
    let v2_text = CQ_TEXT
        .replace("version = 1", "version = 2")
        .replace("duration = \"3m\"", "duration = \"2m\"");
    let v2 = catalog.load("v2.toml", &v2_text).unwrap();
    assert_eq!(
        catalog
            .latest("chongqing-deputy-suggestion")
            .unwrap()
            .version,
        2
    );
    let still_v1 = catalog.get(&w.proposal().definition).unwrap();
    assert_eq!(still_v1.version, 1);
    assert_eq!(still_v1.deadlines["reply"].duration.to_string(), "3m");

    // The proposal goes on under version 1 ...
    w.definition = still_v1;
    w.ok(
        agency("cq-kjj"),
        "2020-03-03",
        cohandle_workflows::Body::SignFor,
    );
    // ... and applying it under version 2 is refused.
    let mut wrong = World::with(v2);
    wrong.proposal = w.proposal.clone();
    assert!(wrong
        .send(
            agency("cq-kjj"),
            "2020-03-04",
            cohandle_workflows::Body::Dispute { reason: "x".into() }
        )
        .is_err());

    // Reloading a version with changed content is refused; the same content is a no-op.
    let changed = CQ_TEXT.replace("duration = \"3m\"", "duration = \"4m\"");
    assert!(matches!(
        catalog.load("changed.toml", &changed),
        Err(CatalogError::VersionChanged(_))
    ));
    assert!(catalog.load("same.toml", CQ_TEXT).is_ok());
}
