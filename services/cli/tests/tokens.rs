//! `cohandle agency` and `cohandle token` as an operator runs them.

use std::process::{Command, Output};

fn cohandle(db: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cohandle"))
        .args(args)
        .env(
            "COHANDLE__DATABASE__URL",
            format!("sqlite://{}?mode=rwc", db.display()),
        )
        .output()
        .expect("cohandle runs")
}

#[test]
fn a_token_is_issued_only_to_a_registered_agency_of_its_kind() {
    let db = std::env::temp_dir().join(format!("cohandle-tokens-{}.db", std::process::id()));
    let create = [
        "token",
        "create",
        "--agency",
        "cq-rdgw",
        "--role",
        "congress_office",
    ];
    let unknown = cohandle(&db, &create);
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("not registered"), "{stderr}");

    let added = cohandle(
        &db,
        &["agency", "add", "cq-rdgw", "--kind", "congress_office"],
    );
    assert!(added.status.success(), "{added:?}");
    let issued = cohandle(&db, &create);
    assert!(issued.status.success(), "{issued:?}");
    assert!(String::from_utf8_lossy(&issued.stdout).contains("chd_"));

    let wrong_kind = cohandle(
        &db,
        &["token", "create", "--agency", "cq-rdgw", "--role", "agency"],
    );
    let listed = cohandle(&db, &["agency", "list"]);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    assert!(!wrong_kind.status.success());
    assert!(String::from_utf8_lossy(&listed.stdout).contains("cq-rdgw"));
}
