//! The data shipped with the definitions: every number carries its source, and the district
//! example is a valid definition that `migrate` does not deploy.

use std::path::Path;

use cohandle_workflows::definition::{Catalog, CatalogError, Definition, SHIPPED};
use cohandle_workflows::model::{AssignmentMode, TaskRole};

use crate::support::*;

/// The example definitions, as (file name, text): checked here, deployed only by an operator.
const EXAMPLES: &[(&str, &str)] = &[(
    "yuzhong-district-cppcc-proposal-example.toml",
    include_str!("../../definitions/examples/yuzhong-district-cppcc-proposal-example.toml"),
)];

const CQ_TEXT: &str = include_str!("../../definitions/chongqing-deputy-suggestion.toml");

/// What a comment must name for the number it explains.
const SOURCES: [&str; 3] = ["domain.md", "case 0942", "assumption"];

/// The lines of a definition that set a number without a comment naming its source, as
/// "line N: text", and how many number lines were looked at.
///
/// Every table but the state machines is scanned (the top level, `[settings]`,
/// `[deadlines.*]`, `[reminders]`); a line sets a number when its text outside comments
/// holds a digit. Its source is a comment on the same line, or the comment lines directly
/// above it (no blank line between), naming DOMAIN.md, case 0942 or an assumption. The
/// top-level `version` is exempt: it numbers the rules, it is not one of them.
fn unsourced_numbers(text: &str) -> (Vec<String>, usize) {
    let mut unsourced = Vec::new();
    let mut checked = 0;
    let mut in_machines = false;
    let mut top_level = true;
    let mut comments_above: Vec<&str> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            comments_above.push(trimmed);
            continue;
        }
        let above = std::mem::take(&mut comments_above);
        if trimmed.starts_with('[') {
            let table = trimmed.trim_start_matches('[');
            in_machines = table.starts_with("machines.") || table.starts_with("machines]");
            top_level = false;
            continue;
        }
        let (code, comment) = split_comment(line);
        if in_machines || !code.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        if top_level && code.trim_start().starts_with("version") {
            continue;
        }
        checked += 1;
        let names_source = |c: &str| {
            let c = c.to_lowercase();
            SOURCES.iter().any(|s| c.contains(s))
        };
        if !(comment.is_some_and(names_source) || names_source(&above.join(" "))) {
            unsourced.push(format!("line {}: {trimmed}", index + 1));
        }
    }
    (unsourced, checked)
}

/// A line's text before its comment, and the comment (a `#` outside a string).
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let mut quote = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some('"'), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(q), c) if c == q && !escaped => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => return (&line[..i], Some(&line[i..])),
            _ => {}
        }
        escaped = false;
    }
    (line, None)
}

#[test]
fn every_number_in_a_shipped_definition_names_its_source() {
    for (file, text) in SHIPPED.iter().chain(EXAMPLES) {
        let (unsourced, checked) = unsourced_numbers(text);
        assert!(
            unsourced.is_empty(),
            "{file}: numbers without a comment naming DOMAIN.md, case 0942 or an assumption:\n{}",
            unsourced.join("\n")
        );
        // The clock skew, five durations, the reply's maximum and two reminder lists.
        assert!(
            checked >= 9,
            "{file}: only {checked} numbers were looked at"
        );
    }
}

#[test]
fn a_number_without_its_source_is_found() {
    let (clean, _) = unsourced_numbers(CQ_TEXT);
    assert!(clean.is_empty(), "{clean:?}");

    // A new deadline, set without a word on where its number comes from.
    let added = CQ_TEXT.replace(
        "\n[reminders]",
        "\n[deadlines.hearing]\nduration = \"2m\"\nfrom = \"event\"\nkind = \"obligation\"\n\n[reminders]",
    );
    let (found, _) = unsourced_numbers(&added);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].ends_with("duration = \"2m\""), "{found:?}");

    // The comment of the line above belongs to that line, not to the next one.
    let bare_max = CQ_TEXT.replace("max = \"6m\" # DOMAIN.md", "max = \"6m\"\n# DOMAIN.md");
    let (found, _) = unsourced_numbers(&bare_max);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].ends_with("max = \"6m\""), "{found:?}");

    // A comment that names no source, one a blank line away, one inside a string.
    for (from, to) in [
        (
            "duration = \"20wd\" # DOMAIN.md",
            "duration = \"20wd\" # twenty working days; was: DOMAIN",
        ),
        ("max_clock_skew_hours = 24", "\nmax_clock_skew_hours = 24"),
        (
            "withheld_reasons = [\"state_secret\", \"trade_secret\", \"privacy\"]",
            "withheld_reasons = [\"state_secret\", \"article 9 # DOMAIN.md\"]",
        ),
    ] {
        let changed = CQ_TEXT.replace(from, to);
        assert_ne!(changed, CQ_TEXT, "{from:?} is not in the definition");
        let (found, _) = unsourced_numbers(&changed);
        assert_eq!(found.len(), 1, "{to:?}: {found:?}");
    }
}

#[test]
fn the_district_example_passes_workflows_check() {
    for (file, text) in EXAMPLES {
        // `cohandle workflows check` runs exactly this load.
        let definition = Definition::load(file, text).unwrap_or_else(|p| panic!("{p}"));
        assert!(file.contains("example"), "{file}");
        assert!(
            text.lines().next().is_some_and(|l| l.contains("EXAMPLE")),
            "{file}: its first line must say it is an example"
        );
        // Not shipped: `migrate` deploys only SHIPPED, which neither holds it nor its name.
        assert!(SHIPPED
            .iter()
            .all(|(shipped, body)| shipped != file && body != text));
        assert!(matches!(
            Catalog::shipped().latest(&definition.name),
            Err(CatalogError::Unknown(_))
        ));
        // An operator's deployment loads it beside the shipped definitions.
        let mut catalog = Catalog::shipped();
        catalog.load(file, text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(catalog.all().count(), SHIPPED.len() + 1);
    }
}

#[test]
fn every_example_file_is_checked() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("definitions/examples");
    let mut on_disk: Vec<String> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = EXAMPLES.iter().map(|(f, _)| (*f).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "add each example to EXAMPLES");
}

#[test]
fn a_proposal_runs_under_the_district_example() {
    let (file, text) = EXAMPLES[0];
    let example = std::sync::Arc::new(Definition::load(file, text).unwrap());
    let mut w = World::with(example.clone());
    w.ok(
        assigner(),
        "2020-02-26",
        assignment(
            &example,
            AssignmentMode::LeadWithCoHandlers,
            &[("yz-kw", TaskRole::Lead), ("yz-czj", TaskRole::CoHandler)],
            "2020-02-26",
        ),
    );
    // Three months from assignment; the co-handler's month starts when it acknowledges.
    assert_eq!(w.due("yz-kw", "reply"), Some(date("2020-05-26")));
    assert_eq!(w.due("yz-czj", "co_handler_opinion"), None);
    w.ok(
        agency("yz-czj"),
        "2020-03-02",
        cohandle_workflows::Body::Acknowledge,
    );
    assert_eq!(
        w.due("yz-czj", "co_handler_opinion"),
        Some(date("2020-04-02"))
    );
}
