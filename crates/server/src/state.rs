//! What every request handler and worker shares.

use std::sync::Arc;

use jiff::Timestamp;
use ladder_storage::Db;

use crate::telemetry::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
}

/// The one place the server reads the wall clock. Domain code receives `now` from here.
#[derive(Clone, Default)]
pub struct Clock;

impl Clock {
    /// Now, to the microsecond: the precision instants are stored at, so that what a write
    /// returns equals what a later read gives back.
    pub fn now(&self) -> Timestamp {
        let now = Timestamp::now();
        Timestamp::from_microsecond(now.as_microsecond()).unwrap_or(now)
    }
}

impl AppState {
    pub fn new(db: Db) -> AppState {
        AppState {
            db,
            metrics: Arc::new(Metrics::new()),
            clock: Clock,
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
