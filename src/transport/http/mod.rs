//! MCP over streamable HTTP (rmcp's server on axum), with optional TLS.
//!
//! One process serves many clients: clients speaking 2025-06-18 or
//! 2025-11-25 get an MCP session (`Mcp-Session-Id`), each with its own
//! [`BridgeServer`] and so its own bound conversation credentials; requests of
//! the stateless 2026-07-28 protocol each get a fresh server, bound to
//! nothing (they pass credentials explicitly). In front of it all sit the
//! access rules of [`access`]. [`router`] builds the whole `axum::Router`, so
//! another router (the web console) can be nested into it before serving.
//!
//! Revoking a named token cuts off its holder's waiting calls, SSE streams
//! and MCP sessions on every server of the database within about a second
//! (see [`revoke`]).
//!
//! Shutdown: new requests get 503, waiting long-polls return an empty page,
//! calls in flight finish and their responses are written (and their inbox
//! pages acknowledged), then the sessions and connections close.

mod access;
mod body;
mod call_ids;
pub(crate) mod descriptors;
pub(crate) mod host;
mod park;
mod peek;
mod request_limit;
mod resume;
mod revoke;
mod sessions;
mod site;
mod streams;
mod throttle;
mod written;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use self::access::Access;
pub(crate) use self::body::bounded_bodies;
use crate::config::HttpSettings;
use crate::mcp::Backend;
use crate::mcp::BridgeServer;
use crate::service::Bridge;
use crate::store::HttpTokenStore;

/// Where the MCP endpoint is mounted.
pub const MCP_PATH: &str = "/mcp";

/// The OAuth protected resource metadata of the MCP endpoint (RFC 9728).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource/mcp";

/// The same metadata at the host's root, for clients that look there first.
const ROOT_METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// Largest request body accepted, in bytes: just above the largest
/// legitimate request (a 50 KiB message, escaped, with 100 paths of 4096
/// characters is about 0.5 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long a shutdown waits for calls in flight before closing anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The default address of `serve --http`.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8765";

/// A certificate chain and its private key, PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// TLS, when given.
    pub tls: Option<TlsFiles>,
    /// Plain HTTP on a non-loopback address, explicitly.
    pub insecure_http: bool,
    /// No bearer check (loopback only), explicitly.
    pub no_auth: bool,
    /// Settings from the config (token, allow-lists, limits).
    pub settings: HttpSettings,
    /// Whether the web console is mounted under `/console`.
    pub console: bool,
}

impl HttpOptions {
    /// Refuses combinations that would expose the bridge: plain HTTP or no
    /// authentication beyond loopback, or no token at all.
    ///
    /// # Errors
    /// A sentence naming the flag that fixes it.
    pub fn check(&self, named_tokens: usize) -> anyhow::Result<()> {
        let loopback = self.addr.ip().is_loopback();
        if !loopback && self.tls.is_none() && !self.insecure_http {
            anyhow::bail!(
                "{} is not a loopback address: give --tls-cert and --tls-key, or --insecure-http to send tokens and messages in clear text",
                self.addr
            );
        }
        if self.no_auth && !loopback {
            anyhow::bail!("--no-auth is allowed only on a loopback address");
        }
        host::check_allow_lists(&self.settings.allowed_hosts, &self.settings.allowed_origins)?;
        if !self.no_auth && self.settings.token.is_none() && named_tokens == 0 {
            anyhow::bail!(
                "no bearer token is configured: set MCP_BRIDGE_HTTP_TOKEN (or http.token), create one with `mcp-bridge http-token create NAME`, or pass --no-auth on a loopback address"
            );
        }
        Ok(())
    }

    /// `Host` values the server answers to: loopback names, the bound
    /// address, and the configured ones.
    fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        if !self.addr.ip().is_unspecified() {
            hosts.push(match self.addr {
                SocketAddr::V4(a) => a.ip().to_string(),
                SocketAddr::V6(a) => format!("[{}]", a.ip()),
            });
        }
        hosts.extend(self.settings.allowed_hosts.iter().cloned());
        hosts
    }
}

/// The running server's handles that a router needs.
pub struct Serving<S: HttpTokenStore + Backend> {
    access: Arc<Access<S>>,
    /// Cancelled to end every MCP session and SSE stream.
    sessions: CancellationToken,
    /// Cancelled to end waiting long-polls with an empty page.
    long_polls: CancellationToken,
    /// The MCP sessions held here (closed when their token is revoked).
    manager: Arc<sessions::Manager>,
}

impl<S: HttpTokenStore + Backend> Serving<S> {
    /// State for serving `bridge` with `options`.
    pub fn new(bridge: Arc<Bridge<S>>, options: &HttpOptions) -> Self {
        let access = Access::new(
            bridge,
            options.settings.token.clone(),
            options.no_auth,
            options.hosts(),
            options.settings.allowed_origins.clone(),
            options.settings.requests,
            options.tls.is_some(),
            options.settings.read_timeout,
            options.settings.max_sessions_per_token,
            CancellationToken::new(),
        );
        let mut manager = LocalSessionManager::default();
        // No SSE "priming" event at the head of each response stream of a
        // session (see `router`).
        manager.session_config.sse_retry = None;
        Self {
            access: Arc::new(access),
            sessions: CancellationToken::new(),
            long_polls: CancellationToken::new(),
            manager: Arc::new(resume::QuietResume(manager)),
        }
    }

    /// The whole application: `/mcp` and the metadata. Nest further routers
    /// (e.g. `.nest("/console", console)`) before serving; the `Host` and
    /// `Origin` checks of the returned router apply to them too when they are
    /// added with [`Serving::protect`].
    pub fn router(&self) -> Router {
        // One template; each session (or stateless request) gets a fresh
        // session state over its shared tool router.
        let template = BridgeServer::new(Arc::clone(&self.access.bridge))
            .with_shutdown(self.long_polls.clone());
        let factory = move || Ok(template.new_session());
        let mut config = StreamableHttpServerConfig::default()
            .with_cancellation_token(self.sessions.clone())
            // Checked by `access` before anything else, for every route.
            .disable_allowed_hosts()
            .disable_allowed_origins()
            .with_json_response(true)
            // No SSE "priming" event (an id and an empty `data:`): there is no
            // event store to resume from, and the TypeScript SDK in Gemini CLI
            // 0.61 parses the empty data as JSON, fails, and drops the server.
            .with_sse_retry(None)
            .with_max_request_body_bytes(MAX_BODY_BYTES);
        // A session this host does not hold is taken over from the database.
        config.session_store = Some(Arc::new(sessions::SharedSessions::new(Arc::clone(
            &self.access.bridge,
        ))));
        let manager = Arc::clone(&self.manager);
        let mcp = StreamableHttpService::new(factory, Arc::clone(&manager), config);
        let mcp = Router::new()
            .route_service(MCP_PATH, mcp)
            .layer(axum::middleware::from_fn_with_state(
                (manager, Arc::clone(&self.access.bridge)),
                sessions::end_only_known::<S>,
            ))
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&self.access),
                access::check_caller::<S>,
            ));
        let metadata = Router::new()
            .route(METADATA_PATH, get(metadata::<S>))
            .route(ROOT_METADATA_PATH, get(metadata::<S>))
            .with_state(Arc::clone(&self.access));
        self.protect(mcp.merge(metadata))
    }

    /// `router` behind the `Host` and `Origin` checks.
    pub fn protect(&self, router: Router) -> Router {
        router.layer(axum::middleware::from_fn_with_state(
            Arc::clone(&self.access),
            site::check_site::<S>,
        ))
    }

    /// Shuts down in order: refuse new requests, end long-polls empty, let
    /// calls in flight finish (bounded), then close sessions and streams.
    pub async fn drain(&self) {
        self.access.stopping.cancel();
        self.long_polls.cancel();
        // Pages written a moment ago: no cancel will be read for them now.
        self.access.calls.acknowledge_held().await;
        if tokio::time::timeout(DRAIN_TIMEOUT, self.access.in_flight.idle())
            .await
            .is_err()
        {
            tracing::warn!("calls still running after {DRAIN_TIMEOUT:?}; closing anyway");
        }
        self.sessions.cancel();
    }
}

/// RFC 9728 protected resource metadata: the resource, that tokens go in
/// the `Authorization` header, and the roles a token may carry. No
/// authorization server is named: tokens come from the operator. The field
/// is left out rather than empty (RFC 9728 makes it optional; MCP asks that
/// a list given name at least one, red team).
async fn metadata<S: HttpTokenStore + Backend>(
    State(access): State<Arc<Access<S>>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if access.tls { "https" } else { "http" };
    let body = serde_json::json!({
        "resource": format!("{scheme}://{host}{MCP_PATH}"),
        "resource_name": "mcp-bridge",
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["agent", "operator", "observer"],
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Largest request head (request line and headers) accepted, in bytes.
/// hyper's connection buffer is capped at it (its default would buffer ~400
/// KiB per connection), but that cap is loose — one read may carry a head
/// past it, up to about twice — so [`body::head_too_large`] refuses a longer
/// head with `431` exactly.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Speaks HTTP/1.1 only, closes a connection whose request headers have
/// not all arrived within `timeout` (a slow-headers attack holds nothing for
/// long) — a new connection that sends nothing at all, or an idle keep-alive
/// connection waiting for its next request, included — and bounds the size
/// of a request head.
///
/// Why not HTTP/2 too: hyper's automatic protocol detection first waits for
/// a connection's opening bytes with no deadline (a client that connects
/// and sends nothing was held forever), and an HTTP/2 connection has none of
/// these bounds (no header deadline, no idle close). MCP clients speak
/// HTTP/1.1 (the TypeScript and Python SDKs always; others fall back to it
/// through TLS's ALPN, see [`http1_alpn`]), and one request per connection
/// is how the streamable HTTP transport is used anyway.
pub(crate) fn http1_only<A: axum_server::accept::Accept<tokio::net::TcpStream, Router>>(
    server: axum_server::Server<SocketAddr, A>,
    timeout: Duration,
) -> axum_server::Server<SocketAddr, A> {
    let mut server = server
        .http1_only()
        .accept_error_handler(descriptors::accept_failed());
    server
        .http_builder()
        .http1()
        .header_read_timeout(Some(timeout))
        .max_buf_size(MAX_HEAD_BYTES);
    server
}

/// `config` offering HTTP/1.1 alone through ALPN (axum-server offers `h2`
/// too): a client that prefers HTTP/2 then speaks HTTP/1.1 to
/// [`http1_only`] rather than failing.
pub(crate) fn http1_alpn(
    config: &tokio_rustls::rustls::ServerConfig,
) -> Arc<tokio_rustls::rustls::ServerConfig> {
    let mut config = config.clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// The certificate chain and key of `files`, for HTTP/1.1.
async fn load_tls(files: &TlsFiles) -> std::io::Result<Arc<tokio_rustls::rustls::ServerConfig>> {
    let loaded =
        axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key).await?;
    Ok(http1_alpn(&loaded.get_inner()))
}

/// Serves `router` (from [`Serving::router`]) on `options.addr` until
/// `shutdown` resolves, then drains. Prints the URL it serves on to stderr.
///
/// # Errors
/// When the address cannot be bound or the TLS files cannot be read.
pub async fn serve<S: HttpTokenStore + Backend>(
    serving: Serving<S>,
    router: Router,
    options: &HttpOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let files = descriptors::raise_open_file_limit();
    tracing::debug!(?files, "open files allowed");
    let listener = std::net::TcpListener::bind(options.addr)
        .with_context(|| format!("cannot listen on {}", options.addr))?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let handle = axum_server::Handle::new();
    // With the peer address, so the mounted console can throttle failed
    // sign-ins per client as the standalone one does.
    let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let server = match &options.tls {
        Some(files) => {
            let tls = load_tls(files)
                .await
                .map(axum_server::tls_rustls::RustlsConfig::from_config)
                .with_context(|| {
                    format!(
                        "cannot use the TLS certificate {} with key {}",
                        files.cert.display(),
                        files.key.display()
                    )
                })?;
            watch_hangups(Some((tls.clone(), files.clone())))?;
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls)
                .acceptor(axum_server::accept::NoDelayAcceptor::new());
            let server = axum_server::from_tcp(listener)?
                .acceptor(acceptor)
                .handle(handle.clone());
            let server = http1_only(server, options.settings.read_timeout);
            tokio::spawn(async move { server.serve(app).await })
        }
        None => {
            watch_hangups(None)?;
            // No Nagle: a response's last small write (an SSE event, the end
            // of a chunked body) must not wait for the client's delayed ACK.
            let server = axum_server::from_tcp(listener)?
                .acceptor(axum_server::accept::NoDelayAcceptor::new())
                .handle(handle.clone());
            let server = http1_only(server, options.settings.read_timeout);
            tokio::spawn(async move { server.serve(app).await })
        }
    };
    if !options.no_auth {
        tokio::spawn(revoke::sweep_loop(
            Arc::downgrade(&serving.access),
            Arc::downgrade(&serving.manager),
        ));
    }
    if let Some(limit) = &serving.access.requests {
        tokio::spawn(request_limit::sync_loop(
            Arc::downgrade(limit),
            Arc::clone(&serving.access.bridge),
        ));
    }
    // The one line scripts and tests read to learn the port (e.g. with :0).
    eprintln!("mcp-bridge: serving MCP on {scheme}://{bound}{MCP_PATH}");
    tracing::info!(address = %bound, tls = options.tls.is_some(), "serving MCP over HTTP");
    tokio::pin!(server);
    tokio::select! {
        () = shutdown => {
            tracing::info!("shutting down: finishing calls in flight");
            serving.drain().await;
            handle.graceful_shutdown(Some(Duration::from_secs(5)));
            (&mut server).await.context("the HTTP server task failed")??;
            if let Some(limit) = &serving.access.requests {
                // The last second's requests still count on the other servers.
                limit.sync(&serving.access.bridge).await;
            }
        }
        ended = &mut server => {
            ended.context("the HTTP server task failed")??;
        }
    }
    Ok(())
}

/// Watches SIGHUP for the life of the process (call it before the server
/// says it is ready: SIGHUP's default action would end the process, without
/// a drain). Each one reloads `tls`'s certificate and key from their files;
/// a failed reload keeps the previous pair and says why. Without TLS there
/// is nothing to reload, and the server says so and goes on. Used by
/// `serve --http` and by the standalone console alike (a certificate
/// renewal hook signals every process).
///
/// # Errors
/// When the signal cannot be watched.
pub fn watch_hangups(
    tls: Option<(axum_server::tls_rustls::RustlsConfig, TlsFiles)>,
) -> anyhow::Result<()> {
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot watch SIGHUP")?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let Some((tls, files)) = &tls else {
                tracing::info!("SIGHUP: no TLS certificate to reload; still serving");
                continue;
            };
            match load_tls(files).await.map(|c| tls.reload_from_config(c)) {
                Ok(()) => {
                    tracing::info!(cert = %files.cert.display(), "reloaded the TLS certificate");
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot reload the TLS certificate; keeping the previous one");
                }
            }
        }
    });
    Ok(())
}
