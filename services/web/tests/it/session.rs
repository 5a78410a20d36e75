//! Sign-in, the session cookie, sign-out, and the CSRF pairing of the sign-in form.

use crate::support::{browser, field, spawn_app};

#[tokio::test]
async fn signing_in_sets_an_httponly_strict_cookie_and_signing_out_drops_it() {
    let app = spawn_app().await;
    let client = browser();
    let unsigned = app.get(&client, "/board").await;
    assert_eq!(unsigned.status, 303);
    assert_eq!(unsigned.location(), "/signin");

    let form = app.get(&client, "/signin").await;
    assert!(form.text.contains("令牌"), "{}", form.text);
    let csrf = field(&form.text, "action=\"/signin\"", "csrf");
    let signed = app
        .post(
            &client,
            "/signin",
            &[("token", &app.secrets["supervisor"]), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(signed.status, 303);
    let session = signed
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("cohandle_session="))
        .unwrap();
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Strict"), "{session}");
    assert!(!session.contains("Secure"), "plain HTTP: {session}");

    let home = app.get(&client, "/").await;
    assert_eq!(home.location(), "/board");
    let board = app.get(&client, "/board").await;
    assert_eq!(board.status, 200);
    let policy = board.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"));
    assert_eq!(board.headers["x-frame-options"], "DENY");
    assert!(board.text.contains("期限看板") && board.text.contains("cq-dc"));

    let csrf = field(&board.text, "action=\"/signout\"", "csrf");
    let out = app.post(&client, "/signout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location(), "/signin");
    assert_eq!(app.get(&client, "/board").await.location(), "/signin");
}

#[tokio::test]
async fn behind_tls_the_cookie_is_secure() {
    let app = spawn_app().await;
    let client = browser();
    let form = app.get(&client, "/signin").await;
    let csrf = field(&form.text, "action=\"/signin\"", "csrf");
    let signed = client
        .post(app.url("/signin"))
        .header("x-forwarded-proto", "https")
        .form(&[("token", app.secrets["jw"].as_str()), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("cohandle_session=") && c.contains("Secure")),
        "{cookies:?}"
    );
}

#[tokio::test]
async fn a_sign_in_without_its_paired_csrf_or_with_a_bad_token_is_refused() {
    let app = spawn_app().await;
    // Another site's form: no pairing cookie.
    let forged = app
        .post(
            &browser(),
            "/signin",
            &[("token", &app.secrets["jw"]), ("csrf", "x")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.text.contains("表单已失效"), "{}", forged.text);

    let client = browser();
    let form = app.get(&client, "/signin").await;
    let csrf = field(&form.text, "action=\"/signin\"", "csrf");
    let bad = app
        .post(
            &client,
            "/signin",
            &[("token", "chd_not_a_token"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(bad.status, 401);
    assert!(bad.text.contains("令牌无效"), "{}", bad.text);
    assert!(bad
        .set_cookies()
        .iter()
        .all(|c| !c.starts_with("cohandle_session=")));
}

#[tokio::test]
async fn the_assets_are_embedded_and_cached() {
    let app = spawn_app().await;
    let client = browser();
    for name in ["workbench.css", "live.js"] {
        let asset = app.get(&client, &format!("/assets/{name}")).await;
        assert_eq!(asset.status, 200);
        assert!(asset.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable"));
        assert!(!asset.text.contains("http://") && !asset.text.contains("https://"));
    }
    assert_eq!(app.get(&client, "/assets/nothing.js").await.status, 404);
}

#[tokio::test]
async fn the_api_answers_beside_the_workbench() {
    let app = spawn_app().await;
    let client = browser();
    assert_eq!(app.get(&client, "/openapi.json").await.status, 200);
    let me = client
        .get(app.url("/v1/me"))
        .bearer_auth(&app.secrets["jw"])
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 200);
    // An unknown path is still the API's problem document, not a page.
    let missing = app.get(&client, "/nothing-here").await;
    assert_eq!(missing.status, 404);
    assert!(missing.text.contains("no_such_route"));
}
