//! Jurisdictions: which congress or CPPCC a proposal belongs to, which rules it may be
//! assigned under, which agencies serve it, and which supervisors watch it.
//!
//! **A key names its jurisdiction.** A proposal's key begins with its jurisdiction's code and
//! a hyphen (`cq-5-3-0942` is the Chongqing municipal congress's, `cq-yz-2021-17` the Yuzhong
//! district's once `cq-yz` is registered): the jurisdiction of a key is the registered code
//! that is its longest such prefix. So two jurisdictions that number their proposals alike
//! never collide, every door (bus header, URL, CLI argument) already carries the
//! jurisdiction, and no lookup table can disagree with the key. Registering a code that
//! would take keys already used by another jurisdiction is refused ([`AddError::TakesKeys`]).
//!
//! Every role holds the registry in memory ([`Registry`]) and reads it again at most every
//! [`REFRESH`], and at once when an assignment names a jurisdiction or a definition it does
//! not know yet; memberships are read fresh by the doors that check them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::clock::{Clock, SystemClock};
use crate::entities::{jurisdiction, jurisdiction_agency, jurisdiction_definition, proposal, task};
use crate::handle::{connection, Handle};
use crate::Error;

/// How often an engine reads the registry again.
pub const REFRESH: Duration = Duration::from_secs(30);

/// The longest code.
pub const CODE_MAX: usize = 32;

/// A registered jurisdiction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jurisdiction {
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
    pub level: String,
    /// The definitions (by name, every version) it may assign under.
    pub definitions: BTreeSet<String>,
    pub created_at: DateTime<Utc>,
}

/// A jurisdiction shipped with cohandle.
#[derive(Debug, Clone, Copy)]
pub struct Shipped {
    pub code: &'static str,
    pub name: &'static str,
    pub parent: Option<&'static str>,
    pub level: &'static str,
    pub definitions: &'static [&'static str],
}

/// The jurisdictions shipped with cohandle, registered by `cohandle migrate`: those whose
/// definitions ship too.
pub const SHIPPED: &[Shipped] = &[
    Shipped {
        code: "npc",
        name: "全国人民代表大会",
        parent: None,
        level: "national",
        definitions: &["national-deputy-suggestion"],
    },
    Shipped {
        code: "cq",
        name: "重庆市人民代表大会",
        parent: None,
        level: "municipal",
        definitions: &["chongqing-deputy-suggestion"],
    },
    Shipped {
        code: "cq-zx",
        name: "中国人民政治协商会议重庆市委员会",
        parent: None,
        level: "municipal",
        definitions: &["cppcc-proposal"],
    },
];

/// Whether `code` may name a jurisdiction: `a-z 0-9 -`, beginning with a letter, at most
/// [`CODE_MAX`] characters, no hyphen at the end. No `.` (a word of a routing key) and no
/// `_` (a wildcard of SQL `LIKE`).
pub fn check_code(code: &str) -> Result<(), String> {
    let fine = !code.is_empty()
        && code.len() <= CODE_MAX
        && code.starts_with(|c: char| c.is_ascii_lowercase())
        && !code.ends_with('-')
        && !code.contains("--")
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if fine {
        Ok(())
    } else {
        Err(format!(
            "{code:?} is not a jurisdiction code: use a-z, 0-9 and single hyphens, beginning with a letter, at most {CODE_MAX} characters (e.g. cq, cq-zx, cq-yz)"
        ))
    }
}

/// Every jurisdiction, with the tree they form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    by_code: BTreeMap<String, Jurisdiction>,
    children: HashMap<String, Vec<String>>,
}

impl Registry {
    pub fn new(all: impl IntoIterator<Item = Jurisdiction>) -> Self {
        let by_code: BTreeMap<String, Jurisdiction> =
            all.into_iter().map(|j| (j.code.clone(), j)).collect();
        let mut children: HashMap<String, Vec<String>> = HashMap::new();
        for j in by_code.values() {
            if let Some(parent) = &j.parent {
                children
                    .entry(parent.clone())
                    .or_default()
                    .push(j.code.clone());
            }
        }
        Self { by_code, children }
    }

    pub fn get(&self, code: &str) -> Option<&Jurisdiction> {
        self.by_code.get(code)
    }

    pub fn all(&self) -> impl Iterator<Item = &Jurisdiction> {
        self.by_code.values()
    }

    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }

    /// The jurisdiction `key` belongs to: the registered code that, followed by a hyphen,
    /// is the key's longest prefix.
    pub fn of_key(&self, key: &str) -> Option<&Jurisdiction> {
        key.char_indices()
            .rev()
            .filter(|(_, c)| *c == '-')
            .find_map(|(at, _)| self.by_code.get(&key[..at]))
    }

    /// `code` and every jurisdiction below it, each once, in code order.
    pub fn below(&self, codes: &[String]) -> Vec<String> {
        let mut found = BTreeSet::new();
        let mut stack: Vec<&str> = codes
            .iter()
            .map(String::as_str)
            .filter(|c| self.by_code.contains_key(*c))
            .collect();
        while let Some(code) = stack.pop() {
            if found.insert(code.to_owned()) {
                if let Some(children) = self.children.get(code) {
                    stack.extend(children.iter().map(String::as_str));
                }
            }
        }
        found.into_iter().collect()
    }

    /// The codes from the top of `code`'s tree down to `code`.
    pub fn path(&self, code: &str) -> Vec<&str> {
        let mut path = Vec::new();
        let mut at = self.by_code.get(code);
        while let Some(j) = at {
            if path.contains(&j.code.as_str()) {
                break;
            }
            path.push(j.code.as_str());
            at = j.parent.as_deref().and_then(|p| self.by_code.get(p));
        }
        path.reverse();
        path
    }

    /// The path of `key`'s jurisdiction as the words of a routing key (`cq.cq-yz`); empty
    /// for a key of no jurisdiction.
    pub fn route(&self, key: &str) -> String {
        self.of_key(key)
            .map(|j| self.path(&j.code).join("."))
            .unwrap_or_default()
    }

    /// Why an assignment of `key` under `definition` does not fit the registry, if it does not.
    pub fn refuses(&self, key: &str, definition: &str) -> Option<String> {
        match self.of_key(key) {
            None => Some(format!(
                "proposal key {key} begins with no registered jurisdiction's code: a key is <jurisdiction>-<number> (e.g. cq-5-3-0942 for jurisdiction cq); `cohandle jurisdiction list` shows the codes"
            )),
            Some(j) if !j.definitions.contains(definition) => Some(format!(
                "jurisdiction {} ({}) does not assign under definition {definition}; it may use: {}",
                j.code,
                j.name,
                if j.definitions.is_empty() {
                    "none yet (`cohandle jurisdiction allow`)".to_owned()
                } else {
                    j.definitions.iter().cloned().collect::<Vec<_>>().join(", ")
                }
            )),
            Some(_) => None,
        }
    }
}

/// Reads every jurisdiction and the definitions each may use.
pub(crate) async fn registry(db: &impl ConnectionTrait) -> Result<Registry, Error> {
    let mut allowed: HashMap<String, BTreeSet<String>> = HashMap::new();
    for row in jurisdiction_definition::Entity::find().all(db).await? {
        allowed
            .entry(row.jurisdiction)
            .or_default()
            .insert(row.definition);
    }
    let rows = jurisdiction::Entity::find()
        .order_by_asc(jurisdiction::Column::Code)
        .all(db)
        .await?;
    Ok(Registry::new(rows.into_iter().map(|row| Jurisdiction {
        definitions: allowed.remove(&row.code).unwrap_or_default(),
        code: row.code,
        name: row.name,
        parent: row.parent,
        level: row.level,
        created_at: row.created_at,
    })))
}

/// What a new jurisdiction is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJurisdiction {
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
    pub level: String,
    pub definitions: Vec<String>,
}

/// Why a jurisdiction was not added.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("{0}")]
    Invalid(String),
    #[error("jurisdiction {code} exists already as {name:?} (parent {parent:?}, level {level})")]
    Exists {
        code: String,
        name: String,
        parent: Option<String>,
        level: String,
    },
    #[error("parent {0} is not a registered jurisdiction")]
    NoParent(String),
    #[error("{count} proposal(s) of jurisdiction {owner} already have keys beginning with {code}- (e.g. {example}); a new code must not take another jurisdiction's keys")]
    TakesKeys {
        code: String,
        owner: String,
        count: u64,
        example: String,
    },
    #[error(transparent)]
    Store(#[from] Error),
}

/// Adds a jurisdiction. Adding the same one again (same name, parent and level) is a no-op
/// that still allows the definitions given; anything else under a taken code is refused.
pub async fn add(store: &impl Handle, new: NewJurisdiction) -> Result<bool, AddError> {
    let db = connection(store);
    check_code(&new.code).map_err(AddError::Invalid)?;
    if new.name.trim().is_empty() {
        return Err(AddError::Invalid(format!(
            "jurisdiction {} needs a name",
            new.code
        )));
    }
    let existing = jurisdiction::Entity::find_by_id(new.code.clone())
        .one(db)
        .await
        .map_err(Error::from)?;
    if let Some(row) = existing {
        if row.name != new.name || row.parent != new.parent || row.level != new.level {
            return Err(AddError::Exists {
                code: row.code,
                name: row.name,
                parent: row.parent,
                level: row.level,
            });
        }
        allow_on(db, &new.code, &new.definitions).await?;
        return Ok(false);
    }
    if let Some(parent) = &new.parent {
        let found = jurisdiction::Entity::find_by_id(parent.clone())
            .one(db)
            .await
            .map_err(Error::from)?;
        if found.is_none() {
            return Err(AddError::NoParent(parent.clone()));
        }
    }
    let taken = proposal::Entity::find()
        .filter(proposal::Column::Key.like(format!("{}-%", new.code)))
        .filter(proposal::Column::Jurisdiction.ne(new.code.as_str()));
    let count = taken.clone().count(db).await.map_err(Error::from)?;
    if count > 0 {
        let example = taken.one(db).await.map_err(Error::from)?;
        let (owner, example) = example.map(|p| (p.jurisdiction, p.key)).unwrap_or_default();
        return Err(AddError::TakesKeys {
            code: new.code,
            owner: if owner.is_empty() {
                "(none)".to_owned()
            } else {
                owner
            },
            count,
            example,
        });
    }
    jurisdiction::Entity::insert(jurisdiction::ActiveModel {
        code: Set(new.code.clone()),
        name: Set(new.name),
        parent: Set(new.parent),
        level: Set(new.level),
        created_at: Set(SystemClock.now()),
    })
    .exec(db)
    .await
    .map_err(Error::from)?;
    allow_on(db, &new.code, &new.definitions).await?;
    Ok(true)
}

/// Lets `code` assign under the definitions named (a name already allowed stays).
pub async fn allow(store: &impl Handle, code: &str, definitions: &[String]) -> Result<(), Error> {
    allow_on(connection(store), code, definitions).await
}

async fn allow_on(
    db: &impl ConnectionTrait,
    code: &str,
    definitions: &[String],
) -> Result<(), Error> {
    if definitions.is_empty() {
        return Ok(());
    }
    let now = SystemClock.now();
    jurisdiction_definition::Entity::insert_many(definitions.iter().map(|d| {
        jurisdiction_definition::ActiveModel {
            jurisdiction: Set(code.to_owned()),
            definition: Set(d.clone()),
            allowed_at: Set(now),
        }
    }))
    .on_conflict(
        OnConflict::columns([
            jurisdiction_definition::Column::Jurisdiction,
            jurisdiction_definition::Column::Definition,
        ])
        .do_nothing()
        .to_owned(),
    )
    .do_nothing()
    .exec(db)
    .await?;
    Ok(())
}

/// Whether `code` is registered.
pub async fn exists(store: &impl Handle, code: &str) -> Result<bool, Error> {
    let db = connection(store);
    Ok(jurisdiction::Entity::find_by_id(code.to_owned())
        .one(db)
        .await?
        .is_some())
}

/// Makes `agencies` serve `code` (an agency already serving it stays).
pub async fn join(store: &impl Handle, code: &str, agencies: &[String]) -> Result<(), Error> {
    let db = connection(store);
    if agencies.is_empty() {
        return Ok(());
    }
    let now = SystemClock.now();
    jurisdiction_agency::Entity::insert_many(agencies.iter().map(|a| {
        jurisdiction_agency::ActiveModel {
            jurisdiction: Set(code.to_owned()),
            agency: Set(a.clone()),
            joined_at: Set(now),
        }
    }))
    .on_conflict(
        OnConflict::columns([
            jurisdiction_agency::Column::Jurisdiction,
            jurisdiction_agency::Column::Agency,
        ])
        .do_nothing()
        .to_owned(),
    )
    .do_nothing()
    .exec(db)
    .await?;
    Ok(())
}

/// The jurisdictions `agency` serves, by code.
pub async fn of_agency(store: &impl Handle, agency: &str) -> Result<Vec<String>, Error> {
    let db = connection(store);
    Ok(jurisdiction_agency::Entity::find()
        .filter(jurisdiction_agency::Column::Agency.eq(agency))
        .order_by_asc(jurisdiction_agency::Column::Jurisdiction)
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.jurisdiction)
        .collect())
}

/// The jurisdictions each of `agencies` serves.
pub async fn of_agencies(
    store: &impl Handle,
    agencies: &[String],
) -> Result<HashMap<String, Vec<String>>, Error> {
    let db = connection(store);
    let mut served: HashMap<String, Vec<String>> = HashMap::new();
    if agencies.is_empty() {
        return Ok(served);
    }
    for row in jurisdiction_agency::Entity::find()
        .filter(jurisdiction_agency::Column::Agency.is_in(agencies.iter().cloned()))
        .all(db)
        .await?
    {
        served.entry(row.agency).or_default().push(row.jurisdiction);
    }
    Ok(served)
}

/// The agencies that serve `code`, by code.
pub async fn members(store: &impl Handle, code: &str) -> Result<Vec<String>, Error> {
    let db = connection(store);
    Ok(jurisdiction_agency::Entity::find()
        .filter(jurisdiction_agency::Column::Jurisdiction.eq(code))
        .order_by_asc(jurisdiction_agency::Column::Agency)
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.agency)
        .collect())
}

/// Registers the shipped jurisdictions (those present stay as they are).
pub async fn add_shipped(store: &impl Handle) -> Result<(), Error> {
    for shipped in SHIPPED {
        let code = shipped.code;
        let new = NewJurisdiction {
            code: code.to_owned(),
            name: shipped.name.to_owned(),
            parent: shipped.parent.map(str::to_owned),
            level: shipped.level.to_owned(),
            definitions: shipped
                .definitions
                .iter()
                .map(|d| (*d).to_owned())
                .collect(),
        };
        match add(store, new).await {
            Ok(_) | Err(AddError::Exists { .. }) => {}
            Err(AddError::Store(error)) => return Err(error),
            Err(other) => {
                return Err(Error::Corrupt(format!(
                    "shipped jurisdiction {code}: {other}"
                )))
            }
        }
    }
    Ok(())
}

/// Gives every proposal (and its tasks) written while its key matched no registered
/// jurisdiction the jurisdiction its key names now. Reads only the rows still without one.
/// Returns how many proposals it placed.
pub async fn backfill(store: &impl Handle) -> Result<u64, Error> {
    let db = connection(store);
    let registry = registry(db).await?;
    let waiting: Vec<String> = proposal::Entity::find()
        .select_only()
        .column(proposal::Column::Key)
        .filter(proposal::Column::Jurisdiction.eq(""))
        .into_tuple()
        .all(db)
        .await?;
    let mut by_code: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for key in waiting {
        if let Some(j) = registry.of_key(&key) {
            by_code.entry(j.code.as_str()).or_default().push(key);
        }
    }
    let mut placed = 0;
    for (code, keys) in by_code {
        for chunk in keys.chunks(500) {
            placed += proposal::Entity::update_many()
                .col_expr(proposal::Column::Jurisdiction, Expr::value(code))
                .filter(proposal::Column::Key.is_in(chunk.iter().cloned()))
                .exec(db)
                .await?
                .rows_affected;
            task::Entity::update_many()
                .col_expr(task::Column::Jurisdiction, Expr::value(code))
                .filter(task::Column::ProposalKey.is_in(chunk.iter().cloned()))
                .exec(db)
                .await?;
        }
    }
    Ok(placed)
}

/// The registry an engine decides with, read again at most every [`REFRESH`].
#[derive(Debug, Default)]
pub(crate) struct Followed {
    current: Arc<Registry>,
    checked: Option<Instant>,
}

impl Followed {
    pub(crate) fn current(&self) -> Arc<Registry> {
        self.current.clone()
    }
}

/// Reads the registry again when [`REFRESH`] has passed, or now if `now_please`.
pub(crate) async fn follow(
    db: &impl ConnectionTrait,
    followed: &RwLock<Followed>,
    now_please: bool,
) -> Result<(), Error> {
    {
        let state = followed.read().unwrap_or_else(PoisonError::into_inner);
        let due = state.checked.is_none_or(|at| at.elapsed() >= REFRESH);
        if !(due || now_please) {
            return Ok(());
        }
    }
    let read = registry(db).await;
    let mut state = followed.write().unwrap_or_else(PoisonError::into_inner);
    state.checked = Some(Instant::now());
    state.current = Arc::new(read?);
    Ok(())
}

/// Every jurisdiction, read now.
pub async fn list(store: &impl Handle) -> Result<Registry, Error> {
    registry(connection(store)).await
}

/// A registry of `(code, parent)` pairs, for tests.
#[cfg(test)]
pub(crate) fn tree(codes: &[(&str, Option<&str>)]) -> Registry {
    Registry::new(codes.iter().map(|(code, parent)| Jurisdiction {
        code: (*code).to_owned(),
        name: (*code).to_owned(),
        parent: parent.map(str::to_owned),
        level: "district".to_owned(),
        definitions: Default::default(),
        created_at: DateTime::UNIX_EPOCH,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(code: &str, parent: Option<&str>, definitions: &[&str]) -> Jurisdiction {
        Jurisdiction {
            code: code.into(),
            name: code.into(),
            parent: parent.map(str::to_owned),
            level: "municipal".into(),
            definitions: definitions.iter().map(|d| (*d).to_owned()).collect(),
            created_at: DateTime::UNIX_EPOCH,
        }
    }

    fn registry() -> Registry {
        Registry::new([
            j("cq", None, &["chongqing-deputy-suggestion"]),
            j("cq-zx", None, &["cppcc-proposal"]),
            j("cq-yz", Some("cq"), &["chongqing-deputy-suggestion"]),
            j("cq-yz-x", Some("cq-yz"), &[]),
            j("npc", None, &[]),
        ])
    }

    #[test]
    fn a_key_belongs_to_its_longest_registered_prefix() {
        let r = registry();
        let of = |key: &str| r.of_key(key).map(|j| j.code.as_str());
        assert_eq!(of("cq-5-3-0942"), Some("cq"));
        assert_eq!(of("cq-zx-2021-1"), Some("cq-zx"));
        assert_eq!(of("cq-yz-2021-17"), Some("cq-yz"));
        assert_eq!(of("cq-yz-x-1"), Some("cq-yz-x"));
        assert_eq!(of("cq"), None);
        assert_eq!(of("cqq-1"), None);
        assert_eq!(of("p1"), None);
    }

    #[test]
    fn below_walks_the_tree_and_path_climbs_it() {
        let r = registry();
        assert_eq!(r.below(&["cq".into()]), ["cq", "cq-yz", "cq-yz-x"]);
        assert_eq!(r.below(&["cq-zx".into(), "nowhere".into()]), ["cq-zx"]);
        assert_eq!(r.path("cq-yz-x"), ["cq", "cq-yz", "cq-yz-x"]);
        assert!(r.path("nowhere").is_empty());
        assert_eq!(r.route("cq-yz-x-9"), "cq.cq-yz.cq-yz-x");
        assert_eq!(r.route("p1"), "");
    }

    #[test]
    fn an_assignment_must_fit_the_key_and_the_definition() {
        let r = registry();
        assert_eq!(r.refuses("cq-1", "chongqing-deputy-suggestion"), None);
        let wrong = r.refuses("cq-1", "cppcc-proposal").unwrap();
        assert!(wrong.contains("does not assign under definition cppcc-proposal"));
        assert!(wrong.contains("chongqing-deputy-suggestion"));
        assert!(r
            .refuses("zz-1", "cppcc-proposal")
            .unwrap()
            .contains("no registered jurisdiction"));
    }

    #[test]
    fn codes_are_plain() {
        for good in ["cq", "cq-zx", "npc", "a1-b2"] {
            assert!(check_code(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Cq",
            "1cq",
            "cq-",
            "cq--zx",
            "cq.zx",
            "cq_zx",
            "重庆",
            &"a".repeat(33),
        ] {
            assert!(check_code(bad).is_err(), "{bad}");
        }
    }
}
