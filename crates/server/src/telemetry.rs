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
pub struct DeliveryLabels {
    pub channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryStateLabels {
    pub channel: String,
    pub state: String,
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
    /// Deliveries written by fan-out in this process.
    pub deliveries_queued: Counter,
    /// Deliveries that went out from this process, by channel.
    pub deliveries_sent: Family<DeliveryLabels, Counter>,
    /// Failed attempts in this process, by channel (retried or given up).
    pub delivery_attempts_failed: Family<DeliveryLabels, Counter>,
    /// Deliveries given up after a day of retries, in this process, by channel.
    pub deliveries_given_up: Family<DeliveryLabels, Counter>,
    /// Deliveries in the database by channel and state, read at scrape time.
    pub deliveries: Family<DeliveryStateLabels, Gauge>,
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
        let deliveries_queued = Counter::default();
        let deliveries_sent = Family::<DeliveryLabels, Counter>::default();
        let delivery_attempts_failed = Family::<DeliveryLabels, Counter>::default();
        let deliveries_given_up = Family::<DeliveryLabels, Counter>::default();
        let deliveries = Family::<DeliveryStateLabels, Gauge>::default();
        registry.register(
            "deliveries_queued",
            "Email and webhook deliveries written from the outbox by this process",
            deliveries_queued.clone(),
        );
        registry.register(
            "deliveries_sent",
            "Deliveries sent by this process, by channel",
            deliveries_sent.clone(),
        );
        registry.register(
            "delivery_attempts_failed",
            "Failed delivery attempts in this process, by channel",
            delivery_attempts_failed.clone(),
        );
        registry.register(
            "deliveries_given_up",
            "Deliveries failed for good after a day of retries, by channel",
            deliveries_given_up.clone(),
        );
        registry.register(
            "deliveries",
            "Deliveries in the database, by channel and state",
            deliveries.clone(),
        );
        Metrics {
            registry,
            deliveries_queued,
            deliveries_sent,
            delivery_attempts_failed,
            deliveries_given_up,
            deliveries,
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

    /// Counts a delivery sent on `channel`.
    pub fn delivered(&self, channel: &str) {
        self.deliveries_sent
            .get_or_create(&DeliveryLabels {
                channel: channel.to_owned(),
            })
            .inc();
    }

    /// Counts a failed attempt on `channel`, and whether it was the last.
    pub fn delivery_failed(&self, channel: &str, given_up: bool) {
        let labels = DeliveryLabels {
            channel: channel.to_owned(),
        };
        self.delivery_attempts_failed.get_or_create(&labels).inc();
        if given_up {
            self.deliveries_given_up.get_or_create(&labels).inc();
        }
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
