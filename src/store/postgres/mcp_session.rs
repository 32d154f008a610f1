//! The PostgreSQL side of [`McpSessionStore`]: the `mcp_sessions` and
//! `mcp_session_bindings` tables (`migrations/postgres/0007_mcp_sessions.sql`).

use super::db::{Write, get};
use super::deadline::read;
use super::{PgStore, in_tx};
use crate::domain::{ConversationId, Side, Timestamp};
use crate::store::mcp_session::{ENDED_OWNER, UNBOUND, decode_seats};
use crate::store::{McpSessionRecord, McpSessionStore, StoreError, StoredMcpSession};

impl McpSessionStore for PgStore {
    async fn bind_mcp_session(
        &self,
        record: McpSessionRecord,
        conversation: ConversationId,
        side: Side,
        unbound_before: Timestamp,
    ) -> Result<(), StoreError> {
        // The session's row is refreshed, not left alone, when it is stored
        // already: the update locks it and dates it now, so a `cleanup` (or
        // another host's bind) that judged it stale from an older snapshot
        // waits for this binding and then, re-reading the row, leaves it.
        // Left alone, it was deleted under the binding being added.
        in_tx!(self, |w| {
            let db = w.db();
            let at = record.started_at.as_micros();
            db.exec(&pg_unbound("DELETE"), &[&unbound_before.as_micros(), &at])
                .await?;
            db.exec(
                "INSERT INTO mcp_sessions (id_hash, owner, init_params, started_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (id_hash) DO UPDATE
                 SET started_at = greatest(mcp_sessions.started_at, excluded.started_at)
                 WHERE mcp_sessions.owner = excluded.owner",
                &[&record.id_hash, &record.owner, &record.init_params, &at],
            )
            .await?;
            db.exec(
                "INSERT INTO mcp_session_bindings (id_hash, conversation_id, side, bound_at)
                 SELECT id_hash, $2, $3, $4 FROM mcp_sessions WHERE id_hash = $1 AND owner = $5
                 ON CONFLICT DO NOTHING",
                &[
                    &record.id_hash,
                    &conversation.as_str(),
                    &side.as_str(),
                    &at,
                    &record.owner,
                ],
            )
            .await?;
            Ok(())
        })
    }

    async fn mcp_session(&self, id_hash: String) -> Result<Option<StoredMcpSession>, StoreError> {
        read(self.client().await?, async |db| {
            let Some(row) = db
                .opt(
                    "SELECT owner, init_params, started_at FROM mcp_sessions
                     WHERE id_hash = $1 AND owner <> $2",
                    &[&id_hash, &ENDED_OWNER],
                )
                .await?
            else {
                return Ok(None);
            };
            let record = McpSessionRecord {
                id_hash: id_hash.clone(),
                owner: get(&row, 0)?,
                init_params: get(&row, 1)?,
                started_at: Timestamp::from_micros(get(&row, 2)?),
            };
            let seats = db
                .query(
                    "SELECT conversation_id, side FROM mcp_session_bindings
                     WHERE id_hash = $1 ORDER BY bound_at, conversation_id, side",
                    &[&id_hash],
                )
                .await?
                .iter()
                .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            decode_seats(record, seats).map(Some)
        })
        .await
    }

    async fn mcp_session_ended(&self, id_hash: String) -> Result<bool, StoreError> {
        read(self.client().await?, async |db| {
            let row = db
                .opt(
                    "SELECT 1 FROM mcp_sessions WHERE id_hash = $1 AND owner = $2",
                    &[&id_hash, &ENDED_OWNER],
                )
                .await?;
            Ok(row.is_some())
        })
        .await
    }

    async fn delete_mcp_session(
        &self,
        id_hash: String,
        owner: String,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let at = at.as_micros();
        in_tx!(self, |w| {
            let db = w.db();
            db.exec(
                "DELETE FROM mcp_session_bindings WHERE id_hash = $1
                 AND EXISTS (SELECT 1 FROM mcp_sessions WHERE id_hash = $1 AND owner = $2)",
                &[&id_hash, &owner],
            )
            .await?;
            db.exec(
                "UPDATE mcp_sessions SET owner = $3, init_params = '', started_at = $4
                 WHERE id_hash = $1 AND owner = $2",
                &[&id_hash, &owner, &ENDED_OWNER, &at],
            )
            .await?;
            db.exec(
                "INSERT INTO mcp_sessions (id_hash, owner, init_params, started_at)
                 VALUES ($1, $2, '', $3) ON CONFLICT DO NOTHING",
                &[&id_hash, &ENDED_OWNER, &at],
            )
            .await?;
            Ok(())
        })
    }
}

/// [`UNBOUND`] after `verb` (`DELETE` or `SELECT count(*)`), with
/// PostgreSQL's placeholders.
pub(super) fn pg_unbound(verb: &str) -> String {
    format!("{verb} {}", UNBOUND.replace("?1", "$1").replace("?2", "$2"))
}
