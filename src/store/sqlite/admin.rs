//! The SQL of the management commands: summaries, whole conversations, audit
//! queries and chain walks, cleanup, import, online backup and restore.
//!
//! Reads run in one deferred transaction each, so a command sees one snapshot
//! while servers keep writing; writes run in an immediate transaction through
//! [`SqliteStore::write`], which also appends the action's audit record.
//! Nothing here decides what is allowed; the service layer does.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{SqliteStore, ops, sql_err};
use crate::audit::{AuditDraft, AuditRecord, Outcome};
use crate::domain::{ActionType, ConversationId, Message, Sender, Side, Status, Timestamp};
use crate::store::admin::{
    AdminStore, AuditFor, AuditQuery, AuditWalk, CleanupReport, ConversationRecord,
    ConversationSummary, CopyProgress, CopyReport, FileCheck, ImportReport, MessageRecord,
    RemovedConversation, UnreadableRecord,
};
use crate::store::{Conversation, Participant, StatusRecord, StoreError};

/// The `seq` of the chain-head row of `audit_log` (not a record).
const HEAD_SEQ: i64 = i64::MAX;

/// Pages copied per backup step: small enough for a smooth progress bar,
/// large enough that the per-step overhead does not matter.
const PAGES_PER_STEP: i32 = 1024;

/// Byte ranges SQLite's unix VFS locks: in the database file, the pending,
/// reserved and shared bytes (every open WAL-mode connection holds a shared
/// lock there); in the `-shm` file, the dead-man-switch byte every connection
/// holds while it is open.
const DB_LOCK_RANGE: (i64, i64) = (0x4000_0000, 512);
const SHM_DMS_RANGE: (i64, i64) = (128, 1);

/// The tables every bridge database has.
const CORE_TABLES: [&str; 6] = [
    "conversations",
    "participants",
    "messages",
    "meta",
    "pending_deliveries",
    "audit_log",
];

/// A deferred (read) transaction: one snapshot for all reads inside it. Ends
/// when dropped; it never writes, so rolling back is the same as committing.
struct ReadTx<'c> {
    conn: &'c Connection,
}

impl<'c> ReadTx<'c> {
    fn begin(conn: &'c Connection) -> Result<Self, StoreError> {
        conn.prepare_cached("BEGIN DEFERRED")
            .and_then(|mut s| s.execute([]))
            .map_err(sql_err)?;
        Ok(Self { conn })
    }
}

impl std::ops::Deref for ReadTx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for ReadTx<'_> {
    fn drop(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self
                .conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut s| s.execute([]));
        }
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn io_err(e: std::io::Error) -> StoreError {
    StoreError::Backend(Box::new(e))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Every conversation with its participants, oldest first.
fn all_conversations(conn: &Connection) -> Result<Vec<Conversation>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT c.id, c.created_at, c.expires_at, p.side, p.role, p.status, p.note, p.status_at
             FROM conversations c JOIN participants p ON p.conversation_id = c.id
             ORDER BY c.created_at, c.id, p.side",
        )
        .map_err(sql_err)?;
    let mut rows = stmt.query([]).map_err(sql_err)?;
    let mut out: Vec<Conversation> = Vec::new();
    while let Some(row) = rows.next().map_err(sql_err)? {
        let id: String = row.get(0).map_err(sql_err)?;
        if out.last().is_none_or(|c| c.id.as_str() != id) {
            out.push(Conversation {
                id: ConversationId::parse(&id).map_err(corrupt)?,
                created_at: Timestamp::from_micros(row.get(1).map_err(sql_err)?),
                expires_at: Timestamp::from_micros(row.get(2).map_err(sql_err)?),
                participants: Vec::with_capacity(2),
            });
        }
        let participant = decode_participant(row, 3)?;
        if let Some(c) = out.last_mut() {
            c.participants.push(participant);
        }
    }
    Ok(out)
}

/// Decodes `side, role, status, note, status_at` starting at column `at`.
fn decode_participant(row: &rusqlite::Row<'_>, at: usize) -> Result<Participant, StoreError> {
    let side: String = row.get(at).map_err(sql_err)?;
    let status: Option<String> = row.get(at + 2).map_err(sql_err)?;
    let status = match status {
        None => None,
        Some(s) => Some(StatusRecord {
            status: Status::parse(&s).map_err(corrupt)?,
            note: row.get(at + 3).map_err(sql_err)?,
            updated_at: Timestamp::from_micros(
                row.get::<_, Option<i64>>(at + 4)
                    .map_err(sql_err)?
                    .unwrap_or_default(),
            ),
        }),
    };
    Ok(Participant {
        side: Side::parse(&side).map_err(corrupt)?,
        role: row.get(at + 1).map_err(sql_err)?,
        status,
    })
}

fn summaries(conn: &Connection) -> Result<Vec<ConversationSummary>, StoreError> {
    let tx = ReadTx::begin(conn)?;
    let conversations = all_conversations(&tx)?;
    let mut totals: HashMap<String, (i64, i64)> = HashMap::new();
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT conversation_id, count(*), max(created_at) FROM messages GROUP BY conversation_id",
            )
            .map_err(sql_err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
            .map_err(sql_err)?;
        for row in rows {
            let (id, counts) = row.map_err(sql_err)?;
            totals.insert(id, counts);
        }
    }
    let mut unread: HashMap<(String, String), i64> = HashMap::new();
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT conversation_id, recipient, count(*) FROM pending_deliveries GROUP BY conversation_id, recipient",
            )
            .map_err(sql_err)?;
        let rows = stmt
            .query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
            .map_err(sql_err)?;
        for row in rows {
            let (key, n) = row.map_err(sql_err)?;
            unread.insert(key, n);
        }
    }
    Ok(conversations
        .into_iter()
        .map(|conversation| {
            let id = conversation.id.as_str().to_owned();
            let (messages, last) = totals.get(&id).copied().unwrap_or((0, 0));
            let unread = conversation
                .participants
                .iter()
                .map(|p| {
                    let n = unread
                        .get(&(id.clone(), p.side.as_str().to_owned()))
                        .copied()
                        .unwrap_or(0);
                    (p.side, count(n))
                })
                .collect();
            ConversationSummary {
                conversation,
                messages: count(messages),
                unread,
                last_message_at: (messages > 0).then(|| Timestamp::from_micros(last)),
            }
        })
        .collect())
}

fn records(
    conn: &Connection,
    ids: Option<&[ConversationId]>,
) -> Result<Vec<ConversationRecord>, StoreError> {
    let tx = ReadTx::begin(conn)?;
    let wanted: Option<HashSet<&str>> = ids.map(|ids| ids.iter().map(|i| i.as_str()).collect());
    let mut out: Vec<ConversationRecord> = all_conversations(&tx)?
        .into_iter()
        .filter(|c| wanted.as_ref().is_none_or(|w| w.contains(c.id.as_str())))
        .map(|conversation| ConversationRecord {
            conversation,
            messages: Vec::new(),
        })
        .collect();
    let index: HashMap<String, usize> = out
        .iter()
        .enumerate()
        .map(|(i, r)| (r.conversation.id.as_str().to_owned(), i))
        .collect();
    // `messages` has no index on its conversation (sends stay cheap), so one
    // ordered scan serves every conversation at once.
    let mut pending: HashMap<i64, Vec<Side>> = HashMap::new();
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT conversation_id, message_id, recipient FROM pending_deliveries ORDER BY recipient",
            )
            .map_err(sql_err)?;
        let mut rows = stmt.query([]).map_err(sql_err)?;
        while let Some(row) = rows.next().map_err(sql_err)? {
            let conversation: String = row.get(0).map_err(sql_err)?;
            if !index.contains_key(&conversation) {
                continue;
            }
            let recipient: String = row.get(2).map_err(sql_err)?;
            pending
                .entry(row.get(1).map_err(sql_err)?)
                .or_default()
                .push(Side::parse(&recipient).map_err(corrupt)?);
        }
    }
    let mut stmt = tx
        .prepare_cached(
            "SELECT conversation_id, id, from_side, action_type, content, files, created_at
             FROM messages ORDER BY id",
        )
        .map_err(sql_err)?;
    let mut rows = stmt.query([]).map_err(sql_err)?;
    while let Some(row) = rows.next().map_err(sql_err)? {
        let conversation: String = row.get(0).map_err(sql_err)?;
        let Some(&i) = index.get(&conversation) else {
            continue;
        };
        let record = &mut out[i];
        let id: i64 = row.get(1).map_err(sql_err)?;
        let from = Sender::parse(&row.get::<_, String>(2).map_err(sql_err)?).map_err(corrupt)?;
        let from_role = match from {
            Sender::System => "system".to_owned(),
            Sender::Side(side) => record
                .conversation
                .participant(side)
                .map(|p| p.role.clone())
                .ok_or_else(|| corrupt(format!("message {id} is from a missing side {side}")))?,
        };
        let files: String = row.get(5).map_err(sql_err)?;
        record.messages.push(MessageRecord {
            message: Message {
                id,
                from,
                from_role,
                action_type: ActionType::parse(&row.get::<_, String>(3).map_err(sql_err)?)
                    .map_err(corrupt)?,
                content: row.get(4).map_err(sql_err)?,
                files_involved: serde_json::from_str(&files).map_err(corrupt)?,
                created_at: Timestamp::from_micros(row.get(6).map_err(sql_err)?),
            },
            unread_by: pending.remove(&id).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Decodes an audit row (`seq, at, actor, action, conversation_id, side,
/// outcome, code, bytes, count, detail, prev_hash, hash`).
fn decode_audit(
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

const AUDIT_COLUMNS: &str = "seq, at, actor, action, conversation_id, side, outcome, code, bytes, count, detail, prev_hash, hash";

fn audit_query(conn: &Connection, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
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
    out.reverse();
    Ok(out)
}

fn walk_chain<W: AuditWalk>(conn: &Connection, mut walker: W) -> Result<W::Output, StoreError> {
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

/// The conversations expired at `now` that cleanup removes, with their counts.
fn expired(tx: &Connection, now: Timestamp) -> Result<Vec<RemovedConversation>, StoreError> {
    let ids: Vec<String> = tx
        .prepare_cached(
            "SELECT id FROM conversations WHERE expires_at <= ?1 ORDER BY expires_at, id",
        )
        .and_then(|mut s| {
            s.query_map([now.as_micros()], |r| r.get(0))?
                .collect::<Result<_, _>>()
        })
        .map_err(sql_err)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut messages: HashMap<String, i64> = HashMap::new();
    tx.prepare_cached(
        "SELECT conversation_id, count(*) FROM messages
         WHERE conversation_id IN (SELECT id FROM conversations WHERE expires_at <= ?1)
         GROUP BY conversation_id",
    )
    .and_then(|mut s| {
        for row in s.query_map([now.as_micros()], |r| Ok((r.get(0)?, r.get(1)?)))? {
            let (id, n) = row?;
            messages.insert(id, n);
        }
        Ok(())
    })
    .map_err(sql_err)?;
    let mut unread: HashMap<String, i64> = HashMap::new();
    tx.prepare_cached(
        "SELECT conversation_id, count(*) FROM pending_deliveries
         WHERE conversation_id IN (SELECT id FROM conversations WHERE expires_at <= ?1)
         GROUP BY conversation_id",
    )
    .and_then(|mut s| {
        for row in s.query_map([now.as_micros()], |r| Ok((r.get(0)?, r.get(1)?)))? {
            let (id, n) = row?;
            unread.insert(id, n);
        }
        Ok(())
    })
    .map_err(sql_err)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let parsed = ConversationId::parse(&id).map_err(corrupt)?;
        let conversation = ops::conversation(tx, &parsed)?
            .ok_or_else(|| corrupt(format!("conversation {id} has no participants")))?;
        out.push(RemovedConversation {
            conversation,
            messages: count(messages.get(&id).copied().unwrap_or(0)),
            unread: count(unread.get(&id).copied().unwrap_or(0)),
        });
    }
    Ok(out)
}

fn cleanup(
    tx: &Connection,
    now: Timestamp,
    dry_run: bool,
    audit: &AuditFor<CleanupReport>,
) -> Result<CleanupReport, StoreError> {
    let removed = expired(tx, now)?;
    // Rows of expired conversations, and any left behind by a conversation
    // deleted earlier (a call racing a cleanup): neither table has a foreign key.
    const STALE: &str =
        "conversation_id NOT IN (SELECT id FROM conversations WHERE expires_at > ?1)";
    let at = now.as_micros();
    let rate_buckets = if dry_run {
        tx.prepare_cached(&format!("SELECT count(*) FROM rate_buckets WHERE {STALE}"))
            .and_then(|mut s| s.query_row([at], |r| r.get(0)))
            .map_err(sql_err)?
    } else {
        let max_id: Option<i64> = tx
            .prepare_cached(
                "SELECT max(id) FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE expires_at <= ?1)",
            )
            .and_then(|mut s| s.query_row([at], |r| r.get(0)))
            .map_err(sql_err)?;
        let deleted = tx
            .prepare_cached(&format!("DELETE FROM rate_buckets WHERE {STALE}"))
            .and_then(|mut s| s.execute([at]))
            .map_err(sql_err)?;
        for sql in [
            format!("DELETE FROM pending_deliveries WHERE {STALE}"),
            "DELETE FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE expires_at <= ?1)".to_owned(),
            "DELETE FROM participants WHERE conversation_id IN (SELECT id FROM conversations WHERE expires_at <= ?1)".to_owned(),
            "DELETE FROM conversations WHERE expires_at <= ?1".to_owned(),
        ] {
            tx.prepare_cached(&sql)
                .and_then(|mut s| s.execute([at]))
                .map_err(sql_err)?;
        }
        if let Some(max_id) = max_id {
            // Ids of deleted messages are never handed out again.
            tx.prepare_cached(
                "UPDATE meta SET value = max(value, ?1) WHERE key = 'message_id_floor'",
            )
            .and_then(|mut s| s.execute([max_id]))
            .map_err(sql_err)?;
        }
        i64::try_from(deleted).unwrap_or(i64::MAX)
    };
    let report = CleanupReport {
        dry_run,
        removed,
        rate_buckets: count(rate_buckets),
    };
    ops::append_audit(tx, now, &audit(&report))?;
    Ok(report)
}

/// The natural identity of a message within its conversation: an imported
/// message is already present when one with the same key is.
type MessageKey = (String, i64, String, String, String);

fn message_key(m: &Message) -> Result<MessageKey, StoreError> {
    Ok((
        m.from.as_str().to_owned(),
        m.created_at.as_micros(),
        m.action_type.as_str().to_owned(),
        m.content.clone(),
        serde_json::to_string(&m.files_involved).map_err(|e| StoreError::Backend(Box::new(e)))?,
    ))
}

fn stored_keys(tx: &Connection, id: &ConversationId) -> Result<HashSet<MessageKey>, StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT from_side, created_at, action_type, content, files FROM messages WHERE conversation_id = ?1",
        )
        .map_err(sql_err)?;
    let rows = stmt
        .query_map([id.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .map_err(sql_err)?;
    rows.collect::<Result<_, _>>().map_err(sql_err)
}

fn high_water(tx: &Connection) -> Result<i64, StoreError> {
    tx.prepare_cached(
        "SELECT max(coalesce((SELECT max(id) FROM messages), 0), (SELECT value FROM meta WHERE key = 'message_id_floor'))",
    )
    .and_then(|mut s| s.query_row([], |r| r.get(0)))
    .map_err(sql_err)
}

fn same_header(stored: &Conversation, file: &Conversation) -> bool {
    let roles = |c: &Conversation| -> Vec<(Side, String)> {
        c.participants
            .iter()
            .map(|p| (p.side, p.role.clone()))
            .collect()
    };
    stored.created_at == file.created_at
        && stored.expires_at == file.expires_at
        && roles(stored) == roles(file)
}

fn import(
    tx: &Connection,
    records: &[ConversationRecord],
    at: Timestamp,
    audit: &AuditFor<ImportReport>,
) -> Result<ImportReport, StoreError> {
    let mut report = ImportReport::default();
    // Ids at or below this were used once in this database (the floor remembers
    // deleted ones); an imported message keeps its id only above it.
    let floor = high_water(tx)?;
    for record in records {
        let file = &record.conversation;
        let existing = ops::conversation(tx, &file.id)?;
        let mut changed = false;
        let known = match &existing {
            Some(stored) => {
                if !same_header(stored, file) {
                    return Err(StoreError::Conflict(format!(
                        "conversation {} already exists with other roles or times; nothing was imported",
                        file.id
                    )));
                }
                for p in &file.participants {
                    let (Some(new), Some(old)) = (&p.status, stored.participant(p.side)) else {
                        continue;
                    };
                    if old
                        .status
                        .as_ref()
                        .is_none_or(|s| s.updated_at < new.updated_at)
                    {
                        ops::set_status(tx, &file.id, p.side, new)?;
                        changed = true;
                    }
                }
                stored_keys(tx, &file.id)?
            }
            None => {
                tx.prepare_cached(
                    "INSERT INTO conversations (id, created_at, expires_at) VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        file.id.as_str(),
                        file.created_at.as_micros(),
                        file.expires_at.as_micros()
                    ])
                })
                .map_err(sql_err)?;
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO participants (conversation_id, side, role, status, note, status_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .map_err(sql_err)?;
                for p in &file.participants {
                    insert
                        .execute(params![
                            file.id.as_str(),
                            p.side.as_str(),
                            p.role,
                            p.status.as_ref().map(|s| s.status.as_str()),
                            p.status.as_ref().and_then(|s| s.note.as_deref()),
                            p.status.as_ref().map(|s| s.updated_at.as_micros()),
                        ])
                        .map_err(sql_err)?;
                }
                HashSet::new()
            }
        };
        let mut seen = known;
        let mut new = Vec::new();
        for m in &record.messages {
            if seen.insert(message_key(&m.message)?) {
                new.push(m);
            } else {
                report.messages_skipped += 1;
            }
        }
        let keep_ids = new.iter().all(|m| m.message.id > floor);
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO messages (id, conversation_id, from_side, action_type, content, files, created_at)
                 VALUES (
                     coalesce(?1, max(coalesce((SELECT max(id) FROM messages), 0), (SELECT value FROM meta WHERE key = 'message_id_floor')) + 1),
                     ?2, ?3, ?4, ?5, ?6, ?7
                 ) RETURNING id",
            )
            .map_err(sql_err)?;
        let mut deliver = tx
            .prepare_cached(
                "INSERT INTO pending_deliveries (conversation_id, recipient, message_id) VALUES (?1, ?2, ?3)",
            )
            .map_err(sql_err)?;
        for m in &new {
            let msg = &m.message;
            let files = serde_json::to_string(&msg.files_involved)
                .map_err(|e| StoreError::Backend(Box::new(e)))?;
            let id: i64 = insert
                .query_row(
                    params![
                        keep_ids.then_some(msg.id),
                        file.id.as_str(),
                        msg.from.as_str(),
                        msg.action_type.as_str(),
                        msg.content,
                        files,
                        msg.created_at.as_micros()
                    ],
                    |r| r.get(0),
                )
                .map_err(sql_err)?;
            for side in &m.unread_by {
                deliver
                    .execute(params![file.id.as_str(), side.as_str(), id])
                    .map_err(sql_err)?;
            }
        }
        report.messages_added += new.len() as u64;
        if !keep_ids {
            report.messages_renumbered += new.len() as u64;
        }
        match (existing.is_some(), changed || !new.is_empty()) {
            (false, _) => report.conversations_added += 1,
            (true, true) => report.conversations_updated += 1,
            (true, false) => report.conversations_unchanged += 1,
        }
    }
    ops::append_audit(tx, at, &audit(&report))?;
    Ok(report)
}

/// Creates (or truncates) `path` with mode 0600.
fn private_file(path: &Path) -> Result<(), StoreError> {
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io_err)
}

/// Runs an online backup from `from` to `to` step by step, reporting progress.
fn copy(
    from: &Connection,
    to: &mut Connection,
    progress: &CopyProgress,
) -> Result<CopyReport, StoreError> {
    let page_size: i64 = from
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(sql_err)?;
    let backup = Backup::new(from, to).map_err(sql_err)?;
    let mut waited = 0u32;
    loop {
        let step = backup.step(PAGES_PER_STEP).map_err(|e| match &e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ReadOnly => {
                StoreError::Conflict(
                    "the target database has a different page size and is in WAL mode; stop its servers and remove it first"
                        .to_owned(),
                )
            }
            _ => sql_err(e),
        })?;
        let p = backup.progress();
        let total = u64::try_from(p.pagecount).unwrap_or(0);
        let done = total.saturating_sub(u64::try_from(p.remaining).unwrap_or(0));
        progress(done, total);
        match step {
            StepResult::Done => {
                return Ok(CopyReport {
                    pages: total,
                    page_size: count(page_size),
                });
            }
            StepResult::More => waited = 0,
            // Another process holds the lock we need; wait for it (about ten seconds at most).
            _ => {
                waited += 1;
                if waited > 1000 {
                    return Err(StoreError::Busy);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

fn backup_to(
    conn: &Connection,
    dest: &Path,
    progress: &CopyProgress,
) -> Result<CopyReport, StoreError> {
    private_file(dest)?;
    let mut target = Connection::open_with_flags(
        dest,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_err)?;
    // Holding a read transaction on the source pins one snapshot for every
    // step: writers in other processes go on (WAL), and the copy never has to
    // restart because of them.
    let snapshot = ReadTx::begin(conn)?;
    snapshot
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(sql_err)?;
    let report = copy(&snapshot, &mut target, progress)?;
    drop(snapshot);
    // A backup is one self-contained file: no `-wal` beside it.
    let mode: String = target
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .map_err(sql_err)?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(corrupt(format!(
            "cannot finish the backup file (journal mode {mode})"
        )));
    }
    target.close().map_err(|(_, e)| sql_err(e))?;
    Ok(report)
}

fn restore_from(
    conn: &mut Connection,
    src: &Path,
    progress: &CopyProgress,
) -> Result<CopyReport, StoreError> {
    let source = open_read_only(src)?;
    copy(&source, conn, progress)
}

fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    if !path.is_file() {
        return Err(StoreError::NotFound);
    }
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_err)
}

fn check_file(path: &Path) -> Result<FileCheck, StoreError> {
    let conn = open_read_only(path)?;
    let schema_version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql_err)?;
    let problems: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>())
        .map_err(sql_err)?;
    let problems = if problems == ["ok"] {
        Vec::new()
    } else {
        problems
    };
    let tables: i64 = conn
        .query_row(
            &format!(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ({})",
                CORE_TABLES.map(|t| format!("'{t}'")).join(", ")
            ),
            [],
            |r| r.get(0),
        )
        .map_err(sql_err)?;
    Ok(FileCheck {
        problems,
        schema_version,
        supported_schema_version: super::SCHEMA_VERSION,
        is_bridge: tables == CORE_TABLES.len() as i64,
    })
}

/// The process holding a lock on `range` of `path`, if any. Only asks
/// (`F_GETLK`); takes no lock. POSIX locks belong to the process, and closing
/// any descriptor of a file drops all of them, so this must not run while
/// this process has the file open through SQLite.
fn lock_holder(path: &Path, (start, len): (i64, i64)) -> Result<Option<u32>, StoreError> {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(e)),
    };
    // SAFETY: `flock` is a plain C struct for which all-zero bytes are valid.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = start as libc::off_t;
    lock.l_len = len as libc::off_t;
    // SAFETY: the descriptor is open for the duration of the call and `lock`
    // is a valid, exclusively borrowed `flock` that F_GETLK fills in.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut lock) };
    if rc != 0 {
        return Err(io_err(std::io::Error::last_os_error()));
    }
    if lock.l_type == libc::F_UNLCK as libc::c_short {
        Ok(None)
    } else {
        Ok(Some(u32::try_from(lock.l_pid).unwrap_or(0)))
    }
}

fn shm_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-shm");
    PathBuf::from(name)
}

impl AdminStore for SqliteStore {
    async fn conversation_summaries(&self) -> Result<Vec<ConversationSummary>, StoreError> {
        self.call(|conn| summaries(conn)).await
    }

    async fn conversation_records(
        &self,
        ids: Option<Vec<ConversationId>>,
    ) -> Result<Vec<ConversationRecord>, StoreError> {
        self.call(move |conn| records(conn, ids.as_deref())).await
    }

    async fn audit_query(&self, query: AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.flush().await?;
        self.call(move |conn| audit_query(conn, &query)).await
    }

    async fn walk_audit_chain<W: AuditWalk>(&self, walker: W) -> Result<W::Output, StoreError> {
        self.flush().await?;
        self.call(move |conn| walk_chain(conn, walker.clone()))
            .await
    }

    async fn record_management(&self, at: Timestamp, draft: AuditDraft) -> Result<(), StoreError> {
        self.write(move |tx| ops::append_audit(tx, at, &draft))
            .await
    }

    async fn cleanup(
        &self,
        now: Timestamp,
        dry_run: bool,
        audit: AuditFor<CleanupReport>,
    ) -> Result<CleanupReport, StoreError> {
        self.write(move |tx| cleanup(tx, now, dry_run, &audit))
            .await
    }

    async fn import(
        &self,
        records: Vec<ConversationRecord>,
        at: Timestamp,
        audit: AuditFor<ImportReport>,
    ) -> Result<ImportReport, StoreError> {
        let records = Arc::new(records);
        let report = self
            .write(move |tx| import(tx, &records, at, &audit))
            .await?;
        if report.messages_added > 0 {
            self.announce_message();
        }
        Ok(report)
    }

    async fn backup_to(
        &self,
        dest: &Path,
        progress: CopyProgress,
    ) -> Result<CopyReport, StoreError> {
        self.flush().await?;
        let dest = dest.to_owned();
        self.call(move |conn| backup_to(conn, &dest, &progress))
            .await
    }

    async fn restore_from(
        &self,
        src: &Path,
        progress: CopyProgress,
    ) -> Result<CopyReport, StoreError> {
        self.flush().await?;
        let src = src.to_owned();
        let report = self
            .call(move |conn| restore_from(conn, &src, &progress))
            .await?;
        self.announce_message();
        Ok(report)
    }

    fn check_file(path: &Path) -> Result<FileCheck, StoreError> {
        check_file(path)
    }

    fn in_use(path: &Path) -> Result<Option<u32>, StoreError> {
        if let Some(pid) = lock_holder(path, DB_LOCK_RANGE)? {
            return Ok(Some(pid));
        }
        lock_holder(&shm_path(path), SHM_DMS_RANGE)
    }
}
