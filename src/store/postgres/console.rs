//! The PostgreSQL side of [`ConsoleStore`]: the `console_tokens` and
//! `console_sessions` tables (`migrations/postgres/0002_console.sql`,
//! `0006_console_sessions.sql`).

use tokio_postgres::Row;

use super::db::{Write, get};
use super::deadline::{read, single};
use super::{PgStore, in_tx};
use crate::audit::AuditDraft;
use crate::domain::Timestamp;
use crate::store::{
    ConsoleRole, ConsoleSession, ConsoleStore, ConsoleToken, MAX_SESSIONS_PER_TOKEN, StoreError,
};

const COLUMNS: &str = "name, role, token_hash, created_at, revoked_at, last_used_at";

fn decode(row: &Row) -> Result<ConsoleToken, StoreError> {
    let role: String = get(row, 1)?;
    Ok(ConsoleToken {
        name: get(row, 0)?,
        role: ConsoleRole::parse(&role)
            .ok_or_else(|| StoreError::Corrupt("unreadable console token".into()))?,
        token_hash: get(row, 2)?,
        created_at: Timestamp::from_micros(get(row, 3)?),
        revoked_at: get::<Option<i64>>(row, 4)?.map(Timestamp::from_micros),
        last_used_at: get::<Option<i64>>(row, 5)?.map(Timestamp::from_micros),
    })
}

impl ConsoleStore for PgStore {
    async fn create_console_token(
        &self,
        token: ConsoleToken,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            // ON CONFLICT covers the name only: a duplicate hash (a 256-bit
            // collision) still fails loudly as a unique violation.
            let inserted = w
                .db()
                .exec(
                    &format!(
                        "INSERT INTO console_tokens ({COLUMNS}) VALUES ($1, $2, $3, $4, NULL, NULL)
                         ON CONFLICT (name) DO NOTHING"
                    ),
                    &[
                        &token.name,
                        &token.role.as_str(),
                        &token.token_hash,
                        &token.created_at.as_micros(),
                    ],
                )
                .await?;
            if inserted != 1 {
                return Err(StoreError::Conflict(format!(
                    "a console token named {:?} exists already (revoked names are kept too)",
                    token.name
                )));
            }
            w.audit(token.created_at, audit);
            Ok(())
        })
    }

    async fn console_tokens(&self) -> Result<Vec<ConsoleToken>, StoreError> {
        read(self.client().await?, async |db| {
            db.query(
                &format!("SELECT {COLUMNS} FROM console_tokens ORDER BY created_at, name"),
                &[],
            )
            .await?
            .iter()
            .map(decode)
            .collect()
        })
        .await
    }

    async fn console_token_by_hash(
        &self,
        token_hash: String,
    ) -> Result<Option<ConsoleToken>, StoreError> {
        read(self.client().await?, async |db| {
            db.opt(
                &format!("SELECT {COLUMNS} FROM console_tokens WHERE token_hash = $1"),
                &[&token_hash],
            )
            .await?
            .as_ref()
            .map(decode)
            .transpose()
        })
        .await
    }

    async fn revoke_console_token(
        &self,
        name: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            let changed = w
                .db()
                .exec(
                    "UPDATE console_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
                    &[&name, &at.as_micros()],
                )
                .await?;
            if changed != 1 {
                return Err(StoreError::NotFound);
            }
            w.db()
                .exec(
                    "DELETE FROM console_sessions WHERE token_name = $1",
                    &[&name],
                )
                .await?;
            w.audit(at, audit);
            Ok(())
        })
    }

    async fn touch_console_token(&self, name: String, at: Timestamp) -> Result<(), StoreError> {
        // One autocommit statement: no audit record, so no transaction needed.
        single(self.client().await?, async |db| {
            db.exec(
                "UPDATE console_tokens SET last_used_at = $2 WHERE name = $1",
                &[&name, &at.as_micros()],
            )
            .await
            .map(drop)
        })
        .await
    }

    async fn open_console_session(
        &self,
        session: ConsoleSession,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            let at = session.started_at.as_micros();
            let db = w.db();
            // The token's row first, for update, as a revoke takes it: the
            // two never wait for each other in a cycle, a revoke's delete
            // sees this session or this sign-in sees the revocation, and
            // sign-ins with one token take turns, so the cap below counts
            // every session. Only this token's expired sessions go here.
            let live = db
                .opt(
                    "SELECT 1 FROM console_tokens WHERE name = $1 AND revoked_at IS NULL FOR UPDATE",
                    &[&session.token_name],
                )
                .await?;
            if live.is_none() {
                return Err(StoreError::NotFound);
            }
            db.exec(
                "DELETE FROM console_sessions WHERE token_name = $1 AND expires_at <= $2",
                &[&session.token_name, &at],
            )
            .await?;
            db.exec(
                "INSERT INTO console_sessions (id_hash, token_name, started_at, expires_at)
                 VALUES ($1, $2, $3, $4)",
                &[
                    &session.id_hash,
                    &session.token_name,
                    &at,
                    &session.expires_at.as_micros(),
                ],
            )
            .await?;
            db.exec(
                "DELETE FROM console_sessions WHERE token_name = $1 AND id_hash NOT IN (
                     SELECT id_hash FROM console_sessions WHERE token_name = $1
                     ORDER BY started_at DESC, id_hash LIMIT $2)",
                &[&session.token_name, &MAX_SESSIONS_PER_TOKEN],
            )
            .await?;
            w.audit(session.started_at, audit);
            Ok(())
        })
    }

    async fn console_session(
        &self,
        id_hash: String,
        at: Timestamp,
    ) -> Result<Option<ConsoleToken>, StoreError> {
        read(self.client().await?, async |db| {
            db.opt(
                &format!(
                    "SELECT {COLUMNS} FROM console_sessions
                     JOIN console_tokens ON name = token_name
                     WHERE id_hash = $1 AND expires_at > $2"
                ),
                &[&id_hash, &at.as_micros()],
            )
            .await?
            .as_ref()
            .map(decode)
            .transpose()
        })
        .await
    }

    async fn close_console_session(
        &self,
        id_hash: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            let gone = w
                .db()
                .exec(
                    "DELETE FROM console_sessions WHERE id_hash = $1",
                    &[&id_hash],
                )
                .await?;
            if gone != 1 {
                return Err(StoreError::NotFound);
            }
            w.audit(at, audit);
            Ok(())
        })
    }
}
