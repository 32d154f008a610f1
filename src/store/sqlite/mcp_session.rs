//! The SQLite side of [`McpSessionStore`]: the `mcp_sessions` and
//! `mcp_session_bindings` tables (`migrations/sqlite/0010_mcp_sessions.sql`).

use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, sql_err};
use crate::domain::{ConversationId, Side, Timestamp};
use crate::store::mcp_session::{ENDED_OWNER, UNBOUND, decode_seats};
use crate::store::{McpSessionRecord, McpSessionStore, StoreError, StoredMcpSession};

impl McpSessionStore for SqliteStore {
    async fn bind_mcp_session(
        &self,
        record: McpSessionRecord,
        conversation: ConversationId,
        side: Side,
        unbound_before: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.prepare_cached(&format!("DELETE {UNBOUND}"))
                .and_then(|mut s| {
                    s.execute([unbound_before.as_micros(), record.started_at.as_micros()])
                })
                .map_err(sql_err)?;
            tx.prepare_cached(
                "INSERT INTO mcp_sessions (id_hash, owner, init_params, started_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id_hash) DO UPDATE
                 SET started_at = max(mcp_sessions.started_at, excluded.started_at)
                 WHERE mcp_sessions.owner = excluded.owner",
            )
            .and_then(|mut s| {
                s.execute(params![
                    record.id_hash,
                    record.owner,
                    record.init_params,
                    record.started_at.as_micros()
                ])
            })
            .map_err(sql_err)?;
            tx.prepare_cached(
                "INSERT INTO mcp_session_bindings (id_hash, conversation_id, side, bound_at)
                 SELECT id_hash, ?2, ?3, ?4 FROM mcp_sessions WHERE id_hash = ?1 AND owner = ?5
                 ON CONFLICT DO NOTHING",
            )
            .and_then(|mut s| {
                s.execute(params![
                    record.id_hash,
                    conversation.as_str(),
                    side.as_str(),
                    record.started_at.as_micros(),
                    record.owner
                ])
            })
            .map_err(sql_err)?;
            Ok(())
        })
        .await
    }

    async fn mcp_session(&self, id_hash: String) -> Result<Option<StoredMcpSession>, StoreError> {
        self.call(move |conn| {
            let record = conn
                .prepare_cached(
                    "SELECT owner, init_params, started_at FROM mcp_sessions
                     WHERE id_hash = ?1 AND owner <> ?2",
                )
                .and_then(|mut s| {
                    s.query_row([id_hash.as_str(), ENDED_OWNER], |r| {
                        Ok(McpSessionRecord {
                            id_hash: id_hash.clone(),
                            owner: r.get(0)?,
                            init_params: r.get(1)?,
                            started_at: Timestamp::from_micros(r.get(2)?),
                        })
                    })
                    .optional()
                })
                .map_err(sql_err)?;
            let Some(record) = record else {
                return Ok(None);
            };
            let mut stmt = conn
                .prepare_cached(
                    "SELECT conversation_id, side FROM mcp_session_bindings
                     WHERE id_hash = ?1 ORDER BY bound_at, conversation_id, side",
                )
                .map_err(sql_err)?;
            let seats = stmt
                .query_map([&id_hash], |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(sql_err)?;
            decode_seats(record, seats).map(Some)
        })
        .await
    }

    async fn mcp_session_ended(&self, id_hash: String) -> Result<bool, StoreError> {
        self.call(move |conn| {
            conn.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM mcp_sessions WHERE id_hash = ?1 AND owner = ?2)",
            )
            .and_then(|mut s| s.query_row([id_hash.as_str(), ENDED_OWNER], |r| r.get(0)))
            .map_err(sql_err)
        })
        .await
    }

    async fn delete_mcp_session(
        &self,
        id_hash: String,
        owner: String,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let run = |sql: &str, values: &[&dyn rusqlite::ToSql]| {
                tx.prepare_cached(sql)
                    .and_then(|mut s| s.execute(values))
                    .map_err(sql_err)
            };
            let at = at.as_micros();
            run(
                "DELETE FROM mcp_session_bindings WHERE id_hash = ?1
                 AND EXISTS (SELECT 1 FROM mcp_sessions WHERE id_hash = ?1 AND owner = ?2)",
                params![id_hash, owner],
            )?;
            run(
                "UPDATE mcp_sessions SET owner = ?3, init_params = '', started_at = ?4
                 WHERE id_hash = ?1 AND owner = ?2",
                params![id_hash, owner, ENDED_OWNER, at],
            )?;
            run(
                "INSERT INTO mcp_sessions (id_hash, owner, init_params, started_at)
                 VALUES (?1, ?2, '', ?3) ON CONFLICT DO NOTHING",
                params![id_hash, ENDED_OWNER, at],
            )?;
            Ok(())
        })
        .await
    }
}
