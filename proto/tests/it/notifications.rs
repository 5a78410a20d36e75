//! Who is told what: the table in `proto/README.md` ("Who receives which notification") is
//! generated from the shipped definitions (`workflows/definitions/*.toml`), so it cannot
//! drift from them. After a definition changes, `cargo test -p cohandle-proto --test it --
//! --ignored print_notification_table --nocapture` prints it afresh.

use cohandle_workflows::definition::Definition;
use cohandle_workflows::model::Machine;
use cohandle_workflows::registry::Call;
use cohandle_workflows::Catalog;

const README: &str = include_str!("../../README.md");
const BEGIN: &str = "<!-- notification table: generated from workflows/definitions, checked by tests/it/notifications.rs -->\n";
const END: &str = "<!-- end of the notification table -->";

/// The recipients a list of effects notifies.
fn told(effects: &[Call]) -> Vec<&str> {
    effects
        .iter()
        .filter(|call| call.name == "notify")
        .filter_map(|call| call.arg.as_deref())
        .collect()
}

fn table(definition: &Definition) -> String {
    let mut out = format!(
        "#### `{}` (version {}): {}\n\n| machine | event | state | who is told |\n| --- | --- | --- | --- |\n",
        definition.name, definition.version, definition.title
    );
    for machine in Machine::ALL {
        let def = definition.machine(machine);
        let on_create = told(&def.on_create);
        if !on_create.is_empty() {
            out.push_str(&format!(
                "| {} | (task created) | → `{}` | {} |\n",
                machine.as_str(),
                def.initial,
                on_create.join(", ")
            ));
        }
        for transition in &def.transitions {
            let recipients = told(&transition.effects);
            if recipients.is_empty() {
                continue;
            }
            let from: Vec<String> = transition.from.iter().map(|s| format!("`{s}`")).collect();
            let to = transition
                .to
                .as_ref()
                .map_or("(unchanged)".to_owned(), |to| format!("`{to}`"));
            out.push_str(&format!(
                "| {} | `{}` | {} → {} | {} |\n",
                machine.as_str(),
                transition.event,
                from.join(", "),
                to,
                recipients.join(", ")
            ));
        }
    }
    out
}

/// Every shipped definition's table, in name and version order.
fn tables() -> String {
    let catalog = Catalog::shipped();
    let mut definitions: Vec<_> = catalog.all().collect();
    definitions.sort_by(|a, b| (&a.name, a.version).cmp(&(&b.name, b.version)));
    definitions
        .into_iter()
        .map(|d| table(d))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_readme_table_is_the_definitions() {
    let start = README
        .find(BEGIN)
        .expect("proto/README.md holds the generated notification table")
        + BEGIN.len();
    let end = README[start..].find(END).expect("the table is closed") + start;
    let committed = README[start..end].trim();
    assert!(
        committed == tables().trim(),
        "proto/README.md's notification table differs from the definitions; print it afresh \
         with `cargo test -p cohandle-proto --test it -- --ignored print_notification_table \
         --nocapture`"
    );
}

#[test]
#[ignore = "a tool for writing the README, not a check"]
fn print_notification_table() {
    println!("{}", tables());
}
