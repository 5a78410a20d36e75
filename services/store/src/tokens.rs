//! The API's bearer tokens, kept only as hashes of their secrets: issued to registered
//! agencies, looked up by hash, listed, revoked. The API decides who may hold one and
//! makes the secrets; this module keeps the rows.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::agency;
use crate::entities::token::{self, Column, Entity};
use crate::handle::{connection, Handle};
use crate::queries::Page;
use crate::Error;

/// A token as kept, without its secret's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: String,
    pub name: String,
    pub agency: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<token::Model> for Token {
    fn from(row: token::Model) -> Self {
        Self {
            id: row.id,
            name: row.name,
            agency: row.agency,
            role: row.role,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// A token to keep: the row and the hash of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub token: Token,
    pub secret_hash: String,
}

/// Keeps a new token.
pub async fn insert(store: &impl Handle, new: NewToken) -> Result<Token, Error> {
    let NewToken { token, secret_hash } = new;
    let row = token::ActiveModel {
        id: Set(token.id),
        name: Set(token.name),
        agency: Set(token.agency),
        role: Set(token.role),
        secret_hash: Set(secret_hash),
        created_at: Set(token.created_at),
        expires_at: Set(token.expires_at),
        revoked_at: Set(token.revoked_at),
    };
    Ok(Entity::insert(row)
        .exec_with_returning(connection(store))
        .await?
        .into())
}

/// The token whose secret hashes to `secret_hash`.
pub async fn by_secret_hash(
    store: &impl Handle,
    secret_hash: &str,
) -> Result<Option<Token>, Error> {
    Ok(Entity::find()
        .filter(Column::SecretHash.eq(secret_hash))
        .one(connection(store))
        .await?
        .map(Token::from))
}

/// The token with the id `id`.
pub async fn get(store: &impl Handle, id: &str) -> Result<Option<Token>, Error> {
    Ok(Entity::find_by_id(id.to_owned())
        .one(connection(store))
        .await?
        .map(Token::from))
}

/// How many tokens `agency` holds for `role` at `now`, neither revoked nor expired.
pub async fn active(
    store: &impl Handle,
    agency: &str,
    role: &str,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    Ok(Entity::find()
        .filter(Column::Agency.eq(agency))
        .filter(Column::Role.eq(role))
        .filter(Column::RevokedAt.is_null())
        .filter(
            Condition::any()
                .add(Column::ExpiresAt.is_null())
                .add(Column::ExpiresAt.gt(now)),
        )
        .count(connection(store))
        .await?)
}

/// Revokes a token from `now` on; revoking it again keeps the first moment. `None`: no
/// token has that id.
pub async fn revoke(
    store: &impl Handle,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Token>, Error> {
    Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(Some(now)))
        .filter(Column::Id.eq(id))
        .filter(Column::RevokedAt.is_null())
        .exec(connection(store))
        .await?;
    get(store, id).await
}

/// Tokens by id, a page after the id `after`.
pub async fn list(
    store: &impl Handle,
    after: Option<&str>,
    limit: u64,
) -> Result<Page<Token>, Error> {
    let mut find = Entity::find().order_by_asc(Column::Id).limit(limit + 1);
    if let Some(after) = after {
        find = find.filter(Column::Id.gt(after));
    }
    let rows = find.all(connection(store)).await?;
    Ok(Page::of(rows.into_iter().map(Token::from).collect(), limit))
}

/// The kind `agency` is registered as (tokens go only to registered agencies); `None`: it is
/// not registered.
pub async fn registered_kind(store: &impl Handle, agency: &str) -> Result<Option<String>, Error> {
    Ok(agency::Entity::find_by_id(agency.to_owned())
        .select_only()
        .column(agency::Column::Kind)
        .into_tuple()
        .one(connection(store))
        .await?)
}
