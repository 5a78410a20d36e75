//! The scale scenario's faults, one of each kind in turn, and what each did: the findings
//! of the inputs sent between it and the next fault, and how long throughput took to come
//! back.
//!
//! 1. SIGKILL of the RabbitMQ node that leads the most partition queues (started again
//!    30 s later: it rejoins the cluster);
//! 2. SIGKILL of the worker that started first, and so is the active consumer of most
//!    partitions, never restarted: the standbys take its partitions;
//! 3. a network partition of the node that then leads the most partition queues (its link
//!    taken down for 40 s, then up), where the machine allows network namespaces;
//! 4. SIGKILL of the PostgreSQL primary, and its synchronous replica promoted 2 s later.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::audit::{Findings, Kind};
use crate::infra::{Cluster, Postgres};
use cohandle_testkit::children::Role;

/// A fault of the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    KillLeaderNode,
    KillWorker,
    PartitionNode,
    FailOverDatabase,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::KillLeaderNode => "SIGKILL of the RabbitMQ node leading the partition queues",
            Fault::KillWorker => "SIGKILL of a worker, not restarted",
            Fault::PartitionNode => "network partition of a RabbitMQ node",
            Fault::FailOverDatabase => "SIGKILL of the PostgreSQL primary, replica promoted",
        }
    }
}

/// The faults and when they happen, as fractions of the load.
pub const SCENARIO: [(f64, Fault); 4] = [
    (0.15, Fault::KillLeaderNode),
    (0.37, Fault::KillWorker),
    (0.55, Fault::PartitionNode),
    (0.78, Fault::FailOverDatabase),
];

/// How long a killed node stays down, and a partition lasts.
const NODE_DOWN: Duration = Duration::from_secs(30);
const PARTITION: Duration = Duration::from_secs(40);
/// How long the primary is dead before its replica is promoted.
const PROMOTION_DELAY: Duration = Duration::from_secs(2);

/// A fault as it happened.
#[derive(Debug, Clone)]
pub struct Happened {
    pub fault: Fault,
    pub at: Instant,
    /// What exactly was done, or why it was skipped.
    pub detail: String,
    pub skipped: bool,
}

/// What the faults act on.
#[derive(Debug, Clone)]
pub struct Targets {
    pub roles: Arc<Mutex<Vec<Role>>>,
    pub cluster: Arc<Mutex<Cluster>>,
    pub primary: Arc<Mutex<Postgres>>,
    pub replica: Arc<Mutex<Postgres>>,
}

/// The partition queues' names start so: `cohandle.in.0`, … (not the retry queue).
fn partition_prefix() -> String {
    format!("{}.", cohandle_bus::topology::INBOUND)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs the scenario over a load of `load` from `start`.
pub async fn inject(
    targets: Targets,
    start: Instant,
    load: Duration,
    happened: Arc<Mutex<Vec<Happened>>>,
) -> anyhow::Result<()> {
    for (fraction, fault) in SCENARIO {
        tokio::time::sleep_until((start + load.mul_f64(fraction)).into()).await;
        let targets = targets.clone();
        let happened = happened.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let record = |detail: String, skipped: bool| {
                eprintln!("campaign: {}: {detail}", fault.name());
                lock(&happened).push(Happened {
                    fault,
                    at: Instant::now(),
                    detail,
                    skipped,
                });
            };
            match fault {
                // Each fault is recorded as it starts: what was sent from then on is its.
                Fault::KillLeaderNode => {
                    let mut cluster = lock(&targets.cluster);
                    let k = cluster.leader_of(&partition_prefix())?;
                    let node = cluster.nodes[k].node.clone();
                    record(
                        format!("{node} killed; started again after {NODE_DOWN:?}"),
                        false,
                    );
                    cluster.nodes[k].kill();
                    std::thread::sleep(NODE_DOWN);
                    cluster.nodes[k].revive()?;
                }
                Fault::KillWorker => {
                    // The worker that is the active consumer of the most partitions now.
                    let active = lock(&targets.cluster).active_consumers(&partition_prefix())?;
                    let mut roles = lock(&targets.roles);
                    let held = |role: &Role| {
                        role.pid()
                            .and_then(|pid| active.get(&format!("cohandle-worker-{pid}")))
                            .copied()
                            .unwrap_or(0)
                    };
                    let worker = roles
                        .iter_mut()
                        .filter(|r| r.name.starts_with("worker-"))
                        .max_by_key(|r| held(r))
                        .context("no worker")?;
                    record(
                        format!(
                            "{}, the active consumer of {} of the partitions, killed; the others remain",
                            worker.name,
                            held(worker)
                        ),
                        false,
                    );
                    worker.retire();
                }
                Fault::PartitionNode => {
                    let cluster = lock(&targets.cluster);
                    if let Some(why) = &cluster.no_partitions {
                        record(format!("skipped: {why}"), true);
                        return Ok(());
                    }
                    let k = cluster.leader_of(&partition_prefix())?;
                    record(
                        format!(
                            "{} cut off for {PARTITION:?} (its link down), then joined again",
                            cluster.nodes[k].node
                        ),
                        false,
                    );
                    cluster.cut(k)?;
                    std::thread::sleep(PARTITION);
                    cluster.heal(k)?;
                }
                Fault::FailOverDatabase => {
                    record(
                        format!("primary killed; replica promoted after {PROMOTION_DELAY:?}"),
                        false,
                    );
                    lock(&targets.primary).kill()?;
                    std::thread::sleep(PROMOTION_DELAY);
                    lock(&targets.replica).promote()?;
                }
            }
            Ok(())
        })
        .await??;
    }
    Ok(())
}

/// Workload events decided so far, sampled once a second.
pub type Samples = Vec<(Instant, u64)>;

/// The rates the samples give.
#[derive(Clone, Copy)]
struct Throughput<'a>(&'a Samples);

/// The rate before a fault is the rate of the 20 s before it; after it, of 5-s windows.
const BEFORE: Duration = Duration::from_secs(20);
const WINDOW: Duration = Duration::from_secs(5);

impl<'a> Throughput<'a> {
    fn decided_by(&self, t: Instant) -> Option<u64> {
        self.0
            .iter()
            .find(|(when, _)| *when >= t)
            .map(|(_, decided)| *decided)
    }

    /// Events a second from `from` to `to`.
    fn rate(&self, from: Instant, to: Instant) -> Option<f64> {
        let (a, b) = (self.decided_by(from)?, self.decided_by(to)?);
        Some(b.saturating_sub(a) as f64 / (to - from).as_secs_f64())
    }

    fn before(&self, at: Instant) -> Option<f64> {
        self.rate(at.checked_sub(BEFORE)?, at).filter(|r| *r > 0.0)
    }

    /// The 5-s windows starting at `at`, a second apart, up to the last sample: (start,
    /// rate).
    fn windows(self, at: Instant) -> impl Iterator<Item = (Instant, f64)> + 'a {
        let last = self.0.last().map(|(t, _)| *t);
        (0u64..)
            .map(move |s| at + Duration::from_secs(s))
            .take_while(move |from| last.is_some_and(|last| *from + WINDOW <= last))
            .filter_map(move |from| Some((from, self.rate(from, from + WINDOW)?)))
    }
}

/// Seconds from `at` until throughput is back to 90 % of the 20 s before `at`: 0 when no
/// 5-second window of the 30 s after `at` falls below that; else the start of the first
/// window at or above it after the first that fell below. `None` if it is not back by the
/// last sample (or there was no rate before).
pub fn recovery(samples: &Samples, at: Instant) -> Option<Duration> {
    let throughput = Throughput(samples);
    let enough = 0.9 * throughput.before(at)?;
    // The 30 s after the fault must have been seen whole to say it never fell.
    let seen = samples.last()?.0 >= at + Duration::from_secs(30) + WINDOW;
    let Some((dip, _)) = throughput
        .windows(at)
        .take_while(|(from, _)| *from + WINDOW <= at + Duration::from_secs(30))
        .find(|(_, rate)| *rate < enough)
    else {
        return seen.then_some(Duration::ZERO);
    };
    throughput
        .windows(dip)
        .find(|(_, rate)| *rate >= enough)
        .map(|(from, _)| from - at)
}

/// The lowest 5-second rate in the 30 s after `at`, as a share of the rate before it.
pub fn lowest(samples: &Samples, at: Instant) -> Option<f64> {
    let throughput = Throughput(samples);
    let before = throughput.before(at)?;
    throughput
        .windows(at)
        .take_while(|(from, _)| *from + WINDOW <= at + Duration::from_secs(30))
        .map(|(_, rate)| rate / before)
        .reduce(f64::min)
}

/// What the audit found, of each kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub lost: usize,
    pub doubled: usize,
    pub out_of_order: usize,
    pub unauthorised: usize,
    /// Unexpected outcomes and history gaps.
    pub other: usize,
}

/// One fault's row of the report.
#[derive(Debug, Clone)]
pub struct Row {
    pub fault: String,
    /// Seconds from the start of the load.
    pub at: Option<f64>,
    pub detail: String,
    pub found: Tally,
    /// `None`: skipped, or not back to 90 % before the load ended.
    pub recovery: Option<Duration>,
    /// The lowest 5-s throughput in the 30 s after it, as a share of before.
    pub lowest: Option<f64>,
    pub skipped: bool,
}

/// How long before a fault an input counts as its: one sent just before may still be in
/// flight (published, not yet decided) when the fault strikes.
pub const IN_FLIGHT: Duration = Duration::from_secs(10);

/// The report's rows: the inputs sent before the first fault, then each fault's, each from
/// [`IN_FLIGHT`] before it to that much before the next (the last up to the end, drain
/// included); then the findings no input is behind (a timer never fired, say).
pub fn rows(
    happened: &[Happened],
    findings: &Findings,
    times: &[Instant],
    samples: &Samples,
    load_start: Instant,
) -> Vec<Row> {
    let mut bounds: Vec<(String, Option<&Happened>, Instant)> =
        vec![("before the faults".to_owned(), None, load_start)];
    for h in happened {
        bounds.push((h.fault.name().to_owned(), Some(h), h.at));
    }
    let starts = |i: usize| -> Option<Instant> {
        let (_, h, at) = bounds.get(i)?;
        Some(if h.is_some() {
            at.checked_sub(IN_FLIGHT).unwrap_or(*at)
        } else {
            *at
        })
    };
    let window = |i: usize| {
        let (from, to) = (starts(i), starts(i + 1));
        move |at: Option<usize>| -> bool {
            at.and_then(|index| times.get(index)).is_some_and(|t| {
                from.is_none_or(|from| i == 0 || *t >= from) && to.is_none_or(|to| *t < to)
            })
        }
    };
    let count = |kind: Kind, within: &dyn Fn(Option<usize>) -> bool| findings.count(kind, within);
    let tally = |within: &dyn Fn(Option<usize>) -> bool| Tally {
        lost: count(Kind::Lost, within),
        doubled: count(Kind::Doubled, within),
        out_of_order: count(Kind::OutOfOrder, within),
        unauthorised: count(Kind::Unauthorised, within),
        other: count(Kind::Unexpected, within) + count(Kind::Gap, within),
    };
    let mut rows: Vec<Row> = bounds
        .iter()
        .enumerate()
        .map(|(i, (name, h, from))| Row {
            fault: name.clone(),
            at: Some((*from - load_start).as_secs_f64()),
            detail: h.map_or(String::new(), |h| h.detail.clone()),
            found: tally(&window(i)),
            recovery: h
                .filter(|h| !h.skipped)
                .and_then(|h| recovery(samples, h.at)),
            lowest: h.filter(|h| !h.skipped).and_then(|h| lowest(samples, h.at)),
            skipped: h.is_some_and(|h| h.skipped),
        })
        .collect();
    rows.push(Row {
        fault: "no input behind it (timers)".to_owned(),
        at: None,
        detail: String::new(),
        found: tally(&|at: Option<usize>| at.is_none()),
        recovery: None,
        lowest: None,
        skipped: false,
    });
    rows
}

/// The rows as a Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| fault | at | what was done | lost | doubled | out of order | unauthorised | other (unexpected, gaps) | lowest 5-s throughput in the 30 s after, of before | back to 90 % of before after |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        let measured = !r.skipped && !r.detail.is_empty();
        let back = match r.recovery {
            Some(d) if measured => format!("{} s", d.as_secs()),
            None if measured => "not within the load".to_owned(),
            _ => "—".to_owned(),
        };
        let lowest = match r.lowest {
            Some(share) if measured => format!("{:.0} %", share * 100.0),
            _ => "—".to_owned(),
        };
        let at = r.at.map_or("—".to_owned(), |at| format!("{at:.0} s"));
        let f = r.found;
        out.push_str(&format!(
            "| {} | {at} | {} | {} | {} | {} | {} | {} | {lowest} | {back} |\n",
            r.fault, r.detail, f.lost, f.doubled, f.out_of_order, f.unauthorised, f.other
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(start: Instant, rates: &[u64]) -> Samples {
        let mut decided = 0;
        rates
            .iter()
            .enumerate()
            .map(|(s, r)| {
                // Decided by second s: the seconds before it.
                let by = (start + Duration::from_secs(s as u64), decided);
                decided += r;
                by
            })
            .collect()
    }

    #[test]
    fn recovery_is_when_the_rate_is_back_to_nine_tenths() {
        let start = Instant::now();
        // 30 s at 10/s, 10 s at 0, then 10/s again.
        let mut rates = vec![10; 30];
        rates.extend([0; 10]);
        rates.extend([10; 20]);
        let s = samples(start, &rates);
        let fault = start + Duration::from_secs(30);
        let back = recovery(&s, fault).expect("recovers");
        assert_eq!(back, Duration::from_secs(10));
        // A dip that comes late is still waited out.
        let mut late = vec![10; 40];
        late.extend([0; 5]);
        late.extend([10; 20]);
        assert_eq!(
            recovery(&samples(start, &late), fault),
            Some(Duration::from_secs(15))
        );
        // A fault that changed nothing recovers at once.
        assert_eq!(
            recovery(&samples(start, &[10; 70]), fault),
            Some(Duration::ZERO)
        );
        // Unless the 30 s after it were not all seen.
        assert_eq!(recovery(&samples(start, &[10; 60]), fault), None);
        // Never back: none.
        let mut dead = vec![10; 30];
        dead.extend([0; 30]);
        assert_eq!(recovery(&samples(start, &dead), fault), None);
        // The dip: down to nothing, then a window half at 0 and half at 10.
        assert_eq!(lowest(&samples(start, &rates), fault), Some(0.0));
        let mut half = vec![10; 30];
        half.extend([5; 30]);
        assert_eq!(lowest(&samples(start, &half), fault), Some(0.5));
    }

    #[test]
    fn a_finding_belongs_to_the_fault_it_was_in_flight_for() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let happened = [
            Happened {
                fault: Fault::KillWorker,
                at: at(60),
                detail: "killed".to_owned(),
                skipped: false,
            },
            Happened {
                fault: Fault::FailOverDatabase,
                at: at(120),
                detail: "promoted".to_owned(),
                skipped: false,
            },
        ];
        // Inputs sent at 5 s, 55 s (in flight when the first fault struck), 100 s and 115 s.
        let times = [at(5), at(55), at(100), at(115)];
        let findings = Findings {
            marks: vec![
                (Kind::Lost, Some(0)),
                (Kind::OutOfOrder, Some(1)),
                (Kind::Doubled, Some(2)),
                (Kind::Unauthorised, Some(3)),
                (Kind::Lost, None),
            ],
            ..Findings::default()
        };
        let rows = rows(&happened, &findings, &times, &Samples::new(), start);
        let found: Vec<Tally> = rows.iter().map(|r| r.found).collect();
        assert_eq!(
            found,
            vec![
                Tally {
                    lost: 1,
                    ..Tally::default()
                },
                Tally {
                    out_of_order: 1,
                    doubled: 1,
                    ..Tally::default()
                },
                Tally {
                    unauthorised: 1,
                    ..Tally::default()
                },
                Tally {
                    lost: 1,
                    ..Tally::default()
                },
            ]
        );
        assert_eq!(rows[3].at, None);
    }
}
