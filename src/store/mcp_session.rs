//! Persistence for MCP sessions over HTTP that any server on the database can
//! take over: the session (its id's digest, the bearer identity that opened
//! it, the client's `initialize` parameters) and the seats it is bound to.
//! No session id and no token is stored; who may take a session over, and
//! how tokens come back, is the service layer's business.

use std::future::Future;

use super::{AnyStore, Store, StoreError};
use crate::domain::{ConversationId, Side, Timestamp};

/// A session as stored: never its id, only the id's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpSessionRecord {
    /// The hex digest of the `Mcp-Session-Id`.
    pub id_hash: String,
    /// The name of the bearer identity that opened it.
    pub owner: String,
    /// The client's `initialize` parameters, as JSON.
    pub init_params: String,
    /// When it was stored or last bound a seat (the later of the two): what
    /// `cleanup` ages it by.
    pub started_at: Timestamp,
}

/// A stored session with the seats it acts for, oldest binding first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMcpSession {
    /// The session.
    pub record: McpSessionRecord,
    /// Its bindings.
    pub seats: Vec<(ConversationId, Side)>,
}

/// How long a session with no binding left is kept after it last bound one.
pub const UNBOUND_MCP_SESSION_TTL_US: i64 = 24 * 3_600 * 1_000_000;

/// The owner of an ended session's row (no bearer identity is spelt so): a
/// tombstone that no bind of its real owner updates, so a call still in
/// flight when the session was ended, or another host's before its recheck,
/// does not store the session again. Read as no session; `cleanup` drops it
/// a day after the end, like a session bound to nothing.
pub const ENDED_OWNER: &str = "(ended)";

/// The sessions `cleanup` removes (after `SELECT count(*)` or `DELETE`):
/// begun before `?1` and bound to no conversation that is still live at
/// `?2` (the expired ones go in the same cleanup).
pub(crate) const UNBOUND: &str = "FROM mcp_sessions WHERE started_at < ?1 AND NOT EXISTS (
    SELECT 1 FROM mcp_session_bindings b JOIN conversations c ON c.id = b.conversation_id
    WHERE b.id_hash = mcp_sessions.id_hash AND c.expires_at > ?2)";

/// MCP sessions shared by every server on the database.
pub trait McpSessionStore: Store {
    /// Binds the session `record.id_hash` (stored first if it is not yet) to
    /// `conversation`/`side` at `record.started_at`, in one transaction that
    /// also drops the sessions with no binding that began before
    /// `unbound_before`. A session stored already keeps its owner, and gets
    /// no binding from a record that names another; its owner's binding
    /// dates it `record.started_at` (never earlier than it was).
    fn bind_mcp_session(
        &self,
        record: McpSessionRecord,
        conversation: ConversationId,
        side: Side,
        unbound_before: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The session whose id digest is `id_hash`, with its bindings.
    fn mcp_session(
        &self,
        id_hash: String,
    ) -> impl Future<Output = Result<Option<StoredMcpSession>, StoreError>> + Send;

    /// Whether the session whose id digest is `id_hash` was ended (its row
    /// is a tombstone). One never stored was not.
    fn mcp_session_ended(
        &self,
        id_hash: String,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Ends the session whose id digest is `id_hash` at `at`, if `owner`
    /// owns it or it is not stored yet (another's changes nothing): its
    /// bindings go and its row stays as a tombstone (see [`ENDED_OWNER`]).
    fn delete_mcp_session(
        &self,
        id_hash: String,
        owner: String,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl McpSessionStore for AnyStore {
    async fn bind_mcp_session(
        &self,
        record: McpSessionRecord,
        conversation: ConversationId,
        side: Side,
        unbound_before: Timestamp,
    ) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(s) => {
                s.bind_mcp_session(record, conversation, side, unbound_before)
                    .await
            }
            AnyStore::Postgres(p) => {
                p.bind_mcp_session(record, conversation, side, unbound_before)
                    .await
            }
        }
    }
    async fn mcp_session(&self, id_hash: String) -> Result<Option<StoredMcpSession>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.mcp_session(id_hash).await,
            AnyStore::Postgres(p) => p.mcp_session(id_hash).await,
        }
    }
    async fn mcp_session_ended(&self, id_hash: String) -> Result<bool, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.mcp_session_ended(id_hash).await,
            AnyStore::Postgres(p) => p.mcp_session_ended(id_hash).await,
        }
    }
    async fn delete_mcp_session(
        &self,
        id_hash: String,
        owner: String,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.delete_mcp_session(id_hash, owner, at).await,
            AnyStore::Postgres(p) => p.delete_mcp_session(id_hash, owner, at).await,
        }
    }
}

/// Rebuilds a stored session from its rows (both backends read the same
/// columns): `record` and the bindings' `(conversation_id, side)` texts.
pub(crate) fn decode_seats(
    record: McpSessionRecord,
    seats: Vec<(String, String)>,
) -> Result<StoredMcpSession, StoreError> {
    let seats = seats
        .into_iter()
        .map(|(c, s)| {
            let conversation = ConversationId::parse(&c)
                .map_err(|_| StoreError::Corrupt("unreadable MCP session binding".into()))?;
            let side = Side::parse(&s)
                .map_err(|_| StoreError::Corrupt("unreadable MCP session binding".into()))?;
            Ok((conversation, side))
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(StoredMcpSession { record, seats })
}
