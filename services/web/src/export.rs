//! Lists as CSV downloads: the API's own files ([`cohandle_api::export`]), UTF-8 with a
//! byte-order mark so that Excel reads the Chinese.

use axum::http::StatusCode;
use axum::response::Response;

use crate::page::Refusal;

/// A CSV download named `file_name`: a header row, then `rows`.
pub fn csv<R, F>(file_name: &str, header: &[&str], rows: R) -> Result<Response, Refusal>
where
    R: IntoIterator<Item = Vec<F>>,
    F: AsRef<[u8]>,
{
    let bytes = cohandle_api::export::csv_bytes(header, rows)
        .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    Ok(cohandle_api::export::csv_download(file_name, bytes))
}
