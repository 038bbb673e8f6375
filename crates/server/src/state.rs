//! What every request handler and worker shares.

use std::sync::{Arc, Mutex, PoisonError};

use jiff::{SignedDuration, Timestamp};
use ladder_storage::Db;

use crate::notify::Notifier;
use crate::telemetry::Metrics;
use crate::throttle::{LoginThrottle, ThrottleLimits, TrustedProxies};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    /// Marks the session cookie `Secure` (`ladder serve --secure-cookies`), for a server
    /// reached over TLS through a proxy that does not say so with `X-Forwarded-Proto`.
    pub secure_cookies: bool,
    /// What wakes this server's live streams.
    pub feed: Arc<crate::stream::Feed>,
    /// Failed sign-ins counted per account and per client address.
    pub login_throttle: Arc<LoginThrottle>,
    /// The reverse proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: Arc<TrustedProxies>,
    /// How notifications leave: SMTP, webhooks, links (none configured by default).
    pub notifier: Arc<Notifier>,
    /// The limits of email in, and the key mailbox passwords are sealed with.
    pub inbound: Arc<crate::inbound::Settings>,
    /// Told the method and route template of every request that matched a route; `None`
    /// in `ladder serve`. The tests' harness logs which routes its tests call.
    pub route_log: Option<RouteLog>,
}

/// Receives `(method, route template)` for each routed request (see [`AppState::route_log`]).
pub type RouteLog = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// The one place the server reads the time. Domain code receives `now` from here.
///
/// `ladder serve` always runs on [`Clock::System`]; nothing on the command line or in the API
/// chooses another. Tests serve an [`AppState`] built on a [`TestClock`] and move it
/// themselves, so that deadlines fall at instants they choose instead of racing the machine.
#[derive(Clone, Debug)]
pub enum Clock {
    /// The wall clock.
    System,
    /// A clock that stands still until its holder moves it.
    Test(TestClock),
}

impl Clock {
    /// Now, to the microsecond: the precision instants are stored at, so that what a write
    /// returns equals what a later read gives back.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => to_microsecond(Timestamp::now()),
            Clock::Test(clock) => clock.now(),
        }
    }
}

/// A shared clock that only moves when told to; clones read and move the same instant.
#[derive(Clone, Debug)]
pub struct TestClock(Arc<Mutex<Timestamp>>);

impl TestClock {
    /// A clock standing at `at` (to the microsecond).
    pub fn at(at: Timestamp) -> TestClock {
        TestClock(Arc::new(Mutex::new(to_microsecond(at))))
    }

    pub fn now(&self) -> Timestamp {
        // A holder that panicked cannot have left half an instant: the value is still good.
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the clock to `at` (to the microsecond), backwards too.
    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = to_microsecond(at);
    }

    /// Moves the clock on by `by` and returns the new instant.
    ///
    /// # Panics
    /// If that leaves the range of instants: a test asked for the impossible.
    pub fn advance(&self, by: SignedDuration) -> Timestamp {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let at = now
            .checked_add(by)
            .unwrap_or_else(|e| panic!("the test clock cannot move by {by}: {e}"));
        *now = to_microsecond(at);
        *now
    }
}

fn to_microsecond(t: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
}

impl AppState {
    pub fn new(db: Db, clock: Clock) -> AppState {
        AppState {
            db,
            metrics: Arc::new(Metrics::new()),
            clock,
            secure_cookies: false,
            feed: Arc::new(crate::stream::Feed::new()),
            login_throttle: Arc::new(LoginThrottle::new(ThrottleLimits::default())),
            trusted_proxies: Arc::new(TrustedProxies::default()),
            notifier: Arc::new(Notifier::default()),
            inbound: Arc::new(crate::inbound::Settings::default()),
            route_log: None,
        }
    }

    /// The same state, telling `log` the route of every request it serves.
    pub fn with_route_log(mut self, log: RouteLog) -> AppState {
        self.route_log = Some(log);
        self
    }

    /// The same state, sending the session cookie only over TLS when `secure`.
    pub fn with_secure_cookies(mut self, secure: bool) -> AppState {
        self.secure_cookies = secure;
        self
    }

    /// The same state, sending notifications as `notifier` says.
    pub fn with_notifier(mut self, notifier: Notifier) -> AppState {
        self.notifier = Arc::new(notifier);
        self
    }

    /// The same state, taking email in as `settings` say.
    pub fn with_inbound(mut self, settings: crate::inbound::Settings) -> AppState {
        self.inbound = Arc::new(settings);
        self
    }

    /// The same state, taking the client address from `X-Forwarded-For` when the peer is one
    /// of `proxies`.
    pub fn with_trusted_proxies(mut self, proxies: TrustedProxies) -> AppState {
        self.trusted_proxies = Arc::new(proxies);
        self
    }

    /// The same state, throttling sign-ins under `limits`.
    pub fn with_login_limits(mut self, limits: ThrottleLimits) -> AppState {
        self.login_throttle = Arc::new(LoginThrottle::new(limits));
        self
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
