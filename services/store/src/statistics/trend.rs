//! The month-by-month trend: proposals assigned, first replies recorded and how many on time,
//! first receipts and how many satisfied, opinions and how many on time, each in the month it
//! happened, over the proposals a [`Counted`] names.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement, Value};
use serde::Serialize;

use super::rows::proposal_conditions;
use super::{rate, Counted};
use crate::bulk::placeholder;
use crate::Error;

/// One month of the trend.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    /// Proposals assigned in the month.
    pub assigned: i64,
    /// First replies recorded in the month.
    pub replies: i64,
    /// Of those, recorded by their due date.
    pub replies_on_time: i64,
    pub on_time_rate: Option<f64>,
    /// First feedback receipts received in the month.
    pub receipts: i64,
    /// Of those, not dissatisfied.
    pub satisfied: i64,
    pub satisfaction_rate: Option<f64>,
    /// Co-handlers' opinions recorded in the month.
    pub opinions: i64,
    /// Of those, recorded by their due date.
    pub opinions_on_time: i64,
    pub opinion_on_time_rate: Option<f64>,
}

const TREND: &str = "\
WITH chosen AS (SELECT key, assigned_on FROM proposals WHERE 1 = 1{conditions}) \
SELECT month, name, CAST(value AS BIGINT) AS value FROM ( \
SELECT substr(CAST(p.assigned_on AS TEXT), 1, 7) AS month, 'assigned' AS name, COUNT(*) AS value FROM chosen p \
  WHERE p.assigned_on BETWEEN {from} AND {to}{assigned_agency} GROUP BY substr(CAST(p.assigned_on AS TEXT), 1, 7) \
UNION ALL SELECT substr(CAST(COALESCE(x.recorded_on, x.sent_on) AS TEXT), 1, 7), 'replies', COUNT(*) FROM replies x JOIN chosen p ON p.key = x.proposal_key \
  WHERE x.round = 1 AND COALESCE(x.recorded_on, x.sent_on) BETWEEN {from} AND {to}{agency} GROUP BY substr(CAST(COALESCE(x.recorded_on, x.sent_on) AS TEXT), 1, 7) \
UNION ALL SELECT substr(CAST(COALESCE(x.recorded_on, x.sent_on) AS TEXT), 1, 7), 'replies_on_time', SUM(CASE WHEN x.on_time THEN 1 ELSE 0 END) FROM replies x JOIN chosen p ON p.key = x.proposal_key \
  WHERE x.round = 1 AND COALESCE(x.recorded_on, x.sent_on) BETWEEN {from} AND {to}{agency} GROUP BY substr(CAST(COALESCE(x.recorded_on, x.sent_on) AS TEXT), 1, 7) \
UNION ALL SELECT substr(CAST(x.received_on AS TEXT), 1, 7), 'receipts', COUNT(*) FROM feedback x JOIN chosen p ON p.key = x.proposal_key \
  WHERE x.round = 1 AND x.received_on BETWEEN {from} AND {to}{agency} GROUP BY substr(CAST(x.received_on AS TEXT), 1, 7) \
UNION ALL SELECT substr(CAST(x.received_on AS TEXT), 1, 7), 'satisfied', SUM(CASE WHEN x.satisfaction <> 'dissatisfied' THEN 1 ELSE 0 END) FROM feedback x JOIN chosen p ON p.key = x.proposal_key \
  WHERE x.round = 1 AND x.received_on BETWEEN {from} AND {to}{agency} GROUP BY substr(CAST(x.received_on AS TEXT), 1, 7) \
UNION ALL SELECT substr(CAST(x.recorded_on AS TEXT), 1, 7), 'opinions', COUNT(*) FROM opinions x JOIN chosen p ON p.key = x.proposal_key \
  WHERE x.recorded_on BETWEEN {from} AND {to}{agency} GROUP BY substr(CAST(x.recorded_on AS TEXT), 1, 7) \
UNION ALL SELECT substr(CAST(x.recorded_on AS TEXT), 1, 7), 'opinions_on_time', SUM(CASE WHEN x.on_time THEN 1 ELSE 0 END) FROM opinions x JOIN chosen p ON p.key = x.proposal_key \
  WHERE x.recorded_on BETWEEN {from} AND {to}{agency} GROUP BY substr(CAST(x.recorded_on AS TEXT), 1, 7) \
) counts";

#[derive(Debug, FromQueryResult)]
struct Cell {
    month: String,
    name: String,
    value: i64,
}

/// The months from `from`'s to `to`'s, each with its figures (zeros where nothing happened),
/// over the proposals of `counted` (its period of assignment is not used: the months are).
pub async fn trend(
    db: &impl ConnectionTrait,
    counted: &Counted,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Month>, Error> {
    let backend = db.get_database_backend();
    let first = from.with_day(1).unwrap_or(from);
    let mut values = Vec::new();
    let chosen = Counted {
        assigned_from: None,
        assigned_to: None,
        agency: None,
        ..counted.clone()
    };
    let conditions = proposal_conditions(backend, &chosen, &mut values);
    values.push(first.into());
    let from_mark = placeholder(backend, values.len());
    values.push(to.into());
    let to_mark = placeholder(backend, values.len());
    let (agency, assigned_agency) = match &counted.agency {
        Some(agency) => {
            values.push(Value::from(agency.as_str()));
            let mark = placeholder(backend, values.len());
            (
                format!(" AND x.agency = {mark}"),
                format!(" AND p.key IN (SELECT proposal_key FROM tasks WHERE agency = {mark})"),
            )
        }
        None => (String::new(), String::new()),
    };
    let sql = TREND
        .replace("{conditions}", &conditions)
        .replace("{from}", &from_mark)
        .replace("{to}", &to_mark)
        .replace("{agency}", &agency)
        .replace("{assigned_agency}", &assigned_agency);
    let cells = Cell::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(db)
        .await?;
    let mut months: BTreeMap<String, Month> = BTreeMap::new();
    let mut at = first;
    while at <= to {
        let month = format!("{:04}-{:02}", at.year(), at.month());
        months.insert(
            month.clone(),
            Month {
                month,
                ..Month::default()
            },
        );
        match at.checked_add_months(chrono::Months::new(1)) {
            Some(next) => at = next,
            None => break,
        }
    }
    for cell in cells {
        let Some(m) = months.get_mut(&cell.month) else {
            continue;
        };
        let slot = match cell.name.as_str() {
            "assigned" => &mut m.assigned,
            "replies" => &mut m.replies,
            "replies_on_time" => &mut m.replies_on_time,
            "receipts" => &mut m.receipts,
            "satisfied" => &mut m.satisfied,
            "opinions" => &mut m.opinions,
            _ => &mut m.opinions_on_time,
        };
        *slot += cell.value;
    }
    Ok(months
        .into_values()
        .map(|mut m| {
            m.on_time_rate = rate(m.replies_on_time, m.replies);
            m.satisfaction_rate = rate(m.satisfied, m.receipts);
            m.opinion_on_time_rate = rate(m.opinions_on_time, m.opinions);
            m
        })
        .collect())
}
