//! Who may reach the HTTP endpoints: the `Host` and `Origin` allow-lists
//! (DNS rebinding and cross-site requests), the bearer token (the shared one
//! from the settings, or a named one from `mcp-bridge http-token`), the
//! request-body bound and the per-token request rate. Refusals are plain
//! HTTP statuses with a sentence saying what to do; nothing behind them runs.
//! [`identity`] resolves bearer tokens.

mod identity;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::common::http_header::HEADER_SESSION_ID;
use tokio_util::sync::CancellationToken;

use super::METADATA_PATH;
use super::body::{self, read_parts_within};
use super::call_ids::{self, SessionCalls};
use super::host::{strip_port, well_formed_host};
use super::park;
use super::peek::{self, may_wait, opens_a_session};
use super::request_limit::RequestLimit;
use super::resume;
use super::revoke::{self, Cut, REVOKED_TEXT, Revocations};
use super::sessions::{self, Owners, as_caller};
use super::streams::{self, Streams};
use super::throttle::{MAX_FAILED_TOKENS, Throttle, WINDOW};
use super::written::{AckBody, InFlight};
use crate::mcp::delivery::{InFlightPages, ReplySlot};
use crate::ratelimit::Limits;
use crate::service::{Bridge, HttpIdentity};
use crate::store::{HttpRole, HttpTokenStore};

/// How the name of the identity behind the shared token from the settings
/// begins. (Not a valid token name, so no named token can share its quotas.)
const SHARED_TOKEN_NAME: &str = "(shared";

/// The identity name of the shared token `hash` (its keyed hash): servers on
/// one database with different shared tokens must not be one identity, or a
/// client holding either could take over the other's MCP sessions and
/// share its request counts (red team). A fingerprint of a keyed hash says
/// nothing of the token.
fn shared_name(hash: &[u8; 32]) -> String {
    let print: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{SHARED_TOKEN_NAME} {print})")
}

/// Name of the identity of every caller under `--no-auth`.
pub const NO_AUTH_NAME: &str = "(anonymous)";

/// The access rules of one server.
pub struct Access<S: HttpTokenStore> {
    pub(super) bridge: Arc<Bridge<S>>,
    /// The shared token, if one is set, and the name of its identity.
    pub(super) shared_token: Option<(String, String)>,
    /// Whether the bearer check is off (loopback only; checked at start-up).
    pub(super) no_auth: bool,
    /// `Host` values accepted (host, or host:port), lower case.
    pub(super) hosts: Vec<String>,
    /// `Origin` values accepted besides the server's own.
    pub(super) origins: Vec<String>,
    /// Requests per token, shared by every server, or none.
    pub(super) requests: Option<Arc<RequestLimit>>,
    /// Whether TLS is on (for the URLs the metadata names).
    pub(super) tls: bool,
    /// How long a request's body may take to arrive.
    pub(super) read_timeout: Duration,
    /// Cancelled when the server begins to shut down: new requests get 503.
    pub(super) stopping: CancellationToken,
    /// MCP requests in flight, for a graceful shutdown.
    pub(super) in_flight: Arc<InFlight>,
    /// Inbox pages in responses not yet written (see `mcp::delivery`).
    pages: Arc<InFlightPages>,
    cache: Mutex<HashMap<[u8; 32], (HttpIdentity, Instant)>>,
    /// Who owns the MCP sessions held here.
    pub(super) owners: Owners,
    /// The `GET` streams each MCP session holds open.
    streams: Arc<Streams>,
    /// The named tokens of the requests that may wait here (see `revoke`).
    pub(super) revocations: Arc<Revocations>,
    /// The calls in progress in each session, and their pages held back.
    pub(super) calls: SessionCalls<S>,
    /// Sessions one identity may hold open here.
    max_sessions: usize,
    /// Wrong bearer tokens per client address (see `throttle`).
    failures: Throttle,
}

impl<S: HttpTokenStore> Access<S> {
    /// Rules over `bridge`; see the fields.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        bridge: Arc<Bridge<S>>,
        shared_token: Option<String>,
        no_auth: bool,
        hosts: Vec<String>,
        origins: Vec<String>,
        requests: Option<Limits>,
        tls: bool,
        read_timeout: Duration,
        max_sessions: u32,
        stopping: CancellationToken,
    ) -> Self {
        let shared_token = shared_token.map(|token| {
            let name = shared_name(&bridge.http_token_hash(&token));
            (token, name)
        });
        Self {
            calls: SessionCalls::new(Arc::clone(&bridge)),
            bridge,
            shared_token,
            no_auth,
            hosts: hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect(),
            origins,
            requests: requests.map(|limits| Arc::new(RequestLimit::new(limits))),
            tls,
            read_timeout,
            stopping,
            in_flight: Arc::default(),
            pages: Arc::default(),
            cache: Mutex::default(),
            owners: Owners::default(),
            streams: Arc::default(),
            revocations: Arc::default(),
            max_sessions: usize::try_from(max_sessions).unwrap_or(usize::MAX),
            failures: Throttle::default(),
        }
    }

    fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    /// Whether `host` (a `Host` header value) is one this server answers to.
    pub(super) fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        if !well_formed_host(&host) {
            return false;
        }
        let name = strip_port(&host);
        self.hosts.iter().any(|h| *h == host || *h == name)
    }

    /// Whether a browser at `origin` may call: the server's own origin or a listed one.
    pub(super) fn origin_allowed(&self, origin: &str, host: &str) -> bool {
        let own = format!("{}://{}", self.scheme(), host.to_ascii_lowercase());
        origin.eq_ignore_ascii_case(&own)
            || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// `401` for a call cut off by its token's revocation, as a new request
    /// with the token gets.
    fn revoked(&self, host: &str) -> Response {
        let mut response = refusal(StatusCode::UNAUTHORIZED, REVOKED_TEXT);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            self.challenge(host, Some("invalid_token")),
        );
        response
    }

    /// `WWW-Authenticate` for a 401 or 403 on `host`.
    fn challenge(&self, host: &str, error: Option<&str>) -> HeaderValue {
        let mut value = format!(
            "Bearer realm=\"mcp-bridge\", resource_metadata=\"{}://{}{}\"",
            self.scheme(),
            host,
            METADATA_PATH
        );
        if let Some(error) = error {
            value.push_str(&format!(", error=\"{error}\""));
        }
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each critical section is a single map operation: a poisoned lock is intact.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A refusal with `text` as its body.
pub(super) fn refusal(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{text}\n"),
    )
        .into_response()
}

pub(super) fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The MCP endpoint: shutdown, bearer token, role, body size and rate, the
/// body read whole in time (see `body`), then the request runs with its
/// identity and a [`ReplySlot`] in its extensions.
pub(super) async fn check_caller<S: HttpTokenStore + crate::mcp::Backend>(
    State(access): State<Arc<Access<S>>>,
    request: Request,
    next: Next,
) -> Response {
    if access.stopping.is_cancelled() {
        let mut response = refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down; retry in a moment",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    let host = header_str(request.headers(), header::HOST)
        .unwrap_or("localhost")
        .to_owned();
    // With the hash of a named token, which a revocation may cut off.
    let (identity, named) = if access.no_auth {
        let anonymous = HttpIdentity {
            name: NO_AUTH_NAME.to_owned(),
            role: HttpRole::Agent,
        };
        (anonymous, None)
    } else {
        let client = Throttle::client(request.extensions().get::<ConnectInfo<SocketAddr>>());
        let presented = header_str(request.headers(), header::AUTHORIZATION)
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty());
        // A throttled address gets no store lookups, but a token this server
        // knows is good still works from it, and one it confirmed lately is
        // looked up again: one agent looping on a wrong token must not lock
        // out the others on its host (loopback, NAT).
        let known = presented.and_then(|token| access.known_identity(token));
        if known.is_none()
            && let Some(wait) = access.failures.wait(client)
            && !presented.is_some_and(|token| access.vouched(token))
        {
            return super::throttle::throttled(wait);
        }
        let found = match (known, presented) {
            (Some(known), _) => Some(known),
            (None, Some(token)) => match access.identify_stored(token).await {
                Ok(found) => found,
                Err(response) => return response,
            },
            (None, None) => None,
        };
        let Some(found) = found else {
            if presented.is_some()
                && access.failures.failed(client)
                && let Some(ip) = client
            {
                // Once per throttling, with the address and never the token.
                tracing::warn!(client = %ip, "{MAX_FAILED_TOKENS} wrong bearer tokens from one address within {} s: its requests are refused for a while", WINDOW.as_secs());
            }
            let text = if presented.is_some() {
                "the bearer token is not valid (revoked, mistyped, or for another server)"
            } else {
                "this server needs `Authorization: Bearer <token>`: the shared token (MCP_BRIDGE_HTTP_TOKEN) or one from `mcp-bridge http-token create`"
            };
            let mut response = refusal(StatusCode::UNAUTHORIZED, text);
            let error = presented.map(|_| "invalid_token");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, access.challenge(&host, error));
            return response;
        };
        found
    };
    if !identity.role.may_call_tools() {
        let mut response = refusal(
            StatusCode::FORBIDDEN,
            "an observer token may not call MCP tools; use an agent or operator token",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            access.challenge(&host, Some("insufficient_scope")),
        );
        return response;
    }
    if body::declared_too_large(request.headers()) {
        return body::too_large();
    }
    if let Some(limit) = &access.requests
        && let Some(response) = limit.spend(&access.bridge, &identity.name).await
    {
        return response;
    }
    // Boxed: a long-poll keeps this future for its whole wait, and the
    // read's state would otherwise stay part of it.
    let (mut parts, bytes) = match Box::pin(read_parts_within(request, access.read_timeout)).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    // The stateless protocol has no MCP sessions: an `Mcp-Session-Id` on
    // one of its requests is ignored, as the 2026-07-28 transport asks (not
    // passed on, so it neither binds nor stores a session of that id).
    if parts.headers.contains_key(HEADER_SESSION_ID)
        && peek::stateless(&parts.method, &parts.headers, &bytes)
    {
        parts.headers.remove(HEADER_SESSION_ID);
    }
    if let Some(refused) = peek::duplicate_key(&parts.method, &bytes) {
        return refused;
    }
    if let Some(id) = peek::stateless_listen(&parts.method, &parts.headers, &bytes) {
        return peek::json_rpc_refusal(id, -32600, crate::mcp::STATELESS_LISTEN);
    }
    let in_flight = (parts.method == Method::POST).then(|| access.in_flight.enter());
    // A request that may wait is cut off if its token is revoked meanwhile.
    let watch = named
        .filter(|_| may_wait(&parts.method, &bytes))
        .map(|hash| access.revocations.watch(hash, &identity.name));
    // A stateless long-poll waits here, before rmcp builds its request (see
    // `park`); cut off, the park is dropped (audited `cancelled`).
    let parking = Box::pin(park::park(
        &access.bridge,
        &mut parts,
        &bytes,
        &access.stopping,
    ));
    if revoke::unless_cut(watch.as_ref(), parking).await.is_none() {
        return access.revoked(&host);
    }
    let opens = parts.method == Method::POST
        && header_str(&parts.headers, HEADER_SESSION_ID).is_none()
        && opens_a_session(&bytes);
    if opens && bytes.len() > sessions::MAX_INITIALIZE_BYTES {
        return refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            sessions::INITIALIZE_TOO_LARGE,
        );
    }
    // Parsed only for a request inside a session (stateless ones share no
    // ids), or one whose stream a revocation may have to answer.
    let in_session = header_str(&parts.headers, HEADER_SESSION_ID).is_some();
    let request_id = (parts.method == Method::POST && (in_session || watch.is_some()))
        .then(|| call_ids::request_id(&bytes))
        .flatten();
    let call_id = request_id.clone().filter(|_| in_session);
    // Kept to tell rmcp's one answer to an unreadable body apart (below).
    let sent = bytes.clone();
    let mut request = Request::from_parts(parts, Body::from(bytes));
    let slot = ReplySlot::new(Arc::clone(&access.pages));
    request.extensions_mut().insert(slot.clone());
    let caller = identity.name.clone();
    let session = header_str(request.headers(), HEADER_SESSION_ID).map(str::to_owned);
    if let Some(id) = &session
        && !access.owners.admit(id, &caller)
    {
        // As rmcp answers an unknown session: to anyone else it does not exist.
        return refusal(StatusCode::NOT_FOUND, "Not Found: Session not found");
    }
    // Held until the response's body is gone; a cancel or a new read tells
    // the session's earlier calls (see `call_ids`).
    let call_id = match &session {
        Some(id) => {
            access.calls.note(id, &sent);
            match access.calls.claim(id, call_id) {
                Ok(claim) => claim,
                Err(reused) => return call_ids::reused(&reused),
            }
        }
        None => None,
    };
    // Each session holds ~22 KiB until it ends or idles out: a client that
    // opens them in a loop, or in a burst, is stopped at its share. The
    // place is held until the answer is in and the session recorded. A
    // session taken over from the store (opened on another host, or before a
    // restart) counts as one opened here.
    let takes_over = request.method() != Method::DELETE
        && session
            .as_deref()
            .is_some_and(|id| !access.owners.holds(id));
    let reserve = || access.owners.reserve(&caller, access.max_sessions);
    let _opening = match (opens || takes_over).then(reserve) {
        Some(None) => return refusal(StatusCode::TOO_MANY_REQUESTS, sessions::TOO_MANY),
        place => place.flatten(),
    };
    let stream = match streams::admit(&access.streams, request.method(), session.as_deref()) {
        Ok(place) => place,
        Err(full) => return full.refusal(),
    };
    request.extensions_mut().insert(identity);
    let deleting = request.method() == Method::DELETE;
    let resuming = resume::resumes_a_response(request.method(), request.headers());
    let sent_json = peek::says_json(request.headers());
    // A client that goes before its answer ends the call it left waiting:
    // the connection closes and this future is dropped, or (in an MCP
    // session, whose calls run in the session's task) the response body is
    // dropped before its end; so does an error answer instead of the call's
    // (its session ended under it).
    let gone = slot.gone_unless_answered();
    // Cut off before its answer began, the call ends as if its client had
    // gone (`gone` is dropped): it files nothing and nothing is acknowledged.
    let running = as_caller(caller.clone(), next.run(request));
    let Some(response) = revoke::unless_cut(watch.as_ref(), running).await else {
        return access.revoked(&host);
    };
    if watch.as_ref().is_some_and(revoke::Watch::is_cut) {
        return access.revoked(&host);
    }
    let gone = response.status().is_success().then_some(gone);
    let opened = header_str(response.headers(), HEADER_SESSION_ID);
    match (
        session.as_deref().or(opened),
        response.status().is_success(),
    ) {
        (Some(id), true) if deleting => access.owners.ended(id),
        (Some(id), true) => access.owners.used(id, &caller, named),
        _ => {}
    }
    // rmcp answers a body that is not JSON-RPC with 415, as if the media
    // type were wrong; it is a parse error or an invalid request, so say that.
    if sent_json && response.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return peek::unreadable(&sent);
    }
    drop(sent);
    // rmcp answers a session's DELETE with 202; the Python SDK (and RFC
    // 9110 for a completed deletion) expects 200 or 204 and warns otherwise.
    if deleting && response.status() == StatusCode::ACCEPTED {
        return StatusCode::NO_CONTENT.into_response();
    }
    let response = if resuming {
        resume::settle(response)
    } else {
        response
    };
    let (mut parts, body) = response.into_parts();
    // Answers carry session tokens and messages: no cache may keep them
    // (rmcp says `no-cache`, which lets a cache store and revalidate).
    parts.headers.insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    // A response stream that has begun is cut off in its body (see `revoke`);
    // a JSON answer is complete already, and goes out whole.
    let streams = header_str(&parts.headers, header::CONTENT_TYPE)
        .is_some_and(|t| t.trim_start().starts_with("text/event-stream"));
    let cut = watch
        .filter(|_| streams)
        .map(|watch| Cut::new(watch, request_id));
    if !slot.is_empty() {
        // See `AckBody::size_hint`: a page's response ends only once acknowledged.
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    let body = AckBody::new(
        body,
        slot,
        Arc::clone(&access.bridge),
        in_flight,
        call_id,
        gone,
        cut,
    );
    Response::from_parts(parts, streams::counted(Body::new(body), stream))
}
