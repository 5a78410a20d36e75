//! The tamper-evident history: each row's hash covers its content and the previous row's
//! hash within the same proposal, so an edited, removed or inserted row breaks the chain.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use sha2::{Digest, Sha256};

use crate::entities::history;
use crate::handle::{connection, Handle};
use crate::Error;

/// The hash before a proposal's first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of one row, given the one before it.
pub fn row_hash(row: &history::Model) -> String {
    let fields = [
        row.prev_hash.as_str(),
        &row.proposal_key,
        &row.seq.to_string(),
        &row.event_id,
        &row.event_type,
        &row.machine,
        row.agency.as_deref().unwrap_or(""),
        &row.from_state,
        &row.to_state,
        &row.actor_agency,
        &row.actor_role,
        &row.occurred_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        &row.recorded_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        &row.definition_version.to_string(),
        &row.payload,
        row.detail.as_deref().unwrap_or(""),
    ];
    let mut hasher = Sha256::new();
    for field in fields {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The first broken link found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub proposal_key: String,
    pub seq: i64,
    pub reason: String,
}

/// What a verification saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub proposals: usize,
    pub rows: usize,
    pub broken: Option<BrokenLink>,
}

/// Walks every chain (or one proposal's) and reports the first broken link.
pub async fn verify(store: &impl Handle, proposal: Option<&str>) -> Result<Verification, Error> {
    let mut query = history::Entity::find()
        .order_by_asc(history::Column::ProposalKey)
        .order_by_asc(history::Column::Seq);
    if let Some(key) = proposal {
        query = query.filter(history::Column::ProposalKey.eq(key));
    }
    let rows = query.all(connection(store)).await?;
    let mut report = Verification {
        proposals: 0,
        rows: rows.len(),
        broken: None,
    };
    let mut current: Option<&str> = None;
    let mut expected_prev = GENESIS.to_owned();
    let mut expected_seq = 1;
    for row in &rows {
        if current != Some(row.proposal_key.as_str()) {
            current = Some(&row.proposal_key);
            report.proposals += 1;
            expected_prev = GENESIS.to_owned();
            expected_seq = 1;
        }
        let broken = |reason: String| BrokenLink {
            proposal_key: row.proposal_key.clone(),
            seq: row.seq,
            reason,
        };
        let problem = if row.seq != expected_seq {
            Some(format!(
                "row {} follows row {}: a row is missing or was inserted",
                row.seq,
                expected_seq - 1
            ))
        } else if row.prev_hash != expected_prev {
            Some("it does not point at the hash of the row before it".to_owned())
        } else if row_hash(row) != row.hash {
            Some("its content does not match its hash: the row was changed".to_owned())
        } else {
            None
        };
        if let Some(reason) = problem {
            report.broken = Some(broken(reason));
            return Ok(report);
        }
        expected_prev = row.hash.clone();
        expected_seq += 1;
    }
    Ok(report)
}
