//! Parts of a page that refresh themselves. The part is rendered first and its hash is its
//! `ETag`; the page's script (`assets/live.js`) asks for the page again every few seconds
//! with `If-None-Match` and, on a changed part, swaps it in without a reload. An unchanged
//! part costs a `304` and no body.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use sha2::{Digest, Sha256};

/// How often a live part asks again, in milliseconds.
pub const POLL_MS: u32 = 3000;

/// The `ETag` of a part: a hash of its HTML.
pub fn etag(part: &Markup) -> String {
    let digest = Sha256::digest(part.0.as_bytes());
    format!("\"{}\"", hex::encode(&digest[..12]))
}

/// The answer for a page whose `part` refreshes itself: `304` when the request already has
/// it, otherwise the whole page (`page` wraps the part it is given).
pub fn answer(headers: &HeaderMap, part: Markup, page: impl FnOnce(Markup) -> Markup) -> Response {
    let tag = etag(&part);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let tag_value = HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\""));
    let cache = (
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if fresh {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, tag_value), cache]).into_response();
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
        [(header::ETAG, tag_value), cache, content_type],
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
        let tag = etag(&part);
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, tag.parse().unwrap());
        let same = answer(&headers, part.clone(), |p| p);
        assert_eq!(same.status(), StatusCode::NOT_MODIFIED);
        let changed = answer(&headers, html! { p { "逾期 2 件" } }, |p| p);
        assert_eq!(changed.status(), StatusCode::OK);
        assert_ne!(changed.headers()[header::ETAG], tag.as_str());
    }
}
