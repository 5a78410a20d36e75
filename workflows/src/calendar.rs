//! Deadline arithmetic: calendar months and days, and working days over the official
//! holiday arrangement (法定节假日 and 调休 make-up working days), shipped as data.
//!
//! The calendar knows only the years its data covers. Working-day arithmetic that reaches
//! outside them is an error, never a guess: a Saturday in a year whose notice has not been
//! published may yet become a working day.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// The official arrangement for 2020–2026, as published by the State Council General Office.
pub const CHINA_OFFICIAL_TSV: &str = include_str!("../calendar/cn-official.tsv");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{source_name}:{line}: {message}")]
    Data {
        source_name: String,
        line: usize,
        message: String,
    },
    #[error(
        "{date} is outside the holiday data, which covers {first}..={last}; \
         add that year's official arrangement to count working days there"
    )]
    OutsideData {
        date: NaiveDate,
        first: i32,
        last: i32,
    },
    #[error(
        "duration {0:?} is not valid: write a whole number and a unit, e.g. 3m, 10d, 1w, 20wd"
    )]
    Duration(String),
    #[error("adding {0} to {1} leaves the range of dates")]
    Overflow(DurationSpec, NaiveDate),
}

/// What kind of day the arrangement makes of a date that differs from a Monday-to-Friday week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    Holiday,
    Workday,
}

/// The official working-day calendar over the years its data covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    exceptions: BTreeMap<NaiveDate, DayKind>,
    first_year: i32,
    last_year: i32,
}

impl Calendar {
    /// The calendar shipped with cohandle.
    pub fn china_official() -> Self {
        Self::from_tsv("cn-official.tsv", CHINA_OFFICIAL_TSV)
            .expect("the shipped calendar is checked by the tests")
    }

    /// Reads `date<TAB>kind[<TAB>festival]` lines; `#` starts a comment, the `date kind`
    /// header line is skipped. The years covered are those the lines mention.
    pub fn from_tsv(source_name: &str, text: &str) -> Result<Self, Error> {
        let mut exceptions = BTreeMap::new();
        let bad = |line, message: String| Error::Data {
            source_name: source_name.to_owned(),
            line,
            message,
        };
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.trim_end();
            if content.trim().is_empty()
                || content.starts_with('#')
                || content.starts_with("date\t")
            {
                continue;
            }
            let mut fields = content.split('\t');
            let date_text = fields.next().unwrap_or_default().trim();
            let kind_text = fields.next().unwrap_or_default().trim();
            let date = NaiveDate::parse_from_str(date_text, "%Y-%m-%d")
                .map_err(|_| bad(line, format!("{date_text:?} is not a date like 2020-01-24")))?;
            let weekend = is_weekend(date);
            let kind = match kind_text {
                "holiday" if weekend => {
                    return Err(bad(
                        line,
                        format!("{date} is a weekend day; list only weekday holidays"),
                    ))
                }
                "workday" if !weekend => {
                    return Err(bad(
                        line,
                        format!("{date} is a weekday; a make-up working day falls on a weekend"),
                    ))
                }
                "holiday" => DayKind::Holiday,
                "workday" => DayKind::Workday,
                other => {
                    return Err(bad(
                        line,
                        format!("kind {other:?} is neither holiday nor workday"),
                    ))
                }
            };
            if exceptions.insert(date, kind).is_some() {
                return Err(bad(line, format!("{date} is listed twice")));
            }
        }
        let (Some(first), Some(last)) = (exceptions.keys().next(), exceptions.keys().next_back())
        else {
            return Err(bad(0, "the calendar lists no days".to_owned()));
        };
        let (first_year, last_year) = (first.year(), last.year());
        Ok(Self {
            exceptions,
            first_year,
            last_year,
        })
    }

    /// A calendar with this one's days, corrected or extended by `other`'s: every year that
    /// `other` covers is taken from `other` whole.
    pub fn corrected_by(&self, other: &Calendar) -> Calendar {
        let mut exceptions: BTreeMap<NaiveDate, DayKind> = self
            .exceptions
            .iter()
            .filter(|(d, _)| d.year() < other.first_year || d.year() > other.last_year)
            .map(|(d, k)| (*d, *k))
            .collect();
        exceptions.extend(other.exceptions.iter().map(|(d, k)| (*d, *k)));
        Calendar {
            exceptions,
            first_year: self.first_year.min(other.first_year),
            last_year: self.last_year.max(other.last_year),
        }
    }

    pub fn years(&self) -> (i32, i32) {
        (self.first_year, self.last_year)
    }

    pub fn covers(&self, date: NaiveDate) -> bool {
        (self.first_year..=self.last_year).contains(&date.year())
    }

    fn ensure_covered(&self, date: NaiveDate) -> Result<(), Error> {
        if self.covers(date) {
            Ok(())
        } else {
            Err(Error::OutsideData {
                date,
                first: self.first_year,
                last: self.last_year,
            })
        }
    }

    /// Whether `date` is a working day under the official arrangement.
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, Error> {
        self.ensure_covered(date)?;
        Ok(match self.exceptions.get(&date) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::Workday) => true,
            None => !is_weekend(date),
        })
    }

    /// The `n`th working day after `start` (the start day itself does not count).
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> Result<NaiveDate, Error> {
        let mut date = start;
        let mut left = n;
        while left > 0 {
            date = next_day(date)?;
            if self.is_working_day(date)? {
                left -= 1;
            }
        }
        Ok(date)
    }

    /// The `n`th working day before `end`.
    pub fn sub_working_days(&self, end: NaiveDate, n: u32) -> Result<NaiveDate, Error> {
        let mut date = end;
        let mut left = n;
        while left > 0 {
            date = date.pred_opt().ok_or(Error::OutsideData {
                date,
                first: self.first_year,
                last: self.last_year,
            })?;
            if self.is_working_day(date)? {
                left -= 1;
            }
        }
        Ok(date)
    }

    /// Working days after `from` up to and including `to` (0 when `to` is not after `from`).
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> Result<u32, Error> {
        let mut count = 0;
        let mut date = from;
        while date < to {
            date = next_day(date)?;
            if self.is_working_day(date)? {
                count += 1;
            }
        }
        Ok(count)
    }

    /// `date` itself when it is a working day, or else the first working day after it.
    pub fn roll_to_working_day(&self, date: NaiveDate) -> Result<NaiveDate, Error> {
        let mut date = date;
        while !self.is_working_day(date)? {
            date = next_day(date)?;
        }
        Ok(date)
    }

    /// `start` + `duration`. Months are calendar months clamped to the end of the month
    /// (31 January + 1 month = 29 February 2020).
    pub fn add(&self, start: NaiveDate, duration: DurationSpec) -> Result<NaiveDate, Error> {
        let overflow = || Error::Overflow(duration, start);
        match duration.unit {
            Unit::Months => start
                .checked_add_months(Months::new(duration.amount))
                .ok_or_else(overflow),
            Unit::Weeks => start
                .checked_add_days(Days::new(u64::from(duration.amount) * 7))
                .ok_or_else(overflow),
            Unit::Days => start
                .checked_add_days(Days::new(u64::from(duration.amount)))
                .ok_or_else(overflow),
            Unit::WorkingDays => self.add_working_days(start, duration.amount),
        }
    }

    /// `end` − `duration`, the mirror of [`Calendar::add`], used for reminder moments.
    pub fn sub(&self, end: NaiveDate, duration: DurationSpec) -> Result<NaiveDate, Error> {
        let overflow = || Error::Overflow(duration, end);
        match duration.unit {
            Unit::Months => end
                .checked_sub_months(Months::new(duration.amount))
                .ok_or_else(overflow),
            Unit::Weeks => end
                .checked_sub_days(Days::new(u64::from(duration.amount) * 7))
                .ok_or_else(overflow),
            Unit::Days => end
                .checked_sub_days(Days::new(u64::from(duration.amount)))
                .ok_or_else(overflow),
            Unit::WorkingDays => self.sub_working_days(end, duration.amount),
        }
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn next_day(date: NaiveDate) -> Result<NaiveDate, Error> {
    date.succ_opt().ok_or(Error::Overflow(
        DurationSpec {
            amount: 1,
            unit: Unit::Days,
        },
        date,
    ))
}

/// The unit of a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Months,
    Weeks,
    Days,
    WorkingDays,
}

/// A duration as the rules write it: `3m`, `1w`, `10d`, `20wd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DurationSpec {
    pub amount: u32,
    pub unit: Unit,
}

impl DurationSpec {
    pub fn counts_working_days(&self) -> bool {
        self.unit == Unit::WorkingDays
    }
}

impl FromStr for DurationSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let text = s.trim();
        let digits_end = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| Error::Duration(s.to_owned()))?;
        let (number, unit) = text.split_at(digits_end);
        let amount: u32 = number.parse().map_err(|_| Error::Duration(s.to_owned()))?;
        let unit = match unit {
            "m" => Unit::Months,
            "w" => Unit::Weeks,
            "d" => Unit::Days,
            "wd" => Unit::WorkingDays,
            _ => return Err(Error::Duration(s.to_owned())),
        };
        // Ten years is far beyond any legal deadline; larger numbers are typing mistakes.
        let limit = match unit {
            Unit::Months => 120,
            Unit::Weeks => 520,
            Unit::Days | Unit::WorkingDays => 3660,
        };
        if amount > limit {
            return Err(Error::Duration(s.to_owned()));
        }
        Ok(Self { amount, unit })
    }
}

impl TryFrom<String> for DurationSpec {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Error> {
        value.parse()
    }
}

impl From<DurationSpec> for String {
    fn from(value: DurationSpec) -> String {
        value.to_string()
    }
}

impl fmt::Display for DurationSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            Unit::Months => "m",
            Unit::Weeks => "w",
            Unit::Days => "d",
            Unit::WorkingDays => "wd",
        };
        write!(f, "{}{unit}", self.amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn due(start: &str, duration: &str) -> NaiveDate {
        Calendar::china_official()
            .add(d(start), duration.parse().unwrap())
            .unwrap()
    }

    #[test]
    fn shipped_calendar_loads_and_covers_2020_to_2026() {
        assert_eq!(Calendar::china_official().years(), (2020, 2026));
    }

    #[test]
    fn months_clamp_to_the_end_of_the_month() {
        assert_eq!(due("2020-01-31", "1m"), d("2020-02-29"));
        assert_eq!(due("2021-01-31", "1m"), d("2021-02-28"));
        assert_eq!(due("2020-11-30", "3m"), d("2021-02-28"));
        assert_eq!(due("2020-02-26", "3m"), d("2020-05-26"));
    }

    #[test]
    fn calendar_days_and_weeks_ignore_holidays() {
        assert_eq!(due("2020-01-20", "10d"), d("2020-01-30"));
        assert_eq!(due("2020-09-30", "1w"), d("2020-10-07"));
    }

    // Hand-counted: 2020-01-21/22/23 (3); 24 Jan–2 Feb is the extended Spring Festival and
    // the 1 February make-up day was cancelled; 3–7 Feb (8), 10–14 (13), 17–21 (18),
    // 24 Feb (19), 25 Feb (20).
    #[test]
    fn working_days_across_the_extended_2020_spring_festival() {
        assert_eq!(due("2020-01-20", "20wd"), d("2020-02-25"));
        assert_eq!(due("2020-01-17", "1wd"), d("2020-01-19")); // Sunday 19 Jan was a working day
        assert_eq!(due("2020-01-23", "1wd"), d("2020-02-03"));
        let cal = Calendar::china_official();
        assert!(!cal.is_working_day(d("2020-02-01")).unwrap());
    }

    // National Day and Mid-autumn 2020: 1–8 October off, Sunday 27 September and
    // Saturday 10 October worked.
    #[test]
    fn working_days_around_national_day_2020() {
        assert_eq!(due("2020-09-25", "1wd"), d("2020-09-27"));
        assert_eq!(due("2020-09-30", "1wd"), d("2020-10-09"));
        assert_eq!(due("2020-09-30", "2wd"), d("2020-10-10"));
        assert_eq!(due("2020-09-30", "3wd"), d("2020-10-12"));
        assert_eq!(due("2020-09-28", "5wd"), d("2020-10-12"));
    }

    // 2024: Spring Festival 10–17 Feb with 4 Feb and 18 Feb (Sundays) worked; Labour Day
    // 1–5 May with 28 April and 11 May worked; National Day 1–7 October with 29 September
    // and 12 October worked.
    #[test]
    fn working_days_through_the_2024_holidays() {
        assert_eq!(due("2024-02-02", "1wd"), d("2024-02-04"));
        assert_eq!(due("2024-02-08", "1wd"), d("2024-02-09"));
        assert_eq!(due("2024-02-09", "1wd"), d("2024-02-18"));
        assert_eq!(due("2024-02-09", "2wd"), d("2024-02-19"));
        assert_eq!(due("2024-04-26", "1wd"), d("2024-04-28"));
        assert_eq!(due("2024-04-30", "1wd"), d("2024-05-06"));
        assert_eq!(due("2024-05-10", "1wd"), d("2024-05-11"));
        assert_eq!(due("2024-09-27", "1wd"), d("2024-09-29"));
        assert_eq!(due("2024-09-30", "1wd"), d("2024-10-08"));
        assert_eq!(due("2024-10-11", "1wd"), d("2024-10-12"));
        assert_eq!(due("2024-09-20", "20wd"), d("2024-10-23"));
    }

    #[test]
    fn outside_the_data_is_an_error_not_a_guess() {
        let cal = Calendar::china_official();
        let err = cal
            .add(d("2026-12-20"), "20wd".parse().unwrap())
            .unwrap_err();
        assert!(matches!(err, Error::OutsideData { .. }), "{err}");
        assert!(err.to_string().contains("2027-01-01"));
        assert!(cal.is_working_day(d("2019-12-31")).is_err());
        // calendar months do not need the holiday data
        assert!(cal.add(d("2026-12-20"), "3m".parse().unwrap()).is_ok());
    }

    #[test]
    fn durations_parse_and_print() {
        for text in ["3m", "10d", "1w", "20wd"] {
            assert_eq!(text.parse::<DurationSpec>().unwrap().to_string(), text);
        }
        for bad in ["", "m", "3", "3y", "-3d", "3 d", "99999d"] {
            assert!(bad.parse::<DurationSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_calendar_lines_are_reported_with_their_line() {
        let err = Calendar::from_tsv("x.tsv", "2020-01-04\tholiday\n").unwrap_err();
        assert_eq!(
            err.to_string().split(':').take(2).collect::<Vec<_>>(),
            ["x.tsv", "1"]
        );
        assert!(Calendar::from_tsv("x.tsv", "# only\n").is_err());
        assert!(Calendar::from_tsv("x.tsv", "2020-01-06\tworkday\n").is_err());
        assert!(Calendar::from_tsv("x.tsv", "2020-13-01\tholiday\n").is_err());
    }

    #[test]
    fn a_correction_replaces_whole_years_and_adds_new_ones() {
        let cal = Calendar::china_official();
        let next = Calendar::from_tsv("2027.tsv", "2027-01-01\tholiday\n").unwrap();
        let extended = cal.corrected_by(&next);
        assert_eq!(extended.years(), (2020, 2027));
        assert!(!extended.is_working_day(d("2027-01-01")).unwrap());
        assert!(extended.is_working_day(d("2027-01-04")).unwrap());
        assert!(!extended.is_working_day(d("2020-01-24")).unwrap());
    }

    #[test]
    fn working_days_between_counts_what_add_adds() {
        let cal = Calendar::china_official();
        assert_eq!(
            cal.working_days_between(d("2020-01-20"), d("2020-02-25"))
                .unwrap(),
            20
        );
        assert_eq!(
            cal.sub_working_days(d("2020-02-25"), 20).unwrap(),
            d("2020-01-20")
        );
        assert_eq!(
            cal.roll_to_working_day(d("2020-10-01")).unwrap(),
            d("2020-10-09")
        );
    }
}
