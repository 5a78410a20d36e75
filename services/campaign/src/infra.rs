//! The campaign's own PostgreSQL server and RabbitMQ node (or, for the scale scenario, a
//! primary with its synchronous replica and a three-node RabbitMQ cluster, each node in a
//! network namespace of its own so that it can be cut off), so that killing them under
//! load touches nobody else: the shared development services on 5432/5672 keep serving the
//! other test suites while the campaign stops and starts its own. All live in temporary
//! directories and are stopped (and the directories and namespaces removed) when their
//! guard is dropped, also when the campaign fails half-way.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
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

/// Whether something listens on `host:port`, asked for at most a second (a cut link does
/// not refuse, it does not answer).
fn listening(host: &str, port: u16) -> bool {
    format!("{host}:{port}")
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|at| std::net::TcpStream::connect_timeout(&at, Duration::from_secs(1)).is_ok())
}

fn wait_for_port_closed(port: u16, within: Duration) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline && listening("127.0.0.1", port) {
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_for_port(host: &str, port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if listening(host, port) {
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
    /// A server not started yet, in a new directory `<prefix>.…`, on a free port.
    fn new(bin: PathBuf, prefix: &str) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .context("creating the server's directory")?;
        let as_postgres = is_root();
        if as_postgres {
            run(
                Command::new("chown").arg("postgres:").arg(dir.path()),
                "handing the server's directory to postgres",
            )?;
        }
        Ok(Self {
            dir,
            bin,
            port: free_port()?,
            as_postgres,
            running: false,
        })
    }

    pub fn start() -> anyhow::Result<Self> {
        let mut this = Self::new(pg_bin()?, "cohandle-campaign-pg.")?;
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

    fn sql(&self, statement: &str) -> anyhow::Result<String> {
        let port = self.port.to_string();
        self.pg(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-Atqc",
                statement,
            ],
        )
    }

    /// A streaming replica of this server (`pg_basebackup -R -X stream -C -S`), running on a
    /// port of its own, which this server then waits for at every commit
    /// (`synchronous_standby_names`): a commit the engine saw is on both, so promoting the
    /// replica after this server dies loses nothing. The replica's own settings do not name a
    /// standby, so once promoted it commits alone.
    pub fn start_replica(&self) -> anyhow::Result<Postgres> {
        let mut replica = Self::new(self.bin.clone(), "cohandle-campaign-replica.")?;
        let (data, port) = (replica.data(), self.port.to_string());
        replica.pg(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                &data,
                "-R",
                "-X",
                "stream",
                "-C",
                "-S",
                "campaign",
                "-c",
                "fast",
            ],
        )?;
        replica.start_server()?;
        self.sql("ALTER SYSTEM SET synchronous_standby_names = '*'")?;
        self.sql("SELECT pg_reload_conf()")?;
        Ok(replica)
    }

    /// SIGKILL of the postmaster: the server dies where it stands (its backends follow).
    pub fn kill(&mut self) -> anyhow::Result<()> {
        let pid = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid"))
            .context("reading postmaster.pid")?;
        let pid = pid.lines().next().unwrap_or_default().trim().to_owned();
        run(
            Command::new("kill").args(["-KILL", &pid]),
            "kill -KILL postmaster",
        )?;
        self.running = false;
        wait_for_port_closed(self.port, Duration::from_secs(30));
        Ok(())
    }

    /// `pg_ctl promote`: the replica becomes a primary that takes writes.
    pub fn promote(&self) -> anyhow::Result<()> {
        self.pg("pg_ctl", &["-D", &self.data(), "-w", "promote"])?;
        Ok(())
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

/// Where a RabbitMQ node runs.
#[derive(Debug, Clone)]
enum Place {
    /// On the loopback, with a distribution port of its own.
    Loopback { dist_port: u16 },
    /// Alone in a network namespace, at its own address on the campaign's bridge, on the
    /// standard ports; named by that address (Erlang long names).
    Namespace { netns: String },
}

/// A RabbitMQ node of the campaign's own (its own node name, ports, data directory, and an
/// Erlang cookie shared with the other nodes of its cluster), with only the consistent-hash
/// exchange plugin.
#[derive(Debug)]
pub struct Rabbit {
    dir: tempfile::TempDir,
    /// `HOME`, where the Erlang cookie is: shared by a cluster's nodes.
    home: Arc<tempfile::TempDir>,
    pub node: String,
    pub host: String,
    pub port: u16,
    place: Place,
    running: bool,
}

const RABBIT_BIN: &str = "/usr/lib/rabbitmq/bin";

fn rabbit_home() -> anyhow::Result<Arc<tempfile::TempDir>> {
    if !Path::new(RABBIT_BIN).join("rabbitmq-server").exists() {
        bail!("no {RABBIT_BIN}/rabbitmq-server: install rabbitmq-server (deploy/dev/ensure-rabbitmq.sh)");
    }
    let home = tempfile::Builder::new()
        .prefix("cohandle-campaign-rabbit-home.")
        .tempdir()
        .context("creating the nodes' home")?;
    let cookie = home.path().join(".erlang.cookie");
    let bytes: String = Sha256::digest(format!("{}{:?}", std::process::id(), Instant::now()))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(&cookie, bytes)?;
    std::fs::set_permissions(&cookie, std::os::unix::fs::PermissionsExt::from_mode(0o400))?;
    Ok(Arc::new(home))
}

impl Rabbit {
    /// One node on the loopback, with `users`.
    pub fn start(users: &[BrokerUser]) -> anyhow::Result<Self> {
        let mut this = Self::create(rabbit_home()?, None, false)?;
        this.start_node()?;
        this.import(users)?;
        Ok(this)
    }

    fn create(
        home: Arc<tempfile::TempDir>,
        namespace: Option<(String, String)>,
        clustered: bool,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("cohandle-campaign-rabbit.")
            .tempdir()
            .context("creating the node's directory")?;
        let (place, host, port, node) = match namespace {
            Some((netns, ip)) => {
                let node = format!("cohandle-campaign@{ip}");
                (Place::Namespace { netns }, ip, 5672, node)
            }
            None => {
                let port = free_port()?;
                let mut dist_port = free_port()?;
                while dist_port == port {
                    dist_port = free_port()?;
                }
                let node = format!("cohandle-campaign-{}-{port}@localhost", std::process::id());
                (
                    Place::Loopback { dist_port },
                    "127.0.0.1".to_owned(),
                    port,
                    node,
                )
            }
        };
        let mut config = format!(
            "listeners.tcp.1 = {host}:{port}\nloopback_users = none\nlog.console = false\n"
        );
        if clustered {
            // The minority side of a partition stops serving until it heals, and a lost
            // peer is noticed within about 15 s.
            config.push_str("cluster_partition_handling = pause_minority\nnet_ticktime = 15\n");
        }
        std::fs::write(dir.path().join("rabbitmq.conf"), config)?;
        std::fs::write(
            dir.path().join("enabled_plugins"),
            "[rabbitmq_consistent_hash_exchange].\n",
        )?;
        // The system's rabbitmq-env.conf pins the node name: an empty one of its own.
        std::fs::write(dir.path().join("rabbitmq-env.conf"), "")?;
        Ok(Self {
            dir,
            home,
            node,
            host,
            port,
            place,
            running: false,
        })
    }

    fn import(&self, users: &[BrokerUser]) -> anyhow::Result<()> {
        let file = self.dir.path().join("definitions.json");
        std::fs::write(&file, definitions(users))?;
        self.ctl(&["import_definitions", &file.display().to_string()])?;
        Ok(())
    }

    fn command(&self, tool: &str) -> Command {
        let d = self.dir.path();
        let program = Path::new(RABBIT_BIN).join(tool);
        let mut command = match &self.place {
            Place::Namespace { netns, .. } => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", netns]).arg(program);
                c
            }
            Place::Loopback { .. } => Command::new(program),
        };
        command
            .current_dir(d)
            .env("HOME", self.home.path())
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_PID_FILE", d.join("pid"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
            .env("RABBITMQ_CONF_ENV_FILE", d.join("rabbitmq-env.conf"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", d.join("advanced.config"))
            .env("RABBITMQ_PLUGINS_EXPAND_DIR", d.join("plugins-expand"));
        match &self.place {
            Place::Loopback { dist_port } => {
                command.env("RABBITMQ_DIST_PORT", dist_port.to_string());
            }
            Place::Namespace { .. } => {
                command.env("RABBITMQ_USE_LONGNAME", "true");
            }
        }
        command
    }

    fn ctl(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut command = self.command("rabbitmqctl");
        command.args(["-q", "-n", &self.node]);
        if matches!(self.place, Place::Namespace { .. }) {
            command.arg("-l");
        }
        run(command.args(args), "rabbitmqctl")
    }

    fn start_node(&mut self) -> anyhow::Result<()> {
        run(
            self.command("rabbitmq-server").arg("-detached"),
            "rabbitmq-server -detached",
        )?;
        self.running = true;
        // The CLI is not asked anything before the AMQP port opens: a `rabbitmqctl wait`
        // racing the boot made the node start its listener twice (eaddrinuse) on this machine.
        if !wait_for_port(&self.host, self.port, Duration::from_secs(90)) {
            bail!(
                "the campaign's RabbitMQ node did not open {}:{} within 90 s; see {}",
                self.host,
                self.port,
                self.dir.path().join("log").display()
            );
        }
        self.ctl(&["await_startup", "--timeout", "60"])?;
        Ok(())
    }

    /// `amqp://user:password@<host>:<port>/%2f`.
    pub fn url(&self, user: &BrokerUser) -> String {
        format!(
            "amqp://{}:{}@{}:{}/%2f",
            user.name, user.password, self.host, self.port
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

    /// SIGKILL of the node's Erlang VM; [`Rabbit::revive`] starts it again.
    pub fn kill(&mut self) {
        self.stop(true);
    }

    /// Starts a killed node with its data: it rejoins its cluster.
    pub fn revive(&mut self) -> anyhow::Result<()> {
        self.start_node()
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
        while Instant::now() < deadline && listening(&self.host, self.port) {
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

/// The campaign's own network: a bridge on the host and, for each node, a network
/// namespace joined to it by a veth pair, so that one node can be cut off from the others
/// and from its clients (its link taken down) and joined again. Removed when dropped.
#[derive(Debug)]
pub struct Net {
    bridge: String,
    subnet: String,
    links: Vec<String>,
    namespaces: Vec<String>,
}

fn ip(args: &[&str]) -> anyhow::Result<String> {
    run(Command::new("ip").args(args), "ip")
}

impl Net {
    /// A bridge and `size` namespaces, or why the machine does not allow them (no `ip`, not
    /// root, no network namespaces).
    pub fn create(size: usize) -> anyhow::Result<Self> {
        let tag = std::process::id() % 100_000;
        let mut net = Self {
            bridge: format!("chc{tag}b"),
            subnet: format!("10.213.{}", tag % 250),
            links: Vec::new(),
            namespaces: Vec::new(),
        };
        ip(&["link", "add", &net.bridge, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("{}.1/24", net.subnet),
            "dev",
            &net.bridge,
        ])?;
        ip(&["link", "set", &net.bridge, "up"])?;
        for k in 1..=size {
            let (netns, link) = (
                format!("cohandle-campaign-{tag}-{k}"),
                format!("chc{tag}v{k}"),
            );
            ip(&["netns", "add", &netns])?;
            net.namespaces.push(netns.clone());
            ip(&[
                "link", "add", &link, "type", "veth", "peer", "name", "eth0", "netns", &netns,
            ])?;
            net.links.push(link.clone());
            ip(&["link", "set", &link, "master", &net.bridge])?;
            ip(&["link", "set", &link, "up"])?;
            let inside = |args: &[&str]| -> anyhow::Result<String> {
                let mut all = vec!["netns", "exec", &netns, "ip"];
                all.extend_from_slice(args);
                ip(&all)
            };
            inside(&[
                "addr",
                "add",
                &format!("{}/24", net.address(k)),
                "dev",
                "eth0",
            ])?;
            inside(&["link", "set", "eth0", "up"])?;
            inside(&["link", "set", "lo", "up"])?;
        }
        Ok(net)
    }

    /// Node `k`'s address (1-based).
    pub fn address(&self, k: usize) -> String {
        format!("{}.{}", self.subnet, 10 + k)
    }

    /// Cuts node `k` (1-based) off: its link goes down.
    pub fn cut(&self, k: usize) -> anyhow::Result<()> {
        ip(&["link", "set", &self.links[k - 1], "down"]).map(drop)
    }

    /// Joins node `k` again.
    pub fn heal(&self, k: usize) -> anyhow::Result<()> {
        ip(&["link", "set", &self.links[k - 1], "up"]).map(drop)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for netns in &self.namespaces {
            // What still runs inside (the epmd each node started) would keep the namespace,
            // and its end of the link, alive after its name is gone.
            if let Ok(pids) = ip(&["netns", "pids", netns]) {
                for pid in pids.split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            let _ = ip(&["netns", "del", netns]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}

/// Three (or `size`) RabbitMQ nodes joined into one cluster, each in a namespace of its own
/// when the machine allows it (then a node can be cut off), else on the loopback.
#[derive(Debug)]
pub struct Cluster {
    pub nodes: Vec<Rabbit>,
    /// Dropped after the nodes (fields drop in order).
    net: Option<Net>,
    /// Why no node can be cut off, when the nodes are on the loopback.
    pub no_partitions: Option<String>,
}

impl Cluster {
    pub fn start(users: &[BrokerUser], size: usize) -> anyhow::Result<Self> {
        let home = rabbit_home()?;
        let (net, no_partitions) = if is_root() {
            match Net::create(size) {
                Ok(net) => (Some(net), None),
                Err(error) => (None, Some(format!("no network namespaces here: {error:#}"))),
            }
        } else {
            (None, Some("network namespaces need root".to_owned()))
        };
        let mut nodes = (1..=size)
            .map(|k| {
                let namespace = net
                    .as_ref()
                    .map(|n| (n.namespaces[k - 1].clone(), n.address(k)));
                Rabbit::create(home.clone(), namespace, true)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        std::thread::scope(|scope| {
            let starts: Vec<_> = nodes
                .iter_mut()
                .map(|node| scope.spawn(move || node.start_node()))
                .collect();
            starts.into_iter().try_for_each(|s| {
                s.join()
                    .map_err(|_| anyhow::anyhow!("a node's start panicked"))?
            })
        })?;
        let first = nodes[0].node.clone();
        for node in &nodes[1..] {
            node.ctl(&["stop_app"])?;
            node.ctl(&["reset"])?;
            node.ctl(&["join_cluster", &first])?;
            node.ctl(&["start_app"])?;
        }
        nodes[0].import(users)?;
        Ok(Self {
            nodes,
            net,
            no_partitions,
        })
    }

    /// Every node's URL for `user`, separated by commas (`amqp.url` of a cluster).
    pub fn url(&self, user: &BrokerUser) -> String {
        let urls: Vec<String> = self.nodes.iter().map(|n| n.url(user)).collect();
        urls.join(",")
    }

    /// A `rabbitmqctl list_…` command's rows, asked of a running node (for at most 30 s).
    fn list(&self, command: &[&str]) -> anyhow::Result<Vec<serde_json::Value>> {
        let node = self
            .nodes
            .iter()
            .find(|n| n.running)
            .context("no node runs")?;
        let mut args = command.to_vec();
        args.extend(["--formatter", "json", "--timeout", "30"]);
        let listed = node.ctl(&args)?;
        serde_json::from_str(&listed).with_context(|| format!("reading {}", command[0]))
    }

    /// The node (0-based) that leads the most queues named `prefix…`, asked of a running
    /// node.
    pub fn leader_of(&self, prefix: &str) -> anyhow::Result<usize> {
        let queues = self.list(&["list_queues", "name", "leader"])?;
        let mut led = vec![0usize; self.nodes.len()];
        for q in &queues {
            let (Some(name), Some(leader)) = (q["name"].as_str(), q["leader"].as_str()) else {
                continue;
            };
            if let Some(k) = self.nodes.iter().position(|n| n.node == leader) {
                if name.starts_with(prefix) {
                    led[k] += 1;
                }
            }
        }
        match (0..led.len()).max_by_key(|&k| led[k]) {
            Some(k) if led[k] > 0 => Ok(k),
            _ => bail!("no node leads a queue named {prefix}…: {queues:?}"),
        }
    }

    /// How many queues named `prefix…` each consumer tag prefix (the part before `/`) is the
    /// active consumer of, asked of a running node.
    pub fn active_consumers(
        &self,
        prefix: &str,
    ) -> anyhow::Result<std::collections::HashMap<String, usize>> {
        let consumers = self.list(&["list_consumers", "queue_name", "consumer_tag", "active"])?;
        let mut active = std::collections::HashMap::new();
        for c in &consumers {
            let queue = c["queue_name"].as_str().unwrap_or_default();
            let tag = c["consumer_tag"].as_str().unwrap_or_default();
            if queue.starts_with(prefix) && c["active"].as_bool() == Some(true) {
                let who = tag.split('/').next().unwrap_or(tag).to_owned();
                *active.entry(who).or_insert(0) += 1;
            }
        }
        Ok(active)
    }

    /// Cuts node `k` (0-based) off from the others and from its clients.
    pub fn cut(&self, k: usize) -> anyhow::Result<()> {
        self.net
            .as_ref()
            .context("no network namespaces")?
            .cut(k + 1)
    }

    pub fn heal(&self, k: usize) -> anyhow::Result<()> {
        self.net
            .as_ref()
            .context("no network namespaces")?
            .heal(k + 1)
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
