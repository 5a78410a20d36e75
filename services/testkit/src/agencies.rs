//! Registering the agencies a test's events come from, as an operator does with
//! `cohandle agency add` before they may send.

use chrono::{TimeZone, Utc};
use cohandle_store::agencies::{self, Agency, Known};
use cohandle_store::jurisdictions;
use cohandle_store::Engine;

/// The agencies of case 0942: (code, kind).
pub const CASE_0942: &[(&str, &str)] = &[
    ("cq-zfbgt", "assigner"),
    ("cq-rdgw", "congress_office"),
    ("cq-kjj", "agency"),
    ("cq-jw", "agency"),
    ("cq-czj", "agency"),
    ("cq-dc", "supervisor"),
];

/// The jurisdiction every agency a test registers serves: Chongqing's municipal congress,
/// case 0942's, whose code begins the tests' proposal keys (`cq-…`).
pub const JURISDICTION: &str = "cq";

/// Registers `code` as `kind` (named by its code), serving [`JURISDICTION`].
pub async fn register(engine: &Engine, code: &str, kind: &str) {
    register_serving(engine, code, kind, Some(JURISDICTION))
        .await
        .unwrap();
}

/// Registers `code` as `kind` (named by its code), serving `jurisdiction` if given.
pub async fn register_serving(
    engine: &Engine,
    code: &str,
    kind: &str,
    jurisdiction: Option<&str>,
) -> Result<(), cohandle_store::Error> {
    agencies::register_with(
        engine,
        Agency {
            code: code.to_owned(),
            name: code.to_owned(),
            kind: kind.to_owned(),
            created_at: Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap(),
        },
        Known::Update,
    )
    .await?;
    if let Some(jurisdiction) = jurisdiction {
        jurisdictions::join(engine, jurisdiction, &[code.to_owned()]).await?;
    }
    Ok(())
}

/// Registers every agency of `list`.
pub async fn register_all(engine: &Engine, list: &[(&str, &str)]) {
    for (code, kind) in list {
        register(engine, code, kind).await;
    }
}
