//! The engine's roles as real `cohandle` processes, so that a kill is a real SIGKILL: no
//! destructor, no flush, no goodbye to the broker or the database.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// How every role is configured: `COHANDLE__…` variables, no configuration file (the
/// working directory is the campaign's own, so no stray `cohandle.toml` is read).
#[derive(Debug, Clone)]
pub struct Environment {
    pub binary: PathBuf,
    pub workdir: PathBuf,
    pub vars: Vec<(String, String)>,
}

/// One role: its command line, its running process, and what happened to it.
#[derive(Debug)]
pub struct Role {
    pub name: String,
    args: Vec<String>,
    env: Environment,
    child: Option<Child>,
    pub starts: u32,
    pub kills: u32,
    /// Exits nobody asked for (found by [`Role::check`]), each followed by a restart.
    pub unexpected_exits: u32,
    /// Killed for good ([`Role::retire`]): [`Role::check`] leaves it down.
    pub retired: bool,
}

impl Role {
    pub fn new(name: &str, args: &[&str], env: &Environment) -> Self {
        Self {
            name: name.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: env.clone(),
            child: None,
            starts: 0,
            kills: 0,
            unexpected_exits: 0,
            retired: false,
        }
    }

    fn log_path(&self) -> PathBuf {
        self.env.workdir.join(format!("{}.log", self.name))
    }

    pub fn start(&mut self) -> anyhow::Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .with_context(|| format!("opening {}", self.log_path().display()))?;
        let child = Command::new(&self.env.binary)
            .args(&self.args)
            .envs(self.env.vars.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.env.workdir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {} ({})", self.name, self.env.binary.display()))?;
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.kills += 1;
        }
    }

    /// The running process's id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL, and no restart: a machine that died and stays dead.
    pub fn retire(&mut self) {
        self.kill();
        self.retired = true;
    }

    /// Restarts the role if its process ended on its own; counts that as unexpected.
    pub fn check(&mut self) -> anyhow::Result<()> {
        if self.retired {
            return Ok(());
        }
        let ended = match self.child.as_mut() {
            Some(child) => child.try_wait()?.is_some(),
            None => true,
        };
        if ended {
            self.unexpected_exits += 1;
            tracing::warn!(role = %self.name, log = %self.log_path().display(), "role exited on its own; restarting it");
            self.start()?;
        }
        Ok(())
    }

    /// SIGTERM and wait for the role to finish its work in hand; SIGKILL after `grace`.
    pub fn terminate(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    pub fn log(&self) -> &Path {
        &self.env.workdir
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        self.kill();
    }
}
