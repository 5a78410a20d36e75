//! `cohandle calendar` at the edge of the official holiday data, as an operator runs it.

use std::process::Command;

mod common;

use common::{cohandle, text};

#[test]
fn due_dates_past_the_data_are_marked_provisional() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    for (start, duration, expected) in [
        (
            "2026-12-01",
            "3m",
            "2027-03-01 (provisional: no official 2027 arrangement loaded)",
        ),
        (
            "2027-02-03",
            "5wd",
            "2027-02-12 (provisional: no official 2027 arrangement loaded)",
        ),
        ("2020-01-20", "20wd", "2020-02-25"),
    ] {
        let out = cohandle(&["calendar", "due", start, duration], &db);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), expected);
    }
    let status = cohandle(&["calendar", "status"], &db);
    let printed = text(&status.stdout);
    assert!(status.status.success(), "{}", text(&status.stderr));
    assert!(printed.contains("2026  official"), "{printed}");
    assert!(printed.contains("2027  provisional"), "{printed}");
}

#[test]
fn a_year_file_missing_festivals_is_refused_with_each_one_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let file = dir.path().join("2027.tsv");
    std::fs::write(&file, "2027-01-01\tholiday\n").unwrap();
    let file = file.display().to_string();
    for args in [
        vec!["calendar", "correct", &file],
        vec!["calendar", "due", "--calendar", &file, "2027-02-05", "5wd"],
    ] {
        let out = cohandle(&args, &db);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} was taken");
        for festival in ["春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"]
        {
            assert!(stderr.contains(festival), "{args:?}: {stderr}");
        }
        assert!(!stderr.contains("元旦"), "{stderr}");
    }
}

/// The notice is loaded once and kept in the database: `due` and `status` count with it, as
/// every role does, with no configuration and no restart; loading it again changes nothing.
#[test]
fn a_loaded_notice_makes_its_year_official_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let notice = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../workflows/tests/data/a-2027-notice.tsv"
    );
    let load = cohandle(&["calendar", "correct", notice], &db);
    let printed = text(&load.stdout);
    assert!(load.status.success(), "{}", text(&load.stderr));
    assert!(printed.contains("loaded (2027–2027)"), "{printed}");
    let due = cohandle(&["calendar", "due", "2027-02-03", "5wd"], &db);
    // Officially 5 and 8–11 February are off and Sunday 14 February is worked.
    assert_eq!(text(&due.stdout).trim(), "2027-02-16");
    let status = text(&cohandle(&["calendar", "status"], &db).stdout);
    assert!(
        status.contains("2027  official     official arrangement loaded from"),
        "{status}"
    );
    assert!(status.contains("2028  provisional"), "{status}");
    let again = cohandle(&["calendar", "correct", notice], &db);
    assert!(
        text(&again.stdout).contains("already loaded"),
        "{}",
        text(&again.stdout)
    );
}

/// A long-running role warns about next year over the calendar it counts with: once the
/// notice is loaded into the database, no role warns that the year is missing.
#[test]
fn a_role_does_not_warn_about_a_year_loaded_into_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let notice = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../workflows/tests/data/a-2027-notice.tsv"
    );
    let load = cohandle(&["calendar", "correct", notice], &db);
    assert!(load.status.success(), "{}", text(&load.stderr));

    let mut monitor = Command::new(env!("CARGO_BIN_EXE_cohandle"))
        .arg("monitor")
        .env("COHANDLE__METRICS__LISTEN", "off")
        .env(
            "COHANDLE__DATABASE__URL",
            format!("sqlite://{}?mode=rwc", db.display()),
        )
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cohandle monitor starts");
    std::thread::sleep(std::time::Duration::from_secs(3));
    monitor.kill().unwrap();
    let output = monitor.wait_with_output().unwrap();
    let log = text(&output.stderr);
    assert!(log.contains("deadline monitor started"), "{log}");
    assert!(
        !log.contains("no official 2027 holiday arrangement"),
        "warned about a loaded year:\n{log}"
    );
}
