//! Failed bearer tokens per client address on `/mcp`: an address that
//! presented [`MAX_FAILED_TOKENS`] wrong (or revoked) tokens within
//! [`WINDOW`] is answered `429` with `Retry-After`, without its token being
//! looked up in the store, until the oldest of those failures is a window
//! old. A right token from another address is never held up; from the
//! throttled address only tokens the server already knows to be good (the
//! shared one, a named one it looked up lately: `access::known_identity`)
//! still work, so one agent looping on a wrong token does not lock out the
//! others on its host, and a guess costs no store read.
//!
//! The counts live in memory, per process, for at most [`MAX_ADDRESSES`]
//! addresses (an IPv6 address by its /64, which one client holds whole):
//! about 2 MiB at most. Past that, addresses whose failures are all a
//! window old go first, then the least recently failed one. [`Throttle`]
//! knows nothing of HTTP or tokens beyond the address, so the console's
//! sign-in throttle (`console::guard`) could be one with its own numbers.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

/// Wrong bearer tokens one client address may present per [`WINDOW`].
/// Agents present the same token every time: a client that gets this many
/// wrong in a minute is guessing, or misconfigured and looping.
pub const MAX_FAILED_TOKENS: usize = 20;

/// The window [`MAX_FAILED_TOKENS`] is counted over.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Addresses remembered at most.
pub const MAX_ADDRESSES: usize = 4096;

/// Failures per client address, bounded in time and in addresses.
#[derive(Debug)]
pub struct Throttle {
    limit: usize,
    window: Duration,
    capacity: usize,
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl Default for Throttle {
    /// The numbers of `/mcp`: [`MAX_FAILED_TOKENS`] per [`WINDOW`].
    fn default() -> Self {
        Self::new(MAX_FAILED_TOKENS, WINDOW, MAX_ADDRESSES)
    }
}

impl Throttle {
    /// `limit` failures per `window`, for at most `capacity` addresses.
    pub fn new(limit: usize, window: Duration, capacity: usize) -> Self {
        Self {
            limit: limit.max(1),
            window,
            capacity: capacity.max(1),
            failures: Mutex::default(),
        }
    }

    /// The address a request's connection came from, as counted: an IPv4
    /// address (also when mapped into IPv6) or an IPv6 /64. `None` when the
    /// server did not record it (a router served without connect info):
    /// such clients are not throttled, since one count for all of them
    /// would let anyone lock everyone out.
    pub fn client(connect: Option<&ConnectInfo<SocketAddr>>) -> Option<IpAddr> {
        connect.map(|c| match c.0.ip() {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let mut s = v6.segments();
                    s[4..].fill(0);
                    IpAddr::from(s)
                }
            },
            ip @ IpAddr::V4(_) => ip,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, VecDeque<Instant>>> {
        // Each critical section is a single map operation: a poisoned lock is intact.
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How long `client` must wait before its token is looked at again, if
    /// it failed too often.
    pub fn wait(&self, client: Option<IpAddr>) -> Option<Duration> {
        let client = client?;
        let now = Instant::now();
        let mut map = self.lock();
        let times = map.get_mut(&client)?;
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.is_empty() {
            map.remove(&client);
            return None;
        }
        (times.len() >= self.limit)
            .then(|| times.front())
            .flatten()
            .map(|first| self.window.saturating_sub(now.duration_since(*first)))
    }

    /// Counts a failure of `client`; `true` when it has just reached the
    /// limit (so a caller can say so once, not at every refusal).
    pub fn failed(&self, client: Option<IpAddr>) -> bool {
        let Some(client) = client else {
            return false;
        };
        let now = Instant::now();
        let window = self.window;
        let mut map = self.lock();
        if map.len() >= self.capacity && !map.contains_key(&client) {
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
            if map.len() >= self.capacity
                && let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, times)| times.back().copied())
                    .map(|(k, _)| *k)
            {
                map.remove(&oldest);
            }
        }
        let limit = self.limit;
        let times = map
            .entry(client)
            .or_insert_with(|| VecDeque::with_capacity(limit + 1));
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            times.pop_front();
        }
        times.push_back(now);
        let reached = times.len() == self.limit;
        if times.len() > self.limit {
            times.pop_front();
        }
        reached
    }

    /// Addresses remembered now.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.lock().len()
    }
}

/// `429` for an address that presented too many wrong tokens: its token is
/// not looked at until `wait` is over.
pub(super) fn throttled(wait: Duration) -> Response {
    let secs = wait.as_secs().max(1);
    let mut response = super::access::refusal(
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "Too Many Requests: too many wrong bearer tokens from this address; retry in {secs} s"
        ),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn v4(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn an_address_is_throttled_after_its_limit_and_others_are_not() {
        let t = Throttle::new(3, Duration::from_secs(60), 16);
        for i in 0..3 {
            assert_eq!(t.wait(v4(1)), None);
            assert_eq!(
                t.failed(v4(1)),
                i == 2,
                "the limit is reached once, at the third"
            );
        }
        let wait = t.wait(v4(1)).expect("throttled");
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(50));
        assert_eq!(t.wait(v4(2)), None, "another address is not held up");
        assert!(!t.failed(v4(1)), "past the limit it is not reported again");
        for _ in 0..10 {
            assert!(!t.failed(None));
        }
        assert_eq!(t.wait(None), None, "an unknown address locks nobody out");
    }

    #[test]
    fn failures_expire_with_their_window() {
        // A window long enough that a descheduled test thread cannot
        // outlast it between the failures and the first `wait`.
        let t = Throttle::new(2, Duration::from_millis(1_000), 16);
        t.failed(v4(1));
        t.failed(v4(1));
        assert!(t.wait(v4(1)).is_some());
        std::thread::sleep(Duration::from_millis(1_100));
        assert_eq!(t.wait(v4(1)), None);
        assert_eq!(
            t.remembered(),
            0,
            "an address with no live failure is forgotten"
        );
    }

    #[test]
    fn memory_is_bounded_by_the_number_of_addresses() {
        let t = Throttle::new(2, Duration::from_secs(60), 8);
        for i in 0..100u8 {
            t.failed(v4(i));
            t.failed(v4(i));
        }
        assert_eq!(t.remembered(), 8);
        assert!(t.wait(v4(99)).is_some(), "the latest addresses are kept");
        assert_eq!(t.wait(v4(0)), None, "the least recent went first");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        let at = |ip: IpAddr| Throttle::client(Some(&ConnectInfo(SocketAddr::new(ip, 1))));
        let a = at(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 3, 4, 5, 6)));
        let b = at(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 9, 9, 9, 9)));
        assert_eq!(a, b);
        let mapped = at(IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped()));
        assert_eq!(mapped, Some(IpAddr::from([192, 0, 2, 1])));
        assert_eq!(Throttle::client(None), None);
    }
}
