//! The import transaction on PostgreSQL: the same rules as SQLite's (merge by
//! a message's natural identity, counted as [`crate::store::import_merge`]
//! says; keep ids above every id ever used, else renumber), with the table
//! locked against concurrent sends so no id drawn from the sequence
//! meanwhile can collide, and the sequence moved past the ids imported.

use std::collections::HashSet;

use super::super::db::{Write, get};
use super::super::keys::decoded;
use super::super::ops::{self, decode_sides, encode_sides};
use crate::domain::{ConversationId, ParticipantKind, Side, Timestamp};
use crate::store::admin::{ConversationRecord, ImportMode, ImportReport};
use crate::store::import_merge::{MessageKey, StoredCopies, files_json};
use crate::store::sealed::{Column, EMPTY_LIST, Slot, note_row};
use crate::store::{Conversation, Participant, StoreError};

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

/// The position (schema 9) the first message imported into conversation `id`
/// takes: after every message it holds (the import holds `messages` locked).
async fn first_position(w: &Write, id: &ConversationId) -> Result<i64, StoreError> {
    let sql = format!("SELECT {}", super::super::send::NEXT_SEQ);
    get(&w.db().one(&sql, &[&id.as_str()]).await?, 0)
}

async fn insert_participant(
    w: &Write,
    id: &ConversationId,
    p: &Participant,
) -> Result<(), StoreError> {
    let note = match p.status.as_ref().and_then(|s| s.note.as_deref()) {
        Some(note) => {
            let row = note_row(id.as_str(), p.side.as_str());
            Some(w.seal(Slot::new(Column::StatusNote, &row), note).await?)
        }
        None => None,
    };
    w.db()
        .exec(
            "INSERT INTO participants (conversation_id, side, role, status, note, status_at, kind, joined_at, removed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &id.as_str(),
                &p.side.as_str(),
                &p.role,
                &p.status.as_ref().map(|s| s.status.as_str()),
                &note.as_deref().map(str::as_bytes),
                &p.status.as_ref().map(|s| s.updated_at.as_micros()),
                &p.kind.as_str(),
                &p.joined_at.map(Timestamp::as_micros),
                &p.removed_at.map(Timestamp::as_micros),
            ],
        )
        .await?;
    Ok(())
}

pub(super) async fn import(
    w: &Write,
    records: &[ConversationRecord],
    mode: ImportMode,
) -> Result<ImportReport, StoreError> {
    let db = w.db();
    let mut report = ImportReport::default();
    // The conversations first, then the table: a send holds its
    // conversation's lock when it needs the table. And a removal committed
    // while the file's conversations were being read would be missed (its
    // member's inbox refilled), so they are read under their locks.
    let ids: Vec<&str> = records.iter().map(|r| r.conversation.id.as_str()).collect();
    let which = match mode {
        ImportMode::Replace => super::Doomed::ExpiringBy(i64::MAX),
        ImportMode::Merge => super::Doomed::Ids(&ids),
    };
    super::lock_conversations(db, which).await?;
    db.exec("LOCK TABLE messages IN SHARE ROW EXCLUSIVE MODE", &[])
        .await?;
    if mode == ImportMode::Replace {
        let n: i64 = get(&db.one("SELECT count(*) FROM conversations", &[]).await?, 0)?;
        report.conversations_removed = u64::try_from(n).unwrap_or(0);
        super::delete_expiring_by(db, i64::MAX).await?;
    }
    let floor: i64 = get(
        &db.one(
            "SELECT greatest(coalesce((SELECT max(id) FROM messages), 0),
                             (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM message_ids))",
            &[],
        )
        .await?,
        0,
    )?;
    let file_max = crate::store::admin::highest_kept_id(records);
    let mut next_id = floor.max(file_max) + 1;
    let mut high = floor;
    // A replacing import (a restore) emptied the database: the file's messages
    // are its history again and keep their ids; the sequence only moves on.
    let keep_above = if mode == ImportMode::Replace {
        0
    } else {
        floor
    };
    for record in records {
        let file = &record.conversation;
        let existing = ops::conversation(db, w.sealer(), &file.id).await?;
        // A participant removed in the database or in the file has an empty
        // inbox, as `remove_participant` leaves it: an older export that
        // still lists it as unread does not refill it.
        let removed: HashSet<Side> = existing
            .iter()
            .flat_map(Conversation::removed)
            .chain(file.removed())
            .collect();
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
                        insert_participant(w, &file.id, p).await?;
                        changed = true;
                        continue;
                    };
                    if let (Some(removed), None) = (p.removed_at, old.removed_at) {
                        // As `remove_participant` does: its inbox and bindings go too.
                        super::super::team::remove_participant(db, &file.id, p.side, removed)
                            .await?;
                        changed = true;
                    }
                    let Some(new) = &p.status else { continue };
                    if old
                        .status
                        .as_ref()
                        .is_none_or(|s| s.updated_at < new.updated_at)
                    {
                        ops::set_status(w, &file.id, p.side, new, false).await?;
                        changed = true;
                    }
                }
                let rows = db
                    .query(
                        "SELECT from_side, created_at, action_type, content, files, id, recipients
                         FROM messages WHERE conversation_id = $1",
                        &[&file.id.as_str()],
                    )
                    .await?;
                decoded(db, w.sealer(), |o| {
                    let mut copies = StoredCopies::default();
                    for r in &rows {
                        let row = get::<i64>(r, 5)?.to_string();
                        let files: String = get(r, 4)?;
                        let files = if files == EMPTY_LIST {
                            files
                        } else {
                            o.open(Slot::new(Column::MessageFiles, &row), files)?
                        };
                        let content =
                            o.open_bytes(Slot::new(Column::MessageContent, &row), get(r, 3)?)?;
                        let to = decode_sides(get(r, 6)?)?;
                        copies.add(MessageKey::stored(
                            get(r, 0)?,
                            get(r, 1)?,
                            get(r, 2)?,
                            content,
                            files,
                            to,
                        ));
                    }
                    Ok(copies)
                })
                .await?
            }
            None => {
                db.exec(
                    "INSERT INTO conversations (id, created_at, expires_at) VALUES ($1, $2, $3)",
                    &[
                        &file.id.as_str(),
                        &file.created_at.as_micros(),
                        &file.expires_at.as_micros(),
                    ],
                )
                .await?;
                for p in &file.participants {
                    insert_participant(w, &file.id, p).await?;
                }
                StoredCopies::default()
            }
        };
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
        // A file lists messages in increasing id order (checked when it is
        // read), and kept or renumbered ids keep that order: so do positions.
        let mut seq = if new.is_empty() {
            0
        } else {
            first_position(w, &file.id).await?
        };
        for m in &new {
            let msg = &m.message;
            let id = if keep_ids {
                msg.id
            } else {
                next_id += 1;
                next_id - 1
            };
            high = high.max(id);
            let row = id.to_string();
            let content = w
                .seal(Slot::new(Column::MessageContent, &row), &msg.content)
                .await?;
            let files = files_json(msg)?;
            let files = if files == EMPTY_LIST {
                files
            } else {
                w.seal(Slot::new(Column::MessageFiles, &row), &files)
                    .await?
            };
            db.exec(
                "INSERT INTO messages (id, conversation_id, from_side, action_type, content, files, created_at, recipients, seq)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &id,
                    &file.id.as_str(),
                    &msg.from.as_str(),
                    &msg.action_type.as_str(),
                    &content.as_bytes(),
                    &files,
                    &msg.created_at.as_micros(),
                    &msg.to.as_deref().map(encode_sides),
                    &seq,
                ],
            )
            .await?;
            seq += 1;
            for side in m.unread_by.iter().filter(|s| !removed.contains(s)) {
                db.exec(
                    "INSERT INTO pending_deliveries (conversation_id, recipient, message_id) VALUES ($1, $2, $3)",
                    &[&file.id.as_str(), &side.as_str(), &id],
                )
                .await?;
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
    if high > floor {
        db.exec("SELECT setval('message_ids', $1)", &[&high])
            .await?;
    }
    Ok(report)
}
