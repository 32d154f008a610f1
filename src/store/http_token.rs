//! Persistence of the named bearer tokens of the HTTP transport, and of the
//! request counters that make their rate limit one for every server. Only a
//! token's SHA-256 is stored; what a role may do is decided by the transport.

use std::future::Future;

use super::{Store, StoreError};
use crate::audit::AuditDraft;
use crate::domain::Timestamp;

/// What an HTTP bearer token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpRole {
    /// An agent: calls the MCP tools.
    Agent,
    /// A human operator's own MCP client: everything an agent may (the web
    /// console has tokens of its own).
    Operator,
    /// Refused on the MCP endpoint: a token issued ahead of its use.
    Observer,
}

impl HttpRole {
    /// Every role, in the order shown to users.
    pub const ALL: [HttpRole; 3] = [HttpRole::Agent, HttpRole::Operator, HttpRole::Observer];

    /// The stored and displayed name.
    pub const fn as_str(self) -> &'static str {
        match self {
            HttpRole::Agent => "agent",
            HttpRole::Operator => "operator",
            HttpRole::Observer => "observer",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Whether this role may call the MCP tools.
    pub const fn may_call_tools(self) -> bool {
        matches!(self, HttpRole::Agent | HttpRole::Operator)
    }
}

/// A token to insert: its name, role and hash (never the token).
#[derive(Debug, Clone)]
pub struct NewHttpToken {
    /// Unique name, chosen by the operator.
    pub name: String,
    /// What it may do.
    pub role: HttpRole,
    /// SHA-256 of the token text.
    pub hash: [u8; 32],
    /// When it was made.
    pub created_at: Timestamp,
}

/// A stored token, as listed and as matched by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpToken {
    /// Its name.
    pub name: String,
    /// What it may do.
    pub role: HttpRole,
    /// SHA-256 of the token text.
    pub hash: [u8; 32],
    /// When it was made.
    pub created_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// One bucket of a bearer identity's request counter (see
/// `ratelimit::SharedWindows`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestBucket {
    /// The identity's name (a token name, or the shared or anonymous caller).
    pub token: String,
    /// `minute`, `hour` or `day`.
    pub window: String,
    /// The bucket's number in its window.
    pub bucket: i64,
    /// Requests counted in it.
    pub count: i64,
}

/// Named HTTP bearer tokens, beside the rest of the store.
pub trait HttpTokenStore: Store {
    /// Stores a new token and its audit record in one transaction.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the name is taken (also by a revoked token).
    fn create_http_token(
        &self,
        token: NewHttpToken,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The unrevoked token whose hash is `hash`, if any.
    fn http_token_by_hash(
        &self,
        hash: [u8; 32],
    ) -> impl Future<Output = Result<Option<HttpToken>, StoreError>> + Send;

    /// Every token, revoked ones included, by name.
    fn http_tokens(&self) -> impl Future<Output = Result<Vec<HttpToken>, StoreError>> + Send;

    /// Revokes the token `name` at `at`, with its audit record.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when no unrevoked token has that name.
    fn revoke_http_token(
        &self,
        name: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Adds `spent` to the request counters every server shares, drops the
    /// buckets older than `prune`'s `(window, oldest bucket kept)`, and gives
    /// every counter of `tokens` (all servers' requests).
    fn sync_http_requests(
        &self,
        spent: Vec<RequestBucket>,
        prune: Vec<(String, i64)>,
        tokens: Vec<String>,
    ) -> impl Future<Output = Result<Vec<RequestBucket>, StoreError>> + Send;

    /// Every counter of `tokens`, read only.
    fn http_request_counts(
        &self,
        tokens: Vec<String>,
    ) -> impl Future<Output = Result<Vec<RequestBucket>, StoreError>> + Send;
}
