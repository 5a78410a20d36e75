//! Prometheus metrics in the text exposition format, kept per service (not in a process-wide
//! registry) so that every test server counts on its own.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use cohandle_store::{Outcome, Source};

/// Upper bounds of the request duration histogram, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Counters {
    /// (method, route template, status) → requests.
    requests: BTreeMap<(String, String, u16), u64>,
    /// route template → durations.
    durations: BTreeMap<String, Histogram>,
    /// (source, event) → applied.
    applied: BTreeMap<(&'static str, String), u64>,
    /// (source, event, code) → refused.
    rejected: BTreeMap<(&'static str, String, String), u64>,
    /// (source, event) → recognised duplicates.
    duplicates: BTreeMap<(&'static str, String), u64>,
}

/// The counters of one API service.
#[derive(Debug, Default)]
pub struct Metrics(Mutex<Counters>);

impl Metrics {
    fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        // A panic while counting leaves numbers, not broken invariants: keep counting.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let mut c = self.counters();
        *c.requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        let h = c.durations.entry(route.to_owned()).or_default();
        let seconds = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    pub fn event(&self, source: Source, event: &str, outcome: &Outcome) {
        let mut c = self.counters();
        let source = source.as_str();
        match outcome {
            Outcome::Applied { .. } => {
                *c.applied.entry((source, event.to_owned())).or_default() += 1
            }
            Outcome::Rejected(r) => {
                *c.rejected
                    .entry((source, event.to_owned(), r.code.as_str().to_owned()))
                    .or_default() += 1;
            }
            Outcome::Duplicate(_) => {
                *c.duplicates.entry((source, event.to_owned())).or_default() += 1;
            }
        }
    }

    /// The text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let c = self.counters();
        let mut out = String::new();
        let _ = writeln!(out, "# HELP cohandle_http_requests_total HTTP requests answered, by route template and status.");
        let _ = writeln!(out, "# TYPE cohandle_http_requests_total counter");
        for ((method, route, status), n) in &c.requests {
            let _ = writeln!(
                out,
                "cohandle_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(method),
                escape(route)
            );
        }
        let _ = writeln!(
            out,
            "# HELP cohandle_http_request_duration_seconds Time to answer a request."
        );
        let _ = writeln!(
            out,
            "# TYPE cohandle_http_request_duration_seconds histogram"
        );
        for (route, h) in &c.durations {
            let route = escape(route);
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "cohandle_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "cohandle_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "cohandle_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "cohandle_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP cohandle_events_applied_total Events accepted by the engine."
        );
        let _ = writeln!(out, "# TYPE cohandle_events_applied_total counter");
        for ((source, event), n) in &c.applied {
            let _ = writeln!(
                out,
                "cohandle_events_applied_total{{source=\"{source}\",event=\"{}\"}} {n}",
                escape(event)
            );
        }
        let _ = writeln!(out, "# HELP cohandle_events_rejected_total Events refused by the engine, by rejection code.");
        let _ = writeln!(out, "# TYPE cohandle_events_rejected_total counter");
        for ((source, event, code), n) in &c.rejected {
            let _ = writeln!(
                out,
                "cohandle_events_rejected_total{{source=\"{source}\",event=\"{}\",code=\"{}\"}} {n}",
                escape(event),
                escape(code)
            );
        }
        let _ = writeln!(
            out,
            "# HELP cohandle_events_duplicate_total Events recognised as seen before (retries)."
        );
        let _ = writeln!(out, "# TYPE cohandle_events_duplicate_total counter");
        for ((source, event), n) in &c.duplicates {
            let _ = writeln!(
                out,
                "cohandle_events_duplicate_total{{source=\"{source}\",event=\"{}\"}} {n}",
                escape(event)
            );
        }
        out
    }
}

/// Label values escape backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_as_prometheus_text() {
        let m = Metrics::default();
        m.request("GET", "/v1/proposals", 200, Duration::from_millis(3));
        m.request("GET", "/v1/proposals", 200, Duration::from_millis(300));
        let text = m.render();
        assert!(text.contains(
            "cohandle_http_requests_total{method=\"GET\",route=\"/v1/proposals\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "cohandle_http_request_duration_seconds_bucket{route=\"/v1/proposals\",le=\"0.005\"} 1"
        ));
        assert!(text.contains("# TYPE cohandle_events_applied_total counter"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\n"), "a\\\"b\\\\c\\n");
    }
}
