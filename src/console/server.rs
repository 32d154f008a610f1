//! Serving the console: plain HTTP on loopback, or HTTPS with rustls, on
//! the same server as `serve --http` (axum-server: each connection, its TLS
//! handshake included, in a task of its own, so a slow client does not hold
//! up the others). Handlers learn each client's address.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::transport::http::{TlsFiles, bounded_bodies, http1_alpn, http1_only, watch_hangups};

/// Loads a certificate chain and private key (PEM files) into a server config.
///
/// # Errors
/// Unreadable or invalid files, named in the message.
pub fn tls_config(cert: &Path, key: &Path) -> anyhow::Result<ServerConfig> {
    let certs = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read the certificate {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate chain", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read a PEM private key from {}", key.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup failed")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate and the key do not fit together")
}

/// How long requests in flight may finish after a shutdown signal. Event
/// streams never finish by themselves, so the console stops after this
/// even with a browser still watching.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Serves `router` on `tcp` (with TLS when `tls` is given, reloaded from its
/// files on SIGHUP) until `shutdown`, then gives requests in flight
/// [`SHUTDOWN_GRACE`] to finish. Slow clients
/// are cut off as on `/mcp`: headers and then bodies must arrive within
/// `read_timeout`, a TLS handshake within 10 s. On a loopback address only
/// loopback host names are answered (no DNS rebinding). `ready` runs once
/// SIGHUP is handled, so a hangup right after the console says it is
/// listening cannot end it.
///
/// # Errors
/// When serving fails, or `ready` does.
pub async fn serve(
    tcp: std::net::TcpListener,
    tls: Option<(ServerConfig, TlsFiles)>,
    router: Router,
    read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    tcp.set_nonblocking(true)?;
    let router = if tcp.local_addr()?.ip().is_loopback() {
        router.layer(axum::middleware::from_fn(super::guard::loopback_hosts_only))
    } else {
        router
    };
    let files = crate::transport::http::descriptors::raise_open_file_limit();
    tracing::debug!(?files, "open files allowed");
    let handle = axum_server::Handle::new();
    let stopping = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopping.graceful_shutdown(Some(SHUTDOWN_GRACE));
    });
    // The client's address reaches the handlers (sign-in throttling). The
    // security headers go on last, so the loopback guard's and the body
    // limit's refusals carry them too.
    let app = super::secured(bounded_bodies(router, read_timeout))
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = match tls {
        Some((config, files)) => {
            let config = RustlsConfig::from_config(http1_alpn(&config));
            watch_hangups(Some((config.clone(), files)))?;
            ready()?;
            let acceptor = RustlsAcceptor::new(config).acceptor(NoDelayAcceptor::new());
            let server = axum_server::from_tcp(tcp)?
                .acceptor(acceptor)
                .handle(handle);
            http1_only(server, read_timeout).serve(app).await
        }
        None => {
            watch_hangups(None)?;
            ready()?;
            let server = axum_server::from_tcp(tcp)?
                .acceptor(NoDelayAcceptor::new())
                .handle(handle);
            http1_only(server, read_timeout).serve(app).await
        }
    };
    served.context("the console stopped")
}
