//! Lists as CSV files: UTF-8 with a byte-order mark (so that Excel reads the Chinese), CRLF
//! line ends, quoted by the `csv` crate, offered as a download that no cache keeps.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::page::Refusal;

/// A CSV download named `file_name`: a header row, then `rows`.
pub fn csv<R, F>(file_name: &str, header: &[&str], rows: R) -> Result<Response, Refusal>
where
    R: IntoIterator<Item = Vec<F>>,
    F: AsRef<[u8]>,
{
    let failed =
        |e: csv::Error| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string());
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::from("\u{feff}".as_bytes()));
    writer.write_record(header).map_err(failed)?;
    for row in rows {
        writer.write_record(row).map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| failed(csv::Error::from(e.into_error())))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}
