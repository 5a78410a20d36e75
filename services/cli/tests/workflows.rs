//! `cohandle workflows deploy|list`, as an operator adding a county's rules runs them.

mod common;

use common::{cohandle, text};

const CPPCC: &str = include_str!("../../../workflows/definitions/cppcc-proposal.toml");

/// The shipped CPPCC definition renamed for a county, with its reply due in `reply`.
fn county(reply: &str) -> String {
    CPPCC
        .replace("name = \"cppcc-proposal\"", "name = \"yz-cppcc-proposal\"")
        .replace(
            "[deadlines.reply]\nduration = \"3m\"",
            &format!("[deadlines.reply]\nduration = \"{reply}\""),
        )
}

#[test]
fn the_shipped_definitions_are_deployed_by_migrate() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let migrate = cohandle(&["migrate"], &db);
    assert!(migrate.status.success(), "{}", text(&migrate.stderr));
    let list = cohandle(&["workflows", "list"], &db);
    let printed = text(&list.stdout);
    assert!(list.status.success(), "{}", text(&list.stderr));
    for name in [
        "chongqing-deputy-suggestion",
        "cppcc-proposal",
        "national-deputy-suggestion",
    ] {
        let line = printed
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} is not listed:\n{printed}"));
        assert!(line.contains(" migrate "), "{line}");
    }
}

#[test]
fn a_version_is_immutable_once_deployed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let file = dir.path().join("yz-cppcc-proposal.toml");
    let path = file.display().to_string();
    let deploy = |text: &str| {
        std::fs::write(&file, text).unwrap();
        cohandle(&["workflows", "deploy", "--by", "yz-it", &path], &db)
    };

    let first = deploy(&county("2m"));
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("deployed yz-cppcc-proposal version 1"),
        "{}",
        text(&first.stdout)
    );

    // The same definition again, even with another comment, changes nothing.
    let again = deploy(&format!("# deployed again\n{}", county("2m")));
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout).contains("already deployed; nothing changed"),
        "{}",
        text(&again.stdout)
    );

    // Another reply deadline under the same version is refused, and the next version named.
    let changed = deploy(&county("1m"));
    assert!(!changed.status.success());
    let why = text(&changed.stderr);
    assert!(
        why.contains("yz-cppcc-proposal version 1 is already deployed")
            && why.contains("as version 2"),
        "{why}"
    );

    // A file that is not a definition is refused with its problems.
    let invalid = deploy(&county("2m").replace("kind = \"cppcc_proposal\"", "kind = \"petition\""));
    assert!(!invalid.status.success());
    assert!(
        text(&invalid.stderr).contains("not a valid definition"),
        "{}",
        text(&invalid.stderr)
    );

    let list = cohandle(&["workflows", "list"], &db);
    let printed = text(&list.stdout);
    let line = printed
        .lines()
        .find(|l| l.starts_with("yz-cppcc-proposal"))
        .unwrap_or_else(|| panic!("not listed:\n{printed}"));
    assert!(line.contains(" yz-it "), "{line}");
    assert_eq!(
        printed
            .lines()
            .filter(|l| l.starts_with("yz-cppcc-proposal"))
            .count(),
        1,
        "{printed}"
    );
}
