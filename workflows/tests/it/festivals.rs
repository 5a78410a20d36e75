//! The statutory festival table the provisional calendar counts with, recomputed from two
//! calendar libraries, and 2027–2030 checked against dates written out by hand from the
//! published lunar calendar.

use chrono::NaiveDate;
use cohandle_workflows::calendar::statutory::{self, Festival};
use icu_calendar::types::Month;
use icu_calendar::{Date, Iso};
use tyme4rs::tyme::solar::SolarTerm;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn lunar(year: i32, month: u8, day: u8) -> NaiveDate {
    let iso = Date::try_new_chinese_traditional(year, Month::new(month), day)
        .unwrap()
        .to_calendar(Iso);
    NaiveDate::from_ymd_opt(
        iso.year().extended_year(),
        u32::from(iso.month().ordinal),
        u32::from(iso.day_of_month().0),
    )
    .unwrap()
}

fn qingming(year: i32) -> NaiveDate {
    let day = SolarTerm::from_name(year as isize, "清明").get_solar_day();
    NaiveDate::from_ymd_opt(year, day.get_month() as u32, day.get_day() as u32).unwrap()
}

#[test]
fn festival_table_matches_the_crates() {
    let mut wrong = Vec::new();
    for year in statutory::years() {
        let row = statutory::festival_dates(year).unwrap();
        let computed = statutory::FestivalDates {
            lunar_new_year: lunar(year, 1, 1),
            qingming: qingming(year),
            dragon_boat: lunar(year, 5, 5),
            mid_autumn: lunar(year, 8, 15),
        };
        if row != computed {
            wrong.push(format!(
                "{year}\t{}\t{}\t{}\t{}",
                computed.lunar_new_year,
                computed.qingming,
                computed.dragon_boat,
                computed.mid_autumn
            ));
        }
    }
    assert!(wrong.is_empty(), "rows to correct:\n{}", wrong.join("\n"));
}

#[test]
fn provisional_festivals_match_the_published_lunar_calendar() {
    // year, 春节 (the first day of the lunar year), 清明, 端午, 中秋.
    let published = [
        (2027, "2027-02-06", "2027-04-05", "2027-06-09", "2027-09-15"),
        (2028, "2028-01-26", "2028-04-04", "2028-05-28", "2028-10-03"),
        (2029, "2029-02-13", "2029-04-04", "2029-06-16", "2029-09-22"),
        (2030, "2030-02-03", "2030-04-05", "2030-06-05", "2030-09-12"),
    ];
    for (year, new_year, qingming, dragon_boat, mid_autumn) in published {
        let holidays = statutory::holidays(year).unwrap();
        let days = |festival: Festival| -> Vec<NaiveDate> {
            holidays
                .iter()
                .filter(|(_, f)| *f == festival)
                .map(|(day, _)| *day)
                .collect()
        };
        let first = d(new_year);
        assert_eq!(
            days(Festival::SpringFestival),
            [
                first.pred_opt().unwrap(),
                first,
                first.succ_opt().unwrap(),
                d(new_year) + chrono::Days::new(2)
            ],
            "{year}"
        );
        assert_eq!(days(Festival::Qingming), [d(qingming)], "{year}");
        assert_eq!(days(Festival::DragonBoat), [d(dragon_boat)], "{year}");
        assert_eq!(days(Festival::MidAutumn), [d(mid_autumn)], "{year}");
        assert_eq!(holidays.len(), 13, "{year}");
    }
}
