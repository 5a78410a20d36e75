//! Configuration, loaded once by `main` and handed to every command: defaults → file
//! (`cohandle.toml`, or `--config`) → `COHANDLE__…` variables (`__` between the parts of a
//! key: `COHANDLE__AMQP__BATCH_SIZE`). A key that names no setting, in the file or in a
//! `COHANDLE__` variable, is refused with its name, so that a typo never runs on a default.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cohandle_api::service::GroupCommit;
use cohandle_bus::Topology;
use cohandle_proto::ContentType;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub database: Database,
    #[serde(default)]
    pub amqp: Amqp,
    pub http: Http,
    #[serde(default)]
    pub calendar: CalendarSettings,
    #[serde(default)]
    pub metrics: MetricsSettings,
    #[serde(default)]
    pub engine: EngineSettings,
}

/// `engine.*`: how the engine decides, in every role that decides (worker, API).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSettings {
    /// How long an event that arrived before the step it depends on is held with its
    /// proposal, in seconds, before it is refused (0: refused at once).
    pub hold_window_secs: u64,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            hold_window_secs: cohandle_store::held::DEFAULT_WINDOW.as_secs(),
        }
    }
}

impl EngineSettings {
    pub fn hold_window(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.hold_window_secs)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// `sqlite://…` or `postgres://…`; or several `postgres://…` (the servers of one
    /// cluster: a list in the file, separated by commas in the variable), of which the
    /// writable one is used.
    #[serde(deserialize_with = "one_or_several")]
    pub url: String,
    /// A streaming replica (`postgres://…`) the supervisors' lists and statistics are read
    /// from; `/readyz` and `/metrics` show how far behind it is. Unset: everything is read
    /// from `url`.
    #[serde(default)]
    pub read_url: Option<String>,
}

/// `amqp.*`: the broker and how the bus roles use it.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Amqp {
    /// `amqp://user:password@host:port/vhost`, or the nodes of one cluster (a list in the
    /// file, separated by commas in the variable), tried in order; unset: nothing connects
    /// to a broker.
    #[serde(deserialize_with = "some_one_or_several")]
    pub url: Option<String>,
    /// Partition queues `cohandle.in.0…N-1`; the same in every worker and in definitions.json.
    pub partitions: u16,
    /// Unacknowledged deliveries per partition channel.
    pub prefetch: u16,
    /// Events applied per transaction at most.
    pub batch_size: usize,
    /// How long a batch waits for more events after its first, in milliseconds (0: it
    /// takes what has arrived).
    pub linger_ms: u64,
    /// Deliveries of one message before the broker sends it round the retry queue.
    pub delivery_limit: u32,
    /// How long a message waits in the retry queue, in milliseconds.
    pub retry_delay_ms: u64,
    /// Rounds through the retry queue before a message is dead-lettered.
    pub max_retry_rounds: u64,
    /// Encoding of outbound messages: `application/json` or `application/x-protobuf`.
    pub content_type: String,
    /// Agencies whose queues to declare besides the registered ones: `code` or `code:kind`.
    pub agencies: Vec<String>,
    /// Attempts of one message, each nacked or cut off by a lost connection, before the
    /// relay or `cohandle emit` gives up on it.
    pub publish_attempts: u32,
}

impl Default for Amqp {
    fn default() -> Self {
        let topology = Topology::default();
        Self {
            url: None,
            partitions: topology.partitions,
            prefetch: 500,
            batch_size: 250,
            linger_ms: 0,
            delivery_limit: topology.delivery_limit,
            retry_delay_ms: topology.retry_delay.as_millis() as u64,
            max_retry_rounds: 5,
            content_type: ContentType::Json.as_str().to_owned(),
            agencies: Vec::new(),
            publish_attempts: cohandle_bus::publish::DEFAULT_PUBLISH_ATTEMPTS,
        }
    }
}

/// A URL setting written as one string, or as a list (the servers or nodes of one
/// cluster): kept as one string, the URLs separated by commas, as the variable writes them.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrSeveral {
    One(String),
    Several(Vec<String>),
}

impl OneOrSeveral {
    fn joined(self) -> String {
        match self {
            Self::One(url) => url,
            Self::Several(urls) => urls.join(","),
        }
    }
}

fn one_or_several<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    OneOrSeveral::deserialize(deserializer).map(OneOrSeveral::joined)
}

fn some_one_or_several<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Option::<OneOrSeveral>::deserialize(deserializer).map(|urls| urls.map(OneOrSeveral::joined))
}

/// `http.*`: the API and workbench of `cohandle api` and `cohandle serve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub listen: String,
    /// Requests per second one token may send, sustained; 0 turns the limit off.
    pub rate_limit_per_second: u32,
    /// Requests one token may send at once after a quiet spell.
    pub rate_limit_burst: u32,
    /// How long a write waits for others to share its transaction, in milliseconds (0:
    /// every write is a transaction of its own).
    pub group_commit_window_ms: u64,
    /// Writes decided in one transaction at most.
    pub group_commit_max: usize,
}

impl Http {
    /// How concurrent writes share transactions.
    pub fn group_commit(&self) -> anyhow::Result<cohandle_api::service::GroupCommit> {
        cohandle_api::service::GroupCommit::from_settings(
            self.group_commit_window_ms,
            self.group_commit_max,
        )
        .map_err(anyhow::Error::msg)
    }

    /// The per-token rate limit these settings ask for (`None`: off).
    pub fn rate_limit(&self) -> anyhow::Result<Option<cohandle_api::RateLimit>> {
        cohandle_api::RateLimit::from_settings(self.rate_limit_per_second, self.rate_limit_burst)
            .map_err(anyhow::Error::msg)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSettings {
    /// A holiday file that corrects or extends the shipped official calendar.
    pub corrections: Option<PathBuf>,
}

/// `metrics.*`: the endpoints of the roles without an HTTP API (worker, relay, monitor).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// `host:port` for `/metrics`, `/healthz` and `/readyz`, or `off`; unset: the role's
    /// own default (worker 127.0.0.1:9464, relay 127.0.0.1:9465, monitor 127.0.0.1:9466).
    pub listen: Option<String>,
}

/// The embedded default: a SQLite file in the working directory, created on first run.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://cohandle.db?mode=rwc";

/// Reads and checks the configuration. The file, when given, must exist; `cohandle.toml`
/// is read when present.
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
        )?
        .set_default(
            "http.group_commit_window_ms",
            GroupCommit::DEFAULT.window.as_millis() as u64,
        )?
        .set_default("http.group_commit_max", GroupCommit::DEFAULT.max as u64)?;
    builder = match file {
        Some(path) => builder.add_source(config::File::from(path).required(true)),
        None => builder.add_source(config::File::with_name("cohandle.toml").required(false)),
    };
    builder = builder.add_source(
        config::Environment::with_prefix("COHANDLE")
            .prefix_separator("__")
            .separator("__")
            .list_separator(",")
            .with_list_parse_key("amqp.agencies")
            .try_parsing(true),
    );
    let sources = "configuration (defaults, cohandle.toml or --config, COHANDLE__ variables)";
    let merged = builder.build().context(sources)?;
    let settings: Settings = serde_path_to_error::deserialize(merged).map_err(|error| {
        let key = error.path().to_string();
        let named = if key == "." {
            "configuration".to_owned()
        } else {
            format!(
                "{key} (COHANDLE__{})",
                key.to_uppercase().replace('.', "__")
            )
        };
        anyhow::anyhow!("{named}: {}", error.into_inner()).context(sources)
    })?;
    settings.check()?;
    Ok(settings)
}

impl Settings {
    /// What serde cannot see: values that parse but cannot work.
    fn check(&self) -> anyhow::Result<()> {
        ContentType::parse(&self.amqp.content_type)
            .context("amqp.content_type (COHANDLE__AMQP__CONTENT_TYPE)")?;
        anyhow::ensure!(
            self.amqp.partitions > 0,
            "amqp.partitions (COHANDLE__AMQP__PARTITIONS) must be at least 1"
        );
        self.http.rate_limit()?;
        self.http.group_commit()?;
        Ok(())
    }

    /// Every setting with its effective value, one `key = value` a line, passwords hidden:
    /// what `cohandle config` prints.
    pub fn describe(&self) -> String {
        let a = &self.amqp;
        let mut lines: Vec<(&str, String)> = vec![
            ("database.url", redact(&self.database.url)),
            (
                "database.read_url",
                self.database
                    .read_url
                    .as_deref()
                    .map_or("(unset: reads go to database.url)".to_owned(), redact),
            ),
            (
                "amqp.url",
                a.url
                    .as_deref()
                    .map_or("(unset: no broker)".to_owned(), redact),
            ),
            ("amqp.partitions", a.partitions.to_string()),
            ("amqp.prefetch", a.prefetch.to_string()),
            ("amqp.batch_size", a.batch_size.to_string()),
            ("amqp.linger_ms", a.linger_ms.to_string()),
            ("amqp.delivery_limit", a.delivery_limit.to_string()),
            ("amqp.retry_delay_ms", a.retry_delay_ms.to_string()),
            ("amqp.max_retry_rounds", a.max_retry_rounds.to_string()),
            ("amqp.publish_attempts", a.publish_attempts.to_string()),
            ("amqp.content_type", a.content_type.clone()),
            (
                "amqp.agencies",
                if a.agencies.is_empty() {
                    "(none: the registered agencies)".to_owned()
                } else {
                    a.agencies.join(",")
                },
            ),
            ("http.listen", self.http.listen.clone()),
            (
                "http.rate_limit_per_second",
                self.http.rate_limit_per_second.to_string(),
            ),
            (
                "http.rate_limit_burst",
                self.http.rate_limit_burst.to_string(),
            ),
            (
                "http.group_commit_window_ms",
                self.http.group_commit_window_ms.to_string(),
            ),
            (
                "http.group_commit_max",
                self.http.group_commit_max.to_string(),
            ),
            (
                "calendar.corrections",
                self.calendar
                    .corrections
                    .as_ref()
                    .map_or("(none)".to_owned(), |p| p.display().to_string()),
            ),
        ];
        lines.push((
            "engine.hold_window_secs",
            self.engine.hold_window_secs.to_string(),
        ));
        lines.push((
            "metrics.listen",
            self.metrics.listen.clone().unwrap_or_else(|| {
                "(per role: worker 127.0.0.1:9464, relay 127.0.0.1:9465, monitor 127.0.0.1:9466)"
                    .to_owned()
            }),
        ));
        let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (key, value) in lines {
            let _ = writeln!(out, "{key:<width$} = {value}");
        }
        out
    }
}

/// A URL (or several, separated by commas) without its password, for printing.
pub fn redact(urls: &str) -> String {
    urls.split(',')
        .map(redact_one)
        .collect::<Vec<_>>()
        .join(",")
}

fn redact_one(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("postgres://cohandle:s3cret@db:5432/cohandle"),
            "postgres://cohandle:***@db:5432/cohandle"
        );
        assert_eq!(
            redact("amqp://worker:p@ss@mq:5672/%2f"),
            "amqp://worker:***@mq:5672/%2f"
        );
        assert_eq!(
            redact("amqp://a:x@mq1:5672/%2f,amqp://a:y@mq2:5672/%2f"),
            "amqp://a:***@mq1:5672/%2f,amqp://a:***@mq2:5672/%2f"
        );
        assert_eq!(
            redact("sqlite://cohandle.db?mode=rwc"),
            "sqlite://cohandle.db?mode=rwc"
        );
    }

    #[test]
    fn a_file_key_that_names_no_setting_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cohandle.toml");
        std::fs::write(&file, "[amqp]\nbatch_sise = 10\n").unwrap();
        let error = format!("{:#}", load(Some(&file)).unwrap_err());
        assert!(error.contains("batch_sise"), "{error}");
        std::fs::write(
            &file,
            "[amqp]\nbatch_size = 10\n[metrics]\nlisten = \"off\"\n",
        )
        .unwrap();
        let settings = load(Some(&file)).unwrap();
        assert_eq!(settings.amqp.batch_size, 10);
        assert_eq!(settings.metrics.listen.as_deref(), Some("off"));
        assert_eq!(settings.amqp.url, None);
        let described = settings.describe();
        assert!(
            described
                .lines()
                .any(|l| l.starts_with("amqp.batch_size ") && l.ends_with(" = 10")),
            "{described}"
        );
    }

    #[test]
    fn a_cluster_is_a_list_in_the_file_and_one_string_inside() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cohandle.toml");
        std::fs::write(
            &file,
            "[database]\nurl = [\"postgres://c:pw@db1/cohandle\", \"postgres://c:pw@db2/cohandle\"]\n\
             [amqp]\nurl = [\"amqp://w:pw@mq1:5672/%2f\", \"amqp://w:pw@mq2:5672/%2f\"]\npublish_attempts = 3\n",
        )
        .unwrap();
        let settings = load(Some(&file)).unwrap();
        assert_eq!(
            settings.database.url,
            "postgres://c:pw@db1/cohandle,postgres://c:pw@db2/cohandle"
        );
        assert_eq!(
            settings.amqp.url.as_deref(),
            Some("amqp://w:pw@mq1:5672/%2f,amqp://w:pw@mq2:5672/%2f")
        );
        assert_eq!(settings.amqp.publish_attempts, 3);
        let described = settings.describe();
        assert!(!described.contains("pw@"), "{described}");
        std::fs::write(&file, "[amqp]\nurl = \"amqp://w:pw@mq1:5672/%2f\"\n").unwrap();
        let settings = load(Some(&file)).unwrap();
        assert_eq!(
            settings.amqp.url.as_deref(),
            Some("amqp://w:pw@mq1:5672/%2f")
        );
    }
}
