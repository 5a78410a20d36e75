//! The raw PostgreSQL limit on this machine: transactions of one UPDATE plus one INSERT,
//! with one event per transaction and with 64 per transaction.

use std::time::Instant;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait, Value};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub events: u64,
    pub one_per_transaction_per_second: f64,
    pub sixty_four_per_transaction_per_second: f64,
}

pub async fn run(db: &DatabaseConnection, events: u64) -> anyhow::Result<Report> {
    db.execute_unprepared(
        "CREATE TABLE raw_state (key TEXT PRIMARY KEY, version BIGINT NOT NULL, document TEXT NOT NULL); \
         CREATE TABLE raw_log (id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL, payload TEXT NOT NULL); \
         INSERT INTO raw_state SELECT 'k' || g, 0, repeat('x', 2000) FROM generate_series(0, 999) g",
    )
    .await?;
    let one = per_second(db, events, 1).await?;
    let batched = per_second(db, events, 64).await?;
    db.execute_unprepared("DROP TABLE raw_state; DROP TABLE raw_log")
        .await?;
    Ok(Report {
        events,
        one_per_transaction_per_second: one,
        sixty_four_per_transaction_per_second: batched,
    })
}

async fn per_second(db: &DatabaseConnection, events: u64, per_txn: u64) -> anyhow::Result<f64> {
    let backend = db.get_database_backend();
    let payload = "y".repeat(600);
    let started = Instant::now();
    let mut done = 0;
    while done < events {
        let txn = db.begin().await?;
        for _ in 0..per_txn.min(events - done) {
            let key = format!("k{}", done % 1000);
            txn.execute(Statement::from_sql_and_values(
                backend,
                "UPDATE raw_state SET version = version + 1, document = $2 WHERE key = $1",
                [Value::from(key.clone()), Value::from(payload.clone())],
            ))
            .await?;
            txn.execute(Statement::from_sql_and_values(
                backend,
                "INSERT INTO raw_log (key, payload) VALUES ($1, $2)",
                [Value::from(key), Value::from(payload.clone())],
            ))
            .await?;
            done += 1;
        }
        txn.commit().await?;
    }
    Ok(events as f64 / started.elapsed().as_secs_f64().max(1e-9))
}
