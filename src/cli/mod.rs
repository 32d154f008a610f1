//! The `mcp-bridge` command line: argument definitions and dispatch only.
//! Each subcommand lives in its own module and calls the service layer.

mod backup;
mod backup_check;
mod backup_export;
mod console;
mod demo;
mod doctor;
mod end;
mod http_token;
mod inbox;
pub(crate) mod input;
mod inspect;
mod keys;
mod logging;
mod manage;
mod output;
mod redact;
mod screen;
mod serve;
mod serve_http;
mod setup;
mod show;
mod terminal;
mod transfer;
mod yolo;
mod yolo_status;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config};

/// Multi-agent coordination over MCP: authenticated, redacted, rate-limited, audited messages.
#[derive(Debug, Parser)]
#[command(name = "mcp-bridge", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the MCP server on stdio (what an MCP client launches), or on HTTP with --http.
    #[command(after_help = "Example:\n  mcp-bridge serve --db ~/.local/share/mcp-bridge/bridge.db")]
    Serve(serve::ServeArgs),
    /// Watch two agents talk through two server processes on a temporary database.
    #[command(after_help = "Example:\n  mcp-bridge demo")]
    Demo(demo::DemoArgs),
    /// List every conversation: roles, times, message counts, each side's status.
    #[command(
        after_help = "Examples:\n  mcp-bridge list\n  mcp-bridge list --active --json | jq '.conversations[].id'"
    )]
    List(inspect::ListArgs),
    /// Show a conversation's header and its messages in order.
    #[command(
        after_help = "Examples:\n  mcp-bridge show conv_0123456789abcdef\n  mcp-bridge show conv_0123456789abcdef --full\n  mcp-bridge show conv_0123456789abcdef --json"
    )]
    Show(show::ShowArgs),
    /// Re-derive a conversation's session tokens from the key file (secrets!).
    #[command(
        after_help = "Examples:\n  mcp-bridge tokens conv_0123456789abcdef\n  mcp-bridge tokens conv_0123456789abcdef --json | jq -r .session_b_token"
    )]
    Tokens(inspect::TokensArgs),
    /// Show the audit trail (newest last), or verify its hash chain.
    #[command(
        after_help = "Examples:\n  mcp-bridge audit\n  mcp-bridge audit conv_0123456789abcdef 100\n  mcp-bridge audit --since 2h --action send_to_partner\n  mcp-bridge audit --verify"
    )]
    Audit(manage::AuditArgs),
    /// End a live conversation now: its tokens and invites stop working; cleanup then removes it.
    #[command(
        after_help = "Examples:\n  mcp-bridge end conv_0123456789abcdef\n  mcp-bridge end conv_0123456789abcdef && mcp-bridge cleanup"
    )]
    End(end::EndArgs),
    /// Delete expired conversations with their messages; the audit trail stays.
    #[command(after_help = "Examples:\n  mcp-bridge cleanup --dry-run\n  mcp-bridge cleanup")]
    Cleanup(manage::CleanupArgs),
    /// Export conversations, messages and statuses (never tokens or the key) as versioned JSON.
    #[command(
        after_help = "Examples:\n  mcp-bridge export -o bridge-export.json\n  mcp-bridge export conv_0123456789abcdef --jsonl > conv.jsonl"
    )]
    Export(transfer::ExportArgs),
    /// Import an export file; importing the same file twice changes nothing.
    #[command(
        after_help = "Examples:\n  mcp-bridge import bridge-export.json\n  mcp-bridge import --db /srv/new/bridge.db bridge-export.json"
    )]
    Import(transfer::ImportArgs),
    /// Copy the live database (online backup API) and its key to FILE and FILE.key.
    #[command(after_help = "Example:\n  mcp-bridge backup ~/backups/bridge-2026-01-31.db")]
    Backup(backup::BackupArgs),
    /// Replace the database with a backup (checked first) and put its key back.
    #[command(
        after_help = "Examples:\n  mcp-bridge restore ~/backups/bridge-2026-01-31.db\n  mcp-bridge restore ~/backups/bridge-2026-01-31.db --force   # servers still running"
    )]
    Restore(backup::RestoreArgs),
    /// For client hooks: unread messages of the agent session this runs under (marks nothing read).
    #[command(
        after_help = "Examples:\n  mcp-bridge inbox                 # text; nothing when nothing is unread\n  mcp-bridge inbox --hook claude   # in a Claude Code UserPromptSubmit/PostToolUse/Stop hook\n  mcp-bridge inbox --hook gemini   # in a Gemini CLI BeforeAgent/AfterTool/AfterAgent hook"
    )]
    Inbox(inbox::InboxArgs),
    /// Redact secrets from stdin to stdout with the server's engine.
    #[command(
        after_help = "Examples:\n  mcp-bridge redact < notes.txt\n  mcp-bridge redact --jsonl < cases.jsonl\n  mcp-bridge redact --list"
    )]
    Redact(redact::RedactArgs),
    /// The human stages of command execution: confirm, approve, deny, revoke, status, restore.
    Yolo(yolo::YoloArgs),
    /// The web console for the humans overseeing the agents, and its sign-in tokens.
    #[command(
        after_help = "Examples:\n  mcp-bridge console token create alice --role admin\n  mcp-bridge console                      # http://127.0.0.1:8766/\n  mcp-bridge console --listen 0.0.0.0:8766 --tls-cert cert.pem --tls-key key.pem"
    )]
    Console(console::ConsoleArgs),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Register this bridge in Claude Code, Codex or Gemini CLI (their own config files).
    #[command(
        after_help = "Examples:\n  mcp-bridge setup claude-code\n  mcp-bridge setup codex --scope project --dry-run\n  mcp-bridge setup gemini --db ~/shared/bridge.db\n  mcp-bridge setup --print codex"
    )]
    Setup(setup::SetupArgs),
    /// Encryption at rest: rotate the data key online, or show how values are sealed.
    Key(keys::KeyArgs),
    /// Named bearer tokens for `serve --http`: create (printed once), list, revoke.
    #[command(
        after_help = "Examples:\n  mcp-bridge http-token create laptop-claude --role agent\n  mcp-bridge http-token list\n  mcp-bridge http-token revoke laptop-claude"
    )]
    HttpToken(http_token::HttpTokenArgs),
    /// Check the database, key, permissions, config, sandbox and which clients use this bridge.
    #[command(after_help = "Example:\n  mcp-bridge doctor")]
    Doctor(doctor::DoctorArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the annotated example configuration file.
    #[command(
        after_help = "Example:\n  mcp-bridge config example > ~/.config/mcp-bridge/config.toml"
    )]
    Example,
}

/// Where the configuration comes from.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// Configuration file (default: $MCP_BRIDGE_CONFIG, else ~/.config/mcp-bridge/config.toml if present).
    #[arg(long, value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,
}

impl ConfigArgs {
    /// Loads the configuration from the chosen file and the environment.
    ///
    /// # Errors
    /// When the file is unreadable or a setting is invalid.
    pub fn load(&self) -> anyhow::Result<Config> {
        Ok(Config::load(self.file().as_deref(), std::env::vars())?)
    }

    /// [`ConfigArgs::load`] in the environment `env` rather than this
    /// process's: what a client's server entry, with its own `env`, would load.
    ///
    /// # Errors
    /// As [`ConfigArgs::load`].
    pub fn load_in(&self, env: &[(String, String)]) -> anyhow::Result<Config> {
        let file = self.file_with(|name| lookup(env, name));
        Ok(Config::load(file.as_deref(), env.iter().cloned())?)
    }

    /// The file [`ConfigArgs::load`] reads: `--config`, else `$MCP_BRIDGE_CONFIG`,
    /// else the default file if it exists.
    pub fn file(&self) -> Option<PathBuf> {
        self.file_with(|name| std::env::var_os(name))
    }

    fn file_with(&self, var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
        self.config
            .clone()
            .or_else(|| var("MCP_BRIDGE_CONFIG").map(PathBuf::from))
            .or_else(config::default_path)
    }
}

/// The value of `name` in `env`, as `std::env::var_os` would give it.
fn lookup(env: &[(String, String)], name: &str) -> Option<OsString> {
    env.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| OsString::from(v))
}

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Database file, or a postgres:// URL (default: $MCP_BRIDGE_DB, else ~/.local/share/mcp-bridge/bridge.db).
    #[arg(long, value_name = "PATH", global = true)]
    pub db: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

impl DbArgs {
    /// The database path, resolved (see [`crate::app::resolve_db_path`]):
    /// `--db`, else `positional`, else `$MCP_BRIDGE_DB`, else the default.
    ///
    /// # Errors
    /// When `--db` and a positional path are both given, or the path cannot be resolved.
    pub fn db_path(&self, positional: Option<PathBuf>) -> anyhow::Result<PathBuf> {
        self.db_path_with(positional, |name| std::env::var_os(name))
    }

    /// [`DbArgs::db_path`] in the environment `env` rather than this process's.
    ///
    /// # Errors
    /// As [`DbArgs::db_path`].
    pub fn db_path_in(
        &self,
        positional: Option<PathBuf>,
        env: &[(String, String)],
    ) -> anyhow::Result<PathBuf> {
        self.db_path_with(positional, |name| lookup(env, name))
    }

    fn db_path_with(
        &self,
        positional: Option<PathBuf>,
        var: impl Fn(&str) -> Option<OsString>,
    ) -> anyhow::Result<PathBuf> {
        if self.db.is_some() && positional.is_some() {
            anyhow::bail!(
                "give the database either as --db PATH or as a positional PATH, not both"
            );
        }
        crate::app::resolve_db_path(
            &self
                .db
                .clone()
                .or(positional)
                .or_else(|| {
                    var("MCP_BRIDGE_DB")
                        .filter(|v| !v.is_empty())
                        .map(PathBuf::from)
                })
                .unwrap_or_else(config::default_db_path),
        )
    }
}

/// Starts logging to stderr at `level` (see [`logging`]).
pub fn init_logging(level: &str) {
    logging::init(level);
}

/// Reports a panic by its location only: a panic's message could carry a
/// value from a request (a token, message text), and nothing secret may reach
/// stderr. No backtrace either; the location is enough to file a bug.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        // `println!` panics when stdout is gone: a reader that stopped
        // (`| head`) or a full disk. Not a bug, and what the command did is
        // done; the message holds only the OS error.
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        if let Some(m) = message.filter(|m| m.starts_with("failed printing to std")) {
            if m.contains("Broken pipe") {
                // Quietly, as the management commands end on a closed pipe.
                std::process::exit(0);
            }
            eprintln!("mcp-bridge: {m}");
            std::process::exit(1);
        }
        let location = info.location().map_or_else(
            || "unknown location".to_owned(),
            |l| format!("{}:{}", l.file(), l.line()),
        );
        eprintln!("mcp-bridge: internal error at {location}; please report it");
    }));
}

/// Parses the command line, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            output::error_line(&describe(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, as `{e:#}` writes them, except
/// that a service's internal error does not point to "the server log": a
/// CLI command has none, and the cause that follows it is the detail. A
/// cause whose words are already there is left out: a storage error quotes
/// its driver's error, which is also its source ("db error: db error").
fn describe(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let said = match cause.downcast_ref::<crate::service::ServiceError>() {
            Some(crate::service::ServiceError::Internal(_)) => "internal error".to_owned(),
            _ => cause.to_string(),
        };
        if text.contains(&said) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&said);
    }
    text
}

/// Prints clap's answer to a command line it refused (or `--help`,
/// `--version`) and returns its exit code. A refusal quotes the argument,
/// which may be text an agent wrote (a conversation id pasted from a
/// message): it is rendered from the arguments with every unsafe character
/// escaped, so no escape sequence, bidi override or line break reaches the
/// terminal, and printed without clap's colours.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let code = u8::try_from(e.exit_code()).unwrap_or(2);
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        // Our own text: no argument is quoted in it.
        let _ = e.print();
        return ExitCode::from(code);
    }
    let escaped = std::env::args_os().map(|a| {
        crate::display::visible(&a.to_string_lossy(), crate::display::Lines::One).into_owned()
    });
    let text = match Cli::try_parse_from(escaped) {
        // The same refusal, quoting the escaped arguments.
        Err(again) => again.render().to_string(),
        // Escaping made it valid: show the first refusal on one line.
        Ok(_) => e.render().to_string(),
    };
    let text = crate::display::visible(&text, crate::display::Lines::Many);
    eprint!("{text}");
    ExitCode::from(code)
}

/// Parses `mcp-bridge serve ARGS` exactly as the binary would, for `doctor`
/// to tell whether a client's entry starts at all.
///
/// # Errors
/// clap's refusal (an unknown flag, a missing value, `--help`).
pub(crate) fn parse_serve(args: &[String]) -> Result<serve::ServeArgs, clap::Error> {
    let argv = ["mcp-bridge", "serve"]
        .into_iter()
        .map(str::to_owned)
        .chain(args.iter().cloned());
    match Cli::try_parse_from(argv)?.command {
        Command::Serve(args) => Ok(args),
        _ => Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand)),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Demo(args) => demo::run(args),
        Command::List(args) => inspect::list(args),
        Command::Show(args) => show::show(args),
        Command::Tokens(args) => inspect::tokens(args),
        Command::Audit(args) => manage::audit(args),
        Command::End(args) => end::end(args),
        Command::Cleanup(args) => manage::cleanup(args),
        Command::Export(args) => transfer::export(args),
        Command::Import(args) => transfer::import(args),
        Command::Backup(args) => backup::backup(args),
        Command::Restore(args) => backup::restore(args),
        Command::Inbox(args) => inbox::inbox(args),
        Command::Redact(args) => redact::run(args),
        Command::Yolo(args) => yolo::run(args),
        Command::Console(args) => console::run(args),
        Command::Setup(args) => setup::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Key(args) => keys::run(args),
        Command::HttpToken(args) => http_token::run(args),
        Command::Config(ConfigCommand::Example) => {
            print!("{}", config::EXAMPLE);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A Tokio runtime for one command.
///
/// # Errors
/// When the runtime cannot start.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs a server's last writes at exit (session bindings, spooled audit
/// records) for at most [`crate::store::postgres::LAST_WRITES`]: a database
/// that stopped answering (a frozen PostgreSQL) kept a server told to stop
/// from ever exiting.
pub(crate) async fn bounded_last_writes(last: impl Future<Output = ()>) {
    let within = crate::store::postgres::LAST_WRITES;
    if tokio::time::timeout(within, last).await.is_err() {
        tracing::error!(
            "the database did not answer within {} s; exiting without the last audit records",
            within.as_secs()
        );
    }
}

/// A hidden name beside `path` for the bridge's own scratch files (a
/// temporary file renamed into place, a lock, a staging directory):
/// `.NAME.TAG`, in `path`'s directory (`.` for a bare name).
pub(crate) fn beside(path: &std::path::Path, tag: &str) -> PathBuf {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(".{name}.{tag}"))
}

#[cfg(test)]
mod describe_tests {
    use crate::store::StoreError;

    #[derive(Debug)]
    struct Driver;
    impl std::fmt::Display for Driver {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("db error")
        }
    }
    impl std::error::Error for Driver {}

    #[test]
    fn a_cause_already_quoted_is_not_said_again() {
        let e = anyhow::Error::new(StoreError::Backend(Box::new(Driver))).context("cannot list");
        assert_eq!(
            super::describe(&e),
            "cannot list: storage failure: db error"
        );
    }

    #[test]
    fn an_internal_error_names_its_cause_not_the_log() {
        let e = anyhow::Error::new(crate::service::ServiceError::Internal(StoreError::Corrupt(
            "bad row".into(),
        )));
        let text = super::describe(&e);
        assert!(text.starts_with("internal error: "), "{text}");
        assert!(text.contains("bad row"), "{text}");
        assert!(!text.contains("log"), "{text}");
    }
}
