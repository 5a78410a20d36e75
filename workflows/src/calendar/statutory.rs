//! The statutory public holidays of the 全国年节及纪念日放假办法, as amended in 2024 and in
//! force from 2025: the rest days every year has whatever the State Council General
//! Office's notice for it later arranges around them.
//!
//! | festival | days |
//! | --- | --- |
//! | 元旦 New Year's Day | 1 January |
//! | 春节 Spring Festival | the eve and the first three days of the lunar year (4) |
//! | 清明节 Qingming | the day of the Qingming solar term |
//! | 劳动节 Labour Day | 1–2 May |
//! | 端午节 Dragon Boat Festival | the 5th day of the 5th lunar month |
//! | 中秋节 Mid-autumn Festival | the 15th day of the 8th lunar month |
//! | 国庆节 National Day | 1–3 October |
//!
//! The lunar dates and the solar term come from `calendar/cn-festivals.tsv`, a table
//! generated with ICU4X's `icu_calendar` (the Chinese calendar of GB/T 33661-2017) and
//! `tyme4rs` (solar terms); a test recomputes every row with both crates.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};

/// The festival dates, one row a year.
pub const CHINA_FESTIVALS_TSV: &str = include_str!("../../calendar/cn-festivals.tsv");

/// The first year whose holidays follow the 2024 amendment (13 days).
pub const RULES_IN_FORCE_FROM: i32 = 2025;

/// The seven festivals of the statutory rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Festival {
    NewYear,
    SpringFestival,
    Qingming,
    LabourDay,
    DragonBoat,
    MidAutumn,
    NationalDay,
}

impl Festival {
    pub const ALL: [Festival; 7] = [
        Festival::NewYear,
        Festival::SpringFestival,
        Festival::Qingming,
        Festival::LabourDay,
        Festival::DragonBoat,
        Festival::MidAutumn,
        Festival::NationalDay,
    ];

    pub fn chinese(self) -> &'static str {
        match self {
            Festival::NewYear => "元旦",
            Festival::SpringFestival => "春节",
            Festival::Qingming => "清明节",
            Festival::LabourDay => "劳动节",
            Festival::DragonBoat => "端午节",
            Festival::MidAutumn => "中秋节",
            Festival::NationalDay => "国庆节",
        }
    }

    pub fn english(self) -> &'static str {
        match self {
            Festival::NewYear => "New Year's Day",
            Festival::SpringFestival => "Spring Festival",
            Festival::Qingming => "Tomb-sweeping Day",
            Festival::LabourDay => "Labour Day",
            Festival::DragonBoat => "Dragon Boat Festival",
            Festival::MidAutumn => "Mid-autumn Festival",
            Festival::NationalDay => "National Day",
        }
    }

    /// The festivals a holiday file's third column names, in Chinese or in English
    /// ("国庆节、中秋节" names two).
    pub fn named_in(label: &str) -> Vec<Festival> {
        let lower = label.to_lowercase();
        let words: [(Festival, &[&str]); 7] = [
            (Festival::NewYear, &["元旦", "new year"]),
            (Festival::SpringFestival, &["春节", "spring festival"]),
            (Festival::Qingming, &["清明", "qingming", "tomb-sweeping"]),
            (Festival::LabourDay, &["劳动节", "labour day", "labor day"]),
            (Festival::DragonBoat, &["端午", "dragon boat"]),
            (Festival::MidAutumn, &["中秋", "mid-autumn", "mid autumn"]),
            (Festival::NationalDay, &["国庆", "national day"]),
        ];
        words
            .into_iter()
            .filter(|(_, names)| names.iter().any(|n| lower.contains(n)))
            .map(|(festival, _)| festival)
            .collect()
    }
}

impl fmt::Display for Festival {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.chinese(), self.english())
    }
}

/// One year's movable festival dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FestivalDates {
    pub lunar_new_year: NaiveDate,
    pub qingming: NaiveDate,
    pub dragon_boat: NaiveDate,
    pub mid_autumn: NaiveDate,
}

fn table() -> &'static BTreeMap<i32, FestivalDates> {
    static TABLE: OnceLock<BTreeMap<i32, FestivalDates>> = OnceLock::new();
    TABLE.get_or_init(|| {
        parse_table(CHINA_FESTIVALS_TSV)
            .expect("the shipped festival table is checked by the tests")
    })
}

/// Reads `year<TAB>lunar_new_year<TAB>qingming<TAB>dragon_boat<TAB>mid_autumn` rows.
pub fn parse_table(text: &str) -> Result<BTreeMap<i32, FestivalDates>, String> {
    let mut rows = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.starts_with("year\t") || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let bad = || format!("festival table line {}: {line:?}", index + 1);
        let [year, new_year, qingming, dragon_boat, mid_autumn] = fields[..] else {
            return Err(bad());
        };
        let date = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad());
        let year: i32 = year.parse().map_err(|_| bad())?;
        let dates = FestivalDates {
            lunar_new_year: date(new_year)?,
            qingming: date(qingming)?,
            dragon_boat: date(dragon_boat)?,
            mid_autumn: date(mid_autumn)?,
        };
        let all = [
            dates.lunar_new_year,
            dates.qingming,
            dates.dragon_boat,
            dates.mid_autumn,
        ];
        if all.iter().any(|d| d.year() != year) || rows.insert(year, dates).is_some() {
            return Err(bad());
        }
    }
    Ok(rows)
}

/// The years the table covers.
pub fn years() -> RangeInclusive<i32> {
    let table = table();
    let first = table.keys().next().copied().unwrap_or(i32::MAX);
    let last = table.keys().next_back().copied().unwrap_or(i32::MIN);
    first..=last
}

/// The year's movable festival dates, when the table covers it.
pub fn festival_dates(year: i32) -> Option<FestivalDates> {
    table().get(&year).copied()
}

/// The year's statutory holidays in date order, each with its festival (13 days; some may
/// fall on a weekend); `None` outside the table.
pub fn holidays(year: i32) -> Option<Vec<(NaiveDate, Festival)>> {
    let dates = festival_dates(year)?;
    let day = |month, day| NaiveDate::from_ymd_opt(year, month, day);
    let mut days = vec![
        (day(1, 1)?, Festival::NewYear),
        (dates.qingming, Festival::Qingming),
        (day(5, 1)?, Festival::LabourDay),
        (day(5, 2)?, Festival::LabourDay),
        (dates.dragon_boat, Festival::DragonBoat),
        (dates.mid_autumn, Festival::MidAutumn),
        (day(10, 1)?, Festival::NationalDay),
        (day(10, 2)?, Festival::NationalDay),
        (day(10, 3)?, Festival::NationalDay),
    ];
    let eve = dates.lunar_new_year.pred_opt()?;
    for offset in 0..4 {
        days.push((eve + chrono::Days::new(offset), Festival::SpringFestival));
    }
    days.sort();
    Some(days)
}

/// Whether `date` is a statutory holiday; `None` outside the table.
pub fn is_holiday(date: NaiveDate) -> Option<bool> {
    let dates = festival_dates(date.year())?;
    let (month, day) = (date.month(), date.day());
    let spring = dates.lunar_new_year.pred_opt()? <= date
        && date <= dates.lunar_new_year + chrono::Days::new(2);
    Some(
        (month, day) == (1, 1)
            || matches!((month, day), (5, 1) | (5, 2) | (10, 1) | (10, 2) | (10, 3))
            || spring
            || date == dates.qingming
            || date == dates.dragon_boat
            || date == dates.mid_autumn,
    )
}
