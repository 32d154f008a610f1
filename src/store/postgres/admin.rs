//! The PostgreSQL side of [`AdminStore`]: summaries, whole conversations,
//! audit queries and the chain walk, cleanup and import. Backup and restore
//! copy SQLite files; a PostgreSQL database is backed up with `export` (or
//! PostgreSQL's own tools), so those two refuse with what to do instead.

mod import;

use std::collections::HashMap;
use std::sync::Arc;

use super::audit::{self, audit_query, walk_chain};
use super::db::{Db, Write, get, snapshot};
use super::deadline;
use super::keys::decoded;
use super::ops::{self, PARTICIPANT_COLUMNS, decode_message, decode_participant};
use super::{PgStore, in_tx};
use crate::audit::{AuditDraft, AuditRecord};
use crate::domain::{ConversationId, Sender, Side, Timestamp};
use crate::store::admin::{
    AdminStore, AuditFor, AuditPrune, AuditQuery, AuditWalk, CleanupReport, ConversationRecord,
    ConversationSummary, ImportMode, ImportReport, MessageRecord, RemovedConversation,
};
use crate::store::sealed::Sealer;
use crate::store::{Conversation, StoreError};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Conversations with their participants, oldest first (all, or those in `ids`).
async fn conversations(
    db: Db<'_>,
    sealer: &Sealer,
    ids: Option<&[String]>,
) -> Result<Vec<Conversation>, StoreError> {
    let rows = db
        .query(
            &format!(
                "SELECT c.id, c.created_at, c.expires_at, {PARTICIPANT_COLUMNS}
                 FROM conversations c JOIN participants p ON p.conversation_id = c.id
                 WHERE $1::text[] IS NULL OR c.id = ANY($1)
                 ORDER BY c.created_at, c.id, length(p.side), p.side"
            ),
            &[&ids],
        )
        .await?;
    decoded(db, sealer, |o| {
        let mut out: Vec<Conversation> = Vec::new();
        for row in &rows {
            let id: String = get(row, 0)?;
            if out.last().is_none_or(|c| c.id.as_str() != id) {
                out.push(Conversation {
                    id: ConversationId::parse(&id).map_err(corrupt)?,
                    created_at: Timestamp::from_micros(get(row, 1)?),
                    expires_at: Timestamp::from_micros(get(row, 2)?),
                    participants: Vec::with_capacity(2),
                });
            }
            let participant = decode_participant(o, &id, row, 3)?;
            if let Some(c) = out.last_mut() {
                c.participants.push(participant);
            }
        }
        Ok(out)
    })
    .await
}

async fn summaries(db: Db<'_>, sealer: &Sealer) -> Result<Vec<ConversationSummary>, StoreError> {
    let conversations = conversations(db, sealer, None).await?;
    let mut totals: HashMap<String, (i64, i64)> = HashMap::new();
    for r in db
        .query(
            "SELECT conversation_id, count(*), max(created_at) FROM messages GROUP BY conversation_id",
            &[],
        )
        .await?
    {
        totals.insert(get(&r, 0)?, (get(&r, 1)?, get(&r, 2)?));
    }
    let mut unread: HashMap<(String, String), i64> = HashMap::new();
    for r in db
        .query(
            "SELECT conversation_id, recipient, count(*) FROM pending_deliveries GROUP BY conversation_id, recipient",
            &[],
        )
        .await?
    {
        unread.insert((get(&r, 0)?, get(&r, 1)?), get(&r, 2)?);
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
                    let key = (id.clone(), p.side.as_str().to_owned());
                    (p.side, count(unread.get(&key).copied().unwrap_or(0)))
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

async fn records(
    db: Db<'_>,
    sealer: &Sealer,
    ids: Option<&[ConversationId]>,
) -> Result<Vec<ConversationRecord>, StoreError> {
    let wanted: Option<Vec<String>> =
        ids.map(|ids| ids.iter().map(|i| i.as_str().to_owned()).collect());
    let mut out = Vec::new();
    for conversation in conversations(db, sealer, wanted.as_deref()).await? {
        let id = conversation.id.as_str();
        let mut pending: HashMap<i64, Vec<Side>> = HashMap::new();
        for r in db
            .query(
                "SELECT message_id, recipient FROM pending_deliveries WHERE conversation_id = $1 ORDER BY recipient",
                &[&id],
            )
            .await?
        {
            pending
                .entry(get(&r, 0)?)
                .or_default()
                .push(Side::parse(&get::<String>(&r, 1)?).map_err(corrupt)?);
        }
        let rows = db
            .query(
                &format!(
                    "SELECT {} FROM messages m
                     LEFT JOIN participants p ON p.conversation_id = m.conversation_id AND p.side = m.from_side
                     WHERE m.conversation_id = $1 ORDER BY m.id",
                    ops::MESSAGE_COLUMNS
                ),
                &[&id],
            )
            .await?;
        let decoded_messages = decoded(db, sealer, |o| {
            rows.iter()
                .map(|r| decode_message(o, r))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
        let mut messages = Vec::with_capacity(rows.len());
        for message in decoded_messages {
            if let Sender::Side(side) = message.from
                && conversation.participant(side).is_none()
            {
                return Err(corrupt(format!(
                    "message {} is from a missing side {side}",
                    message.id
                )));
            }
            messages.push(MessageRecord {
                unread_by: pending.remove(&message.id).unwrap_or_default(),
                message,
            });
        }
        out.push(ConversationRecord {
            conversation,
            messages,
        });
    }
    Ok(out)
}

/// The conversations expired at `now` that cleanup removes, with their counts.
async fn expired(
    db: Db<'_>,
    sealer: &Sealer,
    now: Timestamp,
) -> Result<Vec<RemovedConversation>, StoreError> {
    let at = now.as_micros();
    let rows = db
        .query(
            "SELECT c.id,
                    (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id),
                    (SELECT count(*) FROM pending_deliveries d WHERE d.conversation_id = c.id)
             FROM conversations c WHERE c.expires_at <= $1 ORDER BY c.expires_at, c.id",
            &[&at],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id = ConversationId::parse(&get::<String>(r, 0)?).map_err(corrupt)?;
        let conversation = ops::conversation(db, sealer, &id)
            .await?
            .ok_or_else(|| corrupt(format!("conversation {id} has no participants")))?;
        out.push(RemovedConversation {
            conversation,
            messages: count(get(r, 1)?),
            unread: count(get(r, 2)?),
        });
    }
    Ok(out)
}

/// Deletes every conversation expiring at or before `at` (microseconds;
/// `i64::MAX` for all of them) with everything that hangs off it, and the
/// deliveries and rate counters of conversations gone. Returns the rate
/// counters deleted. Message ids come from a sequence, so none is handed out
/// again.
pub(super) async fn delete_expiring_by(db: Db<'_>, at: i64) -> Result<i64, StoreError> {
    const STALE: &str =
        "conversation_id NOT IN (SELECT id FROM conversations WHERE expires_at > $1)";
    // The conversations first, in id order, then their rate buckets: the
    // order every call takes them in (its conversation or participant, then
    // its quota). Buckets first deadlocked with any call still arriving for
    // an ended conversation. Participants, messages, invites, bindings and
    // YOLO rows go by cascade.
    lock_conversations(db, Doomed::ExpiringBy(at)).await?;
    db.exec("DELETE FROM conversations WHERE expires_at <= $1", &[&at])
        .await?;
    let deleted = db
        .exec(
            &format!("DELETE FROM rate_buckets WHERE {STALE} AND conversation_id <> ''"),
            &[&at],
        )
        .await?;
    db.exec(
        &format!("DELETE FROM pending_deliveries WHERE {STALE}"),
        &[&at],
    )
    .await?;
    Ok(i64::try_from(deleted).unwrap_or(i64::MAX))
}

/// Which conversations a management command is about to change together.
pub(super) enum Doomed<'a> {
    /// Those expiring by this time (cleanup; `i64::MAX` for a restore).
    ExpiringBy(i64),
    /// These (an import merging into them).
    Ids(&'a [&'a str]),
}

/// Locks several conversations at once, in id order, so that two commands
/// that each change several never wait for each other in a cycle, and a
/// call on one of them (which locks its conversation first) waits, or is
/// waited for, as a whole.
pub(super) async fn lock_conversations(db: Db<'_>, which: Doomed<'_>) -> Result<(), StoreError> {
    match which {
        Doomed::ExpiringBy(at) => {
            db.query(
                "SELECT id FROM conversations WHERE expires_at <= $1 ORDER BY id FOR UPDATE",
                &[&at],
            )
            .await?
        }
        Doomed::Ids(ids) => {
            db.query(
                "SELECT id FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE",
                &[&ids],
            )
            .await?
        }
    };
    Ok(())
}

async fn cleanup(
    w: &Write,
    key: &crate::audit::AuditKey,
    now: Timestamp,
    dry_run: bool,
    audit_cutoff: Option<Timestamp>,
    sessions_cutoff: Timestamp,
) -> Result<CleanupReport, StoreError> {
    let db = w.db();
    let removed = expired(db, w.sealer(), now).await?;
    let cutoffs = [sessions_cutoff.as_micros(), now.as_micros()];
    let mcp_sessions: i64 = if dry_run {
        let sql = super::mcp_session::pg_unbound("SELECT count(*)");
        get(&db.one(&sql, &[&cutoffs[0], &cutoffs[1]]).await?, 0)?
    } else {
        let sql = super::mcp_session::pg_unbound("DELETE");
        let n = db.exec(&sql, &[&cutoffs[0], &cutoffs[1]]).await?;
        i64::try_from(n).unwrap_or(i64::MAX)
    };
    const STALE: &str =
        "conversation_id NOT IN (SELECT id FROM conversations WHERE expires_at > $1)";
    let at = now.as_micros();
    let rate_buckets: i64 = if dry_run {
        get(
            &db.one(
                &format!(
                    "SELECT count(*) FROM rate_buckets WHERE {STALE} AND conversation_id <> ''"
                ),
                &[&at],
            )
            .await?,
            0,
        )?
    } else {
        delete_expiring_by(db, at).await?
    };
    let pruned = match audit_cutoff {
        Some(cutoff) => audit::prune(db, key, cutoff, dry_run).await?,
        None => AuditPrune::Off,
    };
    Ok(CleanupReport {
        dry_run,
        removed,
        rate_buckets: count(rate_buckets),
        mcp_sessions: count(mcp_sessions),
        audit: pruned,
    })
}

impl AdminStore for PgStore {
    async fn conversation_summaries(&self) -> Result<Vec<ConversationSummary>, StoreError> {
        let sealer = &self.inner.sealer;
        deadline::read_snapshot(self.client().await?, async |db| summaries(db, sealer).await).await
    }

    async fn conversation_records(
        &self,
        ids: Option<Vec<ConversationId>>,
    ) -> Result<Vec<ConversationRecord>, StoreError> {
        let sealer = &self.inner.sealer;
        let mut client = self.client().await?;
        match ids {
            // Chosen conversations (`show`, the console): as long as a read.
            Some(ids) => {
                deadline::read_snapshot(client, async |db| {
                    records(db, sealer, Some(ids.as_slice())).await
                })
                .await
            }
            // Every conversation (export, backup): as long as it takes.
            None => {
                let tx = snapshot(&mut client).await?;
                records(Db::Tx(&tx), sealer, None).await
            }
        }
    }

    async fn audit_query(&self, query: AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.settle_audit().await?;
        deadline::read(self.client().await?, async |db| {
            audit_query(db, &query).await
        })
        .await
    }

    async fn walk_audit_chain<W: AuditWalk>(&self, walker: W) -> Result<W::Output, StoreError> {
        self.settle_audit().await?;
        let mut client = self.client().await?;
        let tx = snapshot(&mut client).await?;
        walk_chain(Db::Tx(&tx), walker).await
    }

    async fn record_management(&self, at: Timestamp, draft: AuditDraft) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            w.audit(at, draft.clone());
            Ok(())
        })
    }

    async fn cleanup(
        &self,
        now: Timestamp,
        dry_run: bool,
        audit_cutoff: Option<Timestamp>,
        sessions_cutoff: Timestamp,
        audit: AuditFor<CleanupReport>,
    ) -> Result<CleanupReport, StoreError> {
        if audit_cutoff.is_some() {
            // The prune re-anchors the chain on what it keeps: all of it.
            self.settle_audit().await?;
        }
        let key = self.inner.audit_key.clone();
        in_tx!(self, |w| {
            let report = cleanup(&w, &key, now, dry_run, audit_cutoff, sessions_cutoff).await?;
            w.audit(now, audit(&report));
            Ok(report)
        })
    }

    async fn end_conversation(
        &self,
        id: ConversationId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<bool, StoreError> {
        let at_us = at.as_micros();
        let ended = in_tx!(self, |w| {
            let db = w.db();
            let ended = db
                .exec(
                    "UPDATE conversations SET expires_at = $2 WHERE id = $1 AND expires_at > $2",
                    &[&id.as_str(), &at_us],
                )
                .await?
                == 1;
            if ended {
                // Its invites, its YOLO activation and every approval not
                // yet redeemed end with it, in the same transaction: nothing
                // joins or runs once `end` has committed.
                db.exec(
                    "UPDATE invites SET expires_at = $2 WHERE conversation_id = $1 AND expires_at > $2",
                    &[&id.as_str(), &at_us],
                )
                .await?;
                super::yolo::revoke(db, id.as_str(), at_us).await?;
                w.audit(at, audit.clone());
                // Its long-polls on every server wake and find it over.
                let sides: Vec<Side> = db
                    .query(
                        "SELECT side FROM participants WHERE conversation_id = $1",
                        &[&id.as_str()],
                    )
                    .await?
                    .iter()
                    .filter_map(|row| get::<String>(row, 0).ok())
                    .filter_map(|side| Side::parse(&side).ok())
                    .collect();
                w.wake(w.payload(&id, &sides));
            }
            Ok(ended)
        })?;
        if ended {
            self.inner.hub.notify_conversation(&id);
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
        let report = in_tx!(unbounded self, |w| {
            let report = import::import(&w, &records, mode).await?;
            w.audit(at, audit(&report));
            if report.messages_added > 0 {
                w.wake("import".to_owned());
            }
            Ok(report)
        })?;
        self.inner.hub.notify();
        Ok(report)
    }
}
