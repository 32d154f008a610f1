//! The SQLite side of [`ConsoleStore`]: the `console_tokens` and
//! `console_sessions` tables.

use rusqlite::{Connection, Row, params};

use super::{SqliteStore, ops, sql_err};
use crate::audit::AuditDraft;
use crate::domain::Timestamp;
use crate::store::{
    ConsoleRole, ConsoleSession, ConsoleStore, ConsoleToken, MAX_SESSIONS_PER_TOKEN, StoreError,
};

const COLUMNS: &str = "name, role, token_hash, created_at, revoked_at, last_used_at";

fn decode(row: &Row<'_>) -> Result<ConsoleToken, StoreError> {
    let role: String = row.get(1).map_err(sql_err)?;
    Ok(ConsoleToken {
        name: row.get(0).map_err(sql_err)?,
        role: ConsoleRole::parse(&role)
            .ok_or_else(|| StoreError::Corrupt("unreadable console token".into()))?,
        token_hash: row.get(2).map_err(sql_err)?,
        created_at: Timestamp::from_micros(row.get(3).map_err(sql_err)?),
        revoked_at: row
            .get::<_, Option<i64>>(4)
            .map_err(sql_err)?
            .map(Timestamp::from_micros),
        last_used_at: row
            .get::<_, Option<i64>>(5)
            .map_err(sql_err)?
            .map(Timestamp::from_micros),
    })
}

fn select(
    conn: &Connection,
    filter: &str,
    param: Option<&str>,
) -> Result<Vec<ConsoleToken>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM console_tokens {filter} ORDER BY created_at, name");
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_err)?;
    let mut rows = match param {
        Some(p) => stmt.query([p]),
        None => stmt.query([]),
    }
    .map_err(sql_err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql_err)? {
        out.push(decode(row)?);
    }
    Ok(out)
}

impl ConsoleStore for SqliteStore {
    async fn create_console_token(
        &self,
        token: ConsoleToken,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let inserted = tx
                .prepare_cached(&format!(
                    "INSERT INTO console_tokens ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, NULL, NULL)
                     ON CONFLICT (name) DO NOTHING"
                ))
                .and_then(|mut s| {
                    s.execute(params![
                        token.name,
                        token.role.as_str(),
                        token.token_hash,
                        token.created_at.as_micros()
                    ])
                })
                .map_err(sql_err)?;
            if inserted != 1 {
                return Err(StoreError::Conflict(format!(
                    "a console token named {:?} exists already (revoked names are kept too)",
                    token.name
                )));
            }
            ops::append_audit(tx, token.created_at, &audit)
        })
        .await
    }

    async fn console_tokens(&self) -> Result<Vec<ConsoleToken>, StoreError> {
        self.call(|conn| select(conn, "", None)).await
    }

    async fn console_token_by_hash(
        &self,
        token_hash: String,
    ) -> Result<Option<ConsoleToken>, StoreError> {
        self.call(move |conn| Ok(select(conn, "WHERE token_hash = ?1", Some(&token_hash))?.pop()))
            .await
    }

    async fn revoke_console_token(
        &self,
        name: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE console_tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
                )
                .and_then(|mut s| s.execute(params![name, at.as_micros()]))
                .map_err(sql_err)?;
            if changed != 1 {
                return Err(StoreError::NotFound);
            }
            tx.prepare_cached("DELETE FROM console_sessions WHERE token_name = ?1")
                .and_then(|mut s| s.execute([&name]))
                .map_err(sql_err)?;
            ops::append_audit(tx, at, &audit)
        })
        .await
    }

    async fn touch_console_token(&self, name: String, at: Timestamp) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.prepare_cached("UPDATE console_tokens SET last_used_at = ?2 WHERE name = ?1")
                .and_then(|mut s| s.execute(params![name, at.as_micros()]))
                .map_err(sql_err)?;
            Ok(())
        })
        .await
    }

    async fn open_console_session(
        &self,
        session: ConsoleSession,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let at = session.started_at.as_micros();
            tx.prepare_cached("DELETE FROM console_sessions WHERE expires_at <= ?1")
                .and_then(|mut s| s.execute([at]))
                .map_err(sql_err)?;
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO console_sessions (id_hash, token_name, started_at, expires_at)
                     SELECT ?1, name, ?3, ?4 FROM console_tokens
                     WHERE name = ?2 AND revoked_at IS NULL",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        session.id_hash,
                        session.token_name,
                        at,
                        session.expires_at.as_micros()
                    ])
                })
                .map_err(sql_err)?;
            if inserted != 1 {
                return Err(StoreError::NotFound);
            }
            tx.prepare_cached(
                "DELETE FROM console_sessions WHERE token_name = ?1 AND id_hash NOT IN (
                     SELECT id_hash FROM console_sessions WHERE token_name = ?1
                     ORDER BY started_at DESC, id_hash LIMIT ?2)",
            )
            .and_then(|mut s| s.execute(params![session.token_name, MAX_SESSIONS_PER_TOKEN]))
            .map_err(sql_err)?;
            ops::append_audit(tx, session.started_at, &audit)
        })
        .await
    }

    async fn console_session(
        &self,
        id_hash: String,
        at: Timestamp,
    ) -> Result<Option<ConsoleToken>, StoreError> {
        self.call(move |conn| {
            let sql = format!(
                "SELECT {COLUMNS} FROM console_sessions JOIN console_tokens ON name = token_name
                 WHERE id_hash = ?1 AND expires_at > ?2"
            );
            let mut stmt = conn.prepare_cached(&sql).map_err(sql_err)?;
            let mut rows = stmt
                .query(params![id_hash, at.as_micros()])
                .map_err(sql_err)?;
            rows.next().map_err(sql_err)?.map(decode).transpose()
        })
        .await
    }

    async fn close_console_session(
        &self,
        id_hash: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let gone = tx
                .prepare_cached("DELETE FROM console_sessions WHERE id_hash = ?1")
                .and_then(|mut s| s.execute([&id_hash]))
                .map_err(sql_err)?;
            if gone != 1 {
                return Err(StoreError::NotFound);
            }
            ops::append_audit(tx, at, &audit)
        })
        .await
    }
}
