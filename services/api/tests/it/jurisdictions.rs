//! Onboarding over the admin API, and what a supervisor sees by jurisdiction.

use reqwest::Method;
use serde_json::json;

use crate::support::*;
use cohandle_api::Role;
use cohandle_store::jurisdictions;
use cohandle_testkit::Backend;

const CPPCC: &str = include_str!("../../../../workflows/definitions/cppcc-proposal.toml");

/// A Yuzhong CPPCC assignment under `definition`.
fn county_assignment(key: &str, definition: &str) -> serde_json::Value {
    let mut body = assignment(key, "2020-02-26");
    body["definition"] = json!(definition);
    body["info"]["kind"] = json!("cppcc_proposal");
    body["handlers"] = json!([
        {"agency": "yz-fgw", "role": "lead"},
        {"agency": "yz-jw", "role": "co_handler"}
    ]);
    body
}

#[tokio::test]
async fn an_admin_onboards_a_county_and_its_supervisors_see_only_their_own() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let mut app = spawn_app(backend).await;

        // Only admins onboard.
        let refused = app
            .post(
                "supervisor",
                "/v1/jurisdictions",
                "j0",
                json!({"code": "yz-zx", "name": "x", "level": "district"}),
            )
            .await;
        expect(&refused, 403);
        assert_eq!(refused.code(), "role_not_allowed");

        // The rules, deployed: new (201), again (200), changed under the same version (409),
        // not a definition (422, every problem listed).
        let rules = CPPCC.replace("name = \"cppcc-proposal\"", "name = \"yz-cppcc-proposal\"");
        let deploy =
            |content: String| json!({"file": "yz-cppcc-proposal.toml", "content": content});
        expect(
            &app.post("admin", "/v1/definitions", "d1", deploy(rules.clone()))
                .await,
            201,
        );
        let again = app
            .post("admin", "/v1/definitions", "d2", deploy(rules.clone()))
            .await;
        expect(&again, 200);
        assert_eq!(again.body["new"], json!(false));
        let changed = rules.replace(
            "[deadlines.reply]\nduration = \"3m\"",
            "[deadlines.reply]\nduration = \"2m\"",
        );
        assert_ne!(changed, rules);
        let taken = app
            .post("admin", "/v1/definitions", "d3", deploy(changed))
            .await;
        expect(&taken, 409);
        assert_eq!(taken.code(), "definition_version_taken");
        let invalid = app
            .post("admin", "/v1/definitions", "d4", deploy("name = 1".into()))
            .await;
        expect(&invalid, 422);
        assert_eq!(invalid.code(), "definition_invalid");
        let listed = app.get("admin", "/v1/definitions").await;
        expect(&listed, 200);
        assert!(listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == "yz-cppcc-proposal"));

        // The jurisdiction, under the municipal CPPCC; a bad code and an unknown parent are
        // refused, and so is another jurisdiction under its code.
        let county = json!({
            "code": "yz-zx", "name": "政协重庆市渝中区委员会", "parent": "cq-zx",
            "level": "district", "definitions": ["yz-cppcc-proposal"]
        });
        let added = app
            .post("admin", "/v1/jurisdictions", "j1", county.clone())
            .await;
        expect(&added, 201);
        assert_eq!(added.body["definitions"], json!(["yz-cppcc-proposal"]));
        expect(
            &app.post("admin", "/v1/jurisdictions", "j2", county.clone())
                .await,
            200,
        );
        let mut other = county.clone();
        other["name"] = json!("另一个");
        let clash = app.post("admin", "/v1/jurisdictions", "j3", other).await;
        expect(&clash, 409);
        let mut bad = county.clone();
        bad["code"] = json!("YZ_ZX");
        expect(
            &app.post("admin", "/v1/jurisdictions", "j4", bad).await,
            422,
        );
        let mut orphan = county.clone();
        orphan["code"] = json!("yz-rd");
        orphan["parent"] = json!("nowhere");
        let orphan = app.post("admin", "/v1/jurisdictions", "j5", orphan).await;
        expect(&orphan, 422);
        assert_eq!(orphan.code(), "jurisdiction_parent_unknown");

        // Its agencies: a bad entry stores nothing; then all of them.
        let bad_agencies = json!({"agencies": [
            {"code": "yz-zfb", "kind": "assigner", "name": "渝中区人民政府办公室"},
            {"code": "yz-fgw", "kind": "boss", "name": "x"}
        ]});
        let refused = app
            .post(
                "admin",
                "/v1/jurisdictions/yz-zx/agencies",
                "a1",
                bad_agencies,
            )
            .await;
        expect(&refused, 422);
        assert!(refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("agencies[1].kind"));
        assert!(jurisdictions::members(&app.engine, "yz-zx")
            .await
            .unwrap()
            .is_empty());
        let agencies = json!({"agencies": [
            {"code": "yz-zfb", "kind": "assigner", "name": "渝中区人民政府办公室"},
            {"code": "yz-fgw", "kind": "agency", "name": "渝中区发展和改革委员会"},
            {"code": "yz-jw", "kind": "agency", "name": "渝中区教育委员会"},
            {"code": "yz-dc", "kind": "supervisor", "name": "渝中区人民政府督查室"}
        ]});
        expect(
            &app.post(
                "admin",
                "/v1/jurisdictions/yz-zx/agencies",
                "a2",
                agencies.clone(),
            )
            .await,
            200,
        );
        expect(
            &app.post(
                "admin",
                "/v1/jurisdictions/nowhere/agencies",
                "a3",
                agencies,
            )
            .await,
            404,
        );

        app.token_as("yz_assigner", "yz-zfb", Role::Assigner).await;
        app.token_as("yz_supervisor", "yz-dc", Role::Supervisor)
            .await;
        let me = app.get("yz_supervisor", "/v1/me").await;
        assert_eq!(me.body["jurisdictions"], json!(["yz-zx"]));

        // The county assigns in its own jurisdiction, under its own rules.
        let created = app
            .post(
                "yz_assigner",
                "/v1/proposals",
                "yz-1",
                county_assignment("yz-zx-2020-001", "yz-cppcc-proposal"),
            )
            .await;
        expect(&created, 201);
        // Chongqing congress's assigner may not assign a key of the county.
        let outside = app
            .post(
                "assigner",
                "/v1/proposals",
                "cq-1",
                county_assignment("yz-zx-2020-002", "yz-cppcc-proposal"),
            )
            .await;
        expect(&outside, 403);
        assert_eq!(outside.code(), "jurisdiction_not_yours");
        // Nor the county one of Chongqing's.
        let outside = app
            .post(
                "yz_assigner",
                "/v1/proposals",
                "yz-2",
                assignment("cq-2020-009", "2020-02-26"),
            )
            .await;
        expect(&outside, 403);
        assert_eq!(outside.code(), "jurisdiction_not_yours");
        // Rules the county does not use, and a key of no jurisdiction: the engine refuses.
        for (key, definition) in [
            ("yz-zx-2020-003", "cppcc-proposal"),
            ("zz-2020-001", "yz-cppcc-proposal"),
        ] {
            let refused = app
                .post(
                    "yz_assigner",
                    "/v1/proposals",
                    key,
                    county_assignment(key, definition),
                )
                .await;
            expect(&refused, 422);
            assert_eq!(refused.code(), "wrong_jurisdiction", "{key}");
        }
        app.assign("cq-2020-001").await;

        // The county's supervisor: its proposal, not Chongqing congress's.
        let theirs = app.get("yz_supervisor", "/v1/proposals").await;
        let keys: Vec<&str> = theirs.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["yz-zx-2020-001"]);
        expect(
            &app.get("yz_supervisor", "/v1/proposals/yz-zx-2020-001")
                .await,
            200,
        );
        let refused = app.get("yz_supervisor", "/v1/proposals/cq-2020-001").await;
        expect(&refused, 403);
        assert_eq!(refused.code(), "jurisdiction_not_yours");
        let tasks = app.get("yz_supervisor", "/v1/tasks").await;
        assert!(
            tasks.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["proposal"] == "yz-zx-2020-001"),
            "{}",
            tasks.body
        );
        assert_eq!(
            tasks.body["items"].as_array().unwrap().len(),
            2,
            "{}",
            tasks.body
        );
        let deadlines = app
            .get("yz_supervisor", "/v1/deadlines?until=2021-01-01")
            .await;
        let items = deadlines.body["items"].as_array().unwrap();
        assert!(
            !items.is_empty() && items.iter().all(|d| d["proposal"] == "yz-zx-2020-001"),
            "{}",
            deadlines.body
        );

        // Chongqing congress's supervisor: the other way round.
        let theirs = app.get("supervisor", "/v1/proposals").await;
        let keys: Vec<&str> = theirs.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["cq-2020-001"]);
        expect(
            &app.get("supervisor", "/v1/proposals/yz-zx-2020-001").await,
            403,
        );

        // Each one's statistics count its own jurisdictions' proposals only.
        let figures = app.get("yz_supervisor", "/v1/statistics").await;
        expect(&figures, 200);
        assert_eq!(
            figures.body["overall"]["handler_tasks"],
            json!(1),
            "{}",
            figures.body
        );
        let agencies: Vec<&str> = figures.body["agencies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["agency"].as_str().unwrap())
            .collect();
        assert_eq!(agencies, ["yz-fgw", "yz-jw"]);
        let figures = app.get("supervisor", "/v1/statistics").await;
        assert_eq!(
            figures.body["overall"]["handler_tasks"],
            json!(1),
            "{}",
            figures.body
        );
        assert!(
            figures.body["agencies"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| !a["agency"].as_str().unwrap().starts_with("yz-")),
            "{}",
            figures.body
        );

        // A supervisor of the municipal CPPCC oversees the county below it.
        cohandle_testkit::agencies::register(&app.engine, "cq-zxdc", "supervisor").await;
        jurisdictions::join(&app.engine, "cq-zx", &["cq-zxdc".to_owned()])
            .await
            .unwrap();
        app.token_as("municipal", "cq-zxdc", Role::Supervisor).await;
        expect(
            &app.get("municipal", "/v1/proposals/yz-zx-2020-001").await,
            200,
        );

        // A list narrowed to one jurisdiction holds it and those below it only; a
        // jurisdiction the supervisor does not watch is refused, and one no one registered.
        let keys_of = |body: &serde_json::Value, field: &str| -> Vec<String> {
            let mut keys: Vec<String> = body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i[field].as_str().unwrap().to_owned())
                .collect();
            keys.dedup();
            keys
        };
        for (who, code, expected) in [
            ("municipal", "yz-zx", vec!["yz-zx-2020-001"]),
            ("municipal", "cq-zx", vec!["yz-zx-2020-001"]),
            ("admin", "cq", vec!["cq-2020-001"]),
            ("admin", "yz-zx", vec!["yz-zx-2020-001"]),
        ] {
            let proposals = app
                .get(who, &format!("/v1/proposals?jurisdiction={code}"))
                .await;
            expect(&proposals, 200);
            assert_eq!(keys_of(&proposals.body, "key"), expected, "{who} {code}");
            let tasks = app
                .get(who, &format!("/v1/tasks?jurisdiction={code}"))
                .await;
            expect(&tasks, 200);
            assert_eq!(keys_of(&tasks.body, "proposal"), expected, "{who} {code}");
            let deadlines = app
                .get(
                    who,
                    &format!("/v1/deadlines?until=2021-01-01&jurisdiction={code}"),
                )
                .await;
            expect(&deadlines, 200);
            assert_eq!(
                keys_of(&deadlines.body, "proposal"),
                expected,
                "{who} {code}"
            );
        }
        for path in [
            "/v1/proposals?jurisdiction=cq",
            "/v1/deadlines?jurisdiction=cq",
        ] {
            let refused = app.get("yz_supervisor", path).await;
            expect(&refused, 403);
            assert_eq!(refused.code(), "jurisdiction_not_yours", "{path}");
        }
        for path in [
            "/v1/tasks?jurisdiction=nowhere",
            "/v1/proposals?jurisdiction=",
            "/v1/deadlines?jurisdiction=%20cq",
        ] {
            let unknown = app.get("admin", path).await;
            expect(&unknown, 400);
            assert_eq!(unknown.code(), "unknown_filter_value", "{path}");
        }

        let listed = app
            .send(Method::GET, "admin", "/v1/jurisdictions", None, None)
            .await;
        let county = listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["code"] == "yz-zx")
            .unwrap()
            .clone();
        assert_eq!(county["parent"], json!("cq-zx"));
        assert_eq!(county["agencies"].as_array().unwrap().len(), 4);
    }
}

/// A server started on a database another process wrote, whose engine has taken no step yet:
/// its supervisor still sees the proposals of its jurisdictions, in the lists and statistics.
#[tokio::test]
async fn a_supervisor_reads_what_another_process_wrote_before_this_one_wrote_anything() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let conn = cohandle_store::connect::connect(&app.db.url).await.unwrap();
        let other = cohandle_store::Engine::new(
            conn,
            std::sync::Arc::new(cohandle_workflows::Catalog::shipped()),
            std::sync::Arc::new(cohandle_workflows::Calendar::china_official()),
            app.clock.clone(),
        );
        let case = cohandle_workflows::cases::case_0942();
        app.clock.set(case[0].occurred_at);
        let outcome = other
            .apply(case[0].clone(), cohandle_store::Source::Bus)
            .await
            .unwrap();
        assert!(outcome.is_applied(), "{outcome:?}");
        let listed = app.get("supervisor", "/v1/proposals?total=true").await;
        expect(&listed, 200);
        assert_eq!(listed.body["total"], 1, "{backend:?}: {}", listed.body);
        let figures = app.get("supervisor", "/v1/statistics").await;
        assert_eq!(
            figures.body["overall"]["handler_tasks"], 1,
            "{}",
            figures.body
        );
    }
}
