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
    pub fn now(&self) -> Timestamp {
        Timestamp::now()
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
