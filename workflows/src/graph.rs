//! Renders a definition's machines as Mermaid or Graphviz DOT, so a person can look at them.

use std::fmt::Write;

use crate::definition::{Definition, MachineDef, Transition};
use crate::model::Machine;

fn label(t: &Transition) -> String {
    let mut label = t.event.clone();
    if !t.guards.is_empty() {
        let guards: Vec<String> = t.guards.iter().map(ToString::to_string).collect();
        let _ = write!(label, " [{}]", guards.join(", "));
    }
    label
}

/// Every edge of a machine, with a self-loop for transitions that keep the state.
fn edges(machine: &MachineDef) -> impl Iterator<Item = (&str, &str, String)> {
    machine.transitions.iter().flat_map(|t| {
        t.from.iter().map(move |from| {
            let to = t.to.as_deref().unwrap_or(from);
            (from.as_str(), to, label(t))
        })
    })
}

fn node_id(machine: Machine, state: &str) -> String {
    format!("{}_{}", machine.as_str(), state)
}

/// A Mermaid `stateDiagram-v2`, one composite state per machine.
pub fn mermaid(definition: &Definition) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "---\ntitle: {} v{}\n---",
        definition.name, definition.version
    );
    out.push_str("stateDiagram-v2\n");
    for machine in Machine::ALL {
        let def = definition.machine(machine);
        let _ = writeln!(out, "    state {} {{", machine.as_str());
        let _ = writeln!(out, "        [*] --> {}", node_id(machine, &def.initial));
        for state in &def.states {
            let _ = writeln!(
                out,
                "        {} : {}",
                node_id(machine, &state.name),
                state.name
            );
            if state.terminal {
                let _ = writeln!(out, "        {} --> [*]", node_id(machine, &state.name));
            }
        }
        // Mermaid draws one loop per state, so a state's loops share one edge, one label a line.
        let mut loops: Vec<(&str, Vec<String>)> = Vec::new();
        let mut moves = Vec::new();
        for (from, to, label) in edges(def) {
            let label = label.replace(':', " ");
            if from == to {
                match loops.iter_mut().find(|(state, _)| *state == from) {
                    Some((_, labels)) => labels.push(label),
                    None => loops.push((from, vec![label])),
                }
            } else {
                moves.push((from, to, label));
            }
        }
        for (from, to, label) in moves {
            let _ = writeln!(
                out,
                "        {} --> {} : {}",
                node_id(machine, from),
                node_id(machine, to),
                label
            );
        }
        for (state, labels) in loops {
            let id = node_id(machine, state);
            let _ = writeln!(out, "        {id} --> {id} : {}", labels.join("<br/>"));
        }
        out.push_str("    }\n");
    }
    out
}

/// A Graphviz digraph, one cluster per machine.
pub fn dot(definition: &Definition) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "digraph {} {{",
        quote(&format!("{} v{}", definition.name, definition.version))
    );
    out.push_str("    rankdir=LR;\n    node [shape=box, style=rounded];\n");
    for machine in Machine::ALL {
        let def = definition.machine(machine);
        let _ = writeln!(
            out,
            "    subgraph {} {{",
            quote(&format!("cluster_{}", machine.as_str()))
        );
        let _ = writeln!(out, "        label={};", quote(machine.as_str()));
        let start = node_id(machine, "__start");
        let _ = writeln!(out, "        {} [shape=point];", quote(&start));
        let _ = writeln!(
            out,
            "        {} -> {};",
            quote(&start),
            quote(&node_id(machine, &def.initial))
        );
        for state in &def.states {
            let shape = if state.terminal {
                ", peripheries=2"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "        {} [label={}{shape}];",
                quote(&node_id(machine, &state.name)),
                quote(&state.name)
            );
        }
        for (from, to, label) in edges(def) {
            let _ = writeln!(
                out,
                "        {} -> {} [label={}];",
                quote(&node_id(machine, from)),
                quote(&node_id(machine, to)),
                quote(&label)
            );
        }
        out.push_str("    }\n");
    }
    out.push_str("}\n");
    out
}
