//! The deployment files configure cohandle only through `COHANDLE__SECTION__KEY` variables:
//! every one that `deploy/compose.yaml` and `deploy/k8s/` name must be a setting the
//! configuration knows, which the real binary decides (`cohandle config` with them set).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PREFIX: &str = "COHANDLE__";

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// compose.yaml and every YAML file under k8s/.
fn manifests() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, found);
            } else if path
                .extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
            {
                found.push(path);
            }
        }
    }
    let mut found = vec![deploy_dir().join("compose.yaml")];
    walk(&deploy_dir().join("k8s"), &mut found);
    found.sort();
    found
}

/// Every `COHANDLE__…` name in the text, with the value written beside it when there is
/// one (`NAME: value` in compose and ConfigMaps, `- name: NAME` then `value: …` in a pod's
/// env); `None` when it comes from a Secret.
fn variables(text: &str) -> Vec<(String, Option<String>)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        // Comments name variables too (`COHANDLE__SECTION__KEY`), as examples.
        let line = line.split(" #").next().unwrap_or_default();
        if line.trim_start().starts_with('#') {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find(PREFIX) {
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(tail.len());
            let name = &tail[..end];
            let after = tail[end..].trim_start_matches(['"', '\'']);
            let value = if let Some(value) = after.strip_prefix(':') {
                Some(value.trim())
            } else {
                lines
                    .get(n + 1)
                    .and_then(|next| next.trim().strip_prefix("value:"))
                    .map(str::trim)
            };
            let value = value
                .filter(|v| !v.is_empty())
                .map(|v| v.trim_matches(['"', '\'']).to_owned());
            found.push((name.to_owned(), value));
            rest = &tail[end..];
        }
    }
    found
}

/// A value of the right shape for a setting whose value lives in a Secret.
fn stand_in(name: &str) -> String {
    match name {
        "COHANDLE__DATABASE__URL" => "postgres://cohandle@127.0.0.1:5432/cohandle".to_owned(),
        "COHANDLE__AMQP__URL" => "amqp://cohandle@127.0.0.1:5672/%2f".to_owned(),
        other => panic!("{other} has no value in the manifests and no stand-in here"),
    }
}

/// Every variable the deployment files name, with a value (the first one written).
fn deployed() -> BTreeMap<String, String> {
    let mut all = BTreeMap::new();
    for path in manifests() {
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (name, value) in variables(&text) {
            let value = value.unwrap_or_else(|| stand_in(&name));
            all.entry(name).or_insert(value);
        }
    }
    all
}

/// `cohandle config` with only these variables, in an empty directory (no cohandle.toml).
fn config(vars: &BTreeMap<String, String>) -> Output {
    let dir = tempfile::tempdir().expect("a scratch directory");
    Command::new(env!("CARGO_BIN_EXE_cohandle"))
        .arg("config")
        .current_dir(dir.path())
        .env_clear()
        .envs(vars)
        .output()
        .expect("cohandle runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_scanner_reads_both_styles_of_manifest() {
    let found = variables(
        "# COHANDLE__SECTION__KEY: an example in a comment\n\
         COHANDLE__AMQP__PARTITIONS: \"4\"   # queues\n\
         - name: COHANDLE__METRICS__LISTEN\n  value: 0.0.0.0:9464\n\
         - name: COHANDLE__DATABASE__URL\n  valueFrom:\n",
    );
    assert_eq!(
        found,
        [
            (
                "COHANDLE__AMQP__PARTITIONS".to_owned(),
                Some("4".to_owned())
            ),
            (
                "COHANDLE__METRICS__LISTEN".to_owned(),
                Some("0.0.0.0:9464".to_owned())
            ),
            ("COHANDLE__DATABASE__URL".to_owned(), None),
        ]
    );
}

#[test]
fn every_variable_the_deployment_sets_is_a_known_setting() {
    let vars = deployed();
    // The files were read: the manifests set these.
    for expected in [
        "COHANDLE__DATABASE__URL",
        "COHANDLE__AMQP__URL",
        "COHANDLE__AMQP__PARTITIONS",
        "COHANDLE__HTTP__LISTEN",
        "COHANDLE__METRICS__LISTEN",
    ] {
        assert!(
            vars.contains_key(expected),
            "{expected} not found in {vars:?}"
        );
    }
    let all = config(&vars);
    if all.status.success() {
        return;
    }
    // Name the culprits: each variable alone.
    let refused: Vec<String> = vars
        .iter()
        .filter_map(|(name, value)| {
            let one = config(&BTreeMap::from([(name.clone(), value.clone())]));
            (!one.status.success()).then(|| format!("{name}={value}: {}", text(&one.stderr)))
        })
        .collect();
    panic!(
        "cohandle config refuses the deployment's variables:\n{}\n(all at once: {})",
        refused.join("\n"),
        text(&all.stderr)
    );
}

#[test]
fn the_stand_ins_and_values_are_accepted_as_a_whole() {
    // The settings the manifests write are taken: the printed configuration shows them.
    let vars = deployed();
    let out = config(&vars);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("127.0.0.1:5432/cohandle"), "{printed}");
    assert!(
        printed.contains(&vars["COHANDLE__HTTP__LISTEN"]),
        "{printed}"
    );
}

#[test]
fn a_variable_naming_no_setting_is_refused() {
    let mut vars = deployed();
    vars.insert("COHANDLE__HTTP__NO_SUCH_KEY".to_owned(), "1".to_owned());
    let out = config(&vars);
    assert!(!out.status.success(), "accepted: {}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("no_such_key"),
        "{}",
        text(&out.stderr)
    );
}
