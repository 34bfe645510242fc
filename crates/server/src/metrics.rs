//! `/metrics` in Prometheus text: scans by decision, queue depth, scan and request latency.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabel {
    decision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
    status: u16,
}

type Latencies<L> = Family<L, Histogram, fn() -> Histogram>;

/// The service's counters.
pub struct Metrics {
    registry: Registry,
    scans: Family<DecisionLabel, Counter>,
    scan_seconds: Latencies<DecisionLabel>,
    request_seconds: Latencies<RouteLabel>,
    pub queue_depth: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("skillgate");
        let scans = Family::<DecisionLabel, Counter>::default();
        let scan_seconds: Latencies<DecisionLabel> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.01, 2.0, 14)));
        let request_seconds: Latencies<RouteLabel> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0001, 2.0, 18)));
        let queue_depth = Gauge::default();
        registry.register("scans", "Scans finished, by decision", scans.clone());
        registry.register(
            "scan_seconds",
            "Time from a worker taking an upload to its verdict",
            scan_seconds.clone(),
        );
        registry.register(
            "http_request_seconds",
            "Time to answer a request, by route and status",
            request_seconds.clone(),
        );
        registry.register(
            "queue_depth",
            "Uploads accepted and not yet scanned",
            queue_depth.clone(),
        );
        Self {
            registry,
            scans,
            scan_seconds,
            request_seconds,
            queue_depth,
        }
    }
}

impl Metrics {
    pub fn record_scan(&self, decision: &str, took: Duration) {
        let label = DecisionLabel {
            decision: decision.to_string(),
        };
        self.scans.get_or_create(&label).inc();
        self.scan_seconds
            .get_or_create(&label)
            .observe(took.as_secs_f64());
    }

    pub fn record_request(&self, route: &str, status: u16, took: Duration) {
        self.request_seconds
            .get_or_create(&RouteLabel {
                route: route.to_string(),
                status,
            })
            .observe(took.as_secs_f64());
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
