//! `mcp-bridge serve --http`: the flags of the HTTP transport and the run.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::app::App;
use crate::config::Config;
use crate::console::ConsoleOptions;
use crate::store::sqlite::OpenMode;
use crate::store::{HttpTokenStore, Store};
use crate::transport;
use crate::transport::http::{DEFAULT_ADDR, HttpOptions, Serving, TlsFiles};

/// Where `serve --http --console` mounts the web console.
const CONSOLE_PATH: &str = "/console";

/// Flags of `serve` for the HTTP transport.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Serve streamable HTTP on ADDR (default 127.0.0.1:8765) at /mcp instead of stdio.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_ADDR)]
    http: Option<SocketAddr>,
    /// TLS certificate chain (PEM); reloaded with the key on SIGHUP.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Allow plain HTTP on an address that is not loopback (tokens travel in clear text).
    #[arg(long)]
    insecure_http: bool,
    /// No bearer token check (only on a loopback address).
    #[arg(long)]
    no_auth: bool,
    /// Also allow requests from this browser Origin (repeatable), e.g. https://app.example.com.
    #[arg(long, value_name = "ORIGIN")]
    allow_origin: Vec<String>,
    /// Also answer to this Host name or host:port (repeatable), e.g. bridge.example.com.
    #[arg(long, value_name = "HOST")]
    allow_host: Vec<String>,
    /// Also serve the web console under /console (signed in with console tokens).
    #[arg(long)]
    console: bool,
}

impl HttpArgs {
    /// The HTTP options, or `None` to serve stdio.
    ///
    /// # Errors
    /// HTTP-only flags given without `--http`.
    pub fn options(&self, config: &Config) -> anyhow::Result<Option<HttpOptions>> {
        let Some(addr) = self.http else {
            let http_only = self.tls_cert.is_some()
                || self.insecure_http
                || self.no_auth
                || !self.allow_origin.is_empty()
                || !self.allow_host.is_empty()
                || self.console;
            if http_only {
                anyhow::bail!(
                    "--tls-cert, --tls-key, --insecure-http, --no-auth, --allow-origin, --allow-host and --console need --http"
                );
            }
            return Ok(None);
        };
        let mut settings = config.http.clone();
        settings
            .allowed_origins
            .extend(self.allow_origin.iter().cloned());
        settings
            .allowed_hosts
            .extend(self.allow_host.iter().cloned());
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        };
        Ok(Some(HttpOptions {
            console: self.console,
            addr,
            tls,
            insecure_http: self.insecure_http,
            no_auth: self.no_auth,
            settings,
        }))
    }
}

/// Serves HTTP until SIGINT or SIGTERM, then drains (see `transport::http`).
///
/// # Errors
/// Start-up problems: database, refused flag combinations, address, TLS files.
pub fn run(db_path: &Path, mut config: Config, options: HttpOptions) -> anyhow::Result<ExitCode> {
    // One process serves every client here: the per-process long-poll bound
    // of stdio would cap the whole fleet.
    config.bridge.limits.max_long_polls = options.settings.max_long_polls;
    if let Some(tls) = &options.tls {
        config.keep_from_commands(&tls.key);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let app = App::open(db_path, config, OpenMode::Create)?;
        app.start_serving().await?;
        let named = app
            .bridge
            .store()
            .http_tokens()
            .await
            .context("cannot read the HTTP tokens")?
            .iter()
            .filter(|t| t.revoked_at.is_none())
            .count();
        options.check(named)?;
        if let Some(token) = &options.settings.token {
            super::logging::never_log(token);
        }
        tracing::info!(db = %app.db_name, "serving MCP over HTTP");
        let serving = Serving::new(std::sync::Arc::clone(&app.bridge), &options);
        let mut router = serving.router();
        if options.console {
            // The console signs its users in itself (console tokens, not
            // bearer tokens); the Host and Origin checks still apply.
            let console = crate::console::app_router(
                &app,
                ConsoleOptions {
                    base: CONSOLE_PATH.to_owned(),
                    tls: options.tls.is_some(),
                },
            );
            let console = transport::http::bounded_bodies(console, options.settings.read_timeout);
            // The redirect answers only requests that pass the same Host and
            // Origin checks: a hostile Host gets its 403, not a 308.
            let slash = axum::Router::new().route(
                &format!("{CONSOLE_PATH}/"),
                axum::routing::get(|| async { axum::response::Redirect::permanent(CONSOLE_PATH) }),
            );
            // Whatever answers under /console (the redirect, a Host or
            // Origin refusal, a body limit) carries the console's headers.
            router = router
                .nest(
                    CONSOLE_PATH,
                    crate::console::secured(serving.protect(console)),
                )
                .merge(crate::console::secured(serving.protect(slash)));
        }
        let shutdown = transport::shutdown::armed();
        transport::http::serve(serving, router, &options, shutdown).await?;
        super::bounded_last_writes(async {
            if let Err(e) = app.bridge.store().flush().await {
                tracing::warn!(error = %crate::store::error_chain(&e), "cannot append the last audit records");
            }
        })
        .await;
        anyhow::Ok(())
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result.map(|()| ExitCode::SUCCESS)
}
