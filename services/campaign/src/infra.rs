//! The campaign's own PostgreSQL cluster and RabbitMQ node, so that restarting them under
//! load touches nobody else: the shared development services on 5432/5672 keep serving the
//! other test suites while the campaign stops and starts its own. Both live in a temporary
//! directory and are stopped (and the directory removed) when their guard is dropped, also
//! when the campaign fails half-way.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// A TCP port nobody listens on right now (the kernel's pick for port 0).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn run(command: &mut Command, what: &str) -> anyhow::Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("{what}: cannot start {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn wait_for_port(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// The PostgreSQL binaries: `$COHANDLE_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`.
fn pg_bin() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("COHANDLE_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("no /usr/lib/postgresql: install PostgreSQL or set COHANDLE_PG_BIN")?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .context("no PostgreSQL server binaries (pg_ctl) under /usr/lib/postgresql")
}

/// A PostgreSQL cluster of the campaign's own: trust authentication on 127.0.0.1 and a port
/// picked at start.
#[derive(Debug)]
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    /// initdb and the server refuse to run as root; they run as `postgres` then.
    as_postgres: bool,
    running: bool,
}

impl Postgres {
    pub fn start() -> anyhow::Result<Self> {
        let bin = pg_bin()?;
        let dir = tempfile::Builder::new()
            .prefix("cohandle-campaign-pg.")
            .tempdir()
            .context("creating the cluster's directory")?;
        let as_postgres = is_root();
        if as_postgres {
            run(
                Command::new("chown").arg("postgres:").arg(dir.path()),
                "handing the cluster's directory to postgres",
            )?;
        }
        let mut this = Self {
            dir,
            bin,
            port: free_port()?,
            as_postgres,
            running: false,
        };
        let data = this.data();
        this.pg(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        this.start_server()?;
        Ok(this)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn pg(&self, tool: &str, args: &[&str]) -> anyhow::Result<String> {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        command.args(args).current_dir(self.dir.path());
        run(&mut command, tool)
    }

    fn start_server(&mut self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=on",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-w",
                "-t",
                "60",
                "-o",
                &options,
                "start",
            ],
        )?;
        self.running = true;
        Ok(())
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Crashes the server (`pg_ctl stop -m immediate`: no checkpoint, every connection cut,
    /// recovery from the WAL at the next start) and starts it again. Returns the downtime.
    pub fn crash_and_restart(&mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.pg(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        )?;
        self.running = false;
        self.start_server()?;
        Ok(started.elapsed())
    }

    pub fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let _ = self.pg(
                "pg_ctl",
                &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
            );
        }
    }
}

/// A user of the campaign's broker and its rights.
#[derive(Debug, Clone)]
pub struct BrokerUser {
    pub name: String,
    pub password: String,
    pub configure: String,
    pub write: String,
    pub read: String,
    /// A topic permission on `cohandle.in`: the routing keys it may publish under.
    pub inbound_keys: Option<String>,
}

/// A RabbitMQ node of the campaign's own (its own node name, ports, Erlang cookie and data
/// directory), with only the consistent-hash exchange plugin.
#[derive(Debug)]
pub struct Rabbit {
    dir: tempfile::TempDir,
    pub node: String,
    pub port: u16,
    dist_port: u16,
    running: bool,
}

const RABBIT_BIN: &str = "/usr/lib/rabbitmq/bin";

impl Rabbit {
    pub fn start(users: &[BrokerUser]) -> anyhow::Result<Self> {
        if !Path::new(RABBIT_BIN).join("rabbitmq-server").exists() {
            bail!("no {RABBIT_BIN}/rabbitmq-server: install rabbitmq-server (deploy/dev/ensure-rabbitmq.sh)");
        }
        let dir = tempfile::Builder::new()
            .prefix("cohandle-campaign-rabbit.")
            .tempdir()
            .context("creating the node's directory")?;
        let port = free_port()?;
        let mut dist_port = free_port()?;
        while dist_port == port {
            dist_port = free_port()?;
        }
        let node = format!("cohandle-campaign-{}-{port}@localhost", std::process::id());
        std::fs::create_dir_all(dir.path().join("home"))?;
        std::fs::write(
            dir.path().join("rabbitmq.conf"),
            format!(
                "listeners.tcp.1 = 127.0.0.1:{port}\nloopback_users = none\nlog.console = false\n"
            ),
        )?;
        std::fs::write(
            dir.path().join("enabled_plugins"),
            "[rabbitmq_consistent_hash_exchange].\n",
        )?;
        std::fs::write(dir.path().join("definitions.json"), definitions(users))?;
        let mut this = Self {
            dir,
            node,
            port,
            dist_port,
            running: false,
        };
        this.start_node()?;
        this.ctl(&[
            "import_definitions",
            &this
                .dir
                .path()
                .join("definitions.json")
                .display()
                .to_string(),
        ])?;
        Ok(this)
    }

    fn command(&self, tool: &str) -> Command {
        let d = self.dir.path();
        let mut command = Command::new(Path::new(RABBIT_BIN).join(tool));
        command
            .current_dir(d)
            .env("HOME", d.join("home"))
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_PID_FILE", d.join("pid"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", d.join("advanced.config"))
            .env("RABBITMQ_PLUGINS_EXPAND_DIR", d.join("plugins-expand"));
        command
    }

    fn ctl(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut command = self.command("rabbitmqctl");
        command.args(["-q", "-n", &self.node]).args(args);
        run(&mut command, "rabbitmqctl")
    }

    fn start_node(&mut self) -> anyhow::Result<()> {
        run(
            self.command("rabbitmq-server").arg("-detached"),
            "rabbitmq-server -detached",
        )?;
        self.running = true;
        // The CLI is not asked anything before the AMQP port opens: a `rabbitmqctl wait`
        // racing the boot made the node start its listener twice (eaddrinuse) on this machine.
        if !wait_for_port(self.port, Duration::from_secs(90)) {
            bail!(
                "the campaign's RabbitMQ node did not open port {} within 90 s; see {}",
                self.port,
                self.dir.path().join("log").display()
            );
        }
        self.ctl(&["await_startup", "--timeout", "60"])?;
        Ok(())
    }

    /// `amqp://user:password@127.0.0.1:<port>/%2f`.
    pub fn url(&self, user: &BrokerUser) -> String {
        format!(
            "amqp://{}:{}@127.0.0.1:{}/%2f",
            user.name, user.password, self.port
        )
    }

    fn pid(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join("pid"))
            .ok()
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
    }

    /// Stops the node (gracefully, or by SIGKILL of the Erlang VM when `crash`) and starts
    /// it again with the same data. Returns the downtime.
    pub fn restart(&mut self, crash: bool) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.stop(crash);
        self.start_node()?;
        Ok(started.elapsed())
    }

    fn stop(&mut self, crash: bool) {
        let pid = self.pid();
        // A crash is a SIGKILL of the Erlang VM; a stop that fails ends the same way.
        if crash || self.ctl(&["stop"]).is_err() {
            if let Some(pid) = &pid {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
        // The port closes with the VM: wait for it, so that the next start can bind it.
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline
            && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        if let Some(pid) = &pid {
            while Instant::now() < deadline
                && Command::new("kill")
                    .args(["-0", pid])
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        self.running = false;
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        if self.running {
            self.stop(false);
        }
    }
}

/// RabbitMQ's `rabbit_password_hashing_sha256`: base64(salt ‖ sha256(salt ‖ password)).
fn password_hash(password: &str, salt: [u8; 4]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(password.as_bytes());
    let mut bytes = salt.to_vec();
    bytes.extend_from_slice(&hasher.finalize());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Users, rights and topic rights in one definitions file: one `rabbitmqctl` call instead
/// of three per user (each call boots an Erlang VM, about a second).
fn definitions(users: &[BrokerUser]) -> String {
    use serde_json::json;
    let salt = |name: &str| -> [u8; 4] {
        let digest = Sha256::digest(format!("{name}{}", std::process::id()).as_bytes());
        [digest[0], digest[1], digest[2], digest[3]]
    };
    let definitions = json!({
        "vhosts": [{"name": "/"}],
        "users": users.iter().map(|u| json!({
            "name": u.name,
            "password_hash": password_hash(&u.password, salt(&u.name)),
            "hashing_algorithm": "rabbit_password_hashing_sha256",
            "tags": [],
        })).collect::<Vec<_>>(),
        "permissions": users.iter().map(|u| json!({
            "user": u.name, "vhost": "/",
            "configure": u.configure, "write": u.write, "read": u.read,
        })).collect::<Vec<_>>(),
        "topic_permissions": users.iter().filter_map(|u| u.inbound_keys.as_ref().map(|keys| json!({
            "user": u.name, "vhost": "/", "exchange": "cohandle.in",
            "write": keys, "read": ".*",
        }))).collect::<Vec<_>>(),
    });
    definitions.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_follows_rabbitmq_sha256_scheme() {
        let hash = password_hash("secret", [1, 2, 3, 4]);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(hash)
            .unwrap();
        assert_eq!(&bytes[..4], &[1, 2, 3, 4]);
        let mut hasher = Sha256::new();
        hasher.update([1, 2, 3, 4]);
        hasher.update(b"secret");
        assert_eq!(&bytes[4..], hasher.finalize().as_slice());
    }
}
