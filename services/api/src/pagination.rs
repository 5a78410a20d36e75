//! Cursor pagination: a list answers one page and an opaque cursor for the next. The cursor
//! holds the sort key of the last item, so pages stay stable while rows are added.

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Error;

/// Items per page when the request does not say.
pub const DEFAULT_LIMIT: u64 = 50;
/// The most items one page may hold.
pub const MAX_LIMIT: u64 = 200;

/// An opaque position in a list, as received from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// Encodes the sort key of the last item on a page.
    pub fn encode(key: &impl Serialize) -> Result<String, Error> {
        let json = serde_json::to_vec(key).map_err(|e| {
            cohandle_store::Error::Corrupt(format!("a cursor does not encode: {e}"))
        })?;
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
    }

    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let invalid = || {
            Error::bad_request(
                "invalid_cursor",
                "the cursor is not one this list gave out; start again without it",
            )
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&self.0)
            .map_err(|_| invalid())?;
        serde_json::from_slice(&bytes).map_err(|_| invalid())
    }
}

/// Checks a requested page size.
pub fn limit(requested: Option<u64>) -> Result<u64, Error> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(Error::bad_request(
            "invalid_limit",
            format!("limit is {n}; a page holds 1 to {MAX_LIMIT} items"),
        )),
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Every item the filters select, when asked for with `total=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

impl<T> Page<T> {
    /// A page the store read, with the cursor of its last item when more follow.
    pub fn from_store(
        page: cohandle_store::queries::Page<T>,
        key: impl Fn(&T) -> Result<String, Error>,
    ) -> Result<Self, Error> {
        let next_cursor = match (page.more, page.items.last()) {
            (true, Some(last)) => Some(key(last)?),
            _ => None,
        };
        Ok(Self {
            items: page.items,
            next_cursor,
            total: None,
        })
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
            total: self.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let text = Cursor::encode(&("2020-06-01", "cq-1", 2)).unwrap();
        let back: (String, String, i32) = Cursor::new(text).decode().unwrap();
        assert_eq!(back, ("2020-06-01".into(), "cq-1".into(), 2));
        let err = Cursor::new("%%%".into()).decode::<(String,)>().unwrap_err();
        assert_eq!(err.code(), "invalid_cursor");
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(Some(200)).unwrap(), 200);
        assert_eq!(limit(Some(201)).unwrap_err().code(), "invalid_limit");
        assert_eq!(limit(Some(0)).unwrap_err().code(), "invalid_limit");
    }

    #[test]
    fn a_page_says_whether_another_follows() {
        let stored = |items: Vec<i32>, more| cohandle_store::queries::Page { items, more };
        let page = Page::from_store(stored(vec![1, 2], true), |n| Ok(n.to_string())).unwrap();
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next_cursor.as_deref(), Some("2"));
        let last = Page::from_store(stored(vec![1], false), |n| Ok(n.to_string())).unwrap();
        assert_eq!(last.next_cursor, None);
    }
}
