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

/// The alphabet of an identifier: ASCII only, so that no two keys look alike (a full-width
/// `ＣＱ` or a Cyrillic `с` is refused, never taken as another key).
#[derive(Debug, Clone, Copy)]
struct Alphabet {
    /// Upper-case letters allowed (event ids are the client's; keys and codes are lower-case).
    upper: bool,
    /// Punctuation allowed besides letters and digits.
    extra: &'static [char],
    /// Described in refusals.
    describe: &'static str,
}

fn check(what: &'static str, value: &str, max: usize, alphabet: Alphabet) -> Result<(), InvalidId> {
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
    let allowed = |c: char| {
        c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || (alphabet.upper && c.is_ascii_uppercase())
            || alphabet.extra.contains(&c)
    };
    if !value.chars().all(allowed) {
        if value
            .chars()
            .any(|c| ('\u{FF01}'..='\u{FF5E}').contains(&c))
        {
            return fail("it holds full-width characters; write them in ASCII");
        }
        return fail(alphabet.describe);
    }
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return fail("it must begin with a letter or a digit");
    }
    Ok(())
}

/// Proposal keys and agency codes: they are path segments of the API and routing keys of
/// the bus.
const KEY: Alphabet = Alphabet {
    upper: false,
    extra: &['-', '_', '.'],
    describe: "it holds characters other than a-z, 0-9 and - _ . (ASCII, lower case)",
};

/// Event ids (and Idempotency-Keys): the sender's own ids.
const EVENT: Alphabet = Alphabet {
    upper: true,
    extra: &['-', '_', '.', ':', '/'],
    describe: "it holds characters other than A-Z, a-z, 0-9 and - _ . : / (ASCII)",
};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr, $alphabet:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and validates an identifier from outside input.
            pub fn parse(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
                check($what, &value, $max, $alphabet)?;
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
    /// The key of one proposal, unique across sessions, e.g. `cq-5-3-0942`: 1 to 128 of
    /// `a-z 0-9 - _ .`, beginning with a letter or a digit.
    ProposalKey,
    "proposal key",
    128,
    KEY
);
id_type!(
    /// The code of an agency (市科技局 → `cq-kjj`): 1 to 64 of `a-z 0-9 - _ .`, beginning with
    /// a letter or a digit. Agencies authenticate under this code.
    AgencyCode,
    "agency code",
    64,
    KEY
);
id_type!(
    /// The id of one event, chosen by its sender (1 to 256 of `A-Z a-z 0-9 - _ . : /`,
    /// beginning with a letter or a digit); duplicates are recognised by it.
    EventId,
    "event id",
    256,
    EVENT
);

impl ProposalKey {
    /// The alphabet as a regular expression, for documents such as the OpenAPI description.
    pub const PATTERN: &'static str = "^[a-z0-9][a-z0-9._-]{0,127}$";
}

impl AgencyCode {
    /// The alphabet as a regular expression, for documents such as the OpenAPI description.
    pub const PATTERN: &'static str = "^[a-z0-9][a-z0-9._-]{0,63}$";
}

/// An `Idempotency-Key` as a regular expression (see [`check_idempotency_key`]).
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$";

/// The longest `Idempotency-Key` the HTTP door takes.
pub const IDEMPOTENCY_KEY_MAX: usize = 128;

/// Checks a client's `Idempotency-Key`: the event id alphabet, at most
/// [`IDEMPOTENCY_KEY_MAX`] characters.
pub fn check_idempotency_key(key: &str) -> Result<(), InvalidId> {
    check("Idempotency-Key", key, IDEMPOTENCY_KEY_MAX, EVENT)
}

impl EventId {
    /// The prefix of the ids the HTTP door gives events, `http/<agency>/<role>/<key>`:
    /// reserved for it (the bus refuses an envelope whose id begins with it), so that a key
    /// is its caller's alone and nobody can take it first.
    pub const HTTP_PREFIX: &'static str = "http/";

    /// The id of an event sent over HTTP by `agency` under `role` with the client's `key`.
    pub fn from_http(agency: &AgencyCode, role: &str, key: &str) -> Result<Self, InvalidId> {
        check_idempotency_key(key)?;
        Self::parse(format!("{}{agency}/{role}/{key}", Self::HTTP_PREFIX))
    }

    /// Whether the id is one the HTTP door made.
    pub fn is_http(&self) -> bool {
        self.0.starts_with(Self::HTTP_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_codes_and_keys() {
        assert!(AgencyCode::parse("cq-kjj").is_ok());
        assert!(ProposalKey::parse("cq-5-3-0942").is_ok());
        assert!(ProposalKey::parse("cppcc.5-3_0101").is_ok());
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
    fn keys_that_look_like_others_or_like_paths_are_refused() {
        for key in [
            "..",
            ".hidden",
            "ext-q/tasks/cq-jw",
            "cq:5",
            "CQ-5-3-0942",
            "市五届人大三次会议-0942",
            // Cyrillic с and у, full-width letters.
            "\u{441}q-5-3-0942",
            "cq-5-3-0942\u{443}",
            "\u{FF23}\u{FF31}-5-3-0942",
        ] {
            assert!(ProposalKey::parse(key).is_err(), "{key}");
            assert!(AgencyCode::parse(key).is_err(), "{key}");
        }
        let full_width = ProposalKey::parse("\u{FF23}\u{FF31}-5-3-0942").unwrap_err();
        assert!(full_width.why.contains("full-width"), "{full_width}");
        assert!(EventId::parse("\u{441}-ack").is_err());
        assert!(EventId::parse("Evt-1:a/b").is_ok());
    }

    #[test]
    fn http_ids_carry_their_caller() {
        let jw = AgencyCode::parse("cq-jw").unwrap();
        let id = EventId::from_http(&jw, "agency", "jw-ack-X").unwrap();
        assert_eq!(id.as_str(), "http/cq-jw/agency/jw-ack-X");
        assert!(id.is_http());
        assert!(!EventId::parse("jw-ack-X").unwrap().is_http());
        assert!(EventId::from_http(&jw, "agency", &"k".repeat(129)).is_err());
        assert!(EventId::from_http(&jw, "agency", &"k".repeat(128)).is_ok());
    }

    #[test]
    fn serde_goes_through_parse() {
        let bad: Result<AgencyCode, _> = serde_json::from_str("\"a b\"");
        assert!(bad.is_err());
    }
}
