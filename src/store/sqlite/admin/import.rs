//! The import transaction: conversations added or checked against what is
//! stored, messages merged by their natural identity (counted, see
//! [`crate::store::import_merge`]), ids kept or renumbered so that none is
//! ever reused.

use std::collections::HashSet;

use rusqlite::{Connection, params};

use super::super::tx::WriteTx;
use super::super::{ops, rows, sql_err};
use crate::domain::{ConversationId, ParticipantKind, Side, Timestamp};
use crate::store::admin::{AuditFor, ConversationRecord, ImportMode, ImportReport};
use crate::store::import_merge::{MessageKey, StoredCopies, files_json};
use crate::store::sealed::{Column, EMPTY_LIST, Slot, note_row};
use crate::store::{Conversation, Participant, StoreError};

/// The messages stored in conversation `id`, with their texts opened, counted by key.
fn stored_copies(tx: &WriteTx<'_>, id: &ConversationId) -> Result<StoredCopies, StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT from_side, created_at, action_type, content, files, id, recipients
             FROM messages WHERE conversation_id = ?1",
        )
        .map_err(sql_err)?;
    let rows = stmt
        .query_map([id.as_str()], |r| {
            Ok((
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
                r.get::<_, i64>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })
        .map_err(sql_err)?;
    let mut copies = StoredCopies::default();
    for row in rows {
        let ((from, at, action, content, files), message, to): (
            (String, i64, String, String, String),
            i64,
            _,
        ) = row.map_err(sql_err)?;
        let message = message.to_string();
        let content = tx.open_value(Slot::new(Column::MessageContent, &message), content)?;
        let files = tx.open_value(Slot::new(Column::MessageFiles, &message), files)?;
        let to = rows::decode_sides(to)?;
        copies.add(MessageKey::stored(from, at, action, content, files, to));
    }
    Ok(copies)
}

fn high_water(tx: &Connection) -> Result<i64, StoreError> {
    tx.prepare_cached(
        "SELECT max(coalesce((SELECT max(id) FROM messages), 0), (SELECT value FROM meta WHERE key = 'message_id_floor'))",
    )
    .and_then(|mut s| s.query_row([], |r| r.get(0)))
    .map_err(sql_err)
}

/// Whether `file` describes the stored conversation: the same times, and the
/// same participants as far as both go (either may have more: people joined
/// after the export, or after the database was copied).
fn same_header(stored: &Conversation, file: &Conversation) -> bool {
    let seat =
        |p: &Participant| -> (Side, String, ParticipantKind) { (p.side, p.role.clone(), p.kind) };
    stored.created_at == file.created_at
        && stored.expires_at == file.expires_at
        && stored
            .participants
            .iter()
            .zip(&file.participants)
            .all(|(a, b)| seat(a) == seat(b))
}

fn insert_participant(
    tx: &WriteTx<'_>,
    id: &ConversationId,
    p: &Participant,
) -> Result<(), StoreError> {
    let note = p
        .status
        .as_ref()
        .and_then(|s| s.note.as_deref())
        .map(|n| {
            let row = note_row(id.as_str(), p.side.as_str());
            tx.seal(Slot::new(Column::StatusNote, &row), n)
        })
        .transpose()?;
    tx.prepare_cached(
        "INSERT INTO participants (conversation_id, side, role, status, note, status_at, kind, joined_at, removed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut s| {
        s.execute(params![
            id.as_str(),
            p.side.as_str(),
            p.role,
            p.status.as_ref().map(|s| s.status.as_str()),
            note,
            p.status.as_ref().map(|s| s.updated_at.as_micros()),
            p.kind.as_str(),
            p.joined_at.map(Timestamp::as_micros),
            p.removed_at.map(Timestamp::as_micros),
        ])
    })
    .map_err(sql_err)?;
    Ok(())
}

pub(super) fn import(
    tx: &WriteTx<'_>,
    records: &[ConversationRecord],
    mode: ImportMode,
    at: Timestamp,
    audit: &AuditFor<ImportReport>,
) -> Result<ImportReport, StoreError> {
    let mut report = ImportReport::default();
    if mode == ImportMode::Replace {
        let n: i64 = tx
            .prepare_cached("SELECT count(*) FROM conversations")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(sql_err)?;
        report.conversations_removed = u64::try_from(n).unwrap_or(0);
        super::delete_expiring_by(tx, i64::MAX)?;
    }
    // Ids at or below this were used once in this database (the floor remembers
    // deleted ones); an imported message keeps its id only above it.
    let floor = high_water(tx)?;
    // A replacing import (a restore) empties the database first: the file's
    // messages are the database's history again and keep their ids, while the
    // floor stays raised so new sends go above every id ever used.
    let keep_above = if mode == ImportMode::Replace {
        0
    } else {
        floor
    };
    // Renumbered messages go above every id in the file too, so they can
    // never take an id that a later conversation of the file keeps.
    let file_max = crate::store::admin::highest_kept_id(records);
    let mut next_id = floor.max(file_max) + 1;
    for record in records {
        let file = &record.conversation;
        let existing = ops::conversation(tx.opener(), tx, &file.id)?;
        let mut changed = false;
        let mut copies = match &existing {
            Some(stored) => {
                if !same_header(stored, file) {
                    return Err(StoreError::Conflict(format!(
                        "conversation {} already exists with other roles or times; nothing was imported",
                        file.id
                    )));
                }
                for p in &file.participants {
                    let Some(old) = stored.participant(p.side) else {
                        insert_participant(tx, &file.id, p)?;
                        changed = true;
                        continue;
                    };
                    if let (Some(removed), None) = (p.removed_at, old.removed_at) {
                        // As `remove_participant` does: its inbox and bindings go too.
                        super::super::team::remove_participant(tx, &file.id, p.side, removed)?;
                        changed = true;
                    }
                    let Some(new) = &p.status else { continue };
                    if old
                        .status
                        .as_ref()
                        .is_none_or(|s| s.updated_at < new.updated_at)
                    {
                        ops::set_status(tx, &file.id, p.side, new)?;
                        changed = true;
                    }
                }
                stored_copies(tx, &file.id)?
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
                for p in &file.participants {
                    insert_participant(tx, &file.id, p)?;
                }
                StoredCopies::default()
            }
        };
        // A participant removed in the database or in the file has an empty
        // inbox, as `remove_participant` leaves it: an older export that
        // still lists it as unread does not refill it.
        let removed: HashSet<Side> = existing
            .iter()
            .flat_map(Conversation::removed)
            .chain(file.removed())
            .collect();
        // Compared with what was stored before this import only, never
        // within the file: its identical messages are distinct sends.
        let mut new = Vec::new();
        for m in &record.messages {
            if copies.take(&MessageKey::of(&m.message)?) {
                report.messages_skipped += 1;
            } else {
                new.push(m);
            }
        }
        let keep_ids = crate::store::admin::keeps_ids(new.iter().map(|m| m.message.id), keep_above);
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO messages (id, conversation_id, from_side, action_type, content, files, created_at, recipients)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(sql_err)?;
        let mut deliver = tx
            .prepare_cached(
                "INSERT INTO pending_deliveries (conversation_id, recipient, message_id) VALUES (?1, ?2, ?3)",
            )
            .map_err(sql_err)?;
        for m in &new {
            let msg = &m.message;
            let files = files_json(msg)?;
            let id = if keep_ids {
                msg.id
            } else {
                next_id += 1;
                next_id - 1
            };
            let row = id.to_string();
            let content = tx.seal(Slot::new(Column::MessageContent, &row), &msg.content)?;
            let files = if files == EMPTY_LIST {
                files
            } else {
                tx.seal(Slot::new(Column::MessageFiles, &row), &files)?
            };
            insert
                .execute(params![
                    id,
                    file.id.as_str(),
                    msg.from.as_str(),
                    msg.action_type.as_str(),
                    content,
                    files,
                    msg.created_at.as_micros(),
                    msg.to.as_deref().map(rows::encode_sides)
                ])
                .map_err(sql_err)?;
            for side in m.unread_by.iter().filter(|s| !removed.contains(s)) {
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
