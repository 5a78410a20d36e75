//! The supervisors' figures (办结率, 按时答复率, 满意率, 见面率, class shares, 公开率, co-handlers'
//! timeliness), and the counters behind them.
//!
//! The one path keeps counters in the transaction of each batch ([`counters`]): the figures by
//! scope, session, kind, agency and counter (`statistics_counters`), and the trend by scope,
//! month and counter (`statistics_months`). A scope is a jurisdiction or `*`, everything (and,
//! for the trend, `agency:<code>`): a batch adds what it changed to the proposal's
//! jurisdiction, to every jurisdiction above it and to `*`, so that a supervisor of a
//! municipality and its forty districts reads the municipality's counter rows, not forty
//! districts'. Figures narrowed to a period of assignment are counted from the rows of those
//! proposals ([`rows`]), as are the counters when rebuilt and checked. Obligations past due
//! and still open are counted on the day asked, from the tasks ([`rows::overdue`]): they count
//! against the on-time rates, so an agency that lets its deadlines pass does not read as
//! punctual.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sea_orm::ConnectionTrait;
use serde::Serialize;

use crate::jurisdictions::Registry;
use crate::Error;

mod counters;
mod projection;
mod rows;
mod trend;

pub use counters::{agency_scope, drift, rebuild, Deltas, Drift, Place, EVERYWHERE};
pub(crate) use counters::{apply, fill};
pub(crate) use projection::Projection;
pub use trend::{trend, Month};

/// The figures supervisors report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Statistics {
    /// Active lead, sole and split tasks.
    pub handler_tasks: i64,
    /// Active co-handlers' tasks.
    pub co_handler_tasks: i64,
    pub completed: i64,
    pub completion_rate: Option<f64>,
    pub replies: i64,
    /// First replies recorded by their due date, of the first replies sent plus the reply
    /// obligations past due and still open.
    pub on_time_rate: Option<f64>,
    /// Reply obligations past due and still open on the day asked.
    pub overdue_replies: i64,
    pub first_time_satisfaction_rate: Option<f64>,
    pub final_satisfaction_rate: Option<f64>,
    pub meeting_rate: Option<f64>,
    pub class_shares: BTreeMap<String, f64>,
    pub published_share: Option<f64>,
    /// Co-handlers' opinions sent.
    pub opinions: i64,
    /// Opinions recorded by their due date, of those sent plus those past due and still open.
    pub opinion_on_time_rate: Option<f64>,
    /// Co-handlers' opinions past due and still open on the day asked.
    pub overdue_opinions: i64,
}

pub const HANDLER_TASKS: &str = "handler_tasks";
pub const CO_HANDLER_TASKS: &str = "co_handler_tasks";
pub const COMPLETED: &str = "completed";
pub const REPLIES: &str = "replies";
pub const ON_TIME: &str = "on_time";
pub const MET: &str = "met";
pub const FIRST_TOTAL: &str = "first_total";
pub const FIRST_OK: &str = "first_ok";
pub const FINAL_TOTAL: &str = "final_total";
pub const FINAL_OK: &str = "final_ok";
pub const PUBLISHED: &str = "published";
pub const OPINIONS: &str = "opinions";
pub const OPINIONS_ON_TIME: &str = "opinions_on_time";
/// Prefix of the per-result-class reply counters (`class:A`, …).
pub const CLASS: &str = "class:";

/// Which proposals the figures count. Nothing set: every proposal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counted {
    /// A supervisor's jurisdictions, each with every one below it (as `Registry::below`
    /// gives them); `None`: every jurisdiction.
    pub within: Option<Vec<String>>,
    /// One agency's figures only.
    pub agency: Option<String>,
    /// Proposals of this session (e.g. `市五届人大三次会议`).
    pub session: Option<String>,
    /// Proposals of this kind (`deputy_suggestion`, `cppcc_proposal`).
    pub kind: Option<String>,
    /// Proposals assigned on or after this day.
    pub assigned_from: Option<NaiveDate>,
    /// Proposals assigned on or before this day.
    pub assigned_to: Option<NaiveDate>,
}

impl Counted {
    /// Whether a period of assignment is set: the counters are kept per jurisdiction, session,
    /// kind and agency, not per day of assignment, so such figures are counted from the rows.
    fn narrowed(&self) -> bool {
        self.assigned_from.is_some() || self.assigned_to.is_some()
    }
}

/// Figures overall and per agency, in agency order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub overall: Statistics,
    pub agencies: Vec<(String, Statistics)>,
}

/// The figures of the proposals `counted` names, overall and of every agency with any, with
/// the obligations past due on `today` counted against the on-time rates. `registry` tells
/// which of a supervisor's jurisdictions are the tops of its trees (their counters already
/// hold the ones below).
pub async fn report(
    db: &impl ConnectionTrait,
    registry: &Registry,
    counted: &Counted,
    today: NaiveDate,
) -> Result<Report, Error> {
    let by_agency = if counted.narrowed() {
        rows::by_agency(db, counted).await?
    } else {
        let scopes = match &counted.within {
            None => vec![EVERYWHERE.to_owned()],
            Some(codes) => tops(registry, codes),
        };
        counters::by_agency(db, &scopes, counted).await?
    };
    let overdue = rows::overdue(db, counted, today).await?;
    let mut agencies: BTreeMap<String, (BTreeMap<String, i64>, Overdue)> = BTreeMap::new();
    for (agency, counters) in by_agency {
        agencies.entry(agency).or_default().0 = counters;
    }
    for (agency, late) in overdue {
        agencies.entry(agency).or_default().1 = late;
    }
    let mut total: BTreeMap<String, i64> = BTreeMap::new();
    let mut late = Overdue::default();
    for (counters, overdue) in agencies.values() {
        for (name, value) in counters {
            *total.entry(name.clone()).or_default() += value;
        }
        late.replies += overdue.replies;
        late.opinions += overdue.opinions;
    }
    Ok(Report {
        overall: figures(&total, late),
        agencies: agencies
            .into_iter()
            .map(|(agency, (counters, late))| (agency, figures(&counters, late)))
            .collect(),
    })
}

/// The codes of `codes` whose parent is not among them: a downward-closed set of
/// jurisdictions is the union of these trees, and each tree's counters are its top's.
pub(crate) fn tops(registry: &Registry, codes: &[String]) -> Vec<String> {
    codes
        .iter()
        .filter(|code| {
            registry
                .get(code)
                .and_then(|j| j.parent.as_ref())
                .is_none_or(|parent| !codes.contains(parent))
        })
        .cloned()
        .collect()
}

/// The statistics of one agency, or of all, from the counters (no obligation counted as
/// overdue).
pub async fn read(db: &impl ConnectionTrait, agency: Option<&str>) -> Result<Statistics, Error> {
    Ok(figures(&counters(db, agency).await?, Overdue::default()))
}

/// The statistics of one agency, or of all, computed from the rows as [`read`] must find them.
pub async fn recount(db: &impl ConnectionTrait, agency: Option<&str>) -> Result<Statistics, Error> {
    Ok(figures(
        &recount_counters(db, agency).await?,
        Overdue::default(),
    ))
}

/// The counters of one agency, or summed over all, as stored.
pub async fn counters(
    db: &impl ConnectionTrait,
    agency: Option<&str>,
) -> Result<BTreeMap<String, i64>, Error> {
    let counted = Counted {
        agency: agency.map(str::to_owned),
        ..Counted::default()
    };
    let by_agency = counters::by_agency(db, &[EVERYWHERE.to_owned()], &counted).await?;
    Ok(summed(by_agency.into_values()))
}

/// The counters of one agency, or summed over all, computed from the rows.
pub async fn recount_counters(
    db: &impl ConnectionTrait,
    agency: Option<&str>,
) -> Result<BTreeMap<String, i64>, Error> {
    let counted = Counted {
        agency: agency.map(str::to_owned),
        ..Counted::default()
    };
    Ok(summed(rows::by_agency(db, &counted).await?.into_values()))
}

fn summed(maps: impl Iterator<Item = BTreeMap<String, i64>>) -> BTreeMap<String, i64> {
    let mut total = BTreeMap::new();
    for map in maps {
        for (name, value) in map {
            *total.entry(name).or_default() += value;
        }
    }
    total.retain(|_, v| *v != 0);
    total
}

/// Obligations past due and still open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Overdue {
    pub(crate) replies: i64,
    pub(crate) opinions: i64,
}

fn rate(hits: i64, total: i64) -> Option<f64> {
    (total > 0).then(|| hits as f64 / total as f64)
}

/// The supervisors' figures from the counters and the obligations overdue.
fn figures(counters: &BTreeMap<String, i64>, late: Overdue) -> Statistics {
    let get = |name: &str| counters.get(name).copied().unwrap_or(0);
    let replies = get(REPLIES);
    let opinions = get(OPINIONS);
    let class_shares = counters
        .iter()
        .filter_map(|(name, n)| {
            let class = name.strip_prefix(CLASS)?;
            Some((class.to_owned(), *n as f64 / replies.max(1) as f64))
        })
        .collect();
    Statistics {
        handler_tasks: get(HANDLER_TASKS),
        co_handler_tasks: get(CO_HANDLER_TASKS),
        completed: get(COMPLETED),
        completion_rate: rate(get(COMPLETED), get(HANDLER_TASKS)),
        replies,
        on_time_rate: rate(get(ON_TIME), replies + late.replies),
        overdue_replies: late.replies,
        first_time_satisfaction_rate: rate(get(FIRST_OK), get(FIRST_TOTAL)),
        final_satisfaction_rate: rate(get(FINAL_OK), get(FINAL_TOTAL)),
        meeting_rate: rate(get(MET), replies),
        class_shares,
        published_share: rate(get(PUBLISHED), replies),
        opinions,
        opinion_on_time_rate: rate(get(OPINIONS_ON_TIME), opinions + late.opinions),
        overdue_opinions: late.opinions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jurisdictions::tree;

    #[test]
    fn obligations_past_due_count_against_the_on_time_rates() {
        let counters: BTreeMap<String, i64> = [
            (REPLIES, 7),
            (ON_TIME, 7),
            (OPINIONS, 4),
            (OPINIONS_ON_TIME, 3),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
        .collect();
        let punctual = figures(&counters, Overdue::default());
        assert_eq!(punctual.on_time_rate, Some(1.0));
        let late = figures(
            &counters,
            Overdue {
                replies: 13,
                opinions: 2,
            },
        );
        assert_eq!(late.on_time_rate, Some(7.0 / 20.0));
        assert_eq!(late.overdue_replies, 13);
        assert_eq!(late.opinion_on_time_rate, Some(3.0 / 6.0));
        // Nothing sent yet, one obligation past due: an on-time rate of 0, not none.
        let none_sent = figures(
            &BTreeMap::new(),
            Overdue {
                replies: 1,
                opinions: 0,
            },
        );
        assert_eq!(none_sent.on_time_rate, Some(0.0));
        assert_eq!(none_sent.opinion_on_time_rate, None);
    }

    #[test]
    fn the_tops_of_a_supervisors_trees_hold_the_ones_below() {
        let registry = tree(&[
            ("cq", None),
            ("cq-yz", Some("cq")),
            ("cq-yz-x", Some("cq-yz")),
            ("cq-jb", Some("cq")),
            ("npc", None),
        ]);
        let codes = |c: &[&str]| c.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            tops(&registry, &registry.below(&codes(&["cq"]))),
            codes(&["cq"])
        );
        assert_eq!(
            tops(
                &registry,
                &registry.below(&codes(&["cq-yz", "cq-jb", "npc"]))
            ),
            codes(&["cq-jb", "cq-yz", "npc"])
        );
        assert_eq!(tops(&registry, &[]), Vec::<String>::new());
    }
}
