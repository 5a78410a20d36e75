//! The counters: what a batch changes, added to every scope it belongs to in the batch's
//! transaction; read per agency over a set of scopes; rebuilt and checked from the rows.

use std::collections::BTreeMap;

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, FromQueryResult, Statement,
    TransactionTrait, Value,
};

use super::HANDLER_TASKS;
use super::{CLASS, COMPLETED, CO_HANDLER_TASKS, FINAL_OK, FINAL_TOTAL, FIRST_OK, FIRST_TOTAL};
use super::{MET, ON_TIME, OPINIONS, OPINIONS_ON_TIME, PUBLISHED, REPLIES};
use crate::bulk::{placeholder, value_tuples};
use crate::entities::task;
use crate::jurisdictions::Registry;
use crate::Error;

/// The scope of every proposal, whatever its jurisdiction (jurisdiction codes never hold `*`).
pub const EVERYWHERE: &str = "*";

/// What one batch changes in the counters, by (jurisdiction, agency, counter). Ordered, so
/// that every writer updates the counter rows in the same order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Deltas(BTreeMap<(String, String, String), i64>);

impl Deltas {
    pub fn add(&mut self, jurisdiction: &str, agency: &str, name: &str, amount: i64) {
        if amount != 0 {
            *self
                .0
                .entry((jurisdiction.to_owned(), agency.to_owned(), name.to_owned()))
                .or_default() += amount;
        }
    }

    /// The changes that are not zero, as (jurisdiction, agency, counter, amount).
    pub fn changes(&self) -> impl Iterator<Item = (&str, &str, &str, i64)> {
        self.0.iter().filter(|(_, amount)| **amount != 0).map(
            |((jurisdiction, agency, name), amount)| {
                (
                    jurisdiction.as_str(),
                    agency.as_str(),
                    name.as_str(),
                    *amount,
                )
            },
        )
    }

    /// One proposal's task rows as they were (none for a new proposal) and as they are.
    pub fn tasks(&mut self, before: &[task::Model], after: &[task::Model]) {
        for (rows, sign) in [(before, -1), (after, 1)] {
            for t in rows.iter().filter(|t| t.active && t.role == "co_handler") {
                self.add(&t.jurisdiction, &t.agency, CO_HANDLER_TASKS, sign);
            }
            for t in rows.iter().filter(|t| t.active && t.role != "co_handler") {
                self.add(&t.jurisdiction, &t.agency, HANDLER_TASKS, sign);
                self.add(
                    &t.jurisdiction,
                    &t.agency,
                    COMPLETED,
                    sign * i64::from(t.terminal),
                );
            }
        }
    }

    /// A reply row; only first replies count.
    pub fn reply(
        &mut self,
        jurisdiction: &str,
        agency: &str,
        round: i32,
        result_class: &str,
        on_time: bool,
        met_deputy: bool,
    ) {
        if round == 1 {
            self.add(jurisdiction, agency, REPLIES, 1);
            self.add(jurisdiction, agency, ON_TIME, i64::from(on_time));
            self.add(jurisdiction, agency, MET, i64::from(met_deputy));
            self.add(jurisdiction, agency, &format!("{CLASS}{result_class}"), 1);
        }
    }

    /// A feedback receipt of `round`. It becomes the task's final one, so the round before
    /// it (`previous_satisfied`, if there was one) stops being final.
    pub fn feedback(
        &mut self,
        jurisdiction: &str,
        agency: &str,
        round: i32,
        satisfied: bool,
        previous_satisfied: Option<bool>,
    ) {
        if round == 1 {
            self.add(jurisdiction, agency, FIRST_TOTAL, 1);
            self.add(jurisdiction, agency, FIRST_OK, i64::from(satisfied));
        }
        self.add(jurisdiction, agency, FINAL_TOTAL, 1);
        self.add(jurisdiction, agency, FINAL_OK, i64::from(satisfied));
        if let Some(previous) = previous_satisfied {
            self.add(jurisdiction, agency, FINAL_TOTAL, -1);
            self.add(jurisdiction, agency, FINAL_OK, -i64::from(previous));
        }
    }

    /// A disclosure row, which replaces the task's earlier one (`previous_full`, if any).
    pub fn disclosure(
        &mut self,
        jurisdiction: &str,
        agency: &str,
        full: bool,
        previous_full: Option<bool>,
    ) {
        self.add(
            jurisdiction,
            agency,
            PUBLISHED,
            i64::from(full) - i64::from(previous_full.unwrap_or(false)),
        );
    }

    /// A co-handler's first opinion.
    pub fn opinion(&mut self, jurisdiction: &str, agency: &str, on_time: bool) {
        self.add(jurisdiction, agency, OPINIONS, 1);
        self.add(jurisdiction, agency, OPINIONS_ON_TIME, i64::from(on_time));
    }

    /// The changes summed into every scope they count in: the jurisdiction, each one above
    /// it, and everything; by (scope, agency, counter).
    pub(crate) fn scoped(&self, registry: &Registry) -> BTreeMap<(String, String, String), i64> {
        let mut scoped = BTreeMap::new();
        for (jurisdiction, agency, name, amount) in self.changes() {
            for scope in scopes_of(registry, jurisdiction) {
                *scoped
                    .entry((scope.to_owned(), agency.to_owned(), name.to_owned()))
                    .or_default() += amount;
            }
        }
        scoped.retain(|_, amount| *amount != 0);
        scoped
    }
}

/// The scopes a proposal of `jurisdiction` counts in: its path from the top, then everything.
/// A proposal of no registered jurisdiction counts in everything only.
fn scopes_of<'a>(registry: &'a Registry, jurisdiction: &str) -> Vec<&'a str> {
    let mut scopes = registry.path(jurisdiction);
    scopes.push(EVERYWHERE);
    scopes
}

const UPSERT: &str = "ON CONFLICT (scope, agency, name) DO UPDATE SET value = statistics_counters.value + excluded.value";

/// Adds a batch's changes to the counters of every scope, in key order: on PostgreSQL in one
/// statement, on SQLite in one per 300 rows.
pub(crate) async fn apply(
    db: &impl ConnectionTrait,
    deltas: &Deltas,
    registry: &Registry,
) -> Result<(), Error> {
    let scoped = deltas.scoped(registry);
    if scoped.is_empty() {
        return Ok(());
    }
    write(db, &scoped).await
}

async fn write(
    db: &impl ConnectionTrait,
    rows: &BTreeMap<(String, String, String), i64>,
) -> Result<(), Error> {
    let backend = db.get_database_backend();
    if backend == DatabaseBackend::Postgres {
        // One statement text whatever the number of counters: arrays, unnested in order.
        for chunk in rows.iter().collect::<Vec<_>>().chunks(50_000) {
            let sql = format!(
                "INSERT INTO statistics_counters (scope, agency, name, value) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) {UPSERT}"
            );
            let values = [
                crate::bulk::text_array(chunk.iter().map(|((s, _, _), _)| s.as_str())),
                crate::bulk::text_array(chunk.iter().map(|((_, a, _), _)| a.as_str())),
                crate::bulk::text_array(chunk.iter().map(|((_, _, n), _)| n.as_str())),
                crate::bulk::bigint_array(chunk.iter().map(|(_, v)| **v)),
            ];
            db.execute(Statement::from_sql_and_values(backend, sql, values))
                .await?;
        }
        return Ok(());
    }
    let rows: Vec<[Value; 4]> = rows
        .iter()
        .map(|((scope, agency, name), amount)| {
            [
                scope.as_str().into(),
                agency.as_str().into(),
                name.as_str().into(),
                (*amount).into(),
            ]
        })
        .collect();
    for chunk in rows.chunks(300) {
        let (tuples, values) = value_tuples(backend, chunk);
        let sql = format!(
            "INSERT INTO statistics_counters (scope, agency, name, value) VALUES {tuples} {UPSERT}"
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
        txn.execute_unprepared("LOCK TABLE statistics_counters IN EXCLUSIVE MODE")
            .await?;
    }
    fill(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// Recomputes the counters from the rows (the migration that creates them, and [`rebuild`]).
pub(crate) async fn fill(db: &impl ConnectionTrait) -> Result<(), Error> {
    let expected = from_rows(db).await?;
    db.execute_unprepared("DELETE FROM statistics_counters")
        .await?;
    write(db, &expected).await
}

/// Every counter as the rows define it, by (scope, agency, counter); none is zero.
async fn from_rows(
    db: &impl ConnectionTrait,
) -> Result<BTreeMap<(String, String, String), i64>, Error> {
    let registry = crate::jurisdictions::registry(db).await?;
    let mut deltas = Deltas::default();
    for row in super::rows::count(db, &super::Counted::default()).await? {
        deltas.add(&row.jurisdiction, &row.agency, &row.name, row.value);
    }
    Ok(deltas.scoped(&registry))
}

/// A counter whose stored value differs from what the rows give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub scope: String,
    pub agency: String,
    pub name: String,
    pub stored: i64,
    pub counted: i64,
}

#[derive(Debug, FromQueryResult)]
struct Stored {
    scope: String,
    agency: String,
    name: String,
    value: i64,
}

/// Every counter that differs from the rows (none, as long as only the engine writes them),
/// in (scope, agency, counter) order.
pub async fn drift(db: &impl ConnectionTrait) -> Result<Vec<Drift>, Error> {
    let mut counted = from_rows(db).await?;
    let stored = Stored::find_by_statement(Statement::from_string(
        db.get_database_backend(),
        "SELECT scope, agency, name, value FROM statistics_counters",
    ))
    .all(db)
    .await?;
    let mut drifts = BTreeMap::new();
    for s in stored {
        let key = (s.scope, s.agency, s.name);
        let expected = counted.remove(&key).unwrap_or(0);
        if expected != s.value {
            drifts.insert(key, (s.value, expected));
        }
    }
    for (key, expected) in counted {
        drifts.insert(key, (0, expected));
    }
    Ok(drifts
        .into_iter()
        .map(|((scope, agency, name), (stored, counted))| Drift {
            scope,
            agency,
            name,
            stored,
            counted,
        })
        .collect())
}

#[derive(Debug, FromQueryResult)]
struct Summed {
    agency: String,
    name: String,
    value: i64,
}

/// The counters of `scopes` summed per agency (of one agency only, if given).
pub(super) async fn by_agency(
    db: &impl ConnectionTrait,
    scopes: &[String],
    agency: Option<&str>,
) -> Result<BTreeMap<String, BTreeMap<String, i64>>, Error> {
    if scopes.is_empty() {
        return Ok(BTreeMap::new());
    }
    let backend = db.get_database_backend();
    let mut values: Vec<Value> = scopes.iter().map(|s| s.as_str().into()).collect();
    let marks: Vec<String> = (1..=values.len())
        .map(|n| placeholder(backend, n))
        .collect();
    let mut sql = format!(
        "SELECT agency, name, CAST(SUM(value) AS BIGINT) AS value FROM statistics_counters \
         WHERE scope IN ({})",
        marks.join(", ")
    );
    if let Some(agency) = agency {
        values.push(agency.into());
        sql.push_str(&format!(
            " AND agency = {}",
            placeholder(backend, values.len())
        ));
    }
    sql.push_str(" GROUP BY agency, name");
    let rows = Summed::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(db)
        .await?;
    let mut by_agency: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for row in rows.into_iter().filter(|r| r.value != 0) {
        by_agency
            .entry(row.agency)
            .or_default()
            .insert(row.name, row.value);
    }
    Ok(by_agency)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jurisdictions::tree;

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
        deltas.changes().map(|(_, a, n, v)| (a, n, v)).collect()
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
        assert_eq!(
            of(&d),
            [("a", HANDLER_TASKS, 1), ("b", CO_HANDLER_TASKS, 1)]
        );
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
        d.reply("cq", "a", 1, "B", false, true);
        d.reply("cq", "a", 2, "A", true, true);
        assert_eq!(
            of(&d),
            [("a", "class:B", 1), ("a", MET, 1), ("a", REPLIES, 1)]
        );
    }

    #[test]
    fn a_second_receipt_replaces_the_first_as_final() {
        let mut d = Deltas::default();
        d.feedback("cq", "a", 1, false, None);
        assert_eq!(of(&d), [("a", FINAL_TOTAL, 1), ("a", FIRST_TOTAL, 1)]);
        d.feedback("cq", "a", 2, true, Some(false));
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
        d.disclosure("cq", "a", true, None);
        d.disclosure("cq", "a", false, Some(true));
        assert_eq!(of(&d), []);
        d.disclosure("cq", "a", true, Some(false));
        assert_eq!(of(&d), [("a", PUBLISHED, 1)]);
    }

    #[test]
    fn a_change_counts_in_its_jurisdiction_every_one_above_and_everything() {
        let registry = tree(&[("cq", None), ("cq-yz", Some("cq")), ("npc", None)]);
        let mut d = Deltas::default();
        d.opinion("cq-yz", "a", true);
        d.opinion("npc", "a", false);
        d.opinion("", "b", false);
        let scoped = d.scoped(&registry);
        let scoped: Vec<(&str, &str, &str, i64)> = scoped
            .iter()
            .map(|((s, a, n), v)| (s.as_str(), a.as_str(), n.as_str(), *v))
            .collect();
        assert_eq!(
            scoped,
            [
                ("*", "a", OPINIONS, 2),
                ("*", "a", OPINIONS_ON_TIME, 1),
                ("*", "b", OPINIONS, 1),
                ("cq", "a", OPINIONS, 1),
                ("cq", "a", OPINIONS_ON_TIME, 1),
                ("cq-yz", "a", OPINIONS, 1),
                ("cq-yz", "a", OPINIONS_ON_TIME, 1),
                ("npc", "a", OPINIONS, 1),
            ]
        );
    }
}
