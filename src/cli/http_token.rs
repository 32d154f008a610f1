//! `mcp-bridge http-token`: named bearer tokens for `serve --http`.
//! A token is printed once, when made; the database keeps only its hash.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use super::manage::{CommonArgs, open_app, settled};
use super::output;
use crate::service::ServiceError;
use crate::store::HttpRole;
use crate::store::sqlite::OpenMode;

/// Arguments of `http-token`.
#[derive(Debug, Args)]
pub struct HttpTokenArgs {
    #[command(subcommand)]
    command: HttpTokenCommand,
}

#[derive(Debug, Subcommand)]
enum HttpTokenCommand {
    /// Make a token and print it once (only its hash is stored).
    Create {
        /// A name for it, e.g. the agent or host that will use it.
        name: String,
        /// What it may do: agent or operator (the MCP tools; operator names a human's own client), observer (nothing on /mcp yet). The web console has tokens of its own.
        #[arg(long, value_enum, default_value = "agent")]
        role: RoleArg,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// List the tokens (names, roles, dates; never the tokens).
    List {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Revoke a token: requests carrying it are refused from the next second on.
    Revoke {
        /// The token's name.
        name: String,
        #[command(flatten)]
        common: CommonArgs,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Agent,
    Operator,
    Observer,
}

impl From<RoleArg> for HttpRole {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Agent => HttpRole::Agent,
            RoleArg::Operator => HttpRole::Operator,
            RoleArg::Observer => HttpRole::Observer,
        }
    }
}

/// Runs an `http-token` subcommand.
///
/// # Errors
/// Database problems (exit 2); a refused name or unknown token exits 1.
pub fn run(args: HttpTokenArgs) -> anyhow::Result<ExitCode> {
    let runtime = super::runtime()?;
    let mut out = std::io::stdout().lock();
    match args.command {
        HttpTokenCommand::Create { name, role, common } => {
            let app = open_app(&common.db, OpenMode::Create)?;
            let role = HttpRole::from(role);
            let created = refusal(runtime.block_on(app.bridge.create_http_token(&name, role)))?;
            let token = match created {
                Ok(token) => token,
                Err(code) => return Ok(code),
            };
            if common.json {
                output::write_json(
                    &mut out,
                    &json!({"name": name, "role": role.as_str(), "token": token}),
                )?;
            } else {
                eprintln!(
                    "Made HTTP token {name:?} ({}). It is shown only now; keep it secret.",
                    role.as_str()
                );
                writeln!(out, "{token}")?;
            }
        }
        HttpTokenCommand::List { common } => {
            let app = open_app(&common.db, OpenMode::Existing)?;
            let tokens = settled!(runtime.block_on(app.bridge.http_tokens()));
            if common.json {
                let list: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        json!({
                            "name": t.name,
                            "role": t.role.as_str(),
                            "created_at": t.created_at.to_rfc3339(),
                            "revoked_at": t.revoked_at.map(|r| r.to_rfc3339()),
                        })
                    })
                    .collect();
                output::write_json(&mut out, &json!({ "tokens": list }))?;
            } else if tokens.is_empty() {
                writeln!(out, "no HTTP tokens")?;
            } else {
                writeln!(
                    out,
                    "{:<24} {:<9} {:<28} REVOKED",
                    "NAME", "ROLE", "CREATED"
                )?;
                for t in &tokens {
                    writeln!(
                        out,
                        "{:<24} {:<9} {:<28} {}",
                        t.name,
                        t.role.as_str(),
                        t.created_at.to_rfc3339(),
                        t.revoked_at
                            .map_or_else(|| "-".to_owned(), |r| r.to_rfc3339())
                    )?;
                }
            }
        }
        HttpTokenCommand::Revoke { name, common } => {
            let app = open_app(&common.db, OpenMode::Existing)?;
            if let Err(code) = refusal(runtime.block_on(app.bridge.revoke_http_token(&name)))? {
                return Ok(code);
            }
            if common.json {
                output::write_json(&mut out, &json!({"revoked": name}))?;
            } else {
                writeln!(out, "revoked HTTP token {name:?}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A name already in use and a token that is not there are refusals
/// (exit 1, audited as denied), as other commands' are; other errors exit 2.
fn refusal<T>(result: Result<T, ServiceError>) -> anyhow::Result<Result<T, ExitCode>> {
    super::manage::settle_refusing(result, |e| {
        matches!(e, ServiceError::Conflict(_) | ServiceError::NotFound(_))
    })
}
