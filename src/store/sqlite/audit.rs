//! Reading the audit trail back: the one decoder of `audit_log` rows, used by
//! the chain export for tools and by the management queries and chain walks.
//! (Appending lives with the other writes in `ops`.)

use rusqlite::{Connection, OptionalExtension, params};

use super::sql_err;
use super::tx::ReadTx;
use crate::audit::{AuditDraft, AuditRecord, Outcome};
use crate::domain::{ConversationId, Timestamp};
use crate::store::StoreError;
use crate::store::admin::{AuditQuery, AuditWalk, UnreadableRecord};

/// The `seq` of the chain-head row of `audit_log` (not a record).
pub const HEAD_SEQ: i64 = i64::MAX;

/// Decodes an audit row (`seq, at, actor, action, conversation_id, side,
/// outcome, code, bytes, count, detail, prev_hash, hash`).
pub fn decode_audit(
    row: &rusqlite::Row<'_>,
) -> Result<Result<AuditRecord, UnreadableRecord>, StoreError> {
    let seq: i64 = row.get(0).map_err(sql_err)?;
    let outcome: String = row.get(6).map_err(sql_err)?;
    let Some(outcome) = Outcome::parse(&outcome) else {
        return Ok(Err(UnreadableRecord {
            seq,
            reason: format!("unknown outcome {outcome:?}"),
        }));
    };
    let actor: String = row.get(2).map_err(sql_err)?;
    let draft = AuditDraft {
        // The canonical form hashes the actor, so an unknown one (a hand-edited
        // row) fails the chain check as it should.
        actor: match actor.as_str() {
            "mcp" => "mcp",
            "cli" => "cli",
            _ => "unknown",
        },
        action: row.get(3).map_err(sql_err)?,
        conversation: row.get(4).map_err(sql_err)?,
        side: row.get(5).map_err(sql_err)?,
        outcome,
        code: row.get(7).map_err(sql_err)?,
        bytes: row.get(8).map_err(sql_err)?,
        count: row.get(9).map_err(sql_err)?,
        detail: row.get(10).map_err(sql_err)?,
    };
    Ok(Ok(AuditRecord {
        seq,
        at: Timestamp::from_micros(row.get(1).map_err(sql_err)?),
        draft,
        prev_hash: row.get(11).map_err(sql_err)?,
        hash: row.get(12).map_err(sql_err)?,
    }))
}

pub const AUDIT_COLUMNS: &str = "seq, at, actor, action, conversation_id, side, outcome, code, bytes, count, detail, prev_hash, hash";

pub fn audit_query(conn: &Connection, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
    let sql = format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log
         WHERE seq < ?1 AND (?2 IS NULL OR conversation_id = ?2) AND (?3 IS NULL OR at >= ?3)
           AND (?4 IS NULL OR action = ?4)
         ORDER BY seq DESC LIMIT ?5"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_err)?;
    let mut rows = stmt
        .query(params![
            HEAD_SEQ,
            query.conversation.as_ref().map(ConversationId::as_str),
            query.since.map(Timestamp::as_micros),
            query.action,
            query.limit
        ])
        .map_err(sql_err)?;
    let mut out = collect(&mut rows)?;
    out.reverse();
    Ok(out)
}

/// Decodes every row; an unreadable record is an error here (only the chain
/// walk reports it as a finding).
fn collect(rows: &mut rusqlite::Rows<'_>) -> Result<Vec<AuditRecord>, StoreError> {
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql_err)? {
        match decode_audit(row)? {
            Ok(record) => out.push(record),
            Err(bad) => {
                return Err(StoreError::Corrupt(format!(
                    "audit record {} is unreadable: {}",
                    bad.seq, bad.reason
                )));
            }
        }
    }
    Ok(out)
}

/// Walks the whole chain in order inside one read snapshot, then hands the
/// walker the stored head.
pub fn walk_chain<W: AuditWalk>(conn: &Connection, mut walker: W) -> Result<W::Output, StoreError> {
    let tx = ReadTx::begin(conn)?;
    let head: Option<(i64, String)> = tx
        .prepare_cached("SELECT count, hash FROM audit_log WHERE seq = ?1")
        .and_then(|mut s| {
            s.query_row([HEAD_SEQ], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(sql_err)?;
    let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq < ?1 ORDER BY seq");
    let mut stmt = tx.prepare(&sql).map_err(sql_err)?;
    let mut rows = stmt.query([HEAD_SEQ]).map_err(sql_err)?;
    while let Some(row) = rows.next().map_err(sql_err)? {
        if !walker.visit(decode_audit(row)?) {
            break;
        }
    }
    Ok(walker.finish(head))
}

/// Records after `after_seq`, oldest first, at most `limit`.
pub fn records_after(
    conn: &Connection,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<AuditRecord>, StoreError> {
    let sql = format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > ?1 AND seq < ?2 ORDER BY seq LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_err)?;
    let mut rows = stmt
        .query(params![after_seq, HEAD_SEQ, limit])
        .map_err(sql_err)?;
    collect(&mut rows)
}
