//! Login throttling: failed sign-ins counted per account (organisation and email) and per
//! client address, in fixed windows on the app clock. Past the limit, every attempt is
//! refused with 429 and `Retry-After` until the window ends, the right password included,
//! and no password is checked (each check costs a deliberate ~100 ms of CPU).
//!
//! Hand-written rather than `tower_governor`: that limiter keys by address only (an account
//! is known only once the body is read) and reads the wall clock, where every deadline here
//! must move with the app clock the tests drive. The counters live in this server's memory:
//! several servers behind one address each count on their own.
//!
//! The client address is the socket's peer, unless that peer is a reverse proxy the operator
//! listed (`ladder serve --trusted-proxy`): then it is the right-most `X-Forwarded-For`
//! address that is not itself a listed proxy. Everything left of it was written by the client
//! and is ignored, as is the whole header from any other peer: a client must not choose the
//! key its failures are counted under.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;
use jiff::{SignedDuration, Timestamp};

use crate::state::AppState;

/// How many failures are allowed, and over how long.
#[derive(Clone, Debug)]
pub struct ThrottleLimits {
    /// Failed sign-ins to one account within a window.
    pub per_account: u32,
    /// Failed sign-ins from one client address within a window, whatever the account.
    pub per_address: u32,
    pub window: SignedDuration,
}

impl Default for ThrottleLimits {
    fn default() -> ThrottleLimits {
        ThrottleLimits {
            per_account: 10,
            per_address: 100,
            window: SignedDuration::from_mins(15),
        }
    }
}

/// The most windows kept at once; past it, ended windows are dropped first.
const MAX_TRACKED: usize = 100_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    /// The organisation as the client named it, and the email, both lower-cased.
    Account(String, String),
    Address(IpAddr),
}

#[derive(Clone, Copy, Debug)]
struct Window {
    started: Timestamp,
    failures: u32,
}

pub struct LoginThrottle {
    limits: ThrottleLimits,
    windows: Mutex<HashMap<Key, Window>>,
}

/// A sign-in refused before its password was checked.
#[derive(Debug, PartialEq, Eq)]
pub struct Throttled {
    /// Whole seconds until the window that refused it ends (at least 1).
    pub retry_after_secs: u64,
}

impl LoginThrottle {
    pub fn new(limits: ThrottleLimits) -> LoginThrottle {
        LoginThrottle {
            limits,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn keys(tenant: &str, email: &str, address: Option<IpAddr>) -> Vec<(Key, bool)> {
        let mut keys = vec![(
            Key::Account(tenant.trim().to_lowercase(), email.trim().to_lowercase()),
            true,
        )];
        if let Some(address) = address {
            keys.push((Key::Address(address), false));
        }
        keys
    }

    fn limit(&self, per_account: bool) -> u32 {
        if per_account {
            self.limits.per_account
        } else {
            self.limits.per_address
        }
    }

    /// Whether a sign-in to `email` of `tenant` from `address` may be tried at `now`.
    pub fn check(
        &self,
        now: Timestamp,
        tenant: &str,
        email: &str,
        address: Option<IpAddr>,
    ) -> Result<(), Throttled> {
        // A holder that panicked left whole windows behind: the counts are still good.
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let mut wait = SignedDuration::ZERO;
        for (key, per_account) in Self::keys(tenant, email, address) {
            let Some(w) = windows.get(&key) else { continue };
            let ends = w
                .started
                .saturating_add(self.limits.window)
                .unwrap_or(w.started);
            if w.failures >= self.limit(per_account) && ends > now {
                wait = wait.max(ends.duration_since(now));
            }
        }
        if wait.is_zero() {
            return Ok(());
        }
        let secs = wait.as_secs() + i64::from(wait.subsec_nanos() > 0);
        Err(Throttled {
            retry_after_secs: u64::try_from(secs.max(1)).unwrap_or(1),
        })
    }

    /// Counts a failed sign-in.
    pub fn failed(&self, now: Timestamp, tenant: &str, email: &str, address: Option<IpAddr>) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() >= MAX_TRACKED {
            let window = self.limits.window;
            windows.retain(|_, w| w.started.saturating_add(window).unwrap_or(w.started) > now);
            if windows.len() >= MAX_TRACKED {
                tracing::warn!(
                    tracked = windows.len(),
                    "login throttling tracks too many accounts and addresses; the oldest are forgotten"
                );
                let mut started: Vec<Timestamp> = windows.values().map(|w| w.started).collect();
                started.sort_unstable();
                let cut = started[started.len() / 2];
                windows.retain(|_, w| w.started > cut);
            }
        }
        for (key, _) in Self::keys(tenant, email, address) {
            let w = windows.entry(key).or_insert(Window {
                started: now,
                failures: 0,
            });
            if w.started
                .saturating_add(self.limits.window)
                .unwrap_or(w.started)
                <= now
            {
                *w = Window {
                    started: now,
                    failures: 0,
                };
            }
            w.failures = w.failures.saturating_add(1);
        }
    }

    /// A successful sign-in clears its account's failures (not its address's).
    pub fn succeeded(&self, tenant: &str, email: &str) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, per_account) in Self::keys(tenant, email, None) {
            if per_account {
                windows.remove(&key);
            }
        }
    }
}

/// The reverse proxies whose `X-Forwarded-For` is believed: addresses and CIDR blocks.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Reads each of `list` as an address (`10.0.0.5`, `::1`) or a CIDR block (`10.0.0.0/8`).
    pub fn parse<S: AsRef<str>>(list: &[S]) -> Result<TrustedProxies, String> {
        list.iter()
            .map(|item| {
                let item = item.as_ref().trim();
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| format!("{item:?} is neither an IP address nor a CIDR block"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The address a request is counted under, arriving from `peer` with `headers`.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d.
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        // Every X-Forwarded-For line, in order, as one list; proxies append on the right.
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .flat_map(|v| v.to_str().unwrap_or("").split(','))
            .map(str::trim)
            .collect();
        // Walking leftwards from the peer, each listed proxy vouches for the hop before it;
        // the first hop that is not a listed proxy is the client. A hop that is not an
        // address cannot be vouched for past: the last address known stands.
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(address) = parse_hop(hop) else { break };
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, or one with a port as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|a| a.to_canonical())
}

/// The client address a sign-in is throttled under (see the module's comment); `None` when
/// the connection's peer is not known (a request not served from a socket).
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<ClientAddress, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip());
        Ok(ClientAddress(peer.map(|peer| {
            state.trusted_proxies.client_address(peer, &parts.headers)
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::constant(1_748_858_400, 0);

    #[test]
    fn an_account_is_refused_past_its_limit_until_its_window_ends() {
        let t = LoginThrottle::new(ThrottleLimits {
            per_account: 3,
            per_address: 100,
            window: SignedDuration::from_mins(15),
        });
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..3 {
            assert_eq!(t.check(T0, "acme", "a@x", Some(ip)), Ok(()));
            t.failed(T0, "acme", "A@x ", Some(ip));
        }
        let later = T0 + SignedDuration::from_secs(60);
        assert_eq!(
            t.check(later, "ACME", "a@x", Some(ip)),
            Err(Throttled {
                retry_after_secs: 14 * 60
            })
        );
        assert_eq!(t.check(later, "acme", "b@x", Some(ip)), Ok(()));
        let ended = T0 + SignedDuration::from_mins(15);
        assert_eq!(t.check(ended, "acme", "a@x", Some(ip)), Ok(()));
    }

    #[test]
    fn an_address_is_refused_past_its_limit_whatever_the_account() {
        let t = LoginThrottle::new(ThrottleLimits {
            per_account: 100,
            per_address: 2,
            window: SignedDuration::from_mins(1),
        });
        let ip: IpAddr = [10, 0, 0, 1].into();
        t.failed(T0, "acme", "a@x", Some(ip));
        t.failed(T0, "acme", "b@x", Some(ip));
        assert!(t.check(T0, "acme", "c@x", Some(ip)).is_err());
        assert_eq!(
            t.check(T0, "acme", "c@x", Some([10, 0, 0, 2].into())),
            Ok(())
        );
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().expect("header value"));
        }
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn the_header_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let none = TrustedProxies::default();
        let headers = forwarded(&["203.0.113.7"]);
        assert_eq!(
            none.client_address(ip("10.1.2.3"), &headers),
            ip("10.1.2.3")
        );
        let other = TrustedProxies::parse(&["10.9.0.0/16"]).expect("parse");
        assert_eq!(
            other.client_address(ip("10.1.2.3"), &headers),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.1"]).expect("parse");
        let peer = ip("10.0.0.2");
        // What the client wrote itself (the left part) is never the key.
        let headers = forwarded(&["198.51.100.9, 203.0.113.7", "192.0.2.1"]);
        assert_eq!(proxies.client_address(peer, &headers), ip("203.0.113.7"));
        assert_eq!(
            proxies.client_address(peer, &forwarded(&["203.0.113.7:4711"])),
            ip("203.0.113.7")
        );
        assert_eq!(
            proxies.client_address(peer, &forwarded(&["[2001:db8::1]:443"])),
            ip("2001:db8::1")
        );
        // No header, or one of nothing but proxies: the hop nearest the client stands.
        assert_eq!(proxies.client_address(peer, &HeaderMap::new()), peer);
        assert_eq!(
            proxies.client_address(peer, &forwarded(&["10.3.3.3, 192.0.2.1"])),
            ip("10.3.3.3")
        );
        // A hop that is no address stops the walk at the proxy that wrote it.
        assert_eq!(
            proxies.client_address(peer, &forwarded(&["203.0.113.7, unknown, 192.0.2.1"])),
            ip("192.0.2.1")
        );
        // An IPv4 peer on a dual-stack socket is still the listed proxy.
        assert_eq!(
            proxies.client_address(ip("::ffff:10.0.0.2"), &forwarded(&["203.0.113.7"])),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn a_list_entry_that_is_no_address_is_refused() {
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(&["proxy.internal"]).is_err());
        assert!(TrustedProxies::parse(&["::1", "fd00::/8", " 127.0.0.1 "]).is_ok());
    }
}
