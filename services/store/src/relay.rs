//! The outbox relay's reads and writes: the unsent rows in id order, marking them sent, and
//! the lock that keeps one relay publishing at a time. Publishing itself is the bus's job
//! (`cohandle-bus`); this module never talks to a broker.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use crate::entities::outbox;
use crate::Error;

/// The key of the PostgreSQL advisory lock the relay holds while it publishes a page
/// ("cohandle" in ASCII, so that it is recognisable in `pg_locks`).
pub const RELAY_LOCK_KEY: i64 = 0x636f_6861_6e64_6c65;

/// Waits for the relay lock, held until the end of `txn`. Per-proposal order holds only if
/// one relay publishes at a time: two relays interleaving pages could overtake each other.
/// On SQLite, the single writer already serialises relays, so this does nothing.
pub async fn lock(txn: &impl ConnectionTrait) -> Result<(), Error> {
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            vec![RELAY_LOCK_KEY.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Up to `limit` rows not yet published, oldest first: id order is commit order within a
/// proposal, so publishing in it keeps each proposal's messages in order.
pub async fn unsent(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<outbox::Model>, Error> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::SentAt.is_null())
        .order_by_asc(outbox::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Marks rows published (their broker confirm arrived). Rows already marked keep their time.
pub async fn mark_sent(
    db: &impl ConnectionTrait,
    ids: &[i64],
    at: DateTime<Utc>,
) -> Result<u64, Error> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut marked = 0;
    // SQLite takes at most 32766 bound values per statement; stay well below.
    for chunk in ids.chunks(500) {
        marked += outbox::Entity::update_many()
            .col_expr(outbox::Column::SentAt, Expr::value(at))
            .filter(outbox::Column::Id.is_in(chunk.iter().copied()))
            .filter(outbox::Column::SentAt.is_null())
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(marked)
}

/// How many rows wait to be published.
pub async fn backlog(db: &impl ConnectionTrait) -> Result<u64, Error> {
    use sea_orm::PaginatorTrait;
    Ok(outbox::Entity::find()
        .filter(outbox::Column::SentAt.is_null())
        .count(db)
        .await?)
}
