//! What a hostile HTTP client meets before (or besides) the console's
//! handlers: posts only from the console's own pages, failed sign-ins and
//! wrong bearer tokens throttled per client address (a valid token still
//! gets in), a cap on each token's open event streams,
//! and, on a loopback address, only loopback host names (no DNS rebinding).
//! Refusals are plain text, and audited where a person should see them.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Backend, Console};
use crate::service::Bridge;

/// Refuses a post a browser says came from another site (`Sec-Fetch-Site`:
/// anything but `same-origin`, or `none` for one the user started; a
/// sandboxed frame or a data URL counts as another site). Not `Origin`
/// here: the standalone console has no allow-list to compare it with, and a
/// browser may send `Origin: null` (a privacy setting); mounted in
/// `serve --http --console`, `/mcp`'s Origin check applies too. The CSRF token already stops forged forms; this stops them even if a
/// token leaked, and keeps a cross-site post from signing anyone out.
/// Scripts without those headers (curl) are judged by the CSRF token alone.
pub async fn own_pages_only<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::POST && cross_site(request.headers()) {
        console
            .bridge
            .console_refused(None, "console post", None, "cross_site")
            .await;
        return (
            StatusCode::FORBIDDEN,
            "this form was not sent by one of this console's pages; nothing was done",
        )
            .into_response();
    }
    next.run(request).await
}

/// Counts a wrong bearer token on any console route (`/api/…`, a page) as
/// a failed sign-in of its client address, and answers an address that
/// failed too often `429` before its token is looked up in the store: the
/// sign-in form's throttle would mean little if the same guesses went on
/// through the API. A valid token still works from there (see
/// [`SignInThrottle::genuine`]), so a script of the operator's is not locked
/// out by an agent guessing on the same host.
pub async fn bearer_guesses<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = super::session::bearer(request.headers()).map(str::to_owned) else {
        return next.run(request).await;
    };
    let client = SignInThrottle::client(request.extensions().get::<ConnectInfo<SocketAddr>>());
    if let Some(wait) = console.throttle.wait(client)
        && !console.throttle.genuine(&console.bridge, &token).await
    {
        console
            .bridge
            .console_refused(None, "console api", None, "throttled")
            .await;
        let secs = wait.as_secs().max(1);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, secs.to_string())],
            format!("too many failed sign-ins from this address; try again in {secs} s"),
        )
            .into_response();
    }
    let response = next.run(request).await;
    // A wrong token is answered 401 by the API, and sent to sign in by a page.
    let to_login = response
        .headers()
        .get(header::LOCATION)
        .is_some_and(|l| l.as_bytes() == console.href("/login").as_bytes());
    if response.status() == StatusCode::UNAUTHORIZED || to_login {
        console.throttle.failed(client);
    }
    response
}

fn cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .is_some_and(|v| !matches!(v.to_str(), Ok("same-origin" | "none")))
}

/// Whether `host` (a `Host` header) names this machine's loopback interface:
/// `localhost` (or a name under `.localhost`), `127.x.y.z` or `[::1]`, any
/// numeric port. A value that is not a well-formed `Host` at all
/// (`localhost:1@evil.example`, `[::1]evil.example`) is refused as `/mcp`
/// refuses it, not read as the name it starts with.
pub fn loopback_host(host: &str) -> bool {
    if !crate::transport::http::host::well_formed_host(&host.to_ascii_lowercase()) {
        return false;
    }
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split_once(']').map_or(rest, |(inside, _)| inside)
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// On a loopback address, refuses a `Host` that is not a loopback name: a
/// page of another site whose name was re-pointed at 127.0.0.1 (DNS
/// rebinding) must not reach the console as if it were the same origin.
pub async fn loopback_hosts_only(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
    if host.as_deref().is_some_and(loopback_host) {
        next.run(request).await
    } else {
        (
            StatusCode::FORBIDDEN,
            "this console listens on a loopback address and answers only to localhost, 127.0.0.1 or [::1]",
        )
            .into_response()
    }
}

/// Failed sign-ins a client address may make per [`THROTTLE_WINDOW`].
pub const MAX_FAILED_SIGN_INS: usize = 10;
/// The window [`MAX_FAILED_SIGN_INS`] is counted over.
pub const THROTTLE_WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; past that the oldest counts are dropped.
const MAX_ADDRESSES: usize = 4096;

/// Failed sign-ins per client address (an IPv6 address by its /64, which
/// one client holds whole). Console tokens are 256-bit random, so guessing
/// cannot succeed anyway: this keeps a flood of guesses from costing the
/// console and its audit trail. Both servers record the address (the
/// standalone console and `serve --http`); a client whose address was not
/// recorded (the router embedded by a server that does not pass it on) is
/// not throttled: one count for every client would let anyone lock the
/// operator out of signing in.
///
/// A throttled address still gets in with a valid token
/// ([`SignInThrottle::genuine`]): on one host every local process shares
/// 127.0.0.1, so an agent's failures must not lock out the operator beside
/// it. Counting per browser (the sign-in cookie) instead would not do: a
/// guesser mints a fresh cookie per request, so only the address bounds it.
#[derive(Debug, Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<IpAddr, Vec<Instant>>>,
    /// Digests of bearer tokens that were accepted lately, with when: from
    /// a throttled address these still work (an operator's script beside a
    /// guessing agent on one host), without a store read.
    known: Mutex<HashMap<[u8; 32], Instant>>,
    /// The keyed digests of the unrevoked console tokens as last read, and
    /// when. A tokio mutex, held across the read: guesses arriving while it
    /// runs wait for it instead of each reading again.
    valid: tokio::sync::Mutex<Option<(Instant, HashSet<String>)>>,
}

/// How long the list of valid token digests serves throttled guesses before
/// one of them reads it again: the most a flood costs the store, and the
/// longest a token created meanwhile waits to get past the throttle.
const VALID_LIST_FOR: Duration = Duration::from_secs(10);

/// How long an accepted bearer token stays known to [`SignInThrottle`].
const KNOWN_FOR: Duration = Duration::from_secs(300);
/// Accepted bearer tokens remembered at most.
const MAX_KNOWN: usize = 1024;

fn digest(token: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes()).into()
}

impl SignInThrottle {
    /// The client address of `request`'s connection, if the server recorded it.
    pub fn client(connect: Option<&ConnectInfo<SocketAddr>>) -> Option<IpAddr> {
        connect.map(|c| match c.0.ip() {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::from(s)
            }
            IpAddr::V6(v6) => IpAddr::V4(
                v6.to_ipv4_mapped()
                    .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
            ),
            ip @ IpAddr::V4(_) => ip,
        })
    }

    /// How long `client` must wait before its next attempt, if it has
    /// failed too often.
    pub fn wait(&self, client: Option<IpAddr>) -> Option<Duration> {
        let client = client?;
        let now = Instant::now();
        let mut map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let times = map.get_mut(&client)?;
        times.retain(|t| now.duration_since(*t) < THROTTLE_WINDOW);
        (times.len() >= MAX_FAILED_SIGN_INS)
            .then(|| {
                times
                    .first()
                    .map(|t| THROTTLE_WINDOW.saturating_sub(now.duration_since(*t)))
            })
            .flatten()
    }

    /// Whether bearer token `token` was accepted within [`KNOWN_FOR`].
    pub fn known(&self, token: &str) -> bool {
        let known = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        known
            .get(&digest(token))
            .is_some_and(|at| at.elapsed() < KNOWN_FOR)
    }

    /// Whether `token` is worth checking although its address is throttled:
    /// it was accepted lately ([`Self::known`]) or its digest is one of a
    /// valid token's. Decided in memory, reading the token list at most once
    /// per [`VALID_LIST_FOR`], so a flood of guesses costs one keyed hash
    /// each and never a store read of its own. Not a sign-in: the caller
    /// still checks the token as usual (a token revoked since the last read
    /// is refused there).
    pub async fn genuine<S: Backend>(&self, bridge: &Bridge<S>, token: &str) -> bool {
        if self.known(token) {
            return true;
        }
        let digest = bridge.credential_digest(token);
        let mut valid = self.valid.lock().await;
        if let Some((at, digests)) = &*valid {
            if digests.contains(&digest) {
                return true;
            }
            if at.elapsed() < VALID_LIST_FOR {
                return false;
            }
        }
        let digests = match bridge.console_token_digests().await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the console tokens for the sign-in throttle");
                // Keep what was known, and do not read again per guess.
                valid.take().map(|(_, d)| d).unwrap_or_default()
            }
        };
        let hit = digests.contains(&digest);
        *valid = Some((Instant::now(), digests));
        hit
    }

    /// Remembers that bearer token `token` was accepted.
    pub fn accepted(&self, token: &str) {
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if known.len() >= MAX_KNOWN {
            known.retain(|_, at| at.elapsed() < KNOWN_FOR);
            if known.len() >= MAX_KNOWN {
                // Forget the least recently accepted, not all: clearing
                // would drop the operator's token along with the rest.
                if let Some(oldest) = known.iter().min_by_key(|(_, at)| **at).map(|(k, _)| *k) {
                    known.remove(&oldest);
                }
            }
        }
        known.insert(digest(token), Instant::now());
    }

    /// Counts a failed sign-in of `client`.
    pub fn failed(&self, client: Option<IpAddr>) {
        let Some(client) = client else { return };
        let now = Instant::now();
        let mut map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_ADDRESSES && !map.contains_key(&client) {
            map.retain(|_, times| {
                times
                    .last()
                    .is_some_and(|t| now.duration_since(*t) < THROTTLE_WINDOW)
            });
            if map.len() >= MAX_ADDRESSES {
                // Still full of live counts: forget the least recent address.
                if let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, times)| times.last().copied())
                    .map(|(k, _)| *k)
                {
                    map.remove(&oldest);
                }
            }
        }
        let times = map.entry(client).or_default();
        times.push(now);
        if times.len() > MAX_FAILED_SIGN_INS {
            times.remove(0);
        }
    }
}

/// Event streams one console token may hold open at once (every tab of
/// every browser signed in with it, and its scripts).
pub const MAX_STREAMS_PER_TOKEN: usize = 32;

/// Open event streams per console token.
#[derive(Debug, Default, Clone)]
pub struct StreamCounts {
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// One open stream; counted until dropped (the stream ends or the client goes).
#[derive(Debug)]
pub struct StreamSlot {
    counts: StreamCounts,
    token: String,
}

impl StreamCounts {
    /// A slot for another stream of `token` (by its name), or `None` when it
    /// holds [`MAX_STREAMS_PER_TOKEN`] already.
    pub fn open(&self, token: &str) -> Option<StreamSlot> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = open.entry(token.to_owned()).or_default();
        if *n >= MAX_STREAMS_PER_TOKEN {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            counts: self.clone(),
            token: token.to_owned(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self
            .counts
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.token) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.token);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_only() {
        for ok in [
            "localhost:8766",
            "127.0.0.1:1",
            "127.1.2.3",
            "[::1]:8766",
            "LOCALHOST.",
            "app.localhost:80",
        ] {
            assert!(loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example:8766",
            "localhost.evil.example",
            "10.0.0.1:8766",
            "[::2]:1",
            "",
            "localhost:1@evil.com",
            "[::1]evil.com",
            "127.0.0.1:80@evil.com",
            "localhost:abc",
            "a.b.localhost:1@x",
        ] {
            assert!(!loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn a_full_cache_of_known_tokens_forgets_only_the_oldest() {
        let t = SignInThrottle::default();
        for n in 0..MAX_KNOWN + 1 {
            t.accepted(&format!("token-{n}"));
        }
        assert!(!t.known("token-0"));
        assert!(t.known("token-1"));
        assert!(t.known(&format!("token-{MAX_KNOWN}")));
    }

    /// A throttled address's valid token gets past the throttle, a guess
    /// does not, and guesses do not read the token list each: a token
    /// created after the last read is not seen until the list is due again.
    #[tokio::test]
    async fn only_valid_tokens_get_past_the_throttle_and_guesses_cost_no_reads() {
        use crate::store::ConsoleRole;
        let dir = tempfile::tempdir().unwrap();
        let config =
            crate::config::Config::load(None, std::iter::empty::<(String, String)>()).unwrap();
        let app = crate::app::App::open(
            &dir.path().join("bridge.db"),
            config,
            crate::store::sqlite::OpenMode::Create,
        )
        .unwrap();
        let bridge = &app.bridge;
        let (_, token) = bridge
            .console_token_create("operator", ConsoleRole::Admin)
            .await
            .unwrap();
        let t = SignInThrottle::default();
        assert!(t.genuine(bridge, &token).await);
        for n in 0..100 {
            assert!(!t.genuine(bridge, &format!("mcpc_{n:064}")).await);
        }
        let (_, late) = bridge
            .console_token_create("late", ConsoleRole::Observer)
            .await
            .unwrap();
        assert!(
            !t.genuine(bridge, &late).await,
            "the list was read again before it was due"
        );
        assert!(t.genuine(bridge, &token).await);
    }

    #[test]
    fn cross_site_posts_are_recognised() {
        let mut h = HeaderMap::new();
        assert!(!cross_site(&h), "a script without the headers");
        h.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert!(!cross_site(&h));
        h.insert("sec-fetch-site", "same-site".parse().unwrap());
        assert!(cross_site(&h), "a sibling subdomain is another site's page");
        h.insert("sec-fetch-site", "same-origin".parse().unwrap());
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!cross_site(&h), "a browser that hides the origin");
    }

    #[test]
    fn failures_are_counted_per_address_and_streams_per_token() {
        let t = SignInThrottle::default();
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        for _ in 0..MAX_FAILED_SIGN_INS {
            assert_eq!(t.wait(a), None);
            t.failed(a);
        }
        assert!(t.wait(a).is_some());
        assert_eq!(t.wait(Some(IpAddr::from([10, 0, 0, 2]))), None);
        for _ in 0..=MAX_FAILED_SIGN_INS {
            t.failed(None);
        }
        assert_eq!(t.wait(None), None, "an unknown address locks nobody out");
        let c = StreamCounts::default();
        let slots: Vec<_> = (0..MAX_STREAMS_PER_TOKEN)
            .map(|_| c.open("x").unwrap())
            .collect();
        assert!(c.open("x").is_none());
        assert!(c.open("y").is_some());
        drop(slots);
        assert!(c.open("x").is_some());
    }
}
