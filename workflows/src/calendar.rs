//! Deadline arithmetic: calendar months and days, and working days over the official
//! holiday arrangement (法定节假日 and 调休 make-up working days), shipped as data.
//!
//! A year the official data covers is *official*. A later year, whose notice the State
//! Council General Office has not yet published (it comes in November or December), is
//! *provisional*: its rest days are the weekends and the statutory public holidays
//! ([`statutory`]), with no make-up working days, since those are unknowable before the
//! notice. A due date in a provisional year is marked so, and `recompute_deadlines` moves it
//! once the year's official arrangement is loaded. Years before the data are refused:
//! nothing is assigned in the past.

pub mod statutory;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

pub use statutory::Festival;

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
        "{date} is outside the years whose working days can be counted, {first}..={last} \
         (official arrangements from {first}, the statutory holidays up to {last})"
    )]
    OutsideData {
        date: NaiveDate,
        first: i32,
        last: i32,
    },
    #[error(
        "{source_name} does not name every festival of the year: {}; a year file lists \
         each festival's days off, with the festival in the third column",
        .missing.join("; ")
    )]
    Incomplete {
        source_name: String,
        /// One entry a year: `2027: 春节 Spring Festival, …`.
        missing: Vec<String>,
    },
    #[error(
        "{source_name} contradicts the statutory holidays: {}; check the notice, or force \
         the file to take it anyway (the override is recorded)",
        .problems.join("; ")
    )]
    Contradicts {
        source_name: String,
        problems: Vec<String>,
    },
    #[error(
        "{source_name} covers {first}..={last} but the calendar's official data ends with \
         {known}: load the years in between first"
    )]
    Gap {
        source_name: String,
        first: i32,
        last: i32,
        known: i32,
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

/// How the calendar knows a year's working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum YearStatus {
    /// The State Council General Office's arrangement is loaded.
    Official,
    /// Weekends and the statutory holidays only, until the arrangement is loaded.
    Provisional,
    /// Before the data, or beyond the statutory table: working days cannot be counted.
    Unavailable,
}

impl fmt::Display for YearStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            YearStatus::Official => "official",
            YearStatus::Provisional => "provisional",
            YearStatus::Unavailable => "unavailable",
        })
    }
}

/// A holiday file that adds or replaces whole years, checked against the statutory rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearFile {
    pub calendar: Calendar,
    /// The contradictions of the statutory holidays a forced file was taken with; empty
    /// when it agrees with them. Recorded with the correction.
    pub overridden: Vec<String>,
}

/// The working-day calendar: official over the years its data covers, provisional after.
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
        Ok(parse(source_name, text)?.0)
    }

    /// Reads a holiday file that adds or replaces whole years (the State Council General
    /// Office's notice), and checks it before it is taken: every year it covers must name
    /// all seven festivals (each missing one is listed), and from 2025 its days off must
    /// include every statutory holiday on a weekday and make none of them a working day.
    /// A contradiction is refused unless `force`, and then returned to be recorded.
    pub fn year_file(source_name: &str, text: &str, force: bool) -> Result<YearFile, Error> {
        let (calendar, labels) = parse(source_name, text)?;
        let mut missing = Vec::new();
        let mut problems = Vec::new();
        for year in calendar.first_year..=calendar.last_year {
            let holidays = statutory::holidays(year);
            let named: BTreeSet<Festival> = calendar
                .exceptions
                .iter()
                .filter(|(d, k)| d.year() == year && **k == DayKind::Holiday)
                .flat_map(|(d, _)| {
                    let by_label = labels.get(d).cloned().unwrap_or_default();
                    let by_date = holidays
                        .iter()
                        .flatten()
                        .filter(move |(h, _)| h == d)
                        .map(|(_, f)| *f);
                    by_label.into_iter().chain(by_date)
                })
                .collect();
            let absent: Vec<String> = Festival::ALL
                .iter()
                .filter(|f| !named.contains(f))
                .map(Festival::to_string)
                .collect();
            if !absent.is_empty() {
                missing.push(format!("{year}: {}", absent.join(", ")));
            }
            if year < statutory::RULES_IN_FORCE_FROM {
                continue;
            }
            for (date, festival) in holidays.into_iter().flatten() {
                match (is_weekend(date), calendar.exceptions.get(&date)) {
                    (false, Some(DayKind::Holiday)) | (true, None) => {}
                    (false, _) => problems.push(format!(
                        "{date} ({festival}) is a statutory holiday, but the file leaves it a working day"
                    )),
                    (true, _) => problems.push(format!(
                        "{date} ({festival}) is a statutory holiday, but the file makes it a make-up working day"
                    )),
                }
            }
        }
        if !missing.is_empty() {
            return Err(Error::Incomplete {
                source_name: source_name.to_owned(),
                missing,
            });
        }
        if !problems.is_empty() && !force {
            return Err(Error::Contradicts {
                source_name: source_name.to_owned(),
                problems,
            });
        }
        Ok(YearFile {
            calendar,
            overridden: problems,
        })
    }

    /// A calendar with this one's days, corrected or extended by `other`'s: every year that
    /// `other` covers is taken from `other` whole. `other` may not leave a year between this
    /// calendar's official data and its own.
    pub fn corrected_by(&self, other: &Calendar) -> Result<Calendar, Error> {
        if other.first_year > self.last_year + 1 {
            return Err(Error::Gap {
                source_name: "the correction".to_owned(),
                first: other.first_year,
                last: other.last_year,
                known: self.last_year,
            });
        }
        let mut exceptions: BTreeMap<NaiveDate, DayKind> = self
            .exceptions
            .iter()
            .filter(|(d, _)| d.year() < other.first_year || d.year() > other.last_year)
            .map(|(d, k)| (*d, *k))
            .collect();
        exceptions.extend(other.exceptions.iter().map(|(d, k)| (*d, *k)));
        Ok(Calendar {
            exceptions,
            first_year: self.first_year.min(other.first_year),
            last_year: self.last_year.max(other.last_year),
        })
    }

    /// The years the official data covers.
    pub fn years(&self) -> (i32, i32) {
        (self.first_year, self.last_year)
    }

    /// How the calendar counts `year`'s working days.
    pub fn year_status(&self, year: i32) -> YearStatus {
        if (self.first_year..=self.last_year).contains(&year) {
            YearStatus::Official
        } else if year > self.last_year && statutory::years().contains(&year) {
            YearStatus::Provisional
        } else {
            YearStatus::Unavailable
        }
    }

    /// Whether `date` lies in a year the official data does not cover yet, so that a due
    /// date there may move when the year's arrangement is loaded.
    pub fn is_provisional(&self, date: NaiveDate) -> bool {
        date.year() > self.last_year
    }

    /// From 1 November, while next year's working days are still provisional: what to tell
    /// the operator (the notice usually comes in November or December).
    pub fn next_year_warning(&self, today: NaiveDate) -> Option<String> {
        let next = today.year() + 1;
        (today.month() >= 11 && self.year_status(next) == YearStatus::Provisional).then(|| {
            format!(
                "no official {next} holiday arrangement is loaded: deadlines in {next} are \
                 provisional (weekends and statutory holidays only); load the State Council \
                 General Office's notice with `cohandle calendar correct FILE` when it is published"
            )
        })
    }

    /// Whether working days can be counted on `date` (officially or provisionally).
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.year_status(date.year()) != YearStatus::Unavailable
    }

    fn outside(&self, date: NaiveDate) -> Error {
        Error::OutsideData {
            date,
            first: self.first_year,
            last: *statutory::years().end().max(&self.last_year),
        }
    }

    /// Whether `date` is a working day: under the official arrangement, or, in a
    /// provisional year, a weekday that is no statutory holiday.
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, Error> {
        match self.year_status(date.year()) {
            YearStatus::Official => Ok(match self.exceptions.get(&date) {
                Some(DayKind::Holiday) => false,
                Some(DayKind::Workday) => true,
                None => !is_weekend(date),
            }),
            YearStatus::Provisional => match statutory::is_holiday(date) {
                Some(holiday) => Ok(!holiday && !is_weekend(date)),
                None => Err(self.outside(date)),
            },
            YearStatus::Unavailable => Err(self.outside(date)),
        }
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
            date = date.pred_opt().ok_or_else(|| self.outside(date))?;
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

/// The festivals each listed date's third column names.
type Labels = BTreeMap<NaiveDate, Vec<Festival>>;

fn parse(source_name: &str, text: &str) -> Result<(Calendar, Labels), Error> {
    let mut exceptions = BTreeMap::new();
    let mut labels = Labels::new();
    let bad = |line, message: String| Error::Data {
        source_name: source_name.to_owned(),
        line,
        message,
    };
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.trim_end();
        if content.trim().is_empty() || content.starts_with('#') || content.starts_with("date\t") {
            continue;
        }
        let mut fields = content.split('\t');
        let date_text = fields.next().unwrap_or_default().trim();
        let kind_text = fields.next().unwrap_or_default().trim();
        let label = fields.next().unwrap_or_default();
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
        labels.insert(date, Festival::named_in(label));
    }
    let (Some(first), Some(last)) = (exceptions.keys().next(), exceptions.keys().next_back())
    else {
        return Err(bad(0, "the calendar lists no days".to_owned()));
    };
    let (first_year, last_year) = (first.year(), last.year());
    Ok((
        Calendar {
            exceptions,
            first_year,
            last_year,
        },
        labels,
    ))
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
        assert_eq!(statutory::years(), 2020..=2100);
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
    fn before_the_data_is_an_error_and_after_it_provisional() {
        let cal = Calendar::china_official();
        assert!(cal.is_working_day(d("2019-12-31")).is_err());
        assert_eq!(cal.year_status(2019), YearStatus::Unavailable);
        assert_eq!(cal.year_status(2026), YearStatus::Official);
        assert_eq!(cal.year_status(2027), YearStatus::Provisional);
        assert_eq!(cal.year_status(2101), YearStatus::Unavailable);
        // 20 working days from 20 December 2026 run into 2027, provisional: 1 January off.
        let due = cal.add(d("2026-12-20"), "20wd".parse().unwrap()).unwrap();
        assert_eq!(due, d("2027-01-18"));
        assert!(cal.is_provisional(due));
        assert!(!cal.is_provisional(d("2026-12-31")));
        let err = cal
            .add(d("2100-12-20"), "20wd".parse().unwrap())
            .unwrap_err();
        assert!(matches!(err, Error::OutsideData { .. }), "{err}");
    }

    // 2027, provisional: Spring Festival is the eve (Fri 5 Feb) and the first three days of
    // the lunar year (Sat 6 – Mon 8 Feb); no make-up Saturday.
    #[test]
    fn working_days_over_a_provisional_spring_festival() {
        assert_eq!(due("2027-02-03", "1wd"), d("2027-02-04"));
        assert_eq!(due("2027-02-04", "1wd"), d("2027-02-09"));
        assert_eq!(due("2027-02-03", "5wd"), d("2027-02-12"));
        let cal = Calendar::china_official();
        for off in [
            "2027-01-01",
            "2027-02-05",
            "2027-02-08",
            "2027-04-05",
            "2027-05-03",
        ] {
            let expected = off == "2027-05-03"; // Labour Day is 1–2 May (a weekend in 2027)
            assert_eq!(cal.is_working_day(d(off)).unwrap(), expected, "{off}");
        }
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
        let extended = cal.corrected_by(&next).unwrap();
        assert_eq!(extended.years(), (2020, 2027));
        assert_eq!(extended.year_status(2027), YearStatus::Official);
        assert!(!extended.is_working_day(d("2027-01-01")).unwrap());
        assert!(extended.is_working_day(d("2027-01-04")).unwrap());
        assert!(!extended.is_working_day(d("2020-01-24")).unwrap());
        let later = Calendar::from_tsv("2028.tsv", "2028-01-03\tholiday\n").unwrap();
        assert!(matches!(
            cal.corrected_by(&later),
            Err(Error::Gap { known: 2026, .. })
        ));
    }

    #[test]
    fn the_operator_is_warned_from_1_november() {
        let cal = Calendar::china_official();
        assert_eq!(cal.next_year_warning(d("2026-10-31")), None);
        let warning = cal.next_year_warning(d("2026-11-01")).unwrap();
        assert!(warning.contains("2027"), "{warning}");
        assert!(cal.next_year_warning(d("2025-12-01")).is_none()); // 2026 is official
    }

    #[test]
    fn a_year_file_names_every_festival() {
        let err = Calendar::year_file("2027.tsv", "2027-01-01\tholiday\n", false).unwrap_err();
        let Error::Incomplete { missing, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(missing.len(), 1);
        for festival in &Festival::ALL[1..] {
            assert!(missing[0].contains(festival.chinese()), "{err}");
        }
        assert!(!missing[0].contains("元旦"), "{err}");
        // The shipped years pass the check, and those under the 2024 rules agree with them.
        for year in 2020..=2026 {
            let text: String = CHINA_OFFICIAL_TSV
                .lines()
                .filter(|l| l.starts_with(&format!("{year}-")))
                .map(|l| format!("{l}\n"))
                .collect();
            let file = Calendar::year_file("shipped", &text, false).unwrap();
            assert!(file.overridden.is_empty(), "{year}");
        }
    }

    #[test]
    fn a_year_file_that_contradicts_the_statutory_days_is_refused_unless_forced() {
        // 2026's arrangement with a Spring Festival of one day.
        let text: String = CHINA_OFFICIAL_TSV
            .lines()
            .filter(|l| l.starts_with("2026-"))
            .filter(|l| !l.contains("春节") || l.starts_with("2026-02-17"))
            .map(|l| format!("{l}\n"))
            .collect();
        let err = Calendar::year_file("2026.tsv", &text, false).unwrap_err();
        let Error::Contradicts { problems, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(problems.len(), 3, "{err}"); // the eve, the 2nd and the 3rd day
        assert!(problems[0].starts_with("2026-02-16"), "{err}");
        let forced = Calendar::year_file("2026.tsv", &text, true).unwrap();
        assert_eq!(forced.overridden, *problems);
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
