//! `/openapi.json`: an OpenAPI 3.1 document generated from the handlers, served as is.

use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn the_served_document_is_openapi_3_and_describes_every_route() {
    let app = spawn_app(Backend::Sqlite).await;
    let answer = app.get("", "/openapi.json").await;
    expect(&answer, 200);
    let text = answer.body.to_string();
    let spec = oas3::from_json(&text).expect("the document parses as OpenAPI 3.1");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    assert_eq!(spec.info.title, "cohandle");
    let paths = spec.paths.as_ref().unwrap();
    assert!(paths.contains_key("/v1/proposals/{key}/tasks/{agency}/feedback"));

    let doc = &answer.body;
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            assert!(op["operationId"].is_string(), "{method} {path}");
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
            let public = ["/healthz", "/readyz", "/metrics"].contains(&path.as_str());
            assert_eq!(op["security"].is_array(), !public, "{method} {path}");
            if method == "post" && path.starts_with("/v1/proposals") {
                let params: Vec<&str> = op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                assert!(params.contains(&"Idempotency-Key"), "{path}");
                assert!(op["requestBody"].is_object(), "{path}");
                let problem = &op["responses"]["422"]["content"]["application/problem+json"];
                assert!(problem.is_object(), "{path}");
                // An event that arrives before the step it depends on is held: 202.
                let held = &op["responses"]["202"]["content"]["application/json"]["schema"];
                assert_eq!(held["$ref"], "#/components/schemas/HeldOutcome", "{path}");
            }
        }
    }
    assert_eq!(operations, 46);
    // Every schema a document refers to is in it.
    let refs = collect_refs(doc);
    for r in refs {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} is not defined"
        );
    }
    // What the server takes is what the document says: enum values as spoken, bounds and
    // the alphabets of keys, codes and Idempotency-Keys.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["ProposalKind"]["enum"],
        serde_json::json!(["deputy_suggestion", "cppcc_proposal"])
    );
    assert_eq!(
        schemas["AssignmentMode"]["enum"][1],
        "lead_with_co_handlers"
    );
    assert_eq!(
        schemas["ProposalKeyText"]["pattern"],
        cohandle_workflows::ProposalKey::PATTERN
    );
    assert_eq!(
        schemas["NewToken"]["properties"]["expires_in_days"]["minimum"],
        1
    );
    let list = &doc["paths"]["/v1/proposals"]["get"]["parameters"];
    let limit = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(
        (&limit["schema"]["minimum"], &limit["schema"]["maximum"]),
        (&serde_json::json!(1), &serde_json::json!(200))
    );
    let sign_for = &doc["paths"]["/v1/proposals/{key}/sign-for"]["post"]["parameters"];
    for p in sign_for.as_array().unwrap() {
        assert!(p["schema"]["$ref"].is_string(), "{p}");
    }
    // The request bodies refuse unknown fields.
    assert_eq!(
        doc["components"]["schemas"]["OpinionRequest"]["additionalProperties"],
        false
    );
    // So do the variants of a tagged enum, which utoipa leaves open.
    let variants = doc["components"]["schemas"]["DisputeDecisionRequest"]["oneOf"]
        .as_array()
        .unwrap();
    assert_eq!(variants.len(), 2);
    for variant in variants {
        assert_eq!(variant["additionalProperties"], false, "{variant}");
    }
}

fn collect_refs(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| match (k.as_str(), v) {
                ("$ref", Value::String(s)) => vec![s.clone()],
                _ => collect_refs(v),
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(collect_refs).collect(),
        _ => Vec::new(),
    }
}
