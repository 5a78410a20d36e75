//! The lists as a supervisor searches them: proposals by number, title words, deputy or
//! member name and category, in an order asked for; tasks and deadlines by session, kind,
//! role, deadline name and days overdue, each deadline with its proposal's number, title,
//! lead deputy and lead agency; a total on request (`total=true`: counting costs a scan the
//! page alone does not); CSV on request ([`crate::export`]).
//!
//! A filter that names a value nothing can have (a state no deployed definition has, a kind
//! or role that does not exist) is refused as `unknown_filter_value`, naming the parameter
//! and the values it takes, instead of answering an empty list that reads as "nothing".
//!
//! The caller's scope is the one [`crate::access`] gives, as for every other read.

use chrono::{Duration, NaiveDate};
use cohandle_store::queries::{
    self, DaysOverdue, DeadlineCounts, DeadlineFilter, Overdue, ProposalAfter, ProposalFilter,
    ProposalOrder, ProposalSearch, Scope, TaskFilter, TaskMatch, TaskRow, TaskScope,
};
use cohandle_workflows::model::Machine;
use cohandle_workflows::{Calendar, Catalog};

use crate::access;
use crate::auth::{Principal, Role};
use crate::dto::{
    DeadlineEntry, DeadlineList, DeadlineQuery, DeadlineRow, ProposalKind, ProposalQuery,
    ProposalSort, ProposalSummary, ResultClass, TaskQuery, TaskRole, TaskSummary,
};
use crate::pagination::{self, Cursor, Page};
use crate::service::{Service, DEFAULT_HORIZON_DAYS};
use crate::Error;

/// The values an enum-like filter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocabulary {
    ProposalState,
    TaskState,
    Definition,
    Deadline,
    Kind,
    Role,
    Sort,
    ResultClass,
}

impl Vocabulary {
    /// Every value, in the order the refusal lists them.
    pub fn values(self, catalog: &Catalog) -> Vec<String> {
        let wire = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
        let mut values: Vec<String> = match self {
            Self::Kind => return wire(&names(ProposalKind::WIRE_NAMES)),
            Self::Role => return wire(&names(TaskRole::WIRE_NAMES)),
            Self::Sort => return wire(&names(ProposalSort::WIRE_NAMES)),
            Self::ResultClass => return wire(&names(ResultClass::WIRE_NAMES)),
            Self::ProposalState => catalog
                .all()
                .flat_map(|d| state_names(d.machine(Machine::Proposal)))
                .collect(),
            Self::TaskState => catalog
                .all()
                .flat_map(|d| {
                    state_names(d.machine(Machine::Handler))
                        .chain(state_names(d.machine(Machine::CoHandler)))
                })
                .collect(),
            Self::Definition => catalog.all().map(|d| d.name.clone()).collect(),
            Self::Deadline => catalog
                .all()
                .flat_map(|d| d.deadlines.keys().cloned().collect::<Vec<_>>())
                .collect(),
        };
        values.sort();
        values.dedup();
        values
    }

    /// `value` when the filter `parameter` takes it; a refusal naming what it takes otherwise.
    pub fn check(
        self,
        catalog: &Catalog,
        parameter: &str,
        value: Option<String>,
    ) -> Result<Option<String>, Error> {
        let Some(value) = value else {
            return Ok(None);
        };
        let allowed = self.values(catalog);
        if allowed.contains(&value) {
            return Ok(Some(value));
        }
        Err(Error::bad_request(
            "unknown_filter_value",
            format!(
                "{parameter} is {value:?}, which it never is; allowed values: {}",
                allowed.join(", ")
            ),
        ))
    }
}

fn names<T>(wire: &[(T, &'static str)]) -> Vec<&'static str> {
    wire.iter().map(|(_, name)| *name).collect()
}

fn state_names(
    machine: &cohandle_workflows::definition::MachineDef,
) -> impl Iterator<Item = String> + '_ {
    machine.states.iter().map(|s| s.name.clone())
}

/// Proposals the caller may see, searched and filtered, in the order asked for.
pub async fn proposals(
    service: &Service,
    principal: &Principal,
    query: ProposalQuery,
) -> Result<Page<ProposalSummary>, Error> {
    let catalog = service.engine().catalog();
    let limit = pagination::limit(query.limit)?;
    let order = match Vocabulary::Sort
        .check(&catalog, "sort", query.sort)?
        .as_deref()
    {
        Some("assigned_on") => ProposalOrder::AssignedOn,
        Some("due_on") => ProposalOrder::DueOn,
        _ => ProposalOrder::Key,
    };
    let after = match query.cursor {
        Some(cursor) => Some(proposal_after(order, &Cursor::new(cursor))?),
        None => None,
    };
    let today = service.today();
    if let (Some(from), Some(to)) = (query.assigned_from, query.assigned_to) {
        if from > to {
            return Err(Error::bad_request(
                "invalid_period",
                format!("assigned_from {from} is after assigned_to {to}"),
            ));
        }
    }
    let mut scope = service.scope(principal);
    let mut filter = ProposalFilter {
        state: Vocabulary::ProposalState.check(&catalog, "state", query.state)?,
        session: query.session,
        kind: Vocabulary::Kind.check(&catalog, "kind", query.kind)?,
        due_before: query.due_before,
        overdue: overdue(query.overdue, today),
        key_supervision: query.key_supervision,
        agency: query.agency,
        assigned_from: query.assigned_from,
        assigned_to: query.assigned_to,
        jurisdictions: None,
    };
    if let Some(codes) = jurisdiction(service, principal, query.jurisdiction)? {
        // A supervisor's narrower scope keeps its own reading (the jurisdictions' index).
        match &mut scope {
            Scope::Within(within) => *within = codes,
            _ => filter.jurisdictions = Some(codes),
        }
    }
    let search = ProposalSearch {
        number: nonblank(query.number),
        title: nonblank(query.title),
        person: nonblank(query.person),
        category: nonblank(query.category),
    };
    let reads = service.reads(principal);
    let page = queries::search_proposals(
        &reads,
        &scope,
        &filter,
        &search,
        order,
        after.as_ref(),
        limit,
    )
    .await?;
    let mut page = Page::from_store(page, |p| proposal_cursor(&ProposalAfter::of(order, p)))?;
    if query.total == Some(true) {
        page.total = Some(queries::count_proposals(&reads, &scope, &filter, &search).await?);
    }
    Ok(page.map(ProposalSummary::from))
}

/// A key-ordered list keeps the cursor it always had (the last key); the other orders
/// carry their name and the last row's value, so that a cursor is never read in another.
fn proposal_cursor(after: &ProposalAfter) -> Result<String, Error> {
    match after {
        ProposalAfter::Key(key) => Cursor::encode(&(key,)),
        ProposalAfter::AssignedOn(day, key) => Cursor::encode(&("assigned_on", Some(day), key)),
        ProposalAfter::DueOn(day, key) => Cursor::encode(&("due_on", day, key)),
    }
}

fn proposal_after(order: ProposalOrder, cursor: &Cursor) -> Result<ProposalAfter, Error> {
    let sorted = |name: &str| -> Result<(Option<NaiveDate>, String), Error> {
        let (sort, day, key) = cursor.decode::<(String, Option<NaiveDate>, String)>()?;
        if sort == name {
            Ok((day, key))
        } else {
            Err(Error::bad_request(
                "invalid_cursor",
                format!("the cursor belongs to the list sorted by {sort}, not by {name}; send the same sort, or start again without the cursor"),
            ))
        }
    };
    match order {
        ProposalOrder::Key => Ok(ProposalAfter::Key(cursor.decode::<(String,)>()?.0)),
        ProposalOrder::AssignedOn => match sorted("assigned_on")? {
            (Some(day), key) => Ok(ProposalAfter::AssignedOn(day, key)),
            (None, _) => Err(Error::bad_request(
                "invalid_cursor",
                "the cursor is not one this list gave out; start again without it",
            )),
        },
        ProposalOrder::DueOn => {
            let (day, key) = sorted("due_on")?;
            Ok(ProposalAfter::DueOn(day, key))
        }
    }
}

/// Tasks the caller may see, filtered.
pub async fn tasks(
    service: &Service,
    principal: &Principal,
    query: TaskQuery,
) -> Result<Page<TaskSummary>, Error> {
    let catalog = service.engine().catalog();
    let limit = pagination::limit(query.limit)?;
    let after = match query.cursor {
        Some(cursor) => Some(Cursor::new(cursor).decode::<(String, i32)>()?),
        None => None,
    };
    let filter = TaskFilter {
        within: narrowed(
            service.task_scope(principal, query.agency)?,
            jurisdiction(service, principal, query.jurisdiction)?,
        ),
        state: Vocabulary::TaskState.check(&catalog, "state", query.state)?,
        open: query.open,
    };
    let matching = TaskMatch {
        session: query.session,
        kind: Vocabulary::Kind.check(&catalog, "kind", query.kind)?,
        role: Vocabulary::Role.check(&catalog, "role", query.role)?,
        deadline: Vocabulary::Deadline.check(&catalog, "deadline", query.deadline)?,
        days_overdue: None,
        result_class: Vocabulary::ResultClass.check(
            &catalog,
            "result_class",
            query.result_class,
        )?,
    };
    let reads = service.reads(principal);
    let page = queries::list_matching_tasks(&reads, &filter, &matching, after, limit).await?;
    let mut page = Page::from_store(page, |t| {
        Cursor::encode(&(t.proposal_key.clone(), t.position))
    })?;
    if query.total == Some(true) {
        page.total = Some(queries::count_tasks(&reads, &filter, &matching).await?);
    }
    Ok(page.map(TaskSummary::from))
}

/// The jurisdictions a `jurisdiction` filter names: the code and every one below it. A code
/// no one registered is `unknown_filter_value`; one a supervisor does not watch is
/// `jurisdiction_not_yours`, as its proposals are.
fn jurisdiction(
    service: &Service,
    principal: &Principal,
    code: Option<String>,
) -> Result<Option<Vec<String>>, Error> {
    // Taken as sent, as every enum-like filter is: an empty value names nothing.
    let Some(code) = code else {
        return Ok(None);
    };
    let registry = service.engine().jurisdictions();
    if registry.get(&code).is_none() {
        return Err(Error::bad_request(
            "unknown_filter_value",
            format!("jurisdiction is {code:?}, which no one registered; `GET /v1/me` lists the caller's jurisdictions"),
        ));
    }
    if principal.role == Role::Supervisor
        && !registry.below(&principal.jurisdictions).contains(&code)
    {
        return Err(access::outside_jurisdiction(principal, &code));
    }
    Ok(Some(registry.below(&[code])))
}

/// `within` narrowed to `codes` when given (which a supervisor's come from within its own).
fn narrowed(within: TaskScope, codes: Option<Vec<String>>) -> TaskScope {
    match codes {
        Some(codes) => TaskScope {
            jurisdictions: Some(codes),
            ..within
        },
        None => within,
    }
}

/// A deadline query as the store's filters, judged on `today`.
fn deadline_filters(
    service: &Service,
    principal: &Principal,
    query: DeadlineQuery,
    today: NaiveDate,
) -> Result<(DeadlineFilter, TaskMatch), Error> {
    let catalog = service.engine().catalog();
    let until = query
        .until
        .unwrap_or(today + Duration::days(DEFAULT_HORIZON_DAYS));
    if let (Some(least), Some(most)) = (query.min_days_overdue, query.max_days_overdue) {
        if least > most {
            return Err(Error::bad_request(
                "query_invalid",
                format!("min_days_overdue ({least}) is more than max_days_overdue ({most})"),
            ));
        }
    }
    let filter = DeadlineFilter {
        within: narrowed(
            service.task_scope(principal, query.agency)?,
            jurisdiction(service, principal, query.jurisdiction)?,
        ),
        until,
        overdue: overdue(query.overdue, today),
        key_supervision: query.key_supervision,
        definition: Vocabulary::Definition.check(&catalog, "definition", query.definition)?,
    };
    let days_overdue = (query.min_days_overdue.is_some() || query.max_days_overdue.is_some())
        .then_some(DaysOverdue {
            today,
            at_least: query.min_days_overdue,
            at_most: query.max_days_overdue,
        });
    let matching = TaskMatch {
        session: query.session,
        kind: Vocabulary::Kind.check(&catalog, "kind", query.kind)?,
        role: Vocabulary::Role.check(&catalog, "role", query.role)?,
        deadline: Vocabulary::Deadline.check(&catalog, "deadline", query.deadline)?,
        days_overdue,
        result_class: Vocabulary::ResultClass.check(
            &catalog,
            "result_class",
            query.result_class,
        )?,
    };
    Ok((filter, matching))
}

/// How many of the deadlines `query` selects (its page and cursor aside) are overdue, how
/// many are not, and how many are of key supervision: one count of the store.
pub async fn deadline_counts(
    service: &Service,
    principal: &Principal,
    query: DeadlineQuery,
) -> Result<DeadlineCounts, Error> {
    let today = service.today();
    let (filter, matching) = deadline_filters(service, principal, query, today)?;
    let reads = service.reads(principal);
    Ok(queries::deadline_counts(&reads, &filter, &matching, today).await?)
}

/// Running obligations due by `until`, overdue ones first, each with its proposal's head.
pub async fn deadlines(
    service: &Service,
    principal: &Principal,
    query: DeadlineQuery,
) -> Result<DeadlineList, Error> {
    let limit = pagination::limit(query.limit)?;
    let today = service.today();
    let after = match &query.cursor {
        Some(cursor) => Some(Cursor::new(cursor.clone()).decode::<(NaiveDate, String, i32)>()?),
        None => None,
    };
    let total_asked = query.total == Some(true);
    let (filter, matching) = deadline_filters(service, principal, query, today)?;
    let reads = service.reads(principal);
    let page = queries::matching_deadlines(&reads, &filter, &matching, after, limit).await?;
    let page = Page::from_store(page, |t| {
        Cursor::encode(&(t.due_on, t.proposal_key.clone(), t.position))
    })?;
    let keys: Vec<&str> = page.items.iter().map(|t| t.proposal_key.as_str()).collect();
    let heads = queries::proposal_heads(&reads, &keys).await?;
    let calendar = service.engine().calendar();
    let mut items = Vec::with_capacity(page.items.len());
    for task in page.items {
        let head = heads
            .iter()
            .find(|h| h.key == task.proposal_key)
            .cloned()
            .ok_or_else(|| {
                Error::Store(cohandle_store::Error::Corrupt(format!(
                    "a task of proposal {} has no proposal",
                    task.proposal_key
                )))
            })?;
        if let Some(entry) = deadline_entry(&calendar, today, task) {
            items.push(DeadlineRow {
                entry,
                number: head.number,
                title: head.title,
                lead_deputy: head.lead_deputy,
                lead_agency: head.lead_agency,
            });
        }
    }
    let total = match total_asked {
        true => Some(queries::count_deadlines(&reads, &filter, &matching).await?),
        false => None,
    };
    Ok(DeadlineList {
        today,
        items,
        next_cursor: page.next_cursor,
        total,
    })
}

/// A task's running obligation as a deadline list shows it; `None` without one.
fn deadline_entry(calendar: &Calendar, today: NaiveDate, t: TaskRow) -> Option<DeadlineEntry> {
    let due = t.due_on?;
    let working_days_left = if due >= today {
        calendar
            .working_days_between(today, due)
            .ok()
            .map(i64::from)
    } else {
        calendar
            .working_days_between(due, today)
            .ok()
            .map(|n| -i64::from(n))
    };
    Some(DeadlineEntry {
        proposal: t.proposal_key,
        position: t.position,
        agency: t.agency,
        role: t.role,
        state: t.state,
        deadline: t.due_deadline,
        due_on: due,
        working_days_left,
        provisional: calendar.is_provisional(due),
        days_left: (due - today).num_days(),
        overdue: due < today,
        session: t.session,
        kind: t.kind,
        key_supervision: t.key_supervision,
    })
}

/// The `overdue` filter of a list, judged on `today`.
fn overdue(wanted: Option<bool>, today: NaiveDate) -> Option<Overdue> {
    wanted.map(|past| {
        if past {
            Overdue::On(today)
        } else {
            Overdue::NotOn(today)
        }
    })
}

/// A search text with something in it.
fn nonblank(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}
