//! mcp-multiagent-bridge: an MCP server through which LLM agent sessions
//! coordinate — authenticated, redacted, rate-limited, audited messages on a
//! store shared by every server process.
//!
//! # Layout
//!
//! Calls go one way: transport → mcp → service → store.
//!
//! - [`cli`]: the `mcp-bridge` command line; dispatch only.
//! - [`app`]: wiring; opens the store and builds the service. The only file naming a backend.
//! - [`config`]: defaults + TOML file + `MCP_BRIDGE_*` variables → validated [`config::Config`].
//! - [`transport`]: stdio (and the shutdown signal).
//! - [`console`]: the web console (axum): pages, JSON API, live events; calls the service.
//! - [`mcp`]: the tools as rmcp declares them; argument schemas, results, error mapping.
//! - [`service`]: the rules: authentication, expiry, size, redaction, long-poll, audit.
//! - [`store`]: the `Store` trait and its SQLite backend; every SQL string lives there.
//! - [`domain`]: ids and values, validated on construction.
//! - [`auth`]: the key file and HMAC session tokens.
//! - [`operator`]: the operator passphrase (an Argon2id hash) for the human stages of YOLO mode.
//! - [`redact`]: the secret-redaction engine.
//! - [`display`]: which characters agent text may not show a terminal raw, and their escapes.
//! - [`runner`]: YOLO command policy, sandbox arguments, running and snapshots.
//! - [`process`]: `/proc` lookups that tie `serve` and `inbox` to the client that spawned them.
//! - [`ratelimit`], [`audit`]: pure rate-window decisions and the audit hash chain.

pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod console;
pub mod display;
pub mod domain;
pub mod mcp;
pub mod operator;
pub mod process;
pub mod ratelimit;
pub mod redact;
pub mod regular_file;
pub mod runner;
pub mod service;
pub mod store;
pub mod transport;
