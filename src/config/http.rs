//! `[http]`: settings of the streamable HTTP transport (`serve --http`).
//! Flags of `serve` override them; the token also comes from
//! `MCP_BRIDGE_HTTP_TOKEN`.

use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, RawLimits, invalid, limits};
use crate::ratelimit::Limits;

/// Requests one bearer token may make, unless configured otherwise: far
/// above what an agent does (a few calls a second at most), low enough that
/// one runaway client cannot starve the others.
pub const DEFAULT_REQUEST_LIMITS: Limits = Limits {
    per_minute: Some(6_000),
    per_hour: Some(120_000),
    per_day: None,
};

/// Long-polls waiting at once in an HTTP server: one process serves every
/// client, so the stdio default (`limits.max_long_polls`) would be far too low.
pub const DEFAULT_HTTP_LONG_POLLS: u32 = 20_000;

/// MCP sessions one bearer token may hold open in one server: far more than
/// the agents sharing a token open (one each, plus reconnections), while a
/// runaway client that opens sessions in a loop holds at most ~20 MiB
/// (~22 KiB each) until they idle out.
pub const DEFAULT_SESSIONS_PER_TOKEN: u32 = 1_000;

/// Seconds a client has to send a request's headers (and, separately, its
/// body), and that an idle keep-alive connection stays open: hyper's own
/// default, which agents' HTTP clients expect (they reopen closed idle
/// connections).
pub const DEFAULT_READ_TIMEOUT_S: u64 = 30;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawHttp {
    token: Option<String>,
    allowed_origins: Vec<String>,
    allowed_hosts: Vec<String>,
    requests: RawLimits,
    max_long_polls: u32,
    max_sessions_per_token: u32,
    read_timeout_s: u64,
}

impl Default for RawHttp {
    fn default() -> Self {
        Self {
            token: None,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            requests: RawLimits::default(),
            max_long_polls: DEFAULT_HTTP_LONG_POLLS,
            max_sessions_per_token: DEFAULT_SESSIONS_PER_TOKEN,
            read_timeout_s: DEFAULT_READ_TIMEOUT_S,
        }
    }
}

/// Validated `[http]` settings.
#[derive(Clone)]
pub struct HttpSettings {
    /// The shared bearer token (`MCP_BRIDGE_HTTP_TOKEN`), if set.
    pub token: Option<String>,
    /// Browser origins allowed besides the server's own (e.g. `https://app.example.com`).
    pub allowed_origins: Vec<String>,
    /// `Host` values allowed besides loopback and the bound address.
    pub allowed_hosts: Vec<String>,
    /// Requests per bearer token, or `None` with rate limits off.
    pub requests: Option<Limits>,
    /// Long-polls waiting at once in this process (replaces `limits.max_long_polls`).
    pub max_long_polls: u32,
    /// MCP sessions one bearer token may hold open in this process.
    pub max_sessions_per_token: u32,
    /// How long a client may take to send a request's headers, and then its
    /// body; also how long an idle keep-alive connection stays open.
    pub read_timeout: Duration,
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSettings")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("allowed_origins", &self.allowed_origins)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("requests", &self.requests)
            .field("max_long_polls", &self.max_long_polls)
            .field("max_sessions_per_token", &self.max_sessions_per_token)
            .field("read_timeout", &self.read_timeout)
            .finish()
    }
}

/// Checks `[http]`; `rate_limits_on` is `rate_limits.enabled`.
pub(super) fn validate(raw: RawHttp, rate_limits_on: bool) -> Result<HttpSettings, ConfigError> {
    if let Some(token) = &raw.token
        && (token.len() < 16 || token.chars().any(|c| !c.is_ascii_graphic()))
    {
        return Err(invalid(
            "http.token",
            "must be at least 16 printable characters without spaces (e.g. `openssl rand -hex 32`)",
        ));
    }
    if raw.max_long_polls == 0 {
        return Err(invalid("http.max_long_polls", "must be at least 1"));
    }
    if raw.max_sessions_per_token == 0 {
        return Err(invalid("http.max_sessions_per_token", "must be at least 1"));
    }
    if !(1..=3600).contains(&raw.read_timeout_s) {
        return Err(invalid("http.read_timeout_s", "must be 1 to 3600 seconds"));
    }
    let requests = if rate_limits_on {
        Some(limits(
            "http.requests",
            &raw.requests,
            DEFAULT_REQUEST_LIMITS,
        )?)
    } else {
        None
    };
    Ok(HttpSettings {
        token: raw.token,
        allowed_origins: raw.allowed_origins,
        allowed_hosts: raw.allowed_hosts,
        requests,
        max_long_polls: raw.max_long_polls,
        max_sessions_per_token: raw.max_sessions_per_token,
        read_timeout: Duration::from_secs(raw.read_timeout_s),
    })
}
