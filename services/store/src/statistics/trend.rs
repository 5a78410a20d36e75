//! The month-by-month trend: proposals assigned, first replies recorded and how many on time,
//! first receipts and how many satisfied, opinions and how many on time, each in the month it
//! happened, over the proposals a [`Counted`] names.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement, Value};
use serde::Serialize;

use super::counters::{self, agency_scope, MonthCell, EVERYWHERE};
use super::rows::{month_rows, proposal_conditions, Whose};
use super::{rate, tops, Counted};
use crate::bulk::placeholder;
use crate::jurisdictions::Registry;
use crate::Error;

/// One month of the trend.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    /// Proposals assigned in the month (of one agency's: its tasks of proposals assigned in
    /// the month).
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

/// The months from `from`'s to `to`'s, each with its figures (zeros where nothing happened),
/// over the proposals of `counted` (its period of assignment is not used: the months are):
/// from the counters of the caller's scopes, or, for one agency within a supervisor's
/// jurisdictions, from the rows.
pub async fn trend(
    db: &impl ConnectionTrait,
    registry: &Registry,
    counted: &Counted,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Month>, Error> {
    let first = from.with_day(1).unwrap_or(from);
    // The whole of `to`'s month.
    let last = to
        .with_day(1)
        .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
        .and_then(|d| d.pred_opt())
        .unwrap_or(to);
    let scopes = match (&counted.within, &counted.agency) {
        (None, None) => Some(vec![EVERYWHERE.to_owned()]),
        (None, Some(agency)) => Some(vec![agency_scope(agency)]),
        (Some(codes), None) => Some(tops(registry, codes)),
        (Some(_), Some(_)) => None,
    };
    let cells = match scopes {
        Some(scopes) => counters::months(db, &scopes, counted, first, to).await?,
        None => from_rows(db, counted, first, last).await?,
    };
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

/// The trend counted from the rows of the proposals `counted` names, each row's day from
/// `first` to `last`.
async fn from_rows(
    db: &impl ConnectionTrait,
    counted: &Counted,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<MonthCell>, Error> {
    let backend = db.get_database_backend();
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
    values.push(last.into());
    let to_mark = placeholder(backend, values.len());
    let agency = match &counted.agency {
        Some(agency) => {
            values.push(Value::from(agency.as_str()));
            format!(" AND x.agency = {}", placeholder(backend, values.len()))
        }
        None => String::new(),
    };
    let rows = month_rows(
        Whose::Together {
            agency: counted.agency.is_some(),
        },
        true,
    )
    .replace("{from}", &from_mark)
    .replace("{to}", &to_mark)
    .replace("{agency}", &agency);
    let sql = format!(
        "WITH chosen AS (SELECT key, jurisdiction, session, kind, assigned_on FROM proposals \
         WHERE 1 = 1{conditions}) \
         SELECT month, name, value FROM ({rows}) together"
    );
    Ok(
        MonthCell::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
            .all(db)
            .await?,
    )
}
