//! A database of the benchmark's own on the PostgreSQL server, dropped when done.

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

#[derive(Debug)]
pub struct ScratchDb {
    server: String,
    name: String,
    pub url: String,
}

impl ScratchDb {
    /// `server` is a URL without a database, e.g. `postgres://postgres@127.0.0.1:5432`.
    pub async fn create(server: &str) -> anyhow::Result<Self> {
        let name = format!("cohandle_bench_{}", uuid::Uuid::new_v4().simple());
        let admin = admin(server).await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .context("creating the benchmark database")?;
        admin.close().await?;
        Ok(Self {
            server: server.to_owned(),
            url: format!("{server}/{name}"),
            name,
        })
    }

    pub async fn drop_now(self) -> anyhow::Result<()> {
        let admin = admin(&self.server).await?;
        admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await?;
        Ok(())
    }
}

async fn admin(server: &str) -> anyhow::Result<DatabaseConnection> {
    Database::connect(format!("{server}/postgres"))
        .await
        .with_context(|| {
            format!("cannot reach PostgreSQL at {server} (run deploy/dev/ensure-postgres.sh)")
        })
}
