//! Configuration: defaults → file (`cohandle.toml`, or `--config`) → `COHANDLE__…` variables.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub database: Database,
    #[serde(default)]
    pub amqp: Amqp,
    pub http: Http,
    #[serde(default)]
    pub calendar: CalendarSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Database {
    /// `sqlite://…` or `postgres://…`.
    pub url: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Amqp {
    /// When unset, nothing connects to a broker.
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Http {
    pub listen: String,
    /// Requests per second one token may send, sustained; 0 turns the limit off.
    pub rate_limit_per_second: u32,
    /// Requests one token may send at once after a quiet spell.
    pub rate_limit_burst: u32,
}

impl Http {
    /// The per-token rate limit these settings ask for (`None`: off).
    pub fn rate_limit(&self) -> anyhow::Result<Option<cohandle_api::RateLimit>> {
        cohandle_api::RateLimit::from_settings(self.rate_limit_per_second, self.rate_limit_burst)
            .map_err(anyhow::Error::msg)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CalendarSettings {
    /// A holiday file that corrects or extends the shipped official calendar.
    pub corrections: Option<PathBuf>,
}

/// The embedded default: a SQLite file in the working directory, created on first run.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://cohandle.db?mode=rwc";

pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
    let mut builder = config::Config::builder()
        .set_default("database.url", DEFAULT_DATABASE_URL)?
        .set_default("http.listen", "127.0.0.1:8080")?
        .set_default(
            "http.rate_limit_per_second",
            cohandle_api::RateLimit::DEFAULT.per_second.get(),
        )?
        .set_default(
            "http.rate_limit_burst",
            cohandle_api::RateLimit::DEFAULT.burst.get(),
        )?;
    builder = match file {
        Some(path) => builder.add_source(config::File::from(path).required(true)),
        None => builder.add_source(config::File::with_name("cohandle.toml").required(false)),
    };
    builder = builder.add_source(config::Environment::with_prefix("COHANDLE").separator("__"));
    builder
        .build()
        .and_then(config::Config::try_deserialize)
        .context("configuration (defaults, cohandle.toml or --config, COHANDLE__ variables)")
}
