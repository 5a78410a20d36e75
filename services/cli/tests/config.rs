//! `cohandle config` as an operator (or a deployment's check) runs it: the effective
//! settings, passwords hidden, and a key that names no setting refused by name.

use std::process::{Command, Output};

fn cohandle(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let mut command = Command::new(env!("CARGO_BIN_EXE_cohandle"));
    // Away from any cohandle.toml, and from the caller's own COHANDLE__ settings.
    command.current_dir(dir.path()).args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("COHANDLE__") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("cohandle runs")
}

#[test]
fn config_prints_every_setting_with_passwords_hidden() {
    let output = cohandle(
        &["config"],
        &[
            (
                "COHANDLE__DATABASE__URL",
                "postgres://cohandle:db-secret@db:5432/cohandle",
            ),
            ("COHANDLE__AMQP__URL", "amqp://worker:mq-secret@mq:5672/%2f"),
            ("COHANDLE__AMQP__AGENCIES", "cq-jw,cq-dc:supervisor"),
            ("COHANDLE__AMQP__BATCH_SIZE", "100"),
            ("COHANDLE__METRICS__LISTEN", "0.0.0.0:9464"),
            ("COHANDLE__ENGINE__HOLD_WINDOW_SECS", "120"),
            // Not a setting (no COHANDLE__ prefix): `cohandle emit`'s password.
            ("COHANDLE_AGENCY_PASSWORD", "whatever"),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout.contains("secret"), "{stdout}");
    let line = |key: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .and_then(|l| l.split_once(" = "))
            .map(|(_, value)| value.to_owned())
    };
    assert_eq!(
        line("database.url").as_deref(),
        Some("postgres://cohandle:***@db:5432/cohandle")
    );
    assert_eq!(
        line("amqp.url").as_deref(),
        Some("amqp://worker:***@mq:5672/%2f")
    );
    assert_eq!(
        line("amqp.agencies").as_deref(),
        Some("cq-jw,cq-dc:supervisor")
    );
    assert_eq!(line("amqp.batch_size").as_deref(), Some("100"));
    assert_eq!(line("amqp.prefetch").as_deref(), Some("500"));
    assert_eq!(line("metrics.listen").as_deref(), Some("0.0.0.0:9464"));
    assert_eq!(line("engine.hold_window_secs").as_deref(), Some("120"));
    assert_eq!(line("http.listen").as_deref(), Some("127.0.0.1:8080"));
}

#[test]
fn a_key_that_names_no_setting_stops_every_command() {
    for args in [
        &["config"][..],
        &["workflows", "check", "x.toml"],
        &["migrate"],
    ] {
        let output = cohandle(args, &[("COHANDLE__AMQP__BATCH_SIZ", "100")]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}: {stderr}");
        assert!(
            stderr.contains("amqp.batch_siz") && stderr.contains("COHANDLE__AMQP__BATCH_SIZ"),
            "{args:?}: {stderr}"
        );
    }
    let output = cohandle(&["config"], &[("COHANDLE__METRIC__LISTEN", "off")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("unknown field `metric`"), "{stderr}");
}
