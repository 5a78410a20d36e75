//! Per-agency counters behind the supervisors' statistics (`agency_statistics`, one row per
//! agency and counter). The one path adds what each batch changed in the same transaction,
//! so a statistics read is a handful of rows rather than aggregates over every task, reply,
//! receipt and disclosure; [`rebuild`] and [`recount`] compute the same figures from the
//! rows themselves.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use cohandle_workflows::model::{ContactMethod, DisclosureScope};
use cohandle_workflows::{Body, Event, Proposal};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, FromQueryResult, Statement,
    TransactionTrait, Value,
};
use serde::Serialize;

use crate::bulk::{placeholder, value_tuples};
use crate::entities::{disclosure, feedback, reply, task};
use crate::Error;

/// The figures supervisors report (办结率, 按时答复率, 满意率, 见面率, class shares, 公开率).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Statistics {
    pub handler_tasks: i64,
    pub completed: i64,
    pub completion_rate: Option<f64>,
    pub replies: i64,
    pub on_time_rate: Option<f64>,
    pub first_time_satisfaction_rate: Option<f64>,
    pub final_satisfaction_rate: Option<f64>,
    pub meeting_rate: Option<f64>,
    pub class_shares: BTreeMap<String, f64>,
    pub published_share: Option<f64>,
}

pub const HANDLER_TASKS: &str = "handler_tasks";
pub const COMPLETED: &str = "completed";
pub const REPLIES: &str = "replies";
pub const ON_TIME: &str = "on_time";
pub const MET: &str = "met";
pub const FIRST_TOTAL: &str = "first_total";
pub const FIRST_OK: &str = "first_ok";
pub const FINAL_TOTAL: &str = "final_total";
pub const FINAL_OK: &str = "final_ok";
pub const PUBLISHED: &str = "published";
/// Prefix of the per-result-class reply counters (`class:A`, …).
pub const CLASS: &str = "class:";

/// Every counter as the rows define it, one `(agency, name, value)` row each; the counters
/// must always equal this. "Final" feedback is each task's latest round. `{only}` narrows
/// every part to some proposals ([`from_rows`]).
const ROWS: &str = "\
SELECT agency, 'handler_tasks' AS name, COUNT(*) AS value FROM tasks WHERE active AND role <> 'co_handler'{only} GROUP BY agency \
UNION ALL SELECT agency, 'completed', SUM(CASE WHEN terminal THEN 1 ELSE 0 END) FROM tasks WHERE active AND role <> 'co_handler'{only} GROUP BY agency \
UNION ALL SELECT agency, 'replies', COUNT(*) FROM replies WHERE round = 1{only} GROUP BY agency \
UNION ALL SELECT agency, 'on_time', SUM(CASE WHEN on_time THEN 1 ELSE 0 END) FROM replies WHERE round = 1{only} GROUP BY agency \
UNION ALL SELECT agency, 'met', SUM(CASE WHEN met_deputy THEN 1 ELSE 0 END) FROM replies WHERE round = 1{only} GROUP BY agency \
UNION ALL SELECT agency, 'class:' || result_class, COUNT(*) FROM replies WHERE round = 1{only} GROUP BY agency, result_class \
UNION ALL SELECT agency, 'first_total', COUNT(*) FROM feedback WHERE round = 1{only} GROUP BY agency \
UNION ALL SELECT agency, 'first_ok', SUM(CASE WHEN satisfaction <> 'dissatisfied' THEN 1 ELSE 0 END) FROM feedback WHERE round = 1{only} GROUP BY agency \
UNION ALL SELECT agency, 'final_total', COUNT(*) FROM feedback f WHERE NOT EXISTS \
  (SELECT 1 FROM feedback g WHERE g.proposal_key = f.proposal_key AND g.agency = f.agency AND g.round > f.round){only} GROUP BY agency \
UNION ALL SELECT agency, 'final_ok', SUM(CASE WHEN satisfaction <> 'dissatisfied' THEN 1 ELSE 0 END) FROM feedback f WHERE NOT EXISTS \
  (SELECT 1 FROM feedback g WHERE g.proposal_key = f.proposal_key AND g.agency = f.agency AND g.round > f.round){only} GROUP BY agency \
UNION ALL SELECT agency, 'published', SUM(CASE WHEN scope = 'full' THEN 1 ELSE 0 END) FROM disclosures WHERE 1 = 1{only} GROUP BY agency";

/// [`ROWS`] over every proposal, or over those of `jurisdictions` only.
fn from_rows(jurisdictions: Option<&[String]>) -> String {
    let only = match jurisdictions {
        None => String::new(),
        Some(codes) => {
            // Codes are checked when registered; anything else is left out, not quoted.
            let codes: Vec<String> = codes
                .iter()
                .filter(|c| crate::jurisdictions::check_code(c).is_ok())
                .map(|c| format!("'{c}'"))
                .collect();
            format!(
                " AND proposal_key IN (SELECT key FROM proposals WHERE jurisdiction IN ({}))",
                if codes.is_empty() {
                    "NULL".to_owned()
                } else {
                    codes.join(", ")
                }
            )
        }
    };
    ROWS.replace("{only}", &only)
}

/// What one batch changes in the counters, by (agency, counter). Ordered, so that every
/// writer updates the counter rows in the same order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Deltas(BTreeMap<(String, String), i64>);

impl Deltas {
    pub fn add(&mut self, agency: &str, name: &str, amount: i64) {
        if amount != 0 {
            *self
                .0
                .entry((agency.to_owned(), name.to_owned()))
                .or_default() += amount;
        }
    }

    /// The changes that are not zero.
    pub fn changes(&self) -> impl Iterator<Item = (&str, &str, i64)> {
        self.0
            .iter()
            .filter(|(_, amount)| **amount != 0)
            .map(|((agency, name), amount)| (agency.as_str(), name.as_str(), *amount))
    }

    /// One proposal's task rows as they were (none for a new proposal) and as they are.
    pub fn tasks(&mut self, before: &[task::Model], after: &[task::Model]) {
        for (rows, sign) in [(before, -1), (after, 1)] {
            for t in rows.iter().filter(|t| t.active && t.role != "co_handler") {
                self.add(&t.agency, HANDLER_TASKS, sign);
                self.add(&t.agency, COMPLETED, sign * i64::from(t.terminal));
            }
        }
    }

    /// A reply row; only first replies count.
    pub fn reply(
        &mut self,
        agency: &str,
        round: i32,
        result_class: &str,
        on_time: bool,
        met_deputy: bool,
    ) {
        if round == 1 {
            self.add(agency, REPLIES, 1);
            self.add(agency, ON_TIME, i64::from(on_time));
            self.add(agency, MET, i64::from(met_deputy));
            self.add(agency, &format!("{CLASS}{result_class}"), 1);
        }
    }

    /// A feedback receipt of `round`. It becomes the task's final one, so the round before
    /// it (`previous_satisfied`, if there was one) stops being final.
    pub fn feedback(
        &mut self,
        agency: &str,
        round: i32,
        satisfied: bool,
        previous_satisfied: Option<bool>,
    ) {
        if round == 1 {
            self.add(agency, FIRST_TOTAL, 1);
            self.add(agency, FIRST_OK, i64::from(satisfied));
        }
        self.add(agency, FINAL_TOTAL, 1);
        self.add(agency, FINAL_OK, i64::from(satisfied));
        if let Some(previous) = previous_satisfied {
            self.add(agency, FINAL_TOTAL, -1);
            self.add(agency, FINAL_OK, -i64::from(previous));
        }
    }

    /// A disclosure row, which replaces the task's earlier one (`previous_full`, if any).
    pub fn disclosure(&mut self, agency: &str, full: bool, previous_full: Option<bool>) {
        self.add(
            agency,
            PUBLISHED,
            i64::from(full) - i64::from(previous_full.unwrap_or(false)),
        );
    }
}

/// What a batch's decisions add to the statistics: the rows of the statistics tables
/// (replies, feedback, disclosures) and what they change in the counters.
#[derive(Debug, Default)]
pub(crate) struct Projection {
    pub(crate) replies: Vec<reply::ActiveModel>,
    pub(crate) feedback: Vec<feedback::ActiveModel>,
    pub(crate) disclosures: Vec<disclosure::ActiveModel>,
    pub(crate) deltas: Deltas,
}

impl Projection {
    /// Rows for the statistics tables, written when an event adds to them, and what they change
    /// in the counters.
    /// `recorded_on` is the date the engine recorded the event on: a reply is on time when it
    /// was recorded by its due date, whatever date the letter declares.
    pub(crate) fn project(
        &mut self,
        before: Option<&Proposal>,
        after: &Proposal,
        event: &Event,
        recorded_on: NaiveDate,
    ) {
        let agency = match &event.body {
            Body::SendReply(_) | Body::RecordDisclosure(_) => event.actor.agency.clone(),
            Body::RecordFeedback { agency, .. } => agency.clone(),
            _ => return,
        };
        let Some(task) = after.task(&agency) else {
            return;
        };
        let key = after.key.to_string();
        let was = before.and_then(|p| p.task(&agency));
        match &event.body {
            Body::SendReply(dispatch) => {
                let due_before = was.and_then(|t| {
                    ["rehandling", "reply"]
                        .iter()
                        .find_map(|n| t.deadlines.get(*n))
                        .map(|d| d.due)
                });
                let (Some(draft), Some(signature)) = (&task.draft, &task.signature) else {
                    return;
                };
                let round = task.replies.len() as i32;
                let result_class = <&str>::from(draft.result_class).to_owned();
                let on_time = due_before.is_none_or(|due| recorded_on <= due);
                let met_deputy = task
                    .contacts
                    .iter()
                    .any(|c| c.method == ContactMethod::Meeting);
                self.deltas
                    .reply(agency.as_str(), round, &result_class, on_time, met_deputy);
                self.replies.push(reply::ActiveModel {
                    proposal_key: Set(key),
                    agency: Set(agency.to_string()),
                    round: Set(round),
                    document_number: Set(draft.document_number.clone()),
                    result_class: Set(result_class),
                    signer: Set(signature.signer.clone()),
                    signed_on: Set(signature.signed_on),
                    sent_on: Set(dispatch.sent_on),
                    recorded_on: Set(Some(recorded_on)),
                    due_on: Set(due_before),
                    on_time: Set(on_time),
                    met_deputy: Set(met_deputy),
                });
            }
            Body::RecordFeedback { feedback: f, .. } => {
                let round = task.feedback.len() as i32;
                self.deltas.feedback(
                    agency.as_str(),
                    round,
                    f.satisfaction.is_satisfied(),
                    was.and_then(|t| t.feedback.last())
                        .map(|previous| previous.satisfaction.is_satisfied()),
                );
                self.feedback.push(feedback::ActiveModel {
                    proposal_key: Set(key),
                    agency: Set(agency.to_string()),
                    round: Set(round),
                    satisfaction: Set(<&str>::from(f.satisfaction).to_owned()),
                    received_on: Set(f.received_on),
                });
            }
            Body::RecordDisclosure(d) => {
                let full = |scope| scope == DisclosureScope::Full;
                self.deltas.disclosure(
                    agency.as_str(),
                    full(d.scope),
                    was.and_then(|t| t.disclosure.as_ref())
                        .map(|p| full(p.scope)),
                );
                self.disclosures.push(disclosure::ActiveModel {
                    proposal_key: Set(key),
                    agency: Set(agency.to_string()),
                    index_number: Set(d.index_number.clone()),
                    topic: Set(d.topic.clone()),
                    scope: Set(<&str>::from(d.scope).to_owned()),
                    withheld_reason: Set(d.withheld_reason.clone()),
                    written_on: Set(d.written_on),
                    published_on: Set(d.published_on),
                });
            }
            _ => {}
        }
    }
}

/// Adds a batch's changes to the counters in one statement per 300 rows, in key order.
pub(crate) async fn apply(db: &impl ConnectionTrait, deltas: &Deltas) -> Result<(), Error> {
    let backend = db.get_database_backend();
    if backend == DatabaseBackend::Postgres {
        // One statement text whatever the number of counters: arrays, unnested in order.
        let changes: Vec<(&str, &str, i64)> = deltas.changes().collect();
        if changes.is_empty() {
            return Ok(());
        }
        let sql = "INSERT INTO agency_statistics (agency, name, value) \
                   SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) \
                   ON CONFLICT (agency, name) DO UPDATE SET value = agency_statistics.value + excluded.value";
        let values = [
            crate::bulk::text_array(changes.iter().map(|c| c.0)),
            crate::bulk::text_array(changes.iter().map(|c| c.1)),
            crate::bulk::bigint_array(changes.iter().map(|c| c.2)),
        ];
        db.execute(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        return Ok(());
    }
    let rows: Vec<[Value; 3]> = deltas
        .changes()
        .map(|(agency, name, amount)| [agency.into(), name.into(), amount.into()])
        .collect();
    for chunk in rows.chunks(300) {
        let (tuples, values) = value_tuples(backend, chunk);
        let sql = format!(
            "INSERT INTO agency_statistics (agency, name, value) VALUES {tuples} \
             ON CONFLICT (agency, name) DO UPDATE SET value = agency_statistics.value + excluded.value"
        );
        db.execute(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// Replaces every counter with the figure the rows give, in one transaction. On PostgreSQL
/// the counters are locked against writers first, so a batch that commits meanwhile is
/// either in the recount or added after it.
pub async fn rebuild(db: &DatabaseConnection) -> Result<(), Error> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_unprepared("LOCK TABLE agency_statistics IN EXCLUSIVE MODE")
            .await?;
    }
    fill(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// Recomputes the counters from the rows (the migration that creates them, and [`rebuild`]).
pub(crate) async fn fill(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    db.execute_unprepared("DELETE FROM agency_statistics")
        .await?;
    db.execute_unprepared(&format!(
        "INSERT INTO agency_statistics (agency, name, value) \
         SELECT agency, name, value FROM ({}) counts WHERE value <> 0",
        from_rows(None)
    ))
    .await?;
    Ok(())
}

/// A counter whose stored value differs from what the rows give.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Drift {
    pub agency: String,
    pub name: String,
    pub stored: i64,
    pub counted: i64,
}

/// Every counter that differs from the rows (none, as long as only the engine writes them),
/// in (agency, name) order.
pub async fn drift(db: &impl ConnectionTrait) -> Result<Vec<Drift>, Error> {
    let sql = format!(
        "SELECT COALESCE(s.agency, c.agency) AS agency, COALESCE(s.name, c.name) AS name, \
                COALESCE(s.value, 0) AS stored, COALESCE(c.value, 0) AS counted \
         FROM agency_statistics s FULL OUTER JOIN ({}) c \
              ON s.agency = c.agency AND s.name = c.name \
         WHERE COALESCE(s.value, 0) <> COALESCE(c.value, 0) \
         ORDER BY 1, 2",
        from_rows(None)
    );
    Ok(
        Drift::find_by_statement(Statement::from_string(db.get_database_backend(), sql))
            .all(db)
            .await?,
    )
}

/// The statistics of one agency, or of all, from the counters.
pub async fn read(db: &impl ConnectionTrait, agency: Option<&str>) -> Result<Statistics, Error> {
    Ok(figures(&sums(db, "agency_statistics", agency).await?))
}

/// The statistics of one agency, or of all, computed from the rows as [`read`] must find them.
pub async fn recount(db: &impl ConnectionTrait, agency: Option<&str>) -> Result<Statistics, Error> {
    Ok(figures(&recount_counters(db, agency).await?))
}

/// The statistics of one agency, or of all, over the proposals of `jurisdictions` only (a
/// supervisor's), from the rows: the counters are kept per agency, not per jurisdiction.
pub async fn read_within(
    db: &impl ConnectionTrait,
    jurisdictions: &[String],
    agency: Option<&str>,
) -> Result<Statistics, Error> {
    let source = format!("({}) counts", from_rows(Some(jurisdictions)));
    Ok(figures(&sums(db, &source, agency).await?))
}

/// The counters of one agency, or summed over all, as stored.
pub async fn counters(
    db: &impl ConnectionTrait,
    agency: Option<&str>,
) -> Result<BTreeMap<String, i64>, Error> {
    sums(db, "agency_statistics", agency).await
}

/// The counters of one agency, or summed over all, computed from the rows.
pub async fn recount_counters(
    db: &impl ConnectionTrait,
    agency: Option<&str>,
) -> Result<BTreeMap<String, i64>, Error> {
    sums(db, &format!("({}) counts", from_rows(None)), agency).await
}

#[derive(Debug, FromQueryResult)]
struct Counter {
    name: String,
    value: i64,
}

async fn sums(
    db: &impl ConnectionTrait,
    source: &str,
    agency: Option<&str>,
) -> Result<BTreeMap<String, i64>, Error> {
    let backend = db.get_database_backend();
    let (filter, values): (String, Vec<Value>) = match agency {
        Some(a) => (
            format!("WHERE agency = {}", placeholder(backend, 1)),
            vec![a.into()],
        ),
        None => (String::new(), Vec::new()),
    };
    let sql = format!(
        "SELECT name, CAST(SUM(value) AS BIGINT) AS value FROM {source} {filter} GROUP BY name"
    );
    let rows = Counter::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|c| c.value != 0)
        .map(|c| (c.name, c.value))
        .collect())
}

fn rate(hits: i64, total: i64) -> Option<f64> {
    (total > 0).then(|| hits as f64 / total as f64)
}

/// The supervisors' figures from the counters.
fn figures(counters: &BTreeMap<String, i64>) -> Statistics {
    let get = |name: &str| counters.get(name).copied().unwrap_or(0);
    let replies = get(REPLIES);
    let class_shares = counters
        .iter()
        .filter_map(|(name, n)| {
            let class = name.strip_prefix(CLASS)?;
            Some((class.to_owned(), *n as f64 / replies.max(1) as f64))
        })
        .collect();
    Statistics {
        handler_tasks: get(HANDLER_TASKS),
        completed: get(COMPLETED),
        completion_rate: rate(get(COMPLETED), get(HANDLER_TASKS)),
        replies,
        on_time_rate: rate(get(ON_TIME), replies),
        first_time_satisfaction_rate: rate(get(FIRST_OK), get(FIRST_TOTAL)),
        final_satisfaction_rate: rate(get(FINAL_OK), get(FINAL_TOTAL)),
        meeting_rate: rate(get(MET), replies),
        class_shares,
        published_share: rate(get(PUBLISHED), replies),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task_row(agency: &str, role: &str, active: bool, terminal: bool) -> task::Model {
        task::Model {
            proposal_key: "cq-1".into(),
            position: 0,
            agency: agency.into(),
            role: role.into(),
            state: "handling".into(),
            active,
            terminal,
            due_on: None,
            due_deadline: None,
            session: String::new(),
            kind: String::new(),
            key_supervision: false,
            jurisdiction: "cq".into(),
        }
    }

    fn of(deltas: &Deltas) -> Vec<(&str, &str, i64)> {
        deltas.changes().collect()
    }

    #[test]
    fn a_task_counts_while_active_and_not_a_co_handler() {
        let mut d = Deltas::default();
        d.tasks(
            &[],
            &[
                task_row("a", "lead", true, false),
                task_row("b", "co_handler", true, false),
            ],
        );
        assert_eq!(of(&d), [("a", HANDLER_TASKS, 1)]);
        // The task moves from a to c, whose task is already finished.
        let mut d = Deltas::default();
        d.tasks(
            &[task_row("a", "lead", true, false)],
            &[
                task_row("a", "lead", false, true),
                task_row("c", "lead", true, true),
            ],
        );
        assert_eq!(
            of(&d),
            [
                ("a", HANDLER_TASKS, -1),
                ("c", COMPLETED, 1),
                ("c", HANDLER_TASKS, 1)
            ]
        );
    }

    #[test]
    fn only_first_replies_count() {
        let mut d = Deltas::default();
        d.reply("a", 1, "B", false, true);
        d.reply("a", 2, "A", true, true);
        assert_eq!(
            of(&d),
            [("a", "class:B", 1), ("a", MET, 1), ("a", REPLIES, 1)]
        );
    }

    #[test]
    fn a_second_receipt_replaces_the_first_as_final() {
        let mut d = Deltas::default();
        d.feedback("a", 1, false, None);
        assert_eq!(of(&d), [("a", FINAL_TOTAL, 1), ("a", FIRST_TOTAL, 1)]);
        d.feedback("a", 2, true, Some(false));
        assert_eq!(
            of(&d),
            [
                ("a", FINAL_OK, 1),
                ("a", FINAL_TOTAL, 1),
                ("a", FIRST_TOTAL, 1)
            ]
        );
    }

    #[test]
    fn a_disclosure_replaces_the_earlier_one() {
        let mut d = Deltas::default();
        d.disclosure("a", true, None);
        d.disclosure("a", false, Some(true));
        assert_eq!(of(&d), []);
        d.disclosure("a", true, Some(false));
        assert_eq!(of(&d), [("a", PUBLISHED, 1)]);
    }
}
