//! Identifiers and validated names, parsed once at the boundary.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a piece of input is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?} is not valid: {why}")]
pub struct InvalidId {
    pub what: &'static str,
    pub value: String,
    pub why: &'static str,
}

fn check(what: &'static str, value: &str, max: usize, extra: &[char]) -> Result<(), InvalidId> {
    let fail = |why| {
        Err(InvalidId {
            what,
            value: value.chars().take(80).collect(),
            why,
        })
    };
    if value.is_empty() {
        return fail("it is empty");
    }
    if value.len() > max {
        return fail("it is too long");
    }
    if !value
        .chars()
        .all(|c| c.is_alphanumeric() || extra.contains(&c))
    {
        return fail("it holds characters other than letters, digits and - _ . : /");
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr, $extra:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and validates an identifier from outside input.
            pub fn parse(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
                check($what, &value, $max, $extra)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, InvalidId> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                Self::parse(s)
            }
        }
    };
}

id_type!(
    /// The key of one proposal, unique across sessions, e.g. `cq-5-3-0942`.
    ProposalKey,
    "proposal key",
    128,
    &['-', '_', '.', ':', '/']
);
id_type!(
    /// The code of an agency (市科技局 → `cq-kjj`). Agencies authenticate under this code.
    AgencyCode,
    "agency code",
    64,
    &['-', '_', '.']
);
id_type!(
    /// The id of one event, chosen by its sender; duplicates are recognised by it.
    EventId,
    "event id",
    128,
    &['-', '_', '.', ':', '/']
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_codes_and_chinese_names() {
        assert!(AgencyCode::parse("cq-kjj").is_ok());
        assert!(ProposalKey::parse("市五届人大三次会议-0942").is_ok());
    }

    #[test]
    fn rejects_empty_long_and_odd_characters() {
        assert!(AgencyCode::parse("").is_err());
        assert!(AgencyCode::parse("a".repeat(65)).is_err());
        let err = EventId::parse("x'; drop table proposals;--").unwrap_err();
        assert_eq!(err.what, "event id");
        assert!(err.to_string().contains("characters"));
    }

    #[test]
    fn serde_goes_through_parse() {
        let bad: Result<AgencyCode, _> = serde_json::from_str("\"a b\"");
        assert!(bad.is_err());
    }
}
