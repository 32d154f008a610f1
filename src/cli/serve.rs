//! `mcp-bridge serve`: the MCP server on stdio, or with `--http` on
//! streamable HTTP for many clients at once.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::DbArgs;
use std::sync::Arc;

use crate::app::App;
use crate::service::{ClientProcess, Session};
use crate::store::Store as _;
use crate::store::sqlite::OpenMode;
use crate::transport;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Database file, as an alternative to --db (as in `mcp-bridge serve /path/bridge.db`).
    #[arg(value_name = "PATH")]
    path: Option<PathBuf>,
    #[command(flatten)]
    http: super::serve_http::HttpArgs,
}

impl ServeArgs {
    /// Checks what `serve` checks before it opens anything (the settings, the
    /// database path, the HTTP flags), in the environment `env`: whether a
    /// client's entry with these arguments and its own `env` would start.
    /// [`run`] does the same steps in this process's environment.
    ///
    /// # Errors
    /// The error `serve` would stop with.
    pub(crate) fn check_start(self, env: &[(String, String)]) -> anyhow::Result<()> {
        let config = self.db.config.load_in(env)?;
        self.db.db_path_in(self.path, env)?;
        self.http.options(&config)?;
        Ok(())
    }
}

/// Runs the server until the client disconnects or the process is signalled.
///
/// # Errors
/// Configuration, database or key-file problems at start-up.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = args.db.config.load()?;
    super::init_logging(&config.log_level);
    let db_path = args.db.db_path(args.path)?;
    if let Some(options) = args.http.options(&config)? {
        return super::serve_http::run(&db_path, config, options);
    }
    let runtime = super::runtime()?;
    let result = runtime.block_on(async {
        let app = App::open(&db_path, config, OpenMode::Create)?;
        app.start_serving().await?;
        tracing::info!(db = %app.db_name, "serving MCP on stdio");
        // On stdio the client is the parent process (above any launcher such
        // as `uvx`); `mcp-bridge inbox`, run by the same client's hooks,
        // finds this session's conversations through it.
        let session = match (crate::process::client(), crate::process::current()) {
            (Some(client), Some(server)) => Session::for_process(ClientProcess { client, server }),
            _ => Session::new(),
        };
        let session = Arc::new(session);
        let server = app.mcp_server().with_session(Arc::clone(&session));
        let served = transport::stdio::serve(server, transport::shutdown::armed()).await;
        let last = async {
            if let Err(e) = app.bridge.unbind_process(&session).await {
                tracing::warn!(error = %crate::store::error_chain(&e), "cannot forget this server's session bindings");
            }
            // Spooled audit records (and a flush already under way) are appended
            // before the runtime shuts down and cancels what is still running.
            if let Err(e) = app.bridge.store().flush().await {
                tracing::warn!(error = %crate::store::error_chain(&e), "cannot append the last audit records");
            }
        };
        super::bounded_last_writes(last).await;
        served
    });
    // Blocking reads of a non-pipe stdin cannot be cancelled; do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    result.map(|()| ExitCode::SUCCESS)
}
