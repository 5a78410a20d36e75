//! Set-based writes of many rows at once, in statements whose text does not depend on how
//! many rows there are.
//!
//! On PostgreSQL a table's rows travel as one JSON parameter, unpacked by
//! `json_populate_recordset` into the table's own row type: every batch, large or small,
//! sends the same statement text, which each connection parses and plans once and keeps
//! prepared. Lists of keys travel as one array parameter (`= ANY($1)`, `unnest`). On SQLite
//! (one writer, no network) rows go as multi-row `VALUES` in chunks, as sea-orm builds them.
//!
//! Besides inserts: the version-checked update of a batch's proposals, the cancellation of
//! timers by key, and the placeholders and value lists the statements are built from.

use chrono::SecondsFormat;
use sea_orm::sea_query::{ArrayType, OnConflict, Value};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityName,
    EntityTrait, IdenStatic, Iterable, Statement,
};
use serde_json::{Map, Value as Json};

use crate::entities::proposal;
use crate::Error;

/// What an insert does with a row whose key is already stored.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Conflict {
    /// Nothing special: a duplicate key is an error.
    Fail,
    /// Keep the stored row.
    Ignore(&'static [&'static str]),
    /// Overwrite the stored row's other columns. Within one call the last row for a key wins.
    Update(&'static [&'static str]),
}

/// Rows of SQLite's multi-row statements: its limit of 32,766 bound values stays far off.
const SQLITE_CHUNK: usize = 500;

/// Inserts `rows` (all with the same columns set) with the given conflict rule.
pub(crate) async fn insert<A>(
    txn: &DatabaseTransaction,
    rows: Vec<A>,
    conflict: Conflict,
) -> Result<(), Error>
where
    A: ActiveModelTrait,
{
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let columns: Vec<<A::Entity as EntityTrait>::Column> =
        <A::Entity as EntityTrait>::Column::iter()
            .filter(|c| first.get(*c).is_set() || first.get(*c).is_unchanged())
            .collect();
    if txn.get_database_backend() != DatabaseBackend::Postgres {
        return insert_in_chunks(txn, rows, conflict).await;
    }
    let names: Vec<&str> = columns.iter().map(|c| c.as_str()).collect();
    if let Conflict::Ignore(keys) | Conflict::Update(keys) = conflict {
        if let Some(unset) = keys.iter().find(|k| !names.contains(k)) {
            return Err(Error::Corrupt(format!(
                "rows for {} leave their key column {unset} unset",
                A::Entity::default().table_name()
            )));
        }
    }
    let mut records = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut record = Map::with_capacity(names.len());
        for (column, name) in columns.iter().zip(&names) {
            let value = row.get(*column).into_value().unwrap_or(Value::Bool(None));
            record.insert((*name).to_owned(), json(value)?);
        }
        records.push(record);
    }
    if let Conflict::Update(keys) = conflict {
        records = last_per_key(records, keys);
    }
    let table = A::Entity::default().table_name().to_owned();
    let list = names.join(", ");
    let on_conflict = match conflict {
        Conflict::Fail => String::new(),
        Conflict::Ignore(keys) => format!(" ON CONFLICT ({}) DO NOTHING", keys.join(", ")),
        Conflict::Update(keys) => format!(
            " ON CONFLICT ({}) DO UPDATE SET {}",
            keys.join(", "),
            names
                .iter()
                .filter(|n| !keys.contains(n))
                .map(|n| format!("{n} = excluded.{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let sql = format!(
        "INSERT INTO {table} ({list}) SELECT {list} FROM json_populate_recordset(NULL::{table}, $1::json){on_conflict}"
    );
    let payload = serde_json::to_string(&records).map_err(|e| Error::Corrupt(e.to_string()))?;
    txn.execute(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        sql,
        [Value::from(payload)],
    ))
    .await?;
    Ok(())
}

/// SQLite: sea-orm's multi-row inserts, a chunk at a time (SQLite applies an upsert row by
/// row, so a key met twice in one statement ends with its last row).
async fn insert_in_chunks<A>(
    txn: &DatabaseTransaction,
    rows: Vec<A>,
    conflict: Conflict,
) -> Result<(), Error>
where
    A: ActiveModelTrait,
{
    let column = |name: &str| {
        <A::Entity as EntityTrait>::Column::iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| Error::Corrupt(format!("no column {name}")))
    };
    let rule = match conflict {
        Conflict::Fail => None,
        Conflict::Ignore(keys) => Some(
            OnConflict::columns(
                keys.iter()
                    .map(|k| column(k))
                    .collect::<Result<Vec<_>, _>>()?,
            )
            .do_nothing()
            .to_owned(),
        ),
        Conflict::Update(keys) => Some(
            OnConflict::columns(
                keys.iter()
                    .map(|k| column(k))
                    .collect::<Result<Vec<_>, _>>()?,
            )
            .update_columns(
                <A::Entity as EntityTrait>::Column::iter().filter(|c| !keys.contains(&c.as_str())),
            )
            .to_owned(),
        ),
    };
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(SQLITE_CHUNK).collect();
        let mut insert = A::Entity::insert_many(chunk);
        if let Some(rule) = &rule {
            insert = insert.on_conflict(rule.clone());
        }
        insert.do_nothing().exec(txn).await?;
    }
    Ok(())
}

/// Keeps the last record for each key, in the order of their last occurrence.
fn last_per_key(records: Vec<Map<String, Json>>, keys: &[&str]) -> Vec<Map<String, Json>> {
    let key_of = |r: &Map<String, Json>| -> Vec<Json> {
        keys.iter()
            .map(|k| r.get(*k).cloned().unwrap_or(Json::Null))
            .collect()
    };
    let mut last = std::collections::HashMap::new();
    for (i, record) in records.iter().enumerate() {
        last.insert(key_of(record), i);
    }
    if last.len() == records.len() {
        return records;
    }
    records
        .into_iter()
        .enumerate()
        .filter(|(i, r)| last.get(&key_of(r)) == Some(i))
        .map(|(_, r)| r)
        .collect()
}

/// A column value as `json_populate_recordset` reads it back into the column's type.
fn json(value: Value) -> Result<Json, Error> {
    Ok(match value {
        Value::Bool(v) => v.map_or(Json::Null, Json::Bool),
        Value::Int(v) => v.map_or(Json::Null, Json::from),
        Value::BigInt(v) => v.map_or(Json::Null, Json::from),
        Value::String(v) => v.map_or(Json::Null, |s| Json::String(*s)),
        Value::ChronoDate(v) => v.map_or(Json::Null, |d| Json::String(d.to_string())),
        Value::ChronoDateTimeUtc(v) => v.map_or(Json::Null, |t| {
            Json::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        }),
        other => {
            return Err(Error::Corrupt(format!(
                "a bulk write met a column value it does not carry: {other:?}"
            )))
        }
    })
}

/// The rows of `E` whose `column` is one of `keys`. PostgreSQL: one statement of a fixed
/// shape (`= ANY($1)`), followed by `postgres_tail` (an order, a lock); SQLite: `IN` lists
/// a chunk at a time.
pub(crate) async fn find_by_keys<E, K>(
    db: &impl ConnectionTrait,
    column: E::Column,
    keys: &[K],
    postgres_tail: &str,
) -> Result<Vec<E::Model>, Error>
where
    E: EntityTrait,
    K: AsRef<str>,
{
    use sea_orm::{ColumnTrait, QueryFilter};

    if db.get_database_backend() == DatabaseBackend::Postgres {
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = ANY($1) {postgres_tail}",
            column_list::<E>(),
            E::default().table_name(),
            column.as_str()
        );
        let keys = text_array(keys.iter().map(|k| k.as_ref()));
        return Ok(E::find()
            .from_raw_sql(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                sql,
                [keys],
            ))
            .all(db)
            .await?);
    }
    let mut rows = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(SQLITE_CHUNK) {
        let chunk = chunk.iter().map(|k| k.as_ref().to_owned());
        rows.extend(E::find().filter(column.is_in(chunk)).all(db).await?);
    }
    Ok(rows)
}

/// The entity's columns by name, for a `SELECT` whose result keeps its shape when a later
/// migration adds a column (a prepared `SELECT *` would then fail on every pooled
/// connection).
pub(crate) fn column_list<E: EntityTrait>() -> String {
    E::Column::iter()
        .map(|c| c.as_str().to_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A list of strings as one PostgreSQL `text[]` parameter.
pub(crate) fn text_array<I>(items: I) -> Value
where
    I: IntoIterator,
    I::Item: Into<String>,
{
    Value::Array(
        ArrayType::String,
        Some(Box::new(
            items
                .into_iter()
                .map(|s| Value::String(Some(Box::new(s.into()))))
                .collect(),
        )),
    )
}

/// A list of numbers as one PostgreSQL `bigint[]` parameter.
pub(crate) fn bigint_array(items: impl IntoIterator<Item = i64>) -> Value {
    Value::Array(
        ArrayType::BigInt,
        Some(Box::new(items.into_iter().map(Value::from).collect())),
    )
}

/// Version-checked updates of many proposals in one statement: a row whose version moved
/// on (a concurrent writer won) is not updated, and the batch is decided again.
pub(crate) async fn update_proposals(
    txn: &DatabaseTransaction,
    rows: Vec<(proposal::Model, i64)>,
) -> Result<(), Error> {
    use sea_orm::{DatabaseBackend, Statement, Value};

    const COLUMNS: &str = "key, version_read, state, due_on, version, document, updated_at, history_seq, history_hash";
    const SET: &str =
        "state = v.state, due_on = v.due_on, version = v.version, document = v.document, \
         updated_at = v.updated_at, history_seq = v.history_seq, history_hash = v.history_hash";
    let backend = txn.get_database_backend();
    if rows.is_empty() {
        return Ok(());
    }
    if backend == DatabaseBackend::Postgres {
        let records: Vec<serde_json::Value> = rows
            .iter()
            .map(|(row, version_read)| {
                serde_json::json!({
                    "key": row.key,
                    "version_read": version_read,
                    "state": row.state,
                    "due_on": row.due_on,
                    "version": row.version,
                    "document": row.document,
                    "updated_at": row.updated_at,
                    "history_seq": row.history_seq,
                    "history_hash": row.history_hash,
                })
            })
            .collect();
        let sql = format!(
            "UPDATE proposals SET {SET} FROM json_to_recordset($1::json) AS v(key text, version_read bigint, \
             state text, due_on date, version bigint, document text, updated_at timestamptz, \
             history_seq bigint, history_hash text) \
             WHERE proposals.key = v.key AND proposals.version = v.version_read"
        );
        let payload = serde_json::Value::Array(records).to_string();
        let updated = txn
            .execute(Statement::from_sql_and_values(
                backend,
                sql,
                [Value::from(payload)],
            ))
            .await?
            .rows_affected();
        if updated != rows.len() as u64 {
            return Err(Error::Conflict);
        }
        return Ok(());
    }
    // SQLite names the columns of a VALUES list itself, so there the rows come as SELECTs.
    let names: Vec<&str> = COLUMNS.split(", ").collect();
    for chunk in rows.chunks(200) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 9);
        let mut selects = Vec::with_capacity(chunk.len());
        for (row, version_read) in chunk {
            let fields: Vec<String> = names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    format!("{} AS {name}", placeholder(backend, values.len() + i + 1))
                })
                .collect();
            selects.push(format!("SELECT {}", fields.join(", ")));
            values.extend([
                row.key.clone().into(),
                (*version_read).into(),
                row.state.clone().into(),
                row.due_on.into(),
                row.version.into(),
                row.document.clone().into(),
                row.updated_at.into(),
                row.history_seq.into(),
                row.history_hash.clone().into(),
            ]);
        }
        let sql = format!(
            "UPDATE proposals SET {SET} FROM ({}) AS v \
             WHERE proposals.key = v.key AND proposals.version = v.version_read",
            selects.join(" UNION ALL ")
        );
        let updated = txn
            .execute(Statement::from_sql_and_values(backend, sql, values))
            .await?
            .rows_affected();
        if updated != chunk.len() as u64 {
            return Err(Error::Conflict);
        }
    }
    Ok(())
}

/// `$n` on PostgreSQL, `?n` on SQLite.
pub(crate) fn placeholder(backend: sea_orm::DatabaseBackend, n: usize) -> String {
    match backend {
        sea_orm::DatabaseBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    }
}

/// Rows as a list of `(…, …)` tuples of placeholders, with their values in order.
pub(crate) fn value_tuples<const N: usize>(
    backend: sea_orm::DatabaseBackend,
    rows: &[[sea_orm::Value; N]],
) -> (String, Vec<sea_orm::Value>) {
    let mut values = Vec::with_capacity(rows.len() * N);
    let mut tuples = Vec::with_capacity(rows.len());
    for row in rows {
        let marks: Vec<String> = (1..=N)
            .map(|i| placeholder(backend, values.len() + i))
            .collect();
        tuples.push(format!("({})", marks.join(", ")));
        values.extend(row.iter().cloned());
    }
    (tuples.join(", "), values)
}

/// Ends the pending timers whose `columns` match one of `keys`, in few statements: a
/// reminder is deleted (nothing reads it once it cannot fire, and a deleted row adds no
/// index entry); an expiry, the deadline's record, is marked `cancelled` (met).
pub(crate) async fn cancel_timers<const N: usize>(
    txn: &DatabaseTransaction,
    columns: [&str; N],
    keys: Vec<[String; N]>,
) -> Result<(), Error> {
    use sea_orm::{Statement, Value};

    if keys.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    if backend == sea_orm::DatabaseBackend::Postgres {
        // One array per column, joined on the timers_task index: one statement text for any
        // number of keys, the deletion a part of it.
        let arrays: Vec<String> = (1..=N).map(|i| format!("${i}::text[]")).collect();
        let matches: Vec<String> = columns
            .iter()
            .map(|c| format!("timers.{c} = c.{c}"))
            .collect();
        let (columns, matches) = (columns.join(", "), matches.join(" AND "));
        let sql = format!(
            "WITH c AS (SELECT * FROM unnest({}) AS c({columns})), \
             reminders AS (DELETE FROM timers USING c WHERE timers.state = 'pending' \
                 AND timers.kind = 'reminder' AND {matches}) \
             UPDATE timers SET state = 'cancelled' FROM c \
             WHERE timers.state = 'pending' AND timers.kind <> 'reminder' AND {matches}",
            arrays.join(", ")
        );
        let values: Vec<Value> = (0..N)
            .map(|i| text_array(keys.iter().map(|k| k[i].clone())))
            .collect();
        txn.execute(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        return Ok(());
    }
    let keys: Vec<[Value; N]> = keys.into_iter().map(|k| k.map(Value::from)).collect();
    for chunk in keys.chunks(300) {
        let (tuples, values) = value_tuples(backend, chunk);
        let matching = format!(
            "state = 'pending' AND ({}) IN ({tuples})",
            columns.join(", ")
        );
        for sql in [
            format!("DELETE FROM timers WHERE kind = 'reminder' AND {matching}"),
            format!(
                "UPDATE timers SET state = 'cancelled' WHERE kind <> 'reminder' AND {matching}"
            ),
        ] {
            txn.execute(Statement::from_sql_and_values(backend, sql, values.clone()))
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pairs: &[(&str, i64)]) -> Map<String, Json> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Json::from(*v)))
            .collect()
    }

    #[test]
    fn the_last_row_for_a_key_wins_and_order_is_kept() {
        let rows = vec![
            record(&[("k", 1), ("v", 10)]),
            record(&[("k", 2), ("v", 20)]),
            record(&[("k", 1), ("v", 11)]),
        ];
        let kept = last_per_key(rows, &["k"]);
        assert_eq!(
            kept,
            vec![
                record(&[("k", 2), ("v", 20)]),
                record(&[("k", 1), ("v", 11)])
            ]
        );
    }

    #[test]
    fn values_become_what_postgres_reads_back() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-27T09:57:08.123456Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            json(Value::from(at)).unwrap(),
            Json::String("2026-11-27T09:57:08.123456Z".to_owned())
        );
        assert_eq!(
            json(Value::from(
                chrono::NaiveDate::from_ymd_opt(2027, 2, 1).unwrap()
            ))
            .unwrap(),
            Json::String("2027-02-01".to_owned())
        );
        assert_eq!(json(Value::String(None)).unwrap(), Json::Null);
        assert_eq!(json(Value::BigInt(Some(7))).unwrap(), Json::from(7));
        assert!(json(Value::Double(Some(1.0))).is_err());
    }
}
