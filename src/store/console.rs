//! Persistence for the web console: its sign-in tokens and the sessions they
//! open. Only a SHA-256 of each token and session id is stored; the rules
//! (who may create, what a role allows, what is audited) live in the
//! service layer.

use std::future::Future;

use super::{Store, StoreError};
use crate::audit::AuditDraft;
use crate::domain::Timestamp;

/// What a console token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleRole {
    /// Sees everything, confirms activations, approves and denies proposals.
    Admin,
    /// Sees everything, acts on nothing.
    Observer,
}

impl ConsoleRole {
    /// `admin` or `observer`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ConsoleRole::Admin => "admin",
            ConsoleRole::Observer => "observer",
        }
    }

    /// Parses the stored (and command-line) form.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(ConsoleRole::Admin),
            "observer" => Some(ConsoleRole::Observer),
            _ => None,
        }
    }
}

/// A stored console token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleToken {
    /// Its unique name, chosen by whoever created it.
    pub name: String,
    /// What it allows.
    pub role: ConsoleRole,
    /// The hex SHA-256 of the token.
    pub token_hash: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was revoked; it no longer signs anyone in.
    pub revoked_at: Option<Timestamp>,
    /// When it last signed someone in or answered an API call.
    pub last_used_at: Option<Timestamp>,
}

/// A signed-in browser's session as stored: never its id, only the id's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// The hex SHA-256 of the session id.
    pub id_hash: String,
    /// The token that signed in.
    pub token_name: String,
    /// When it was opened.
    pub started_at: Timestamp,
    /// When it ends unless signed out before.
    pub expires_at: Timestamp,
}

/// The console's tokens and sessions.
pub trait ConsoleStore: Store {
    /// Stores a new token and appends `audit`; [`StoreError::Conflict`] when
    /// the name is taken (revoked names included).
    fn create_console_token(
        &self,
        token: ConsoleToken,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every token, oldest first.
    fn console_tokens(&self) -> impl Future<Output = Result<Vec<ConsoleToken>, StoreError>> + Send;

    /// The token whose hash is `token_hash`, revoked or not.
    fn console_token_by_hash(
        &self,
        token_hash: String,
    ) -> impl Future<Output = Result<Option<ConsoleToken>, StoreError>> + Send;

    /// Marks the token `name` revoked at `at`, ends its sessions and appends
    /// `audit`; [`StoreError::NotFound`] when there is no such unrevoked token.
    fn revoke_console_token(
        &self,
        name: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records that the token `name` was used at `at` (no audit record: the
    /// sign-in or request that used it has its own).
    fn touch_console_token(
        &self,
        name: String,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores `session` and appends `audit`, in one transaction that also
    /// drops every session expired by `session.started_at` and all but the
    /// newest [`MAX_SESSIONS_PER_TOKEN`] of the token's.
    /// [`StoreError::NotFound`] when the token is unknown or revoked (by now).
    fn open_console_session(
        &self,
        session: ConsoleSession,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The token of the session whose id digest is `id_hash`, unless that
    /// session has expired by `at` (or never existed).
    fn console_session(
        &self,
        id_hash: String,
        at: Timestamp,
    ) -> impl Future<Output = Result<Option<ConsoleToken>, StoreError>> + Send;

    /// Ends the session whose id digest is `id_hash` and appends `audit`;
    /// [`StoreError::NotFound`] (and no record) when there is none.
    fn close_console_session(
        &self,
        id_hash: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Sessions one token keeps at once; signing in again drops the oldest, so
/// a token holder cannot grow the table without bound.
pub const MAX_SESSIONS_PER_TOKEN: i64 = 64;
