//! Onboarding a jurisdiction as a government IT team does it, README's "Adding a
//! jurisdiction" step by step, with the real binary: register the county's CPPCC under the
//! municipal one, deploy its rules, import its agencies, print its RabbitMQ users, issue its
//! tokens; then its assigner assigns over HTTP, and the supervisors see exactly what their
//! jurisdictions cover.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{cohandle, text};
use serde_json::{json, Value};

/// The district example shipped beside the definitions, deployed as an operator would.
const EXAMPLE: &str = include_str!(
    "../../../workflows/definitions/examples/yuzhong-district-cppcc-proposal-example.toml"
);
const EXAMPLE_NAME: &str = "yuzhong-district-cppcc-proposal";

/// Runs `cohandle ARGS`, asserting success; its standard output.
fn ok(args: &[&str], db: &Path) -> String {
    let out = cohandle(args, db);
    assert!(
        out.status.success(),
        "cohandle {}: {}{}",
        args.join(" "),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `cohandle token create`, the secret it prints.
fn token(db: &Path, agency: &str, role: &str) -> String {
    let printed = ok(&["token", "create", "--agency", agency, "--role", role], db);
    printed
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("chd_"))
        .unwrap_or_else(|| panic!("no secret printed:\n{printed}"))
        .to_owned()
}

struct Api {
    child: Child,
    base: String,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Api {
    async fn start(db: &Path) -> Self {
        let address = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .to_string();
        let child = Command::new(env!("CARGO_BIN_EXE_cohandle"))
            .arg("api")
            .env(
                "COHANDLE__DATABASE__URL",
                format!("sqlite://{}?mode=rwc", db.display()),
            )
            .env("COHANDLE__HTTP__LISTEN", &address)
            .env("COHANDLE__METRICS__LISTEN", "off")
            .env_remove("COHANDLE__AMQP__URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cohandle api runs");
        let mut api = Self {
            child,
            base: format!("http://{address}"),
        };
        for _ in 0..150 {
            if let Some(status) = api.child.try_wait().expect("the child's status") {
                panic!("cohandle api exited: {status}");
            }
            if let Ok(answer) = reqwest::get(format!("{}/openapi.json", api.base)).await {
                if answer.status().is_success() {
                    return api;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("cohandle api did not answer within 30 s");
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        secret: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let client = reqwest::Client::new();
        let mut request = client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(secret)
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.expect("cohandle api answers");
        let status = answer.status().as_u16();
        let body = answer.json().await.unwrap_or(Value::Null);
        (status, body)
    }
}

fn assignment(key: &str, definition: &str, handlers: &[(&str, &str)]) -> Value {
    json!({
        "key": key,
        "definition": definition,
        "info": {
            "kind": "cppcc_proposal",
            "number": "001",
            "session": "区政协十五届一次会议",
            "title": "关于解放碑步行街夜间经济的提案",
            "category": "经济",
            "lead_deputy": "王委员",
            "submitted_on": "2021-01-10",
            "session_closed_on": "2021-01-14",
            "disclosure_consent": "full_text",
            "key_supervision": false
        },
        "mode": "lead_with_co_handlers",
        "handlers": handlers.iter().map(|(agency, role)| json!({"agency": agency, "role": role})).collect::<Vec<_>>(),
        "assigned_on": "2021-02-01",
        "occurred_at": "2021-02-01T02:00:00Z"
    })
}

#[tokio::test]
async fn a_county_is_onboarded_without_a_build_and_takes_its_first_assignment() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("county.db");
    ok(&["migrate"], &db);

    // 1. The jurisdiction, below the municipal CPPCC (shipped as cq-zx).
    let added = ok(
        &[
            "jurisdiction",
            "add",
            "yz-zx",
            "--name",
            "政协重庆市渝中区委员会",
            "--parent",
            "cq-zx",
            "--level",
            "district",
        ],
        &db,
    );
    assert!(added.contains("keys begin with yz-zx-"), "{added}");
    // Adding it again changes nothing; another name under its code is refused.
    assert!(ok(
        &[
            "jurisdiction",
            "add",
            "yz-zx",
            "--name",
            "政协重庆市渝中区委员会",
            "--parent",
            "cq-zx",
            "--level",
            "district"
        ],
        &db
    )
    .contains("nothing changed"));
    let clash = cohandle(&["jurisdiction", "add", "yz-zx", "--name", "另一个"], &db);
    assert!(!clash.status.success());
    assert!(
        text(&clash.stderr).contains("exists already"),
        "{}",
        text(&clash.stderr)
    );

    // 2. Its rules: the district example, checked, deployed and allowed.
    let rules = dir.path().join("yuzhong-district-cppcc-proposal.toml");
    std::fs::write(&rules, EXAMPLE).unwrap();
    ok(&["workflows", "check", rules.to_str().unwrap()], &db);
    ok(
        &[
            "workflows",
            "deploy",
            "--by",
            "yz-it",
            rules.to_str().unwrap(),
        ],
        &db,
    );
    ok(&["jurisdiction", "allow", "yz-zx", EXAMPLE_NAME], &db);

    // 3. Its agencies, from a file; a broken file imports nothing.
    let broken = dir.path().join("broken.csv");
    std::fs::write(&broken, "code,kind,name\nyz-fgw,agency,\n").unwrap();
    let refused = cohandle(
        &["jurisdiction", "import", "yz-zx", broken.to_str().unwrap()],
        &db,
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("nothing imported"),
        "{}",
        text(&refused.stderr)
    );
    let agencies = dir.path().join("yz-agencies.csv");
    std::fs::write(
        &agencies,
        "code,kind,name\n\
         yz-zfb,assigner,渝中区人民政府办公室\n\
         yz-fgw,agency,渝中区发展和改革委员会\n\
         yz-jw,agency,渝中区教育委员会\n\
         yz-dc,supervisor,渝中区人民政府督查室\n",
    )
    .unwrap();
    ok(
        &[
            "jurisdiction",
            "import",
            "yz-zx",
            agencies.to_str().unwrap(),
        ],
        &db,
    );

    // 4. Its RabbitMQ users, for the broker's operator.
    let users = ok(&["jurisdiction", "rabbitmq", "yz-zx"], &db);
    for code in ["yz-zfb", "yz-fgw", "yz-jw", "yz-dc"] {
        assert!(users.contains(&format!("add_user '{code}'")), "{users}");
    }
    let listed = ok(&["jurisdiction", "list"], &db);
    let line = listed
        .lines()
        .find(|l| l.starts_with("yz-zx "))
        .unwrap_or_else(|| panic!("yz-zx not listed:\n{listed}"));
    assert!(
        line.contains("cq-zx") && line.contains(EXAMPLE_NAME) && line.contains(" 4 "),
        "{line}"
    );

    // A municipal CPPCC supervisor, and Chongqing congress's assigner and supervisor.
    ok(&["agency", "add", "cq-zxdc", "--kind", "supervisor"], &db);
    ok(&["jurisdiction", "join", "cq-zx", "cq-zxdc"], &db);
    ok(&["agency", "add", "cq-zfbgt", "--kind", "assigner"], &db);
    ok(&["agency", "add", "cq-dc", "--kind", "supervisor"], &db);
    ok(&["jurisdiction", "join", "cq", "cq-zfbgt", "cq-dc"], &db);

    // 5. Its tokens.
    let assigner = token(&db, "yz-zfb", "assigner");
    let county_supervisor = token(&db, "yz-dc", "supervisor");
    let municipal_supervisor = token(&db, "cq-zxdc", "supervisor");
    let congress_supervisor = token(&db, "cq-dc", "supervisor");
    let congress_assigner = token(&db, "cq-zfbgt", "assigner");

    // Then the county assigns, with no build and no restart.
    let api = Api::start(&db).await;
    let handlers = [("yz-fgw", "lead"), ("yz-jw", "co_handler")];
    let (status, body) = api
        .send(
            reqwest::Method::POST,
            "/v1/proposals",
            &assigner,
            Some(assignment("yz-zx-2021-001", EXAMPLE_NAME, &handlers)),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // Its supervisors see it: the county's and the municipal CPPCC's above it.
    for secret in [&county_supervisor, &municipal_supervisor] {
        let (status, body) = api
            .send(
                reqwest::Method::GET,
                "/v1/proposals/yz-zx-2021-001",
                secret,
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = api
        .send(
            reqwest::Method::GET,
            "/v1/proposals",
            &municipal_supervisor,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(1), "{body}");

    // The congress's supervisor does not, neither one by one nor in its lists.
    let (status, body) = api
        .send(
            reqwest::Method::GET,
            "/v1/proposals/yz-zx-2021-001",
            &congress_supervisor,
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("jurisdiction_not_yours")),
        "{body}"
    );
    let (status, body) = api
        .send(
            reqwest::Method::GET,
            "/v1/proposals",
            &congress_supervisor,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(0), "{body}");
    let (status, body) = api
        .send(
            reqwest::Method::GET,
            "/v1/deadlines",
            &congress_supervisor,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(0), "{body}");

    // Another jurisdiction's assigner may not assign in the county.
    let (status, body) = api
        .send(
            reqwest::Method::POST,
            "/v1/proposals",
            &congress_assigner,
            Some(assignment("yz-zx-2021-002", EXAMPLE_NAME, &handlers)),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("jurisdiction_not_yours")),
        "{body}"
    );

    // A key of no jurisdiction, and rules the county does not use, are refused by the engine.
    for (key, definition) in [
        ("zz-2021-001", EXAMPLE_NAME),
        ("yz-zx-2021-003", "cppcc-proposal"),
    ] {
        let (status, body) = api
            .send(
                reqwest::Method::POST,
                "/v1/proposals",
                &assigner,
                Some(assignment(key, definition, &handlers)),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("wrong_jurisdiction")),
            "{key}: {body}"
        );
    }
}
