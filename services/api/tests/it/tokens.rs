//! Tokens: issued by admins (or the CLI), checked on every request, expiring and revocable;
//! every refusal a 401 with its reason.

use chrono::Duration;
use cohandle_store::tokens as stored;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn issued_tokens_work_until_revoked_or_expired() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        register(&app.engine, "cq-jxw", "agency").await;
        let issued = app
            .post("admin", "/v1/tokens", "-", json!({"agency": "cq-jxw", "role": "agency", "name": "经信委系统", "expires_in_days": 1}))
            .await;
        expect(&issued, 201);
        let secret = issued.body["secret"].as_str().unwrap().to_owned();
        let id = issued.body["id"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("chd_") && secret.len() > 40);

        let me = |secret: String| {
            let client = app.client.clone();
            let url = format!("{}/v1/me", app.address);
            async move {
                let r = client.get(url).bearer_auth(secret).send().await.unwrap();
                let status = r.status().as_u16();
                let body: serde_json::Value = r.json().await.unwrap();
                (status, body)
            }
        };
        let (status, body) = me(secret.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(
            (body["agency"].as_str(), body["role"].as_str()),
            (Some("cq-jxw"), Some("agency"))
        );
        assert_eq!(body["token_id"], id.as_str());

        // The list shows it, never a secret; only the hash is stored.
        let list = app.get("admin", "/v1/tokens?limit=200").await;
        expect(&list, 200);
        assert!(!list.body.to_string().contains(&secret));
        assert!(list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == id.as_str()));
        let hash = cohandle_api::auth::secret_hash(&secret);
        let by_hash = stored::by_secret_hash(&app.engine, &hash).await.unwrap();
        assert_eq!(by_hash.map(|t| t.id), Some(id.clone()));
        assert!(!hash.contains(&secret));
        let by_secret = stored::by_secret_hash(&app.engine, &secret).await.unwrap();
        assert_eq!(by_secret, None, "the secret itself is not what is stored");

        // Two days on it has expired.
        app.clock.advance(Duration::days(2));
        let (status, body) = me(secret.clone()).await;
        assert_eq!(status, 401);
        assert_eq!(body["code"], "token_expired");
        app.clock.advance(Duration::days(-2));

        let revoked = app
            .send(
                reqwest::Method::DELETE,
                "admin",
                &format!("/v1/tokens/{id}"),
                None,
                None,
            )
            .await;
        expect(&revoked, 200);
        assert!(revoked.body["revoked_at"].is_string());
        let (status, body) = me(secret).await;
        assert_eq!(status, 401);
        assert_eq!(body["code"], "token_revoked");
        let missing = app
            .send(
                reqwest::Method::DELETE,
                "admin",
                "/v1/tokens/tok_nothing",
                None,
                None,
            )
            .await;
        expect(&missing, 404);
        assert_eq!(missing.code(), "token_not_found");

        let (status, body) = me("chd_not-a-real-token".to_owned()).await;
        assert_eq!(status, 401);
        assert_eq!(body["code"], "token_invalid");
        let basic = app
            .client
            .get(format!("{}/v1/me", app.address))
            .header("authorization", "Basic YTpi")
            .send()
            .await
            .unwrap();
        assert_eq!(basic.status().as_u16(), 401);

        let bad = app
            .post(
                "admin",
                "/v1/tokens",
                "-",
                json!({"agency": "cq-x", "role": "root"}),
            )
            .await;
        expect(&bad, 422);
        let too_long = app
            .post(
                "admin",
                "/v1/tokens",
                "-",
                json!({"agency": "cq-x", "role": "agency", "expires_in_days": 99999}),
            )
            .await;
        expect(&too_long, 422);
    }
}

#[tokio::test]
async fn tokens_go_only_to_registered_agencies_of_their_kind_and_are_bounded() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let issue = |agency: &'static str, role: &'static str| {
            app.post(
                "admin",
                "/v1/tokens",
                "-",
                json!({"agency": agency, "role": role}),
            )
        };
        let kept = || async {
            stored::list(&app.engine, None, 1000)
                .await
                .unwrap()
                .items
                .len()
        };
        let before = kept().await;
        let unknown = issue("cq-nowhere", "congress_office").await;
        expect(&unknown, 422);
        assert_eq!(unknown.code(), "agency_unknown");
        let mismatch = issue("cq-jw", "congress_office").await;
        expect(&mismatch, 422);
        assert_eq!(mismatch.code(), "agency_kind_mismatch");
        assert_eq!(kept().await, before, "nothing was issued");

        // A fuzzer minting tokens is stopped at the bound; revoking one makes room.
        let mut last = None;
        for _ in 1..cohandle_api::tokens::MAX_ACTIVE_PER_ROLE {
            let issued = issue("cq-czj", "agency").await;
            expect(&issued, 201);
            last = issued.body["id"].as_str().map(str::to_owned);
        }
        let refused = issue("cq-czj", "agency").await;
        expect(&refused, 409);
        assert_eq!(refused.code(), "too_many_tokens");
        let id = last.unwrap();
        let revoked = app
            .send(
                reqwest::Method::DELETE,
                "admin",
                &format!("/v1/tokens/{id}"),
                None,
                None,
            )
            .await;
        expect(&revoked, 200);
        expect(&issue("cq-czj", "agency").await, 201);
    }
}
