//! Settings: defaults, then the TOML file, then `MCP_BRIDGE_*` variables, then
//! flags, validated once into a [`Config`] that nothing downstream re-checks.
//!
//! The raw layer is plain serde with `deny_unknown_fields`, so a misspelt key
//! is a start-up error that names it. Environment variables map onto keys:
//! `MCP_BRIDGE_CONVERSATION_TTL_MINUTES=5` sets `conversation_ttl_minutes`, and
//! `__` separates sections (`MCP_BRIDGE_RATE_LIMITS__SEND_TO_PARTNER__PER_MINUTE=20`).
//! Two shorthands: `MCP_BRIDGE_RATE_LIMITS=off` and `MCP_BRIDGE_YOLO=1`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ratelimit::Limits;
use crate::redact::RedactionSettings;
use crate::service::{BridgeSettings, ResourceLimits, TeamSettings, ToolLimits};
use crate::store::sqlite::Durability;

/// The most bytes read from a configuration file: far above any real one,
/// and a FIFO or `/dev/zero` named by `--config` cannot hang or exhaust a
/// command (see [`crate::regular_file`]).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

mod env;
mod http;
mod validate;

use env::{apply_env, file_error};
use validate::{invalid, limits, validate};

pub use http::{DEFAULT_HTTP_LONG_POLLS, DEFAULT_REQUEST_LIMITS, HttpSettings};

/// The annotated example configuration, printed by `mcp-bridge config example`.
pub const EXAMPLE: &str = include_str!("../config.example.toml");

/// Environment variables read by the CLI itself rather than mapped onto keys.
const CLI_VARIABLES: &[&str] = &["MCP_BRIDGE_DB", "MCP_BRIDGE_CONFIG"];

/// A setting that could not be used; names the key or variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key or a bad value.
    #[error("config file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong (names the key).
        message: String,
    },
    /// An environment variable names an unknown key or holds a bad value.
    #[error("environment variable {name}: {message}")]
    Env {
        /// The variable.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range.
    #[error("setting `{key}`: {message}")]
    Invalid {
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawConfig {
    conversation_ttl_minutes: f64,
    heartbeat_timeout_s: u64,
    durability: String,
    log_level: String,
    key_file: Option<PathBuf>,
    rate_limits: RawRateLimits,
    redaction: RawRedaction,
    yolo: RawYolo,
    limits: RawResourceLimits,
    audit: RawAudit,
    teams: RawTeams,
    http: http::RawHttp,
}

/// `[audit]`: how long audit records are kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawAudit {
    /// Days (fractions allowed); absent keeps records forever.
    retention_days: Option<f64>,
}

/// `[teams]`: conversations of more than two participants.

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawTeams {
    max_participants: u32,
    invite_minutes: f64,
}

impl Default for RawTeams {
    fn default() -> Self {
        let d = TeamSettings::default();
        Self {
            max_participants: d.max_participants,
            invite_minutes: d.invite_ttl_us as f64 / 60_000_000.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawResourceLimits {
    conversations_per_hour: u32,
    max_pending_messages: u32,
    max_long_polls: u32,
    max_database_mb: u32,
}

impl Default for RawResourceLimits {
    fn default() -> Self {
        let d = ResourceLimits::default();
        Self {
            conversations_per_hour: d.conversations_per_hour,
            max_pending_messages: d.max_pending_messages,
            max_long_polls: d.max_long_polls,
            max_database_mb: d.max_database_mb,
        }
    }
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            conversation_ttl_minutes: 180.0,
            heartbeat_timeout_s: 120,
            durability: "normal".into(),
            log_level: "info".into(),
            key_file: None,
            rate_limits: RawRateLimits::default(),
            redaction: RawRedaction::default(),
            yolo: RawYolo::default(),
            limits: RawResourceLimits::default(),
            audit: RawAudit::default(),
            teams: RawTeams::default(),
            http: http::RawHttp::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRateLimits {
    enabled: bool,
    send_to_partner: RawLimits,
    check_messages: RawLimits,
    update_my_status: RawLimits,
    check_partner_status: RawLimits,
    unauthenticated: RawLimits,
    join_conversation: RawLimits,
    execute_command: RawLimits,
    create_invite: RawLimits,
    overview: RawLimits,
}

impl Default for RawRateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            send_to_partner: RawLimits::default(),
            check_messages: RawLimits::default(),
            update_my_status: RawLimits::default(),
            check_partner_status: RawLimits::default(),
            unauthenticated: RawLimits::default(),
            join_conversation: RawLimits::default(),
            execute_command: RawLimits::default(),
            create_invite: RawLimits::default(),
            overview: RawLimits::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawLimits {
    per_minute: Option<u32>,
    per_hour: Option<u32>,
    per_day: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRedaction {
    allow: Vec<String>,
    patterns: Vec<RawPattern>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPattern {
    name: String,
    regex: String,
    placeholder: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawYolo {
    enabled: bool,
    activation_minutes: f64,
    approval_minutes: f64,
    allow_unsandboxed: bool,
    max_output_bytes: usize,
    extra_ro_binds: Vec<PathBuf>,
    limits: RawRunLimits,
}

impl Default for RawYolo {
    fn default() -> Self {
        Self {
            enabled: false,
            activation_minutes: 60.0,
            approval_minutes: 5.0,
            allow_unsandboxed: false,
            max_output_bytes: 16 * 1024,
            extra_ro_binds: Vec::new(),
            limits: RawRunLimits::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRunLimits {
    cpu_seconds: u64,
    memory_mb: u64,
    max_processes: u64,
    max_file_mb: u64,
}

impl Default for RawRunLimits {
    fn default() -> Self {
        let d = crate::runner::Limits::default();
        Self {
            cpu_seconds: d.cpu_seconds,
            memory_mb: d.memory_bytes >> 20,
            max_processes: d.max_processes,
            max_file_mb: d.max_file_bytes >> 20,
        }
    }
}

/// Default limits: the seed's for sends; reads and heartbeats generous enough
/// that polling every second never trips them.
pub const DEFAULT_LIMITS: ToolLimits = ToolLimits {
    send_to_partner: Limits {
        per_minute: Some(10),
        per_hour: Some(100),
        per_day: Some(500),
    },
    check_messages: Limits {
        per_minute: Some(300),
        per_hour: Some(10_000),
        per_day: Some(100_000),
    },
    update_my_status: Limits {
        per_minute: Some(120),
        per_hour: Some(3_600),
        per_day: Some(50_000),
    },
    check_partner_status: Limits {
        per_minute: Some(120),
        per_hour: Some(3_600),
        per_day: Some(50_000),
    },
    // Per server process: a fifth of the database-wide
    // `limits.conversations_per_hour` (1000), so no single client can use it up.
    unauthenticated: Limits {
        per_minute: Some(60),
        per_hour: Some(200),
        per_day: Some(1_000),
    },
    join_conversation: Limits {
        per_minute: Some(30),
        per_hour: Some(300),
        per_day: Some(1_000),
    },
    // Each proposal waits for a human's decision: a few a minute is already
    // more than one person can review.
    execute_command: Limits {
        per_minute: Some(10),
        per_hour: Some(60),
        per_day: Some(300),
    },
    // An invite is a row that stays until its conversation is cleaned up,
    // and a team seldom needs more than a few: as many as sends.
    create_invite: Limits {
        per_minute: Some(10),
        per_hour: Some(100),
        per_day: Some(500),
    },
    // Per client, as `unauthenticated`: a client refreshing its overview
    // every second stays under it; a flood, each call an audit record, not.
    overview: Limits {
        per_minute: Some(120),
        per_hour: Some(3_600),
        per_day: Some(50_000),
    },
};

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// What the service layer needs.
    pub bridge: BridgeSettings,
    /// How commits reach the disk.
    pub durability: Durability,
    /// `tracing` filter for this crate's logs.
    pub log_level: String,
    /// User redaction patterns and allow-list (already validated).
    pub redaction: RedactionSettings,
    /// Where the key file is, when not `bridge.key` beside the database
    /// (absolute, `~` expanded). Tokens, the audit chain's key and the data
    /// keys of encryption at rest all derive from it.
    pub key_file: Option<PathBuf>,
    /// The HTTP transport's settings.
    pub http: HttpSettings,
}

impl Default for Config {
    fn default() -> Self {
        match validate(RawConfig::default()) {
            Ok(c) => c,
            Err(e) => unreachable!("the defaults are valid: {e}"),
        }
    }
}

/// The default configuration file, if one exists: `<config dir>/mcp-bridge/config.toml`.
pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir()
        .map(|d| d.join("mcp-bridge").join("config.toml"))
        .filter(|p| p.is_file())
}

/// The default database: `$XDG_DATA_HOME/mcp-bridge/bridge.db` (or the platform's data dir).
pub fn default_db_path() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("mcp-bridge")
        .join("bridge.db")
}

impl Config {
    /// Loads `file` (if any) and the `MCP_BRIDGE_*` variables among `env`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first bad key, variable or value.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text =
                    crate::regular_file::read_text(path, MAX_CONFIG_BYTES).map_err(|source| {
                        ConfigError::Read {
                            path: path.to_owned(),
                            source,
                        }
                    })?;
                let table: toml::Table =
                    toml::from_str(&text).map_err(|e| file_error(path, Some(&text), &e))?;
                // Check the file alone first, so its errors name the file.
                table
                    .clone()
                    .try_into::<RawConfig>()
                    .map_err(|e| file_error(path, None, &e))?;
                table
            }
            None => toml::Table::new(),
        };
        let mut vars: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("MCP_BRIDGE_"))
            .collect();
        vars.sort();
        for (name, value) in vars {
            if CLI_VARIABLES.contains(&name.as_str()) || name.starts_with("MCP_BRIDGE_TEST_") {
                continue;
            }
            apply_env(&mut table, &name, &value)?;
            table
                .clone()
                .try_into::<RawConfig>()
                .map_err(|e| ConfigError::Env {
                    name: name.clone(),
                    message: e.message().to_owned(),
                })?;
        }
        let raw: RawConfig =
            table
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Invalid {
                    key: String::new(),
                    message: e.to_string(),
                })?;
        let mut config = validate(raw)?;
        // It may hold the HTTP token or a database password.
        if let Some(path) = file {
            config.keep_from_commands(path);
        }
        Ok(config)
    }

    /// Keeps `path` (a file or directory holding a secret of the server:
    /// its configuration, its TLS key) out of every approved command's reach,
    /// like the database and key directories: a workspace holding it is
    /// refused, and the sandbox masks it wherever a bind would show it.
    ///
    /// The path as given is kept beside its target and resolved again at each
    /// run, so a TLS key behind a symlink that renewal re-points (certbot's
    /// `live/`) stays hidden at its new target.
    pub fn keep_from_commands(&mut self, path: &Path) {
        let target = std::fs::canonicalize(path).ok();
        let given = std::path::absolute(path).ok();
        for path in [target, given].into_iter().flatten() {
            if !self.bridge.yolo.hide.contains(&path) {
                self.bridge.yolo.hide.push(path);
            }
        }
    }
}

#[cfg(test)]
mod tests;
