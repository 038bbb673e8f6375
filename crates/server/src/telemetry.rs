//! Prometheus metrics served at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabels {
    pub table: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub domain_events: Family<EventLabels, Counter>,
    /// Seconds by which the oldest due, unfired timer is late (0 when none is late).
    pub oldest_overdue_timer_seconds: Gauge,
    pub timers_fired: Counter,
    /// Stored rows that could not be read back (a bug or a hand-edited row), by table: each
    /// time a request or a timer met one.
    pub corrupt_rows: Family<TableLabels, Counter>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("ladder");
        let requests = Family::<RequestLabels, Counter>::default();
        let domain_events = Family::<EventLabels, Counter>::default();
        let oldest_overdue_timer_seconds = Gauge::default();
        let timers_fired = Counter::default();
        let corrupt_rows = Family::<TableLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests served", requests.clone());
        registry.register(
            "domain_events",
            "Audit events written, by kind",
            domain_events.clone(),
        );
        registry.register(
            "oldest_overdue_timer_seconds",
            "How late the oldest due timer is; grows when the engine is stuck",
            oldest_overdue_timer_seconds.clone(),
        );
        registry.register(
            "timers_fired",
            "Timers fired by this process",
            timers_fired.clone(),
        );
        registry.register(
            "corrupt_rows",
            "Stored rows met that could not be read back, by table",
            corrupt_rows.clone(),
        );
        Metrics {
            registry,
            requests,
            domain_events,
            oldest_overdue_timer_seconds,
            timers_fired,
            corrupt_rows,
        }
    }

    pub fn event(&self, kind: &str) {
        self.domain_events
            .get_or_create(&EventLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// Counts a corrupt row met in `table`.
    pub fn corrupt(&self, table: &str) {
        self.corrupt_rows
            .get_or_create(&TableLabels {
                table: table.to_owned(),
            })
            .inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
