//! What a production install of `cohandle` offers: its roles and the operator's tools, never
//! the benchmark or the fault campaign (those are `cohandle-tools`).

use std::process::Command;

#[test]
fn the_production_binary_carries_no_benchmark_and_no_fault_campaign() {
    let output = Command::new(env!("CARGO_BIN_EXE_cohandle"))
        .arg("--help")
        .output()
        .expect("cohandle runs");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(commands.contains(&"worker"), "{help}");
    for tool in ["bench", "campaign"] {
        assert!(
            !commands.contains(&tool),
            "`cohandle {tool}` exists:\n{help}"
        );
    }
    for tool in ["bench", "campaign"] {
        let refused = Command::new(env!("CARGO_BIN_EXE_cohandle"))
            .arg(tool)
            .output()
            .expect("cohandle runs");
        assert!(!refused.status.success(), "`cohandle {tool}` ran");
    }
}
