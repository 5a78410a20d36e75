//! Parts of a page that refresh themselves. The part is rendered first and its hash is its
//! `ETag`; the page's script (`assets/live.js`) asks for the page again every few seconds
//! with `If-None-Match` and, on a changed part, swaps it in without a reload. An unchanged
//! part costs a `304` and no body. The tag also covers the session, because the rest of the
//! page (who is signed in, the CSRF token of its forms) is the visitor's: another token's
//! browser never gets a `304` for a page cached under someone else.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use sha2::{Digest, Sha256};

/// How often a live part asks again, in milliseconds.
pub const POLL_MS: u32 = 3000;

/// The `ETag` of a part seen in a session: a hash of both.
pub fn etag(session: &str, part: &Markup) -> String {
    let mut hash = Sha256::new();
    hash.update(session.as_bytes());
    hash.update([0]);
    hash.update(part.0.as_bytes());
    let digest = hash.finalize();
    format!("\"{}\"", hex::encode(&digest[..12]))
}

/// The answer for a page whose `part` refreshes itself: `304` when the request already has
/// it, otherwise the whole page (`page` wraps the part it is given). `session` names the
/// visitor's session (its CSRF token does).
pub fn answer(
    headers: &HeaderMap,
    session: &str,
    part: Markup,
    page: impl FnOnce(Markup) -> Markup,
) -> Response {
    let tag = etag(session, &part);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let tag_value = HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\""));
    let cache = (
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    let vary = (header::VARY, HeaderValue::from_static("Cookie"));
    if fresh {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, tag_value), cache, vary],
        )
            .into_response();
    }
    let wrapped = html! {
        div.live data-live="" data-etag=(tag) data-interval=(POLL_MS) { (part) }
    };
    let content_type = (
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    (
        StatusCode::OK,
        [(header::ETAG, tag_value), cache, vary, content_type],
        page(wrapped).into_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_part_answers_304_and_a_changed_one_the_page() {
        let part = html! { p { "逾期 1 件" } };
        let tag = etag("s1", &part);
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, tag.parse().unwrap());
        let same = answer(&headers, "s1", part.clone(), |p| p);
        assert_eq!(same.status(), StatusCode::NOT_MODIFIED);
        // The same list in another session is another page (its header, its forms).
        let other = answer(&headers, "s2", part.clone(), |p| p);
        assert_eq!(other.status(), StatusCode::OK);
        let changed = answer(&headers, "s1", html! { p { "逾期 2 件" } }, |p| p);
        assert_eq!(changed.status(), StatusCode::OK);
        assert_ne!(changed.headers()[header::ETAG], tag.as_str());
    }
}
