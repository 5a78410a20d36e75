//! The counters as the rows define them, over the proposals a [`Counted`] names, and the
//! obligations past due on a day.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, FromQueryResult, Statement, Value};

use super::{Counted, Overdue};
use crate::bulk::placeholder;
use crate::Error;

/// Every counter, one `(jurisdiction, agency, name, value)` row each, over the proposals
/// `chosen` holds; the stored counters must always equal these. "Final" feedback is each
/// task's latest round; an opinion counts once per task.
const ROWS: &str = "\
WITH chosen AS (SELECT key, jurisdiction, session, kind FROM proposals WHERE 1 = 1{conditions}) \
SELECT jurisdiction, session, kind, agency, name, CAST(value AS BIGINT) AS value FROM ( \
SELECT p.jurisdiction, p.session, p.kind, x.agency, 'handler_tasks' AS name, COUNT(*) AS value FROM tasks x JOIN chosen p ON p.key = x.proposal_key \
  WHERE x.active AND x.role <> 'co_handler'{agency} GROUP BY p.jurisdiction, p.session, p.kind, x.agency \
UNION ALL SELECT p.jurisdiction, p.session, p.kind, x.agency, 'co_handler_tasks', COUNT(*) FROM tasks x JOIN chosen p ON p.key = x.proposal_key \
  WHERE x.active AND x.role = 'co_handler'{agency} GROUP BY p.jurisdiction, p.session, p.kind, x.agency \
UNION ALL SELECT p.jurisdiction, p.session, p.kind, x.agency, 'completed', SUM(CASE WHEN x.terminal THEN 1 ELSE 0 END) FROM tasks x JOIN chosen p ON p.key = x.proposal_key \
  WHERE x.active AND x.role <> 'co_handler'{agency} GROUP BY p.jurisdiction, p.session, p.kind, x.agency \
UNION ALL SELECT p.jurisdiction, p.session, p.kind, x.agency, 'replies', COUNT(*) FROM replies x JOIN chosen p ON p.key = x.proposal_key \
  WHERE x.round = 1{agency} GROUP BY p.jurisdiction, p.session, p.kind, x.agency \
UNION ALL SELECT p.jurisdiction, p.session, p.kind, x.agency, 'on_time', SUM(CASE WHEN x.on_time THEN 1 ELSE 0 END) FROM replies x JOIN chosen p ON p.key = x.proposal_key \
  WHERE x.round = 1{agency} GROUP BY p.jurisdiction, p.session, p.kind, x.agency \
UNION ALL SELECT p.jurisdiction, p.session, p.kind, x.agency, 'met', SUM(CASE WHEN x.met_deputy THEN 1 ELSE 0 END) FROM replies x JOIN chosen p ON p.key = x.proposal_key \
  WHERE x.round = 1{agency} GROUP BY p.jurisdiction, p.session, p.kind, x.agency \
UNION ALL SELECT p.jurisdiction, p.session, p.kind, x.agency, 'class:' || x.result_class, COUNT(*) FROM replies x JOIN chosen p ON p.key = x.proposal_key \
  WHERE x.round = 1{agency} GROUP BY p.jurisdiction, p.session, p.kind, x.agency, x.result_class \
UNION ALL SELECT p.jurisdiction, p.session, p.kind, x.agency, 'first_total', COUNT(*) FROM feedback x JOIN chosen p ON p.key = x.proposal_key \
  WHERE x.round = 1{agency} GROUP BY p.jurisdiction, p.session, p.kind, x.agency \
UNION ALL SELECT p.jurisdiction, p.session, p.kind, x.agency, 'first_ok', SUM(CASE WHEN x.satisfaction <> 'dissatisfied' THEN 1 ELSE 0 END) FROM feedback x JOIN chosen p ON p.key = x.proposal_key \
  WHERE x.round = 1{agency} GROUP BY p.jurisdiction, p.session, p.kind, x.agency \
UNION ALL SELECT p.jurisdiction, p.session, p.kind, x.agency, 'final_total', COUNT(*) FROM feedback x JOIN chosen p ON p.key = x.proposal_key \
  WHERE NOT EXISTS (SELECT 1 FROM feedback g WHERE g.proposal_key = x.proposal_key AND g.agency = x.agency AND g.round > x.round){agency} \
  GROUP BY p.jurisdiction, p.session, p.kind, x.agency \
UNION ALL SELECT p.jurisdiction, p.session, p.kind, x.agency, 'final_ok', SUM(CASE WHEN x.satisfaction <> 'dissatisfied' THEN 1 ELSE 0 END) FROM feedback x JOIN chosen p ON p.key = x.proposal_key \
  WHERE NOT EXISTS (SELECT 1 FROM feedback g WHERE g.proposal_key = x.proposal_key AND g.agency = x.agency AND g.round > x.round){agency} \
  GROUP BY p.jurisdiction, p.session, p.kind, x.agency \
UNION ALL SELECT p.jurisdiction, p.session, p.kind, x.agency, 'published', SUM(CASE WHEN x.scope = 'full' THEN 1 ELSE 0 END) FROM disclosures x JOIN chosen p ON p.key = x.proposal_key \
  WHERE 1 = 1{agency} GROUP BY p.jurisdiction, p.session, p.kind, x.agency \
UNION ALL SELECT p.jurisdiction, p.session, p.kind, x.agency, 'opinions', COUNT(*) FROM opinions x JOIN chosen p ON p.key = x.proposal_key \
  WHERE 1 = 1{agency} GROUP BY p.jurisdiction, p.session, p.kind, x.agency \
UNION ALL SELECT p.jurisdiction, p.session, p.kind, x.agency, 'opinions_on_time', SUM(CASE WHEN x.on_time THEN 1 ELSE 0 END) FROM opinions x JOIN chosen p ON p.key = x.proposal_key \
  WHERE 1 = 1{agency} GROUP BY p.jurisdiction, p.session, p.kind, x.agency \
) counts WHERE value <> 0";

/// A counter as the rows give it, in one jurisdiction, session and kind.
#[derive(Debug, FromQueryResult)]
pub(super) struct Row {
    pub(super) jurisdiction: String,
    pub(super) session: String,
    pub(super) kind: String,
    pub(super) agency: String,
    pub(super) name: String,
    pub(super) value: i64,
}

/// The conditions `counted` puts on the proposals (`p`-less columns of `proposals`), with
/// their values numbered from `first`.
pub(super) fn proposal_conditions(
    backend: sea_orm::DatabaseBackend,
    counted: &Counted,
    values: &mut Vec<Value>,
) -> String {
    let mut sql = String::new();
    let mut bind = |sql: &mut String, column: &str, op: &str, value: Value| {
        values.push(value);
        sql.push_str(&format!(
            " AND {column} {op} {}",
            placeholder(backend, values.len())
        ));
    };
    if let Some(codes) = &counted.within {
        sql.push_str(&format!(" AND jurisdiction IN ({})", codes_list(codes)));
    }
    if let Some(session) = &counted.session {
        bind(&mut sql, "session", "=", session.as_str().into());
    }
    if let Some(kind) = &counted.kind {
        bind(&mut sql, "kind", "=", kind.as_str().into());
    }
    if let Some(from) = counted.assigned_from {
        bind(&mut sql, "assigned_on", ">=", from.into());
    }
    if let Some(to) = counted.assigned_to {
        bind(&mut sql, "assigned_on", "<=", to.into());
    }
    sql
}

/// Jurisdiction codes as an SQL list. Codes are checked when registered; anything else is
/// left out, not quoted, and an empty list matches nothing.
pub(super) fn codes_list(codes: &[String]) -> String {
    let codes: Vec<String> = codes
        .iter()
        .filter(|c| crate::jurisdictions::check_code(c).is_ok())
        .map(|c| format!("'{c}'"))
        .collect();
    if codes.is_empty() {
        "NULL".to_owned()
    } else {
        codes.join(", ")
    }
}

/// Every counter the rows give over the proposals of `counted`, per jurisdiction and agency.
pub(super) async fn count(db: &impl ConnectionTrait, counted: &Counted) -> Result<Vec<Row>, Error> {
    let backend = db.get_database_backend();
    let mut values = Vec::new();
    let conditions = proposal_conditions(backend, counted, &mut values);
    let agency = match &counted.agency {
        Some(agency) => {
            values.push(agency.as_str().into());
            format!(" AND x.agency = {}", placeholder(backend, values.len()))
        }
        None => String::new(),
    };
    let sql = ROWS
        .replace("{conditions}", &conditions)
        .replace("{agency}", &agency);
    Ok(
        Row::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
            .all(db)
            .await?,
    )
}

/// The counters the rows give over the proposals of `counted`, summed per agency.
pub(super) async fn by_agency(
    db: &impl ConnectionTrait,
    counted: &Counted,
) -> Result<BTreeMap<String, BTreeMap<String, i64>>, Error> {
    let mut by_agency: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for row in count(db, counted).await? {
        *by_agency
            .entry(row.agency)
            .or_default()
            .entry(row.name)
            .or_default() += row.value;
    }
    for counters in by_agency.values_mut() {
        counters.retain(|_, v| *v != 0);
    }
    by_agency.retain(|_, counters| !counters.is_empty());
    Ok(by_agency)
}

#[derive(Debug, FromQueryResult)]
struct Late {
    agency: String,
    deadline: String,
    value: i64,
}

/// A part of the trend: a counter, the table it counts, the day that places a row in its
/// month, what it adds, and which rows.
struct MonthPart {
    name: &'static str,
    table: &'static str,
    day: &'static str,
    value: &'static str,
    only: &'static str,
}

const REPLY_DAY: &str = "COALESCE(x.recorded_on, x.sent_on)";

/// The trend's counters other than `assigned`, each over the rows of its table.
const MONTH_PARTS: [MonthPart; 6] = [
    MonthPart {
        name: "replies",
        table: "replies",
        day: REPLY_DAY,
        value: "COUNT(*)",
        only: "x.round = 1",
    },
    MonthPart {
        name: "replies_on_time",
        table: "replies",
        day: REPLY_DAY,
        value: "SUM(CASE WHEN x.on_time THEN 1 ELSE 0 END)",
        only: "x.round = 1",
    },
    MonthPart {
        name: "receipts",
        table: "feedback",
        day: "x.received_on",
        value: "COUNT(*)",
        only: "x.round = 1",
    },
    MonthPart {
        name: "satisfied",
        table: "feedback",
        day: "x.received_on",
        value: "SUM(CASE WHEN x.satisfaction <> 'dissatisfied' THEN 1 ELSE 0 END)",
        only: "x.round = 1",
    },
    MonthPart {
        name: "opinions",
        table: "opinions",
        day: "x.recorded_on",
        value: "COUNT(*)",
        only: "1 = 1",
    },
    MonthPart {
        name: "opinions_on_time",
        table: "opinions",
        day: "x.recorded_on",
        value: "SUM(CASE WHEN x.on_time THEN 1 ELSE 0 END)",
        only: "1 = 1",
    },
];

/// The month of a day column, `YYYY-MM`, on PostgreSQL and SQLite alike.
fn month(day: &str) -> String {
    format!("substr(CAST({day} AS TEXT), 1, 7)")
}

/// Whose months a trend query counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Whose {
    /// Per jurisdiction (`who` is the code): proposals assigned, and their agencies' rows.
    Jurisdictions,
    /// Per agency (`who` is the code): its tasks, and its rows.
    Agencies,
    /// Of everything chosen together (`who` is empty); `assigned` counts the proposals, or,
    /// with `agency` given, that agency's tasks.
    Together { agency: bool },
}

/// The trend's counters per `whose`, session, kind and month, over the proposals of the
/// `chosen` CTE (with `key`, `jurisdiction`, `session`, `kind` and `assigned_on`), each
/// row's day in `{from}`–`{to}` if
/// `bounded`; `{agency}` narrows the rows of an agency's.
pub(super) fn month_rows(whose: Whose, bounded: bool) -> String {
    let (who, by) = match whose {
        Whose::Jurisdictions => ("p.jurisdiction", "p.jurisdiction, p.session, p.kind, "),
        Whose::Agencies => ("x.agency", "x.agency, p.session, p.kind, "),
        Whose::Together { .. } => ("''", "p.session, p.kind, "),
    };
    let within = |day: &str| {
        if bounded {
            format!(" AND {day} BETWEEN {{from}} AND {{to}}")
        } else {
            String::new()
        }
    };
    let assigned_month = month("p.assigned_on");
    let assigned = match whose {
        Whose::Jurisdictions | Whose::Together { agency: false } => format!(
            "SELECT {who} AS who, p.session AS session, p.kind AS kind, {assigned_month} AS month, \
             'assigned' AS name, COUNT(*) AS value FROM chosen p WHERE 1 = 1{} \
             GROUP BY {by}{assigned_month}",
            within("p.assigned_on")
        ),
        Whose::Agencies | Whose::Together { agency: true } => format!(
            "SELECT {who} AS who, p.session AS session, p.kind AS kind, {assigned_month} AS month, \
             'assigned' AS name, COUNT(*) AS value \
             FROM tasks x JOIN chosen p ON p.key = x.proposal_key WHERE 1 = 1{}{{agency}} \
             GROUP BY {by}{assigned_month}",
            within("p.assigned_on")
        ),
    };
    let parts = MONTH_PARTS.iter().map(|part| {
        let at = month(part.day);
        format!(
            "SELECT {who}, p.session, p.kind, {at}, '{}', {} \
             FROM {} x JOIN chosen p ON p.key = x.proposal_key \
             WHERE {}{}{{agency}} GROUP BY {by}{at}",
            part.name,
            part.value,
            part.table,
            part.only,
            within(part.day)
        )
    });
    let union: Vec<String> = std::iter::once(assigned).chain(parts).collect();
    format!(
        "SELECT who, session, kind, month, name, CAST(value AS BIGINT) AS value FROM ({}) counts \
         WHERE value <> 0",
        union.join(" UNION ALL ")
    )
}

/// A month's counter as the rows give it, of a jurisdiction or an agency.
#[derive(Debug, FromQueryResult)]
pub(super) struct MonthRow {
    pub(super) who: String,
    pub(super) session: String,
    pub(super) kind: String,
    pub(super) month: String,
    pub(super) name: String,
    pub(super) value: i64,
}

/// A month's counter as the rows give it, marked as a jurisdiction's or an agency's.
#[derive(Debug)]
pub(super) struct Months {
    pub(super) by_jurisdiction: bool,
    pub(super) who: String,
    pub(super) session: String,
    pub(super) kind: String,
    pub(super) month: String,
    pub(super) name: String,
    pub(super) value: i64,
}

/// Every month's counter the rows give, per jurisdiction and per agency (the agency's under
/// its own scope, `agency:<code>`).
pub(super) async fn months(db: &impl ConnectionTrait) -> Result<Vec<Months>, Error> {
    let backend = db.get_database_backend();
    let mut all = Vec::new();
    for (whose, by_jurisdiction) in [(Whose::Jurisdictions, true), (Whose::Agencies, false)] {
        let sql = format!(
            "WITH chosen AS (SELECT key, jurisdiction, session, kind, assigned_on FROM proposals) {}",
            month_rows(whose, false).replace("{agency}", "")
        );
        let rows = MonthRow::find_by_statement(Statement::from_string(backend, sql))
            .all(db)
            .await?;
        all.extend(rows.into_iter().map(|r| Months {
            by_jurisdiction,
            who: if by_jurisdiction {
                r.who
            } else {
                super::counters::agency_scope(&r.who)
            },
            session: r.session,
            kind: r.kind,
            month: r.month,
            name: r.name,
            value: r.value,
        }));
    }
    Ok(all)
}

/// The reply and opinion obligations past due on `today` and still open, per agency, of the
/// proposals of `counted`: a task's running obligation (the earliest, as the lists show it)
/// is a first reply or a co-handler's opinion, and its day has passed.
pub(super) async fn overdue(
    db: &impl ConnectionTrait,
    counted: &Counted,
    today: NaiveDate,
) -> Result<BTreeMap<String, Overdue>, Error> {
    let backend = db.get_database_backend();
    let mut values: Vec<Value> = vec![today.into()];
    let mut sql = format!(
        "SELECT agency, due_deadline AS deadline, COUNT(*) AS value FROM tasks \
         WHERE active AND NOT terminal AND due_on < {} \
           AND due_deadline IN ('reply', 'co_handler_opinion')",
        placeholder(backend, 1)
    );
    if let Some(codes) = &counted.within {
        sql.push_str(&format!(" AND jurisdiction IN ({})", codes_list(codes)));
    }
    if let Some(agency) = &counted.agency {
        values.push(agency.as_str().into());
        sql.push_str(&format!(
            " AND agency = {}",
            placeholder(backend, values.len())
        ));
    }
    if let Some(session) = &counted.session {
        values.push(session.as_str().into());
        sql.push_str(&format!(
            " AND session = {}",
            placeholder(backend, values.len())
        ));
    }
    if let Some(kind) = &counted.kind {
        values.push(kind.as_str().into());
        sql.push_str(&format!(
            " AND kind = {}",
            placeholder(backend, values.len())
        ));
    }
    if counted.assigned_from.is_some() || counted.assigned_to.is_some() {
        let period = Counted {
            assigned_from: counted.assigned_from,
            assigned_to: counted.assigned_to,
            ..Counted::default()
        };
        let conditions = proposal_conditions(backend, &period, &mut values);
        sql.push_str(&format!(
            " AND proposal_key IN (SELECT key FROM proposals WHERE 1 = 1{conditions})"
        ));
    }
    sql.push_str(" GROUP BY agency, due_deadline");
    let rows = Late::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(db)
        .await?;
    let mut by_agency: BTreeMap<String, Overdue> = BTreeMap::new();
    for row in rows {
        let late = by_agency.entry(row.agency).or_default();
        match row.deadline.as_str() {
            "reply" => late.replies += row.value,
            _ => late.opinions += row.value,
        }
    }
    Ok(by_agency)
}
