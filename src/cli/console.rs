//! `mcp-bridge console`: serve the web console, and manage its sign-in
//! tokens (`console token create|list|revoke`). The token is printed once,
//! to stdout only; the database keeps its SHA-256.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use super::DbArgs;
use super::manage::open_app;
use super::output::line;
use crate::console::{ConsoleOptions, app_router, server};
use crate::service::ServiceError;
use crate::store::sqlite::OpenMode;
use crate::store::{ConsoleRole, Store};

/// Arguments of `console`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ConsoleArgs {
    #[command(subcommand)]
    command: Option<ConsoleCommand>,
    /// Address to listen on. A non-loopback address needs --tls-cert/--tls-key (or --insecure-http).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8766")]
    listen: SocketAddr,
    /// TLS certificate chain (PEM); serves HTTPS, and cookies get `Secure`.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address (tokens and cookies then cross the network in clear).
    #[arg(long)]
    insecure_http: bool,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Debug, Subcommand)]
enum ConsoleCommand {
    /// Manage the console's sign-in tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

/// What a token may do.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Role {
    /// See everything; confirm activations, approve and deny commands.
    Admin,
    /// See everything; act on nothing.
    Observer,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print it once.
    #[command(
        after_help = "Examples:\n  mcp-bridge console token create alice --role admin\n  mcp-bridge console token create dashboards --role observer"
    )]
    Create {
        /// A unique name (letters, digits, '.', '_', '-'), recorded in the audit trail.
        name: String,
        /// What it may do.
        #[arg(long, value_enum)]
        role: Role,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List tokens (names, roles, dates; never the tokens).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a token; its sessions end with their next request.
    Revoke {
        /// The token's name.
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Runs `console` or one of its subcommands.
///
/// # Errors
/// Configuration, database or listening problems.
pub fn run(args: ConsoleArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(ConsoleCommand::Token(t)) => token(t),
        None => serve(args),
    }
}

fn token(command: TokenCommand) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async move {
        let mut out = std::io::stdout().lock();
        match command {
            TokenCommand::Create { name, role, json, db } => {
                let app = open_app(&db, OpenMode::Create)?;
                let role = match role {
                    Role::Admin => ConsoleRole::Admin,
                    Role::Observer => ConsoleRole::Observer,
                };
                let (t, secret) = match app.bridge.console_token_create(&name, role).await {
                    Ok(v) => v,
                    Err(ServiceError::Conflict(m)) => return Ok(refusal(&m)),
                    Err(e) => return Err(e.into()),
                };
                if json {
                    writeln!(out, "{}", json!({"name": t.name, "role": t.role.as_str(), "token": secret}))?;
                } else {
                    writeln!(out, "Console token {} ({}), shown only now:", line(&t.name), t.role.as_str())?;
                    writeln!(out, "{secret}")?;
                    writeln!(out, "Sign in at the console with it, or send it as `Authorization: Bearer <token>` to /api/*.")?;
                }
                app.bridge.store().flush().await?;
            }
            TokenCommand::List { json, db } => {
                let app = open_app(&db, OpenMode::Existing)?;
                let tokens = app.bridge.console_token_list().await?;
                if json {
                    let list: Vec<_> = tokens
                        .iter()
                        .map(|t| json!({
                            "name": t.name, "role": t.role.as_str(),
                            "created_at": t.created_at.to_rfc3339(),
                            "revoked_at": t.revoked_at.map(|x| x.to_rfc3339()),
                            "last_used_at": t.last_used_at.map(|x| x.to_rfc3339()),
                        }))
                        .collect();
                    writeln!(out, "{}", json!({ "tokens": list }))?;
                } else if tokens.is_empty() {
                    writeln!(out, "No console tokens. Create one: mcp-bridge console token create NAME --role admin")?;
                } else {
                    for t in &tokens {
                        let state = t.revoked_at.map_or_else(|| "active".to_owned(), |r| format!("revoked {r}"));
                        let used = t.last_used_at.map_or_else(|| "never used".to_owned(), |u| format!("last used {u}"));
                        writeln!(out, "{:<24} {:<8} created {}  {state}  {used}", line(&t.name).to_string(), t.role.as_str(), t.created_at)?;
                    }
                }
            }
            TokenCommand::Revoke { name, db } => {
                let app = open_app(&db, OpenMode::Existing)?;
                match app.bridge.console_token_revoke(&name).await {
                    Ok(()) => {}
                    Err(ServiceError::NotFound(m)) => return Ok(refusal(&m)),
                    Err(e) => return Err(e.into()),
                }
                writeln!(out, "Console token {} revoked; its sessions end with their next request.", line(&name))?;
                app.bridge.store().flush().await?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Prints a refusal and gives its exit code (1).
fn refusal(message: &str) -> ExitCode {
    super::output::error_line(message);
    ExitCode::from(1)
}

fn serve(args: ConsoleArgs) -> anyhow::Result<ExitCode> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some((
            server::tls_config(cert, key)?,
            crate::transport::http::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            },
        )),
        _ => None,
    };
    if !args.listen.ip().is_loopback() && tls.is_none() && !args.insecure_http {
        anyhow::bail!(
            "refusing to serve the console on {} without TLS: sign-in tokens and session cookies would cross the network in clear. Give --tls-cert and --tls-key, listen on 127.0.0.1, or (on a network you trust) add --insecure-http",
            args.listen
        );
    }
    let mut config = args.db.config.load()?;
    if let Some(key) = &args.tls_key {
        config.keep_from_commands(key);
    }
    super::init_logging(&config.log_level);
    let db_path = args.db.db_path(None)?;
    let runtime = super::runtime()?;
    runtime.block_on(async move {
        let app = crate::app::App::open(&db_path, config, OpenMode::Create)?;
        app.start_serving().await?;
        let options = ConsoleOptions {
            base: String::new(),
            tls: tls.is_some(),
        };
        let router = app_router(&app, options);
        let tcp = std::net::TcpListener::bind(args.listen)
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let local = tcp.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let read_timeout = app.config.http.read_timeout;
        // Armed before the console says it is listening, as SIGHUP is.
        let shutdown = crate::transport::shutdown::armed();
        server::serve(tcp, tls, router, read_timeout, shutdown, || {
            // Tests and humans read this line to find the console.
            println!("Console: {scheme}://{local}/");
            std::io::stdout().flush()?;
            tracing::info!(address = %local, "console listening");
            Ok(())
        })
        .await?;
        app.bridge.store().flush().await?;
        Ok(ExitCode::SUCCESS)
    })
}
