//! Workflow definitions deployed at run time. A deployed version is immutable: deploying the
//! same name and version again is a no-op when the definition is the same (comments and
//! layout may differ) and is refused when it is not. Every engine builds its catalog from
//! the shipped definitions and every deployed version, and looks for new ones at most every
//! [`REFRESH`], so a new jurisdiction's rules need neither a build nor a restart.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use cohandle_workflows::definition::Problems;
use cohandle_workflows::definition::{Catalog, CatalogError, Definition, SHIPPED};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect,
};
use sha2::{Digest, Sha256};

use crate::entities::{proposal, workflow_definition};
use crate::handle::{connection, Handle};
use crate::Error;

/// How often an engine looks for a newly deployed definition.
pub const REFRESH: Duration = Duration::from_secs(30);

/// Who deployed the shipped definitions.
pub const SHIPPED_BY: &str = "migrate";

/// What a deployment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deployed {
    /// A new version, now stored.
    New { name: String, version: u32 },
    /// The same definition was deployed before (its text may differ in comments or layout).
    Unchanged { name: String, version: u32 },
}

/// Why a deployment was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The file is not a valid definition; every problem is listed.
    #[error("{file}: not a valid definition:\n{problems}")]
    Invalid { file: String, problems: Problems },
    /// The version exists with other content.
    #[error("{name} version {version} is already deployed (sha256 {stored}, by {by} at {at}) with other content; deploy the change as version {next}")]
    Changed {
        name: String,
        version: u32,
        stored: String,
        by: String,
        at: DateTime<Utc>,
        next: u32,
    },
    #[error(transparent)]
    Store(#[from] Error),
}

/// A deployed version, as `cohandle workflows list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedDefinition {
    pub name: String,
    pub version: u32,
    pub title: String,
    pub file: String,
    pub sha256: String,
    pub deployed_by: String,
    pub deployed_at: DateTime<Utc>,
    /// Proposals that run on this version.
    pub proposals: u64,
}

/// The SHA-256 of a definition's text, hex.
pub fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Checks a definition and stores it as an immutable version.
pub async fn deploy(
    db: &impl ConnectionTrait,
    file: &str,
    text: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Deployed, DeployError> {
    let definition = Definition::load(file, text).map_err(|problems| DeployError::Invalid {
        file: file.to_owned(),
        problems,
    })?;
    let name = definition.name.clone();
    let version = definition.version;
    // Insert unless the version exists (two processes may deploy at once), then compare.
    let inserted = workflow_definition::Entity::insert(workflow_definition::ActiveModel {
        name: Set(name.clone()),
        version: Set(version_column(version)?),
        file: Set(file.to_owned()),
        content: Set(text.to_owned()),
        sha256: Set(digest(text)),
        deployed_by: Set(by.to_owned()),
        deployed_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            workflow_definition::Column::Name,
            workflow_definition::Column::Version,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await
    .map_err(Error::from)?;
    if inserted == 1 {
        return Ok(Deployed::New { name, version });
    }
    let stored = workflow_definition::Entity::find_by_id((name.clone(), version_column(version)?))
        .one(db)
        .await
        .map_err(Error::from)?
        .ok_or_else(|| {
            Error::Corrupt(format!(
                "definition {name} v{version} was neither inserted nor found"
            ))
        })?;
    let same =
        Definition::load(&stored.file, &stored.content).is_ok_and(|d| d.same_rules(&definition));
    if same {
        return Ok(Deployed::Unchanged { name, version });
    }
    let next = newest_version(db, &name).await?.max(version) + 1;
    Err(DeployError::Changed {
        name,
        version,
        stored: stored.sha256,
        by: stored.deployed_by,
        at: stored.deployed_at,
        next,
    })
}

/// Stores the shipped definitions that are not stored yet (run by `migrate`).
pub async fn deploy_shipped(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Vec<Deployed>, DeployError> {
    let mut done = Vec::with_capacity(SHIPPED.len());
    for (file, text) in SHIPPED {
        done.push(deploy(db, file, text, SHIPPED_BY, now).await?);
    }
    Ok(done)
}

/// [`deploy`] through a [`Handle`] (the API's admin endpoint).
pub async fn deploy_with(
    store: &impl Handle,
    file: &str,
    text: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Deployed, DeployError> {
    deploy(connection(store), file, text, by, now).await
}

/// [`list`] through a [`Handle`].
pub async fn list_with(store: &impl Handle) -> Result<Vec<DeployedDefinition>, Error> {
    list(connection(store)).await
}

/// Every deployed version, oldest name first, with how many proposals run on it.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<DeployedDefinition>, Error> {
    #[derive(FromQueryResult)]
    struct Count {
        definition_name: String,
        definition_version: i32,
        proposals: i64,
    }
    let counts = proposal::Entity::find()
        .select_only()
        .column(proposal::Column::DefinitionName)
        .column(proposal::Column::DefinitionVersion)
        .column_as(Expr::col(proposal::Column::Key).count(), "proposals")
        .group_by(proposal::Column::DefinitionName)
        .group_by(proposal::Column::DefinitionVersion)
        .into_model::<Count>()
        .all(db)
        .await?;
    let rows = workflow_definition::Entity::find()
        .order_by_asc(workflow_definition::Column::Name)
        .order_by_asc(workflow_definition::Column::Version)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            let proposals = counts
                .iter()
                .find(|c| c.definition_name == row.name && c.definition_version == row.version)
                .map_or(0, |c| c.proposals);
            let title = Definition::load(&row.file, &row.content)
                .map(|d| d.title.clone())
                .map_err(|problems| {
                    Error::Corrupt(format!(
                        "stored definition {} v{}: {problems}",
                        row.name, row.version
                    ))
                })?;
            Ok(DeployedDefinition {
                version: u32::try_from(row.version).map_err(|_| {
                    Error::Corrupt(format!(
                        "definition {} has version {}",
                        row.name, row.version
                    ))
                })?,
                name: row.name,
                title,
                file: row.file,
                sha256: row.sha256,
                deployed_by: row.deployed_by,
                deployed_at: row.deployed_at,
                proposals: u64::try_from(proposals).unwrap_or(0),
            })
        })
        .collect()
}

/// The catalog every role decides with: the shipped definitions and every deployed version.
pub async fn catalog(db: &impl ConnectionTrait) -> Result<Catalog, Error> {
    over(db, &Catalog::shipped()).await
}

/// `base` and every version deployed into the database.
async fn over(db: &impl ConnectionTrait, base: &Catalog) -> Result<Catalog, Error> {
    let mut catalog = base.clone();
    let rows = workflow_definition::Entity::find()
        .order_by_asc(workflow_definition::Column::Name)
        .order_by_asc(workflow_definition::Column::Version)
        .all(db)
        .await?;
    for row in rows {
        match catalog.load(&row.file, &row.content) {
            Ok(_) => {}
            Err(CatalogError::VersionChanged(reference)) => {
                return Err(Error::Corrupt(format!(
                    "stored definition {reference} has other rules than the one of the same version this engine was built with"
                )))
            }
            Err(other) => {
                return Err(Error::Corrupt(format!(
                    "stored definition {} v{}: {other}",
                    row.name, row.version
                )))
            }
        }
    }
    Ok(catalog)
}

/// How many versions are stored: an engine rebuilds its catalog when this changes.
pub async fn stored_count(db: &impl ConnectionTrait) -> Result<u64, Error> {
    use sea_orm::PaginatorTrait;
    Ok(workflow_definition::Entity::find().count(db).await?)
}

async fn newest_version(db: &impl ConnectionTrait, name: &str) -> Result<u32, Error> {
    let newest = workflow_definition::Entity::find()
        .filter(workflow_definition::Column::Name.eq(name))
        .order_by_desc(workflow_definition::Column::Version)
        .one(db)
        .await?;
    Ok(newest.map_or(0, |row| u32::try_from(row.version).unwrap_or(0)))
}

fn version_column(version: u32) -> Result<i32, Error> {
    i32::try_from(version).map_err(|_| Error::Corrupt(format!("version {version} is too large")))
}

/// The catalog an engine decides with: the one it was built with and every version deployed
/// into the database, looked up again at most every [`REFRESH`].
#[derive(Debug)]
pub(crate) struct Followed {
    base: Arc<Catalog>,
    current: Arc<Catalog>,
    /// How many stored versions `current` includes (versions are only ever added).
    stored: Option<u64>,
    /// When the database was last asked; `None`: not yet.
    checked: Option<Instant>,
}

impl Followed {
    pub(crate) fn new(base: Arc<Catalog>) -> Self {
        Self {
            current: base.clone(),
            base,
            stored: None,
            checked: None,
        }
    }

    pub(crate) fn current(&self) -> Arc<Catalog> {
        self.current.clone()
    }
}

/// Rebuilds `followed` when a version was deployed since it was last built; at most every
/// [`REFRESH`] unless `now_please`. A failed look keeps the catalog as it is.
pub(crate) async fn follow(
    db: &impl ConnectionTrait,
    followed: &RwLock<Followed>,
    now_please: bool,
) -> Result<(), Error> {
    let (base, seen) = {
        let state = followed.read().unwrap_or_else(PoisonError::into_inner);
        let due = state.checked.is_none_or(|at| at.elapsed() >= REFRESH);
        if !(due || now_please) {
            return Ok(());
        }
        (state.base.clone(), state.stored)
    };
    let result: Result<Option<(Catalog, u64)>, Error> = async {
        let stored = stored_count(db).await?;
        if Some(stored) == seen {
            return Ok(None);
        }
        Ok(Some((over(db, &base).await?, stored)))
    }
    .await;
    let mut state = followed.write().unwrap_or_else(PoisonError::into_inner);
    state.checked = Some(Instant::now());
    if let Some((catalog, stored)) = result? {
        tracing::info!(
            versions = catalog.all().count(),
            "workflow definitions reloaded"
        );
        state.current = Arc::new(catalog);
        state.stored = Some(stored);
    }
    Ok(())
}
