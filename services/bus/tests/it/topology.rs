//! `deploy/rabbitmq/definitions.json` and the code declare the same topology.

use std::collections::BTreeSet;

use cohandle_bus::topology::{self, agency_plan, Topology};
use serde_json::Value;

use crate::support::*;

fn definitions_file() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/rabbitmq/definitions.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn plan() -> Vec<topology::Item> {
    let mut items = Topology::default().plan();
    for (code, kind) in AGENCIES {
        items.extend(agency_plan(code, kind));
    }
    items
}

fn set(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| serde_json::to_string(v).unwrap())
        .collect()
}

#[test]
fn the_definitions_file_holds_exactly_the_code_s_topology() {
    let file = definitions_file();
    let code = topology::definitions(&plan(), "/");
    for part in ["exchanges", "queues", "bindings"] {
        assert_eq!(set(&file[part]), set(&code[part]), "{part} differ");
    }
    // One user per agency: publishes to cohandle.in under its own keys, reads its own queue.
    for (code, _) in AGENCIES {
        let permission = file["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["user"] == *code)
            .unwrap_or_else(|| panic!("no permissions for {code}"));
        assert_eq!(permission["write"], "^cohandle\\.in$");
        assert_eq!(permission["configure"], "^$");
        assert_eq!(
            permission["read"],
            format!("^cohandle\\.agency\\.{code}$").as_str()
        );
        let topic = file["topic_permissions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["user"] == *code)
            .unwrap_or_else(|| panic!("no topic permissions for {code}"));
        assert_eq!(topic["write"], format!("^{code}\\.").as_str());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_declares_over_the_loaded_definitions_without_conflict() {
    let broker = Broker::new().await;
    // Load the file's topology into the test's vhost, as `rabbitmqctl import_definitions`
    // would into `/`.
    let mut file = definitions_file();
    let mut body = serde_json::Map::new();
    for part in ["exchanges", "queues", "bindings"] {
        let mut items = file[part].take();
        for item in items.as_array_mut().unwrap() {
            item["vhost"] = Value::from(broker.vhost.clone());
        }
        body.insert(part.to_owned(), items);
    }
    management(
        reqwest::Method::POST,
        &format!("/definitions/{}", broker.vhost),
        Some(Value::Object(body)),
    )
    .await;
    // RabbitMQ refuses a redeclaration with other arguments (PRECONDITION_FAILED).
    broker.declare().await;
    assert_eq!(broker.ready(topology::RETRY_QUEUE).await, 0);
}
