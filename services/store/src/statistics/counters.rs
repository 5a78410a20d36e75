//! The counters: what a batch changes, added to every scope it belongs to in the batch's
//! transaction; read over a set of scopes; rebuilt and checked from the rows.
//!
//! Two tables. `statistics_counters` holds the figures by (scope, session, kind, agency,
//! counter); a scope is a jurisdiction, or `*` for everything. `statistics_months` holds the
//! trend by (scope, session, kind, month, counter); its scopes are the same, plus
//! `agency:<code>` for what concerns one agency (its tasks, replies, receipts, opinions).

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, FromQueryResult, Statement,
    TransactionTrait, Value,
};

use super::{CLASS, COMPLETED, CO_HANDLER_TASKS, FINAL_OK, FINAL_TOTAL, FIRST_OK, FIRST_TOTAL};
use super::{HANDLER_TASKS, MET, ON_TIME, OPINIONS, OPINIONS_ON_TIME, PUBLISHED, REPLIES};
use crate::bulk::{placeholder, value_tuples};
use crate::entities::task;
use crate::jurisdictions::Registry;
use crate::Error;

/// The scope of every proposal, whatever its jurisdiction (jurisdiction codes never hold `*`).
pub const EVERYWHERE: &str = "*";

/// The trend's scope of what concerns one agency.
pub fn agency_scope(agency: &str) -> String {
    format!("agency:{agency}")
}

/// The trend's counters.
pub const ASSIGNED: &str = "assigned";
pub const REPLIES_ON_TIME: &str = "replies_on_time";
pub const RECEIPTS: &str = "receipts";
pub const SATISFIED: &str = "satisfied";

/// Where a proposal's figures count: its jurisdiction, session and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    pub jurisdiction: &'a str,
    pub session: &'a str,
    pub kind: &'a str,
}

/// `YYYY-MM` of a day.
pub fn month_of(day: NaiveDate) -> String {
    format!("{:04}-{:02}", day.year(), day.month())
}

/// A figure's counter: (jurisdiction, session, kind, agency, counter).
type Figure = (String, String, String, String, String);
/// A month's counter: (jurisdiction, or the agency's scope; session; kind; month; counter);
/// the bool tells which: a jurisdiction's counts in every scope above it too.
type MonthKey = (bool, String, String, String, String, String);

/// What one batch changes in the counters. Ordered, so that every writer updates the
/// counter rows in the same order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Deltas {
    figures: BTreeMap<Figure, i64>,
    months: BTreeMap<MonthKey, i64>,
}

impl Deltas {
    pub fn add(&mut self, place: Place<'_>, agency: &str, name: &str, amount: i64) {
        if amount != 0 {
            *self
                .figures
                .entry((
                    place.jurisdiction.to_owned(),
                    place.session.to_owned(),
                    place.kind.to_owned(),
                    agency.to_owned(),
                    name.to_owned(),
                ))
                .or_default() += amount;
        }
    }

    /// A month's counter of the place's jurisdiction (and every one above it) if
    /// `jurisdiction`, and of `agency` if given.
    pub fn add_month(
        &mut self,
        place: Place<'_>,
        jurisdiction: bool,
        agency: Option<&str>,
        day: NaiveDate,
        name: &str,
        amount: i64,
    ) {
        if amount == 0 {
            return;
        }
        let month = month_of(day);
        let who = jurisdiction
            .then(|| (true, place.jurisdiction.to_owned()))
            .into_iter()
            .chain(agency.map(|a| (false, agency_scope(a))));
        for (is_jurisdiction, who) in who {
            let key = (
                is_jurisdiction,
                who,
                place.session.to_owned(),
                place.kind.to_owned(),
                month.clone(),
                name.to_owned(),
            );
            *self.months.entry(key).or_default() += amount;
        }
    }

    /// The figures' changes that are not zero, as (jurisdiction, session, kind, agency,
    /// counter, amount).
    pub fn changes(&self) -> impl Iterator<Item = (&str, &str, &str, &str, &str, i64)> {
        self.figures
            .iter()
            .filter(|(_, amount)| **amount != 0)
            .map(|((j, s, k, a, n), amount)| {
                (
                    j.as_str(),
                    s.as_str(),
                    k.as_str(),
                    a.as_str(),
                    n.as_str(),
                    *amount,
                )
            })
    }

    /// A new proposal of `place`, assigned on `assigned_on`.
    pub fn assigned(&mut self, place: Place<'_>, assigned_on: NaiveDate) {
        self.add_month(place, true, None, assigned_on, ASSIGNED, 1);
    }

    /// One proposal's task rows as they were (none for a new proposal) and as they are; the
    /// proposal was assigned on `assigned_on`.
    pub fn tasks(&mut self, before: &[task::Model], after: &[task::Model], assigned_on: NaiveDate) {
        for (rows, sign) in [(before, -1), (after, 1)] {
            for t in rows.iter().filter(|t| t.active) {
                let place = Place {
                    jurisdiction: &t.jurisdiction,
                    session: &t.session,
                    kind: &t.kind,
                };
                if t.role == "co_handler" {
                    self.add(place, &t.agency, CO_HANDLER_TASKS, sign);
                } else {
                    self.add(place, &t.agency, HANDLER_TASKS, sign);
                    self.add(place, &t.agency, COMPLETED, sign * i64::from(t.terminal));
                }
            }
        }
        // A task given to an agency counts in its trend in the proposal's month.
        let same =
            |a: &task::Model, b: &task::Model| a.position == b.position && a.agency == b.agency;
        for (rows, others, sign) in [(after, before, 1), (before, after, -1)] {
            for t in rows.iter().filter(|t| !others.iter().any(|o| same(o, t))) {
                let place = Place {
                    jurisdiction: &t.jurisdiction,
                    session: &t.session,
                    kind: &t.kind,
                };
                self.add_month(place, false, Some(&t.agency), assigned_on, ASSIGNED, sign);
            }
        }
    }

    /// A reply row, recorded on `recorded_on`; only first replies count.
    #[allow(clippy::too_many_arguments)]
    pub fn reply(
        &mut self,
        place: Place<'_>,
        agency: &str,
        round: i32,
        result_class: &str,
        on_time: bool,
        met_deputy: bool,
        recorded_on: NaiveDate,
    ) {
        if round == 1 {
            self.add(place, agency, REPLIES, 1);
            self.add(place, agency, ON_TIME, i64::from(on_time));
            self.add(place, agency, MET, i64::from(met_deputy));
            self.add(place, agency, &format!("{CLASS}{result_class}"), 1);
            let a = Some(agency);
            self.add_month(place, true, a, recorded_on, REPLIES, 1);
            self.add_month(
                place,
                true,
                a,
                recorded_on,
                REPLIES_ON_TIME,
                i64::from(on_time),
            );
        }
    }

    /// A feedback receipt of `round`, received on `received_on`. It becomes the task's final
    /// one, so the round before it (`previous_satisfied`, if there was one) stops being final.
    pub fn feedback(
        &mut self,
        place: Place<'_>,
        agency: &str,
        round: i32,
        satisfied: bool,
        previous_satisfied: Option<bool>,
        received_on: NaiveDate,
    ) {
        if round == 1 {
            self.add(place, agency, FIRST_TOTAL, 1);
            self.add(place, agency, FIRST_OK, i64::from(satisfied));
            let a = Some(agency);
            self.add_month(place, true, a, received_on, RECEIPTS, 1);
            self.add_month(place, true, a, received_on, SATISFIED, i64::from(satisfied));
        }
        self.add(place, agency, FINAL_TOTAL, 1);
        self.add(place, agency, FINAL_OK, i64::from(satisfied));
        if let Some(previous) = previous_satisfied {
            self.add(place, agency, FINAL_TOTAL, -1);
            self.add(place, agency, FINAL_OK, -i64::from(previous));
        }
    }

    /// A disclosure row, which replaces the task's earlier one (`previous_full`, if any).
    pub fn disclosure(
        &mut self,
        place: Place<'_>,
        agency: &str,
        full: bool,
        previous_full: Option<bool>,
    ) {
        self.add(
            place,
            agency,
            PUBLISHED,
            i64::from(full) - i64::from(previous_full.unwrap_or(false)),
        );
    }

    /// A co-handler's first opinion, recorded on `recorded_on`.
    pub fn opinion(
        &mut self,
        place: Place<'_>,
        agency: &str,
        on_time: bool,
        recorded_on: NaiveDate,
    ) {
        self.add(place, agency, OPINIONS, 1);
        self.add(place, agency, OPINIONS_ON_TIME, i64::from(on_time));
        let a = Some(agency);
        self.add_month(place, true, a, recorded_on, OPINIONS, 1);
        self.add_month(
            place,
            true,
            a,
            recorded_on,
            OPINIONS_ON_TIME,
            i64::from(on_time),
        );
    }

    /// The changes summed into every scope they count in: the jurisdiction, each one above
    /// it, and everything (and, for the months, the agency's own scope).
    pub(crate) fn scoped(&self, registry: &Registry) -> Scoped {
        let mut scoped = Scoped::default();
        for (j, session, kind, agency, name, amount) in self.changes() {
            for scope in scopes_of(registry, j) {
                *scoped
                    .figures
                    .entry((
                        scope.to_owned(),
                        session.to_owned(),
                        kind.to_owned(),
                        agency.to_owned(),
                        name.to_owned(),
                    ))
                    .or_default() += amount;
            }
        }
        for ((is_jurisdiction, who, session, kind, month, name), amount) in &self.months {
            let scopes = if *is_jurisdiction {
                scopes_of(registry, who)
            } else {
                vec![who.as_str()]
            };
            for scope in scopes {
                let key = (
                    scope.to_owned(),
                    session.clone(),
                    kind.clone(),
                    month.clone(),
                    name.clone(),
                );
                *scoped.months.entry(key).or_default() += amount;
            }
        }
        scoped.figures.retain(|_, amount| *amount != 0);
        scoped.months.retain(|_, amount| *amount != 0);
        scoped
    }
}

/// Counters by scope: (scope, session, kind, agency, counter) and (scope, session, kind,
/// month, counter).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Scoped {
    pub(crate) figures: BTreeMap<Figure, i64>,
    pub(crate) months: BTreeMap<Figure, i64>,
}

/// The scopes a proposal of `jurisdiction` counts in: its path from the top, then everything.
/// A proposal of no registered jurisdiction counts in everything only.
fn scopes_of<'a>(registry: &'a Registry, jurisdiction: &str) -> Vec<&'a str> {
    let mut scopes = registry.path(jurisdiction);
    scopes.push(EVERYWHERE);
    scopes
}

/// Adds a batch's changes to the counters of every scope, in key order: on PostgreSQL in one
/// statement per table, on SQLite in one per 200 rows.
pub(crate) async fn apply(
    db: &impl ConnectionTrait,
    deltas: &Deltas,
    registry: &Registry,
) -> Result<(), Error> {
    write(db, &deltas.scoped(registry)).await
}

/// A table of counters: its name and its key's columns.
struct Table {
    name: &'static str,
    key: &'static [&'static str],
}

const FIGURES: Table = Table {
    name: "statistics_counters",
    key: &["scope", "session", "kind", "agency", "name"],
};

const MONTHS: Table = Table {
    name: "statistics_months",
    key: &["scope", "session", "kind", "month", "name"],
};

async fn write(db: &impl ConnectionTrait, scoped: &Scoped) -> Result<(), Error> {
    let figures: Vec<Vec<&str>> = scoped
        .figures
        .keys()
        .map(|(s, se, k, a, n)| vec![s.as_str(), se.as_str(), k.as_str(), a.as_str(), n.as_str()])
        .collect();
    upsert(db, &FIGURES, &figures, scoped.figures.values().copied()).await?;
    let months: Vec<Vec<&str>> = scoped
        .months
        .keys()
        .map(|(s, se, k, m, n)| vec![s.as_str(), se.as_str(), k.as_str(), m.as_str(), n.as_str()])
        .collect();
    upsert(db, &MONTHS, &months, scoped.months.values().copied()).await
}

/// Adds `amounts` to the counters of `table` whose keys are `keys`, in the order given.
async fn upsert(
    db: &impl ConnectionTrait,
    table: &Table,
    keys: &[Vec<&str>],
    amounts: impl Iterator<Item = i64>,
) -> Result<(), Error> {
    if keys.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let amounts: Vec<i64> = amounts.collect();
    let columns = table.key.join(", ");
    let upsert = format!(
        "ON CONFLICT ({columns}) DO UPDATE SET value = {}.value + excluded.value",
        table.name
    );
    if backend == DatabaseBackend::Postgres {
        // One statement text whatever the number of counters: arrays, unnested in order.
        for (chunk, values) in keys.chunks(50_000).zip(amounts.chunks(50_000)) {
            let mut arrays: Vec<Value> = (0..table.key.len())
                .map(|i| crate::bulk::text_array(chunk.iter().map(|k| k[i])))
                .collect();
            arrays.push(crate::bulk::bigint_array(values.iter().copied()));
            let casts: Vec<String> = (1..=table.key.len())
                .map(|i| format!("${i}::text[]"))
                .chain([format!("${}::bigint[]", table.key.len() + 1)])
                .collect();
            let sql = format!(
                "INSERT INTO {} ({columns}, value) SELECT * FROM unnest({}) {upsert}",
                table.name,
                casts.join(", ")
            );
            db.execute(Statement::from_sql_and_values(backend, sql, arrays))
                .await?;
        }
        return Ok(());
    }
    let rows: Vec<Vec<Value>> = keys
        .iter()
        .zip(&amounts)
        .map(|(key, amount)| {
            key.iter()
                .map(|k| Value::from(*k))
                .chain([Value::from(*amount)])
                .collect()
        })
        .collect();
    for chunk in rows.chunks(200) {
        let (tuples, values) = value_rows(backend, chunk);
        let sql = format!(
            "INSERT INTO {} ({columns}, value) VALUES {tuples} {upsert}",
            table.name
        );
        db.execute(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// Rows of a key of five and a value as `(…, …)` tuples of placeholders, with their values in
/// order.
fn value_rows(backend: DatabaseBackend, rows: &[Vec<Value>]) -> (String, Vec<Value>) {
    value_tuples(backend, &fixed::<6>(rows))
}

fn fixed<const N: usize>(rows: &[Vec<Value>]) -> Vec<[Value; N]> {
    rows.iter()
        .filter_map(|row| <[Value; N]>::try_from(row.clone()).ok())
        .collect()
}

/// Replaces every counter with the figure the rows give, in one transaction. On PostgreSQL
/// the counters are locked against writers first, so a batch that commits meanwhile is
/// either in the recount or added after it.
pub async fn rebuild(db: &DatabaseConnection) -> Result<(), Error> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_unprepared(
            "LOCK TABLE statistics_counters, statistics_months IN EXCLUSIVE MODE",
        )
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
    db.execute_unprepared("DELETE FROM statistics_months")
        .await?;
    write(db, &expected).await
}

/// Every counter as the rows define it; none is zero.
async fn from_rows(db: &impl ConnectionTrait) -> Result<Scoped, Error> {
    let registry = crate::jurisdictions::registry(db).await?;
    let mut deltas = Deltas::default();
    for row in super::rows::count(db, &super::Counted::default()).await? {
        let place = Place {
            jurisdiction: &row.jurisdiction,
            session: &row.session,
            kind: &row.kind,
        };
        deltas.add(place, &row.agency, &row.name, row.value);
    }
    for row in super::rows::months(db).await? {
        let key = (
            row.by_jurisdiction,
            row.who,
            row.session,
            row.kind,
            row.month,
            row.name,
        );
        *deltas.months.entry(key).or_default() += row.value;
    }
    Ok(deltas.scoped(&registry))
}

/// A counter whose stored value differs from what the rows give; `table` is
/// `statistics_counters` (key: scope, session, kind, agency, counter) or
/// `statistics_months` (key: scope, session, kind, month, counter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub table: &'static str,
    pub key: Vec<String>,
    pub stored: i64,
    pub counted: i64,
}

#[derive(Debug, FromQueryResult)]
struct StoredFigure {
    scope: String,
    session: String,
    kind: String,
    agency: String,
    name: String,
    value: i64,
}

#[derive(Debug, FromQueryResult)]
struct StoredMonth {
    scope: String,
    session: String,
    kind: String,
    month: String,
    name: String,
    value: i64,
}

/// Every counter that differs from the rows (none, as long as only the engine writes them),
/// in key order, the figures first.
pub async fn drift(db: &impl ConnectionTrait) -> Result<Vec<Drift>, Error> {
    let backend = db.get_database_backend();
    let counted = from_rows(db).await?;
    let figures = StoredFigure::find_by_statement(Statement::from_string(
        backend,
        "SELECT scope, session, kind, agency, name, value FROM statistics_counters",
    ))
    .all(db)
    .await?
    .into_iter()
    .map(|s| (vec![s.scope, s.session, s.kind, s.agency, s.name], s.value));
    let months = StoredMonth::find_by_statement(Statement::from_string(
        backend,
        "SELECT scope, session, kind, month, name, value FROM statistics_months",
    ))
    .all(db)
    .await?
    .into_iter()
    .map(|s| (vec![s.scope, s.session, s.kind, s.month, s.name], s.value));
    let expected_figures = counted
        .figures
        .into_iter()
        .map(|((s, se, k, a, n), v)| (vec![s, se, k, a, n], v));
    let expected_months = counted
        .months
        .into_iter()
        .map(|((s, se, k, m, n), v)| (vec![s, se, k, m, n], v));
    let mut drifts = differences(FIGURES.name, figures, expected_figures);
    drifts.extend(differences(MONTHS.name, months, expected_months));
    Ok(drifts)
}

fn differences(
    table: &'static str,
    stored: impl Iterator<Item = (Vec<String>, i64)>,
    expected: impl Iterator<Item = (Vec<String>, i64)>,
) -> Vec<Drift> {
    let mut expected: BTreeMap<Vec<String>, i64> = expected.collect();
    let mut found = BTreeMap::new();
    for (key, value) in stored {
        let counted = expected.remove(&key).unwrap_or(0);
        if counted != value {
            found.insert(key, (value, counted));
        }
    }
    for (key, counted) in expected {
        found.insert(key, (0, counted));
    }
    found
        .into_iter()
        .map(|(key, (stored, counted))| Drift {
            table,
            key,
            stored,
            counted,
        })
        .collect()
}

#[derive(Debug, FromQueryResult)]
struct Summed {
    agency: String,
    name: String,
    value: i64,
}

/// Binds `values` as a list of placeholders, after those already in `bound`.
fn marks(backend: DatabaseBackend, bound: &mut Vec<Value>, values: &[String]) -> String {
    let mut marks = Vec::with_capacity(values.len());
    for value in values {
        bound.push(value.as_str().into());
        marks.push(placeholder(backend, bound.len()));
    }
    marks.join(", ")
}

/// The figures of `scopes` summed per agency, of one session, kind and agency if given.
pub(super) async fn by_agency(
    db: &impl ConnectionTrait,
    scopes: &[String],
    counted: &super::Counted,
) -> Result<BTreeMap<String, BTreeMap<String, i64>>, Error> {
    if scopes.is_empty() {
        return Ok(BTreeMap::new());
    }
    let backend = db.get_database_backend();
    let mut values = Vec::new();
    let mut sql = format!(
        "SELECT agency, name, CAST(SUM(value) AS BIGINT) AS value FROM statistics_counters \
         WHERE scope IN ({})",
        marks(backend, &mut values, scopes)
    );
    for (column, wanted) in [
        ("session", &counted.session),
        ("kind", &counted.kind),
        ("agency", &counted.agency),
    ] {
        if let Some(wanted) = wanted {
            values.push(wanted.as_str().into());
            sql.push_str(&format!(
                " AND {column} = {}",
                placeholder(backend, values.len())
            ));
        }
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

#[derive(Debug, FromQueryResult)]
pub(super) struct MonthCell {
    pub(super) month: String,
    pub(super) name: String,
    pub(super) value: i64,
}

/// The trend's counters of `scopes` from `from`'s month to `to`'s, of one session and kind
/// if `counted` names them, summed per month.
pub(super) async fn months(
    db: &impl ConnectionTrait,
    scopes: &[String],
    counted: &super::Counted,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<MonthCell>, Error> {
    if scopes.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let mut values = Vec::new();
    let scopes = marks(backend, &mut values, scopes);
    values.push(month_of(from).into());
    let first = placeholder(backend, values.len());
    values.push(month_of(to).into());
    let last = placeholder(backend, values.len());
    let mut sql = format!(
        "SELECT month, name, CAST(SUM(value) AS BIGINT) AS value FROM statistics_months \
         WHERE scope IN ({scopes}) AND month BETWEEN {first} AND {last}"
    );
    for (column, wanted) in [("session", &counted.session), ("kind", &counted.kind)] {
        if let Some(wanted) = wanted {
            values.push(wanted.as_str().into());
            sql.push_str(&format!(
                " AND {column} = {}",
                placeholder(backend, values.len())
            ));
        }
    }
    sql.push_str(" GROUP BY month, name");
    Ok(
        MonthCell::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
            .all(db)
            .await?,
    )
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
            session: "s".into(),
            kind: "k".into(),
            key_supervision: false,
            jurisdiction: "cq".into(),
        }
    }

    const CQ: Place<'static> = Place {
        jurisdiction: "cq",
        session: "s",
        kind: "k",
    };

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    fn of(deltas: &Deltas) -> Vec<(&str, &str, i64)> {
        deltas
            .changes()
            .map(|(_, _, _, a, n, v)| (a, n, v))
            .collect()
    }

    #[test]
    fn a_task_counts_while_active_as_a_handlers_or_a_co_handlers() {
        let mut d = Deltas::default();
        let mut co = task_row("b", "co_handler", true, false);
        co.position = 1;
        d.tasks(
            &[],
            &[task_row("a", "lead", true, false), co],
            day("2020-02-26"),
        );
        assert_eq!(
            of(&d),
            [("a", HANDLER_TASKS, 1), ("b", CO_HANDLER_TASKS, 1)]
        );
        // The task moves from a to c, whose task is already finished.
        let mut d = Deltas::default();
        let mut moved = task_row("c", "lead", true, true);
        moved.position = 1;
        d.tasks(
            &[task_row("a", "lead", true, false)],
            &[task_row("a", "lead", false, true), moved],
            day("2020-02-26"),
        );
        assert_eq!(
            of(&d),
            [
                ("a", HANDLER_TASKS, -1),
                ("c", COMPLETED, 1),
                ("c", HANDLER_TASKS, 1)
            ]
        );
        // c's task counts in its trend, in the proposal's month.
        let months: Vec<(String, String, String, i64)> = d
            .months
            .into_iter()
            .map(|((_, who, _, _, month, name), v)| (who, month, name, v))
            .collect();
        assert_eq!(
            months,
            [(
                "agency:c".to_owned(),
                "2020-02".to_owned(),
                ASSIGNED.to_owned(),
                1
            )]
        );
    }

    #[test]
    fn only_first_replies_count() {
        let mut d = Deltas::default();
        d.reply(CQ, "a", 1, "B", false, true, day("2020-04-10"));
        d.reply(CQ, "a", 2, "A", true, true, day("2020-06-10"));
        assert_eq!(
            of(&d),
            [("a", "class:B", 1), ("a", MET, 1), ("a", REPLIES, 1)]
        );
        assert!(d
            .months
            .keys()
            .all(|(_, _, _, _, month, _)| month == "2020-04"));
    }

    #[test]
    fn a_second_receipt_replaces_the_first_as_final() {
        let mut d = Deltas::default();
        let on = day("2020-04-24");
        d.feedback(CQ, "a", 1, false, None, on);
        assert_eq!(of(&d), [("a", FINAL_TOTAL, 1), ("a", FIRST_TOTAL, 1)]);
        d.feedback(CQ, "a", 2, true, Some(false), on);
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
        d.disclosure(CQ, "a", true, None);
        d.disclosure(CQ, "a", false, Some(true));
        assert_eq!(of(&d), []);
        d.disclosure(CQ, "a", true, Some(false));
        assert_eq!(of(&d), [("a", PUBLISHED, 1)]);
    }

    #[test]
    fn a_change_counts_in_its_jurisdiction_every_one_above_and_everything() {
        let registry = tree(&[("cq", None), ("cq-yz", Some("cq")), ("npc", None)]);
        let mut d = Deltas::default();
        let on = day("2020-03-16");
        let place = |jurisdiction| Place {
            jurisdiction,
            session: "s",
            kind: "k",
        };
        d.opinion(place("cq-yz"), "a", true, on);
        d.opinion(place("npc"), "a", false, on);
        d.opinion(place(""), "b", false, on);
        let scoped = d.scoped(&registry);
        let figures: Vec<(&str, &str, &str, i64)> = scoped
            .figures
            .iter()
            .map(|((s, _, _, a, n), v)| (s.as_str(), a.as_str(), n.as_str(), *v))
            .collect();
        assert_eq!(
            figures,
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
        let months: Vec<(&str, &str, i64)> = scoped
            .months
            .iter()
            .map(|((s, _, _, _, n), v)| (s.as_str(), n.as_str(), *v))
            .collect();
        assert_eq!(
            months,
            [
                ("*", OPINIONS, 3),
                ("*", OPINIONS_ON_TIME, 1),
                ("agency:a", OPINIONS, 2),
                ("agency:a", OPINIONS_ON_TIME, 1),
                ("agency:b", OPINIONS, 1),
                ("cq", OPINIONS, 1),
                ("cq", OPINIONS_ON_TIME, 1),
                ("cq-yz", OPINIONS, 1),
                ("cq-yz", OPINIONS_ON_TIME, 1),
                ("npc", OPINIONS, 1),
            ]
        );
    }
}
