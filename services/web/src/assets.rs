//! The stylesheet and the polling script, compiled into the binary: the workbench loads
//! nothing from outside it (government intranets are offline). Their URLs carry a hash of
//! their content, so a browser may keep them for a year and still gets a new one at once.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::page::Refusal;

/// Every asset: name, media type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "workbench.css",
        "text/css; charset=utf-8",
        include_str!("../assets/workbench.css"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/live.js"),
    ),
];

/// A short hash of all assets, the version in their URLs.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for (_, _, content) in ASSETS {
        hash.update(content.as_bytes());
    }
    hex::encode(&hash.finalize()[..6])
});

/// The URL of an asset, versioned by its content.
pub fn url(name: &str) -> String {
    format!("/assets/{name}?v={}", *VERSION)
}

/// `/assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, media_type, content)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return Refusal::new(StatusCode::NOT_FOUND, "no_such_asset", name).into_response();
    };
    (
        [
            (header::CONTENT_TYPE, *media_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        *content,
    )
        .into_response()
}
