//! The SQL of the management commands: summaries, whole conversations, audit
//! queries and chain walks, cleanup, import, online backup and restore.
//!
//! Reads run in one deferred transaction each, so a command sees one snapshot
//! while servers keep writing; writes run in an immediate transaction through
//! [`SqliteStore::write`], which also appends the action's audit record.
//! Nothing here decides what is allowed; the service layer does.
//!
//! [`read`] holds the snapshot reads; [`import`] the import transaction;
//! [`copy`] the online backup, restore and the file checks around them.

mod copy;
mod import;
mod read;
mod schema;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::{SqliteStore, ops, sql_err};
use crate::audit::{AuditDraft, AuditRecord};
use crate::domain::{ConversationId, Timestamp};
use crate::store::StoreError;
use crate::store::admin::{
    AdminStore, AuditFor, AuditPrune, AuditQuery, AuditWalk, CleanupReport, ConversationRecord,
    ConversationSummary, CopyProgress, CopyReport, DatabaseFile, FileCheck, ImportMode,
    ImportReport, RemovedConversation,
};

use super::audit::{audit_query, walk_chain};
use super::tx::{ReadTx, WriteTx};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn io_err(e: std::io::Error) -> StoreError {
    StoreError::Backend(Box::new(e))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The conversations expired at `now` that cleanup removes, with their counts.
fn expired(tx: &WriteTx<'_>, now: Timestamp) -> Result<Vec<RemovedConversation>, StoreError> {
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
        let conversation = ops::conversation(tx.opener(), tx, &parsed)?
            .ok_or_else(|| corrupt(format!("conversation {id} has no participants")))?;
        out.push(RemovedConversation {
            conversation,
            messages: count(messages.get(&id).copied().unwrap_or(0)),
            unread: count(unread.get(&id).copied().unwrap_or(0)),
        });
    }
    Ok(out)
}

/// Deletes every conversation expiring at or before `at` (microseconds; `i64::MAX`
/// for all of them) with its messages, participants, deliveries and rate
/// counters, raising the message-id floor so no id is reused. Returns the rate
/// counters deleted.
pub(super) fn delete_expiring_by(tx: &WriteTx<'_>, at: i64) -> Result<i64, StoreError> {
    // Rows of those conversations, and any left behind by a conversation
    // deleted earlier (a call racing a cleanup): neither table has a foreign key.
    const STALE: &str =
        "conversation_id NOT IN (SELECT id FROM conversations WHERE expires_at > ?1)";
    let max_id: Option<i64> = tx
        .prepare_cached(
            "SELECT max(id) FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE expires_at <= ?1)",
        )
        .and_then(|mut s| s.query_row([at], |r| r.get(0)))
        .map_err(sql_err)?;
    let deleted = tx
        .prepare_cached(&format!(
            "DELETE FROM rate_buckets WHERE {STALE} AND conversation_id <> ''"
        ))
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
        tx.prepare_cached("UPDATE meta SET value = max(value, ?1) WHERE key = 'message_id_floor'")
            .and_then(|mut s| s.execute([max_id]))
            .map_err(sql_err)?;
    }
    Ok(i64::try_from(deleted).unwrap_or(i64::MAX))
}

fn end_conversation(
    tx: &WriteTx<'_>,
    id: &ConversationId,
    at: Timestamp,
    audit: &AuditDraft,
) -> Result<bool, StoreError> {
    let at_us = at.as_micros();
    let ended = tx
        .prepare_cached(
            "UPDATE conversations SET expires_at = ?2 WHERE id = ?1 AND expires_at > ?2",
        )
        .and_then(|mut s| s.execute(rusqlite::params![id.as_str(), at_us]))
        .map_err(sql_err)?
        == 1;
    if ended {
        // Its invites, its YOLO activation and every approval not yet
        // redeemed end with it, in the same transaction: nothing joins or
        // runs once `end` has committed.
        tx.prepare_cached(
            "UPDATE invites SET expires_at = ?2 WHERE conversation_id = ?1 AND expires_at > ?2",
        )
        .and_then(|mut s| s.execute(rusqlite::params![id.as_str(), at_us]))
        .map_err(sql_err)?;
        super::yolo::revoke(tx, id.as_str(), at_us)?;
        ops::append_audit(tx, at, audit)?;
    }
    Ok(ended)
}

fn cleanup(
    tx: &WriteTx<'_>,
    now: Timestamp,
    dry_run: bool,
    audit_cutoff: Option<Timestamp>,
    sessions_cutoff: Timestamp,
    audit: &AuditFor<CleanupReport>,
) -> Result<CleanupReport, StoreError> {
    let removed = expired(tx, now)?;
    let sessions_verb = if dry_run { "SELECT count(*)" } else { "DELETE" };
    let mcp_sessions = tx
        .prepare_cached(&format!(
            "{sessions_verb} {}",
            crate::store::mcp_session::UNBOUND
        ))
        .and_then(|mut s| {
            let params = [sessions_cutoff.as_micros(), now.as_micros()];
            if dry_run {
                s.query_row(params, |r| r.get::<_, i64>(0))
            } else {
                s.execute(params)
                    .map(|n| i64::try_from(n).unwrap_or(i64::MAX))
            }
        })
        .map_err(sql_err)?;
    const STALE: &str =
        "conversation_id NOT IN (SELECT id FROM conversations WHERE expires_at > ?1)";
    let at = now.as_micros();
    let rate_buckets = if dry_run {
        tx.prepare_cached(&format!(
            "SELECT count(*) FROM rate_buckets WHERE {STALE} AND conversation_id <> ''"
        ))
        .and_then(|mut s| s.query_row([at], |r| r.get(0)))
        .map_err(sql_err)?
    } else {
        delete_expiring_by(tx, at)?
    };
    let pruned = match audit_cutoff {
        Some(cutoff) => super::audit::prune(tx, cutoff, dry_run)?,
        None => AuditPrune::Off,
    };
    let report = CleanupReport {
        dry_run,
        removed,
        rate_buckets: count(rate_buckets),
        mcp_sessions: count(mcp_sessions),
        audit: pruned,
    };
    ops::append_audit(tx, now, &audit(&report))?;
    Ok(report)
}

impl AdminStore for SqliteStore {
    async fn conversation_summaries(&self) -> Result<Vec<ConversationSummary>, StoreError> {
        let sealer = self.inner.sealer.clone();
        self.call_off_thread(move |conn| read::summaries(conn, &sealer))
            .await
    }

    async fn conversation_records(
        &self,
        ids: Option<Vec<ConversationId>>,
    ) -> Result<Vec<ConversationRecord>, StoreError> {
        let sealer = self.inner.sealer.clone();
        self.call_off_thread(move |conn| read::records(conn, &sealer, ids.as_deref()))
            .await
    }

    async fn audit_query(&self, query: AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.flush().await?;
        self.call_off_thread(move |conn| audit_query(conn, &query))
            .await
    }

    async fn walk_audit_chain<W: AuditWalk>(&self, walker: W) -> Result<W::Output, StoreError> {
        self.flush().await?;
        self.call_off_thread(move |conn| walk_chain(conn, walker))
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
        audit_cutoff: Option<Timestamp>,
        sessions_cutoff: Timestamp,
        audit: AuditFor<CleanupReport>,
    ) -> Result<CleanupReport, StoreError> {
        self.write_large(move |tx| cleanup(tx, now, dry_run, audit_cutoff, sessions_cutoff, &audit))
            .await
    }

    async fn end_conversation(
        &self,
        id: ConversationId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<bool, StoreError> {
        let woken = id.clone();
        let ended = self
            .write(move |tx| end_conversation(tx, &id, at, &audit))
            .await?;
        if ended {
            // Its long-polls, here and in other processes, wake and find it over.
            self.inner.hub.notify_conversation(&woken);
            self.inner.wake.touch();
        }
        Ok(ended)
    }

    async fn import(
        &self,
        records: Vec<ConversationRecord>,
        mode: ImportMode,
        at: Timestamp,
        audit: AuditFor<ImportReport>,
    ) -> Result<ImportReport, StoreError> {
        let records = Arc::new(records);
        let report = self
            .write_large(move |tx| import::import(tx, &records, mode, at, &audit))
            .await?;
        if report.messages_added > 0 {
            self.announce_message();
        }
        Ok(report)
    }
}

impl DatabaseFile for SqliteStore {
    async fn backup_to(
        &self,
        dest: &Path,
        progress: CopyProgress,
    ) -> Result<CopyReport, StoreError> {
        self.flush().await?;
        let dest = dest.to_owned();
        self.call_off_thread(move |conn| copy::backup_to(conn, &dest, &progress))
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
            .call_off_thread(move |conn| copy::restore_from(conn, &src, &progress))
            .await?;
        self.announce_message();
        Ok(report)
    }

    fn check_file(path: &Path) -> Result<FileCheck, StoreError> {
        copy::check_file(path)
    }

    fn in_use(path: &Path) -> Result<Option<u32>, StoreError> {
        copy::in_use(path)
    }
}
