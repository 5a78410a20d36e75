//! What cohandle's roles tell their operators: the Prometheus series of one service (a
//! registry per [`Metrics`], not one per process, so that every test server counts on its
//! own) and the endpoints `/metrics`, `/healthz` and `/readyz` that the worker, the relay and
//! the monitor serve on `metrics.listen` (the API serves the same series on its own router).
//!
//! - [`Metrics`]: the series, named as the deployment's dashboards and alerts expect them.
//! - [`endpoint`]: the small router, its [`endpoint::Probe`] (readiness and the gauges a
//!   role samples at each scrape) and `metrics.listen`'s per-role defaults.
//!
//! This crate never reads the database or the broker itself (a role's probe does) and never
//! decides anything.

pub mod endpoint;

use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use cohandle_store::{Outcome, Source};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A long-running role: which series its registry holds, so that a role never shows a
/// gauge it does not keep (a worker's `cohandle_outbox_backlog 0` would be a lie).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Api,
    Worker,
    Relay,
    Monitor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Worker => "worker",
            Self::Relay => "relay",
            Self::Monitor => "monitor",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    source: &'static str,
    event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectedLabels {
    source: &'static str,
    event: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    partition: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct YearLabels {
    year: i32,
}

type FloatGauge = Gauge<f64, AtomicU64>;
type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

/// Seconds to answer an HTTP request.
const REQUEST_SECONDS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
/// Events in one decided batch (the worker's `batch_size` is 250 by default).
const BATCH_EVENTS: [f64; 10] = [1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0];
/// Seconds from a batch's start to its commit.
const COMMIT_SECONDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// Seconds a timer fired after its moment: a second, a minute (late from here), an hour, a
/// day, a week.
const LATENESS_SECONDS: [f64; 9] = [
    1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 86_400.0, 604_800.0,
];

fn request_histogram() -> Histogram {
    Histogram::new(REQUEST_SECONDS)
}

#[derive(Debug, Default)]
struct Series {
    applied: Family<EventLabels, Counter>,
    rejected: Family<RejectedLabels, Counter>,
    held: Family<RejectedLabels, Counter>,
    held_now: Gauge,
    duplicates: Family<EventLabels, Counter>,
    dead_letters: Family<ReasonLabels, Counter>,
    batch_size: Option<Histogram>,
    commit_duration: Option<Histogram>,
    consumer_lag: Family<PartitionLabels, Gauge>,
    outbox_backlog: Gauge,
    outbox_oldest_age: FloatGauge,
    timers_due: Gauge,
    timer_lateness: Option<Histogram>,
    requests: Family<RequestLabels, Counter>,
    request_duration: Option<HistogramFamily<RouteLabels>>,
    calendar_year_official: Family<YearLabels, Gauge>,
    replica_lag: FloatGauge,
}

/// The series of one service: cheap to clone, every clone counts into the same registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    series: Arc<Series>,
}

impl Default for Metrics {
    /// The API's series.
    fn default() -> Self {
        Self::new(&[Role::Api])
    }
}

impl Metrics {
    /// A registry holding the series of `roles` (several when one process runs them all,
    /// as `cohandle serve` does).
    pub fn new(roles: &[Role]) -> Self {
        let has = |role: Role| roles.contains(&role);
        let deciders = has(Role::Api) || has(Role::Worker);
        let mut registry = Registry::default();
        let mut series = Series::default();
        if deciders || has(Role::Monitor) {
            registry.register(
                "cohandle_events_applied",
                "Events accepted by the engine",
                series.applied.clone(),
            );
            registry.register(
                "cohandle_events_rejected",
                "Events refused by the engine, by rejection code",
                series.rejected.clone(),
            );
            registry.register(
                "cohandle_events_held",
                "Events held with their proposal on arrival, waiting for an earlier step, by the refusal they would get now",
                series.held.clone(),
            );
            registry.register(
                "cohandle_events_duplicate",
                "Events recognised as seen before (retries)",
                series.duplicates.clone(),
            );
        }
        if has(Role::Worker) || has(Role::Relay) {
            registry.register(
                "cohandle_dead_letters",
                "Deliveries and outbox rows kept as dead letters, by reason",
                series.dead_letters.clone(),
            );
        }
        if has(Role::Worker) {
            let batch = Histogram::new(BATCH_EVENTS);
            let commit = Histogram::new(COMMIT_SECONDS);
            registry.register(
                "cohandle_batch_size",
                "Events per decided batch",
                batch.clone(),
            );
            registry.register(
                "cohandle_commit_duration_seconds",
                "Time to decide and commit one batch",
                commit.clone(),
            );
            registry.register(
                "cohandle_consumer_lag_messages",
                "Messages ready in a partition queue",
                series.consumer_lag.clone(),
            );
            series.batch_size = Some(batch);
            series.commit_duration = Some(commit);
        }
        if has(Role::Relay) {
            registry.register(
                "cohandle_outbox_backlog",
                "Outbox rows not yet published",
                series.outbox_backlog.clone(),
            );
            registry.register(
                "cohandle_outbox_oldest_age_seconds",
                "Age of the oldest outbox row not yet published (0: none)",
                series.outbox_oldest_age.clone(),
            );
        }
        if has(Role::Worker) || has(Role::Monitor) {
            registry.register(
                "cohandle_held_events",
                "Events held now, waiting for an earlier step of their proposal or the end of their window",
                series.held_now.clone(),
            );
        }
        if has(Role::Monitor) {
            let lateness = Histogram::new(LATENESS_SECONDS);
            registry.register(
                "cohandle_timers_due",
                "Due timers not yet fired",
                series.timers_due.clone(),
            );
            registry.register(
                "cohandle_timer_lateness_seconds",
                "How long after its moment a timer fired",
                lateness.clone(),
            );
            series.timer_lateness = Some(lateness);
        }
        if has(Role::Api) {
            let durations: HistogramFamily<RouteLabels> =
                Family::new_with_constructor(request_histogram);
            registry.register(
                "cohandle_http_requests",
                "HTTP requests answered, by route template and status",
                series.requests.clone(),
            );
            registry.register(
                "cohandle_http_request_duration_seconds",
                "Time to answer a request",
                durations.clone(),
            );
            registry.register(
                "cohandle_calendar_year_official",
                "Whether a year's official holiday arrangement is loaded (0: its deadlines are provisional)",
                series.calendar_year_official.clone(),
            );
            registry.register(
                "cohandle_replica_lag_seconds",
                "How far the replica supervisors read from (database.read_url) is behind; -1: none, or it does not answer",
                series.replica_lag.clone(),
            );
            series.request_duration = Some(durations);
        }
        Self {
            registry: Arc::new(registry),
            series: Arc::new(series),
        }
    }

    /// One event decided through `source`.
    pub fn event(&self, source: Source, event: &str, outcome: &Outcome) {
        let s = &self.series;
        let source = source.as_str();
        let event = event.to_owned();
        match outcome {
            Outcome::Applied { .. } => s.applied.get_or_create(&EventLabels { source, event }),
            Outcome::Duplicate(_) => s.duplicates.get_or_create(&EventLabels { source, event }),
            Outcome::Rejected(r) => s.rejected.get_or_create(&RejectedLabels {
                source,
                event,
                code: r.code.as_str().to_owned(),
            }),
            Outcome::Held { why, .. } => s.held.get_or_create(&RejectedLabels {
                source,
                event,
                code: why.code.as_str().to_owned(),
            }),
        }
        .inc();
    }

    /// One event recognised as a copy of one decided before.
    pub fn duplicate(&self, source: Source, event: &str) {
        self.series
            .duplicates
            .get_or_create(&EventLabels {
                source: source.as_str(),
                event: event.to_owned(),
            })
            .inc();
    }

    /// One committed batch of `events`, `took` from its start to its commit.
    pub fn batch(&self, events: usize, took: Duration) {
        if let Some(h) = &self.series.batch_size {
            h.observe(events as f64);
        }
        if let Some(h) = &self.series.commit_duration {
            h.observe(took.as_secs_f64());
        }
    }

    /// One HTTP request answered.
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let s = &self.series;
        s.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        if let Some(durations) = &s.request_duration {
            durations
                .get_or_create(&RouteLabels {
                    route: route.to_owned(),
                })
                .observe(took.as_secs_f64());
        }
    }

    /// Messages ready in a partition queue, as last read.
    pub fn consumer_lag(&self, partition: u16, ready: u32) {
        self.series
            .consumer_lag
            .get_or_create(&PartitionLabels { partition })
            .set(i64::from(ready));
    }

    /// The unsent outbox rows and the age of the oldest (`None`: nothing waits).
    pub fn outbox(&self, backlog: u64, oldest_age: Option<Duration>) {
        let s = &self.series;
        s.outbox_backlog
            .set(i64::try_from(backlog).unwrap_or(i64::MAX));
        s.outbox_oldest_age
            .set(oldest_age.map_or(0.0, |age| age.as_secs_f64()));
    }

    /// Due timers not yet fired.
    pub fn timers_due(&self, due: u64) {
        self.series
            .timers_due
            .set(i64::try_from(due).unwrap_or(i64::MAX));
    }

    /// Events held now.
    pub fn held_events(&self, held: u64) {
        self.series
            .held_now
            .set(i64::try_from(held).unwrap_or(i64::MAX));
    }

    /// A timer fired `lateness` after its moment.
    pub fn timer_fired(&self, lateness: Duration) {
        if let Some(h) = &self.series.timer_lateness {
            h.observe(lateness.as_secs_f64());
        }
    }

    /// A delivery or outbox row kept as a dead letter, by its reason code.
    pub fn dead_letter(&self, reason: &str) {
        self.series
            .dead_letters
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Whether `year`'s working days are counted over its official arrangement.
    pub fn calendar_year(&self, year: i32, official: bool) {
        self.series
            .calendar_year_official
            .get_or_create(&YearLabels { year })
            .set(i64::from(official));
    }

    /// How far the replica is behind, in seconds; `None`: no replica, or it does not answer.
    pub fn replica_lag(&self, seconds: Option<f64>) {
        self.series.replica_lag.set(seconds.unwrap_or(-1.0));
    }

    /// The OpenMetrics text of every series ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            // Writing into a String fails only on a label that cannot be encoded: say so
            // rather than serve half a page.
            text.clear();
            let _ = writeln!(text, "# the metrics could not be encoded: {error}\n# EOF");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_render_by_route_and_status() {
        let m = Metrics::default();
        m.request("GET", "/v1/proposals", 200, Duration::from_millis(3));
        m.request("GET", "/v1/proposals", 200, Duration::from_millis(300));
        let text = m.render();
        assert!(
            text.contains(
                "cohandle_http_requests_total{method=\"GET\",route=\"/v1/proposals\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "cohandle_http_request_duration_seconds_bucket{le=\"0.005\",route=\"/v1/proposals\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("# TYPE cohandle_http_request_duration_seconds histogram"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn a_role_shows_only_its_own_series() {
        let worker = Metrics::new(&[Role::Worker]).render();
        assert!(worker.contains("# TYPE cohandle_batch_size histogram"));
        assert!(!worker.contains("cohandle_outbox_backlog"));
        assert!(!worker.contains("cohandle_http_requests"));
        let relay = Metrics::new(&[Role::Relay]);
        relay.outbox(7, Some(Duration::from_millis(1500)));
        let text = relay.render();
        assert!(text.contains("cohandle_outbox_backlog 7"), "{text}");
        assert!(
            text.contains("cohandle_outbox_oldest_age_seconds 1.5"),
            "{text}"
        );
        assert!(!text.contains("cohandle_batch_size"));
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new(&[Role::Worker]);
        m.dead_letter("a\"b\\c\nd");
        let text = m.render();
        assert!(
            text.contains(r#"cohandle_dead_letters_total{reason="a\"b\\c\nd"} 1"#),
            "{text}"
        );
    }
}
