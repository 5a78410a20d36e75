//! Lists and figures as CSV files that Excel opens as they are: UTF-8 with a byte-order mark
//! (so that it reads the Chinese), CRLF line ends, fields quoted by the `csv` crate. The API
//! answers them on `Accept: text/csv` or `format=csv`; the workbench's downloads are the same
//! bytes.

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::Error;

/// The media type of a CSV answer.
pub const TEXT_CSV: &str = "text/csv; charset=utf-8";

/// A header row, then `rows`, as the bytes of a CSV file.
pub fn csv_bytes<R, F>(header: &[&str], rows: R) -> Result<Vec<u8>, csv::Error>
where
    R: IntoIterator<Item = Vec<F>>,
    F: AsRef<[u8]>,
{
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::from("\u{feff}".as_bytes()));
    writer.write_record(header)?;
    for row in rows {
        writer.write_record(row)?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

/// A CSV file as a download named `file_name` that no cache keeps.
pub fn csv_download(file_name: &str, bytes: Vec<u8>) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, TEXT_CSV.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    response
}

/// How a list or the figures are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl Format {
    /// `format` when given (`json` or `csv`), else CSV when the `Accept` header names
    /// `text/csv`, else JSON.
    pub fn asked(format: Option<&str>, headers: &HeaderMap) -> Result<Self, Error> {
        match format {
            Some("json") => return Ok(Self::Json),
            Some("csv") => return Ok(Self::Csv),
            Some(other) => {
                return Err(Error::bad_request(
                    "unknown_filter_value",
                    format!("format is {other:?}; allowed values: json, csv"),
                ))
            }
            None => {}
        }
        let csv = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|item| {
                item.split(';')
                    .next()
                    .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("text/csv"))
            });
        Ok(if csv { Self::Csv } else { Self::Json })
    }
}

/// A CSV answer, or the failure to write one as a server error.
pub fn csv_answer<R, F>(file_name: &str, header: &[&str], rows: R) -> Result<Response, Error>
where
    R: IntoIterator<Item = Vec<F>>,
    F: AsRef<[u8]>,
{
    let bytes = csv_bytes(header, rows).map_err(|e| {
        Error::Store(cohandle_store::Error::Corrupt(format!(
            "a CSV file was not written: {e}"
        )))
    })?;
    Ok(csv_download(file_name, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_open_in_excel_and_quote_what_needs_it() {
        let bytes = csv_bytes(&["号", "题目"], [vec!["0942", "关于\"科技\",创新"]]).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            "\u{feff}号,题目\r\n0942,\"关于\"\"科技\"\",创新\"\r\n"
        );
    }

    #[test]
    fn the_parameter_wins_over_the_accept_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json;q=0.5, text/csv"),
        );
        assert_eq!(Format::asked(None, &headers).unwrap(), Format::Csv);
        assert_eq!(Format::asked(Some("json"), &headers).unwrap(), Format::Json);
        assert_eq!(
            Format::asked(None, &HeaderMap::new()).unwrap(),
            Format::Json
        );
        let refused = Format::asked(Some("xlsx"), &headers).unwrap_err();
        assert_eq!(refused.code(), "unknown_filter_value");
        assert!(refused.to_string().contains("json, csv"), "{refused}");
    }
}
