//! A page of a list.

use serde::Serialize;

/// One page of a list: at most the limit asked for, and whether more follow the last item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub more: bool,
}

impl<T> Page<T> {
    /// Rows fetched with `limit + 1`: the extra row only says that a next page exists.
    pub(crate) fn of(mut rows: Vec<T>, limit: u64) -> Self {
        let more = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Self { items: rows, more }
    }
}
