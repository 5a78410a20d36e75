//! CPU time of processes on this machine, read from `/proc`: a process alone, or a server
//! with every process below it (PostgreSQL's backends, RabbitMQ's helpers), found by the
//! TCP port it listens on or a connection it holds.

use std::collections::HashMap;
use std::process::Command;

use anyhow::Context;

/// Clock ticks per second of `/proc/<pid>/stat`'s times (`getconf CLK_TCK`; 100 failing
/// that).
pub fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|t| t.trim().parse::<f64>().ok())
        .unwrap_or(100.0)
}

/// The fields of `/proc/<pid>/stat` we read.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stat {
    ppid: u32,
    /// utime + stime: the process's own threads.
    own: u64,
    /// cutime + cstime: its children that ended and were waited for.
    children: u64,
}

/// Parses `/proc/<pid>/stat`. The command name is in parentheses and may hold spaces and
/// parentheses, so the fields are counted from the last `)`.
fn parse_stat(stat: &str) -> Option<Stat> {
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let number = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(Stat {
        ppid: u32::try_from(number(1)?).ok()?,
        own: number(11)? + number(12)?,
        children: number(13)? + number(14)?,
    })
}

fn stat(pid: u32) -> anyhow::Result<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("/proc/{pid}/stat"))?;
    parse_stat(&text).with_context(|| format!("parsing /proc/{pid}/stat"))
}

/// The parent of a process.
pub fn parent(pid: u32) -> anyhow::Result<u32> {
    Ok(stat(pid)?.ppid)
}

/// User + system CPU seconds of the process so far, its children left out.
pub fn process_seconds(pid: u32) -> anyhow::Result<f64> {
    Ok(stat(pid)?.own as f64 / ticks_per_second())
}

/// User + system CPU seconds of the process and everything below it so far: the processes
/// running now and those that ended (each counted once, in its parent's children's time).
pub fn tree_seconds(pid: u32) -> anyhow::Result<f64> {
    let root = stat(pid)?;
    let mut below: HashMap<u32, Vec<(u32, Stat)>> = HashMap::new();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Some(other) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may end between the listing and the read.
        if let Ok(s) = stat(other) {
            below.entry(s.ppid).or_default().push((other, s));
        }
    }
    let mut ticks = root.own + root.children;
    let mut parents = vec![pid];
    while let Some(parent) = parents.pop() {
        for (child, s) in below.remove(&parent).unwrap_or_default() {
            ticks += s.own + s.children;
            parents.push(child);
        }
    }
    Ok(ticks as f64 / ticks_per_second())
}

/// TCP states of `/proc/net/tcp`.
const ESTABLISHED: &str = "01";
const LISTEN: &str = "0A";

/// The inodes of the sockets in `state` whose local port is `port`, from a table of
/// `/proc/net/tcp` or `tcp6`.
fn socket_inodes(table: &str, port: u16, state: &str) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields.get(1)?.rsplit_once(':')?.1;
            (u16::from_str_radix(local_port, 16).ok()? == port && *fields.get(3)? == state)
                .then(|| fields.get(9)?.parse().ok())
                .flatten()
        })
        .collect()
}

/// The process listening on TCP `port` on this machine, if it can be seen (another user's
/// process shows its sockets to root only).
pub fn listening_pid(port: u16) -> Option<u32> {
    socket_pid(port, LISTEN)
}

/// The process on this machine holding the connection whose local end is TCP `port`.
pub fn connected_pid(port: u16) -> Option<u32> {
    socket_pid(port, ESTABLISHED)
}

fn socket_pid(port: u16, state: &str) -> Option<u32> {
    let inodes: Vec<u64> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .flat_map(|table| socket_inodes(&table, port, state))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let sockets: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let fds = std::fs::read_dir(entry.path().join("fd")).ok()?;
            fds.flatten()
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .any(|target| sockets.iter().any(|s| target.as_os_str() == s.as_str()))
                .then_some(pid)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_is_read_after_the_command_name() {
        let line = "4242 (beam.smp (x) y) S 17 4242 4242 0 -1 4194560 1 0 0 0 \
                    250 70 9 3 20 0 30 0 100 0 0";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                ppid: 17,
                own: 320,
                children: 12
            })
        );
        assert_eq!(parse_stat("4242 (cut"), None);
    }

    #[test]
    fn listeners_are_found_by_port_and_state() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
            0: 0100007F:1631 00000000:0000 0A 00000000:00000000 00:00000000 00000000   107        0 31337 1 0 100 0 0 10 0\n\
            1: 0100007F:1631 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000   107        0 41414 1 0 20 4 30 10 -1\n\
            2: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   107        0 27182 1 0 100 0 0 10 0\n";
        assert_eq!(socket_inodes(table, 5681, LISTEN), vec![31337]);
        assert_eq!(socket_inodes(table, 5432, LISTEN), vec![27182]);
        assert!(socket_inodes(table, 5672, LISTEN).is_empty());
        assert_eq!(socket_inodes(table, 5681, ESTABLISHED), vec![41414]);
    }

    #[test]
    fn this_process_is_found_and_timed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(listening_pid(port), Some(std::process::id()));
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let client_port = client.local_addr().unwrap().port();
        assert_eq!(connected_pid(client_port), Some(std::process::id()));
        let own = process_seconds(std::process::id()).unwrap();
        assert!(tree_seconds(std::process::id()).unwrap() >= own);
    }
}
