//! Reading one wire field into a domain value, and writing it back. Every reader names the
//! field in its error; ids go through the domain's own `parse`.

use chrono::{DateTime, NaiveDate, Utc};
use cohandle_workflows::ids::{AgencyCode, EventId, ProposalKey};
use pbjson_types::Timestamp;

use crate::Error;

pub(crate) fn agency(field: &str, value: String) -> Result<AgencyCode, Error> {
    AgencyCode::parse(value).map_err(|source| invalid_id(field, source))
}

pub(crate) fn proposal_key(field: &str, value: String) -> Result<ProposalKey, Error> {
    ProposalKey::parse(value).map_err(|source| invalid_id(field, source))
}

pub(crate) fn event_id(field: &str, value: String) -> Result<EventId, Error> {
    EventId::parse(value).map_err(|source| invalid_id(field, source))
}

/// An id that may be left out: the empty string means absent.
pub(crate) fn optional_event_id(field: &str, value: String) -> Result<Option<EventId>, Error> {
    if value.is_empty() {
        Ok(None)
    } else {
        event_id(field, value).map(Some)
    }
}

pub(crate) fn agencies(field: &str, values: Vec<String>) -> Result<Vec<AgencyCode>, Error> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| agency(&format!("{field}[{i}]"), value))
        .collect()
}

fn invalid_id(field: &str, source: cohandle_workflows::ids::InvalidId) -> Error {
    Error::InvalidId {
        field: field.to_owned(),
        source,
    }
}

/// A calendar date written exactly `YYYY-MM-DD`.
pub(crate) fn date(field: &str, value: &str) -> Result<NaiveDate, Error> {
    let shaped = value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    shaped
        .then(|| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| Error::InvalidDate {
            field: field.to_owned(),
            value: value.chars().take(40).collect(),
        })
}

/// A date that may be left out: the empty string means absent.
pub(crate) fn optional_date(field: &str, value: &str) -> Result<Option<NaiveDate>, Error> {
    if value.is_empty() {
        Ok(None)
    } else {
        date(field, value).map(Some)
    }
}

pub(crate) fn write_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

pub(crate) fn write_optional_date(date: Option<NaiveDate>) -> String {
    date.map(write_date).unwrap_or_default()
}

/// The instants a `google.protobuf.Timestamp` may hold: 0001-01-01 to 9999-12-31, as RFC 3339
/// can write them; the same bounds hold for both encodings.
const MIN_SECONDS: i64 = -62_135_596_800;
const MAX_SECONDS: i64 = 253_402_300_799;

pub(crate) fn instant(field: &str, value: Option<Timestamp>) -> Result<DateTime<Utc>, Error> {
    let Timestamp { seconds, nanos } = value.ok_or_else(|| missing(field))?;
    let in_range =
        (MIN_SECONDS..=MAX_SECONDS).contains(&seconds) && (0..1_000_000_000).contains(&nanos);
    in_range
        .then(|| DateTime::from_timestamp(seconds, nanos.unsigned_abs()))
        .flatten()
        .ok_or_else(|| Error::InvalidTimestamp {
            field: field.to_owned(),
            seconds,
            nanos,
        })
}

pub(crate) fn write_instant(instant: DateTime<Utc>) -> Timestamp {
    instant.into()
}

pub(crate) fn missing(field: &str) -> Error {
    Error::Missing {
        field: field.to_owned(),
    }
}

/// A domain enum and the proto enum that carries it, whose zero value is `Unspecified`.
pub(crate) trait WireEnum: Sized + Copy {
    type Wire: TryFrom<i32> + Into<i32>;

    fn to_wire(self) -> Self::Wire;

    /// `None` for the wire's `Unspecified`.
    fn from_wire(wire: Self::Wire) -> Option<Self>;
}

pub(crate) fn read_enum<E: WireEnum>(field: &str, value: i32) -> Result<E, Error> {
    let wire = E::Wire::try_from(value).map_err(|_| Error::UnknownEnumValue {
        field: field.to_owned(),
        value,
    })?;
    E::from_wire(wire).ok_or_else(|| Error::Unspecified {
        field: field.to_owned(),
    })
}

pub(crate) fn write_enum<E: WireEnum>(value: E) -> i32 {
    value.to_wire().into()
}

/// Pairs the variants of a domain enum with those of its proto enum. Both matches are
/// exhaustive, so a variant added on either side fails to compile until it is paired.
macro_rules! wire_enum {
    ($dm:ident :: $domain:ident => $wm:ident :: $wire:ident { $($d:ident = $w:ident),+ $(,)? }) => {
        impl $crate::field::WireEnum for $dm::$domain {
            type Wire = $wm::$wire;

            fn to_wire(self) -> $wm::$wire {
                match self {
                    $($dm::$domain::$d => $wm::$wire::$w,)+
                }
            }

            fn from_wire(wire: $wm::$wire) -> Option<Self> {
                match wire {
                    $wm::$wire::Unspecified => None,
                    $($wm::$wire::$w => Some($dm::$domain::$d),)+
                }
            }
        }
    };
}
pub(crate) use wire_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_exactly_year_month_day() {
        assert_eq!(
            date("d", "2020-02-29").unwrap(),
            NaiveDate::from_ymd_opt(2020, 2, 29).unwrap()
        );
        for bad in [
            "",
            "2021-02-29",
            "2020-2-29",
            "20200229",
            "2020-02-29T00:00:00Z",
            "+2020-02-2",
            "２０２０-02-29",
            "2020/02/29",
        ] {
            let error = date("assign.assigned_on", bad).unwrap_err();
            assert!(
                matches!(&error, Error::InvalidDate { field, .. } if field == "assign.assigned_on"),
                "{bad}: {error}"
            );
        }
        assert_eq!(optional_date("d", "").unwrap(), None);
    }

    #[test]
    fn timestamps_outside_rfc3339_years_are_refused() {
        let at = |seconds, nanos| instant("occurred_at", Some(Timestamp { seconds, nanos }));
        assert!(at(0, 0).is_ok());
        assert!(at(MAX_SECONDS, 999_999_999).is_ok());
        assert!(at(MIN_SECONDS, 0).is_ok());
        assert!(at(MAX_SECONDS + 1, 0).is_err());
        assert!(at(MIN_SECONDS - 1, 0).is_err());
        assert!(at(0, -1).is_err());
        assert!(at(0, 1_000_000_000).is_err());
        assert!(at(i64::MIN, i32::MIN).is_err());
        assert!(matches!(
            instant("occurred_at", None),
            Err(Error::Missing { field }) if field == "occurred_at"
        ));
    }

    #[test]
    fn ids_go_through_the_domain_parsers() {
        let error = agency("actor_agency", "a b".into()).unwrap_err();
        assert_eq!(error.field(), Some("actor_agency"));
        assert!(error.to_string().contains("agency code"), "{error}");
        let error = agencies(
            "draft_reply.co_handler_views",
            vec!["ok".into(), String::new()],
        )
        .unwrap_err();
        assert_eq!(error.field(), Some("draft_reply.co_handler_views[1]"));
        assert_eq!(
            optional_event_id("causation_id", String::new()).unwrap(),
            None
        );
    }
}
