//! The SQL of each store operation, as synchronous functions on a connection.
//! Every write runs inside an immediate transaction opened by the caller; the
//! limits a write checks are in `limits`.

use rusqlite::{Connection, OptionalExtension, params};

use super::keys::Opener;
use super::tx::WriteTx;
use super::{rows, sql_err};
use crate::audit::AuditDraft;
use crate::domain::{
    ActionType, ConversationId, Message, ParticipantKind, Sender, Side, Timestamp,
};
use crate::store::sealed::{Column, EMPTY_LIST, Epoch, Slot, note_row};
use crate::store::{
    Conversation, Lease, NewConversation, NewMessage, Page, PageFill, PageLimit, Pending, Receipt,
    StatusRecord, StoreError,
};

/// Reads a conversation with its participants.
pub fn conversation(
    opener: Opener<'_>,
    conn: &Connection,
    id: &ConversationId,
) -> Result<Option<Conversation>, StoreError> {
    // Every call authorizes through this read: build its SQL text once.
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT c.created_at, c.expires_at, {}
             FROM conversations c JOIN participants p ON p.conversation_id = c.id
             WHERE c.id = ?1",
            rows::PARTICIPANT_COLUMNS
        )
    });
    let mut stmt = conn.prepare_cached(&SQL).map_err(sql_err)?;
    let mut rows = stmt.query([id.as_str()]).map_err(sql_err)?;
    let mut found: Option<Conversation> = None;
    while let Some(row) = rows.next().map_err(sql_err)? {
        let conversation = found.get_or_insert_with(|| Conversation {
            id: id.clone(),
            created_at: Timestamp::from_micros(row.get(0).unwrap_or_default()),
            expires_at: Timestamp::from_micros(row.get(1).unwrap_or_default()),
            participants: Vec::with_capacity(2),
        });
        conversation
            .participants
            .push(rows::decode_participant(row, 2, id.as_str(), opener)?);
    }
    // Sides in joining order; sorting these few rows here spares SQLite a
    // temporary sorter on every call.
    if let Some(conversation) = &mut found {
        conversation.participants.sort_by_key(|p| p.side);
    }
    Ok(found)
}

/// Runs `sql`, a statement without parameters, from the connection's cache.
pub fn run_cached(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(drop)
        .map_err(sql_err)
}

/// Appends one record to the audit chain (see `audit::append`).
pub fn append_audit(tx: &WriteTx<'_>, at: Timestamp, draft: &AuditDraft) -> Result<(), StoreError> {
    super::audit::append(tx, at, draft)
}

/// Inserts a conversation and its two participants.
pub fn create_conversation(tx: &Connection, new: &NewConversation) -> Result<(), StoreError> {
    tx.prepare_cached("INSERT INTO conversations (id, created_at, expires_at) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| {
            s.execute(params![
                new.id.as_str(),
                new.created_at.as_micros(),
                new.expires_at.as_micros()
            ])
        })
        .map_err(sql_err)?;
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO participants (conversation_id, side, role, kind) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(sql_err)?;
    for (side, role, kind) in [
        (Side::A, &new.role_a, ParticipantKind::Owner),
        (Side::B, &new.role_b, ParticipantKind::Member),
    ] {
        insert
            .execute(params![
                new.id.as_str(),
                side.as_str(),
                role.as_str(),
                kind.as_str()
            ])
            .map_err(sql_err)?;
    }
    Ok(())
}

/// [`StoreError::NotFound`] unless the sender of `message` is an active
/// participant (or the bridge itself). A send checks this through its rule,
/// on the conversation it reads in its transaction.
pub fn check_sender(tx: &WriteTx<'_>, message: &NewMessage) -> Result<(), StoreError> {
    if let Sender::Side(side) = message.from {
        let active: bool = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM participants WHERE conversation_id = ?1 AND side = ?2 AND removed_at IS NULL)",
            )
            .and_then(|mut s| s.query_row(params![message.conversation.as_str(), side.as_str()], |r| r.get(0)))
            .map_err(sql_err)?;
        if !active {
            return Err(StoreError::NotFound);
        }
    }
    Ok(())
}

/// Inserts a message and one pending delivery per recipient that is still an
/// active participant; whether its sender may send was checked before.
pub fn insert_message(tx: &WriteTx<'_>, message: &NewMessage) -> Result<i64, StoreError> {
    let files = serde_json::to_string(&message.files_involved)
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
    // The id is bound into the sealed values, so it is chosen first (under
    // this transaction's write lock, so no other writer can take it); the
    // current data-key epoch comes with it, in the same statement.
    let (id, epoch, salt): (i64, i64, String) = tx
        .prepare_cached(
            "SELECT max(coalesce((SELECT max(id) FROM messages), 0), (SELECT value FROM meta WHERE key = 'message_id_floor')) + 1,
                    k.epoch, k.salt
             FROM (SELECT epoch, salt FROM data_keys ORDER BY epoch DESC LIMIT 1) AS k",
        )
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))))
        .map_err(|e| match sql_err(e) {
            StoreError::NotFound => StoreError::Corrupt("the database holds no data key".into()),
            other => other,
        })?;
    tx.adopt_epoch(Epoch {
        number: epoch,
        salt,
    });
    let row = id.to_string();
    let content = tx.seal(Slot::new(Column::MessageContent, &row), &message.content)?;
    let files = if files == EMPTY_LIST {
        files
    } else {
        tx.seal(Slot::new(Column::MessageFiles, &row), &files)?
    };
    tx.prepare_cached(
        "INSERT INTO messages (id, conversation_id, from_side, action_type, content, files, created_at, recipients)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            id,
            message.conversation.as_str(),
            message.from.as_str(),
            message.action_type.as_str(),
            content,
            files,
            message.created_at.as_micros(),
            rows::encode_sides(&message.to)
        ])
    })
    .map_err(sql_err)?;
    let mut deliver = tx
        .prepare_cached(
            "INSERT INTO pending_deliveries (conversation_id, recipient, message_id)
             SELECT conversation_id, side, ?2 FROM participants
             WHERE conversation_id = ?1 AND side = ?3 AND side <> ?4 AND removed_at IS NULL",
        )
        .map_err(sql_err)?;
    for side in &message.deliver_to {
        deliver
            .execute(params![
                message.conversation.as_str(),
                id,
                side.as_str(),
                message.from.as_str()
            ])
            .map_err(sql_err)?;
    }
    Ok(id)
}

/// Takes the next page of `recipient`'s inbox at `now` (see
/// [`crate::store::Store::take_messages`]): rows in message order, stopping
/// at the first one still leased to another reader, within `limit`.
pub fn take_messages(
    tx: &WriteTx<'_>,
    conversation: &ConversationId,
    recipient: Side,
    limit: PageLimit,
    lease: Option<Lease>,
    now: Timestamp,
) -> Result<Page, StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT m.id, m.from_side, m.action_type, m.content, m.files, m.created_at, COALESCE(p.role, 'system'),
                    m.recipients, d.lease_until
             FROM pending_deliveries d
             JOIN messages m ON m.id = d.message_id
             LEFT JOIN participants p ON p.conversation_id = m.conversation_id AND p.side = m.from_side
             WHERE d.conversation_id = ?1 AND d.recipient = ?2
             ORDER BY d.message_id
             LIMIT ?3",
        )
        .map_err(sql_err)?;
    let mut rows = stmt
        .query(params![
            conversation.as_str(),
            recipient.as_str(),
            i64::from(limit.count) + 1
        ])
        .map_err(sql_err)?;
    let mut fill = PageFill::new(limit, now);
    while let Some(row) = rows.next().map_err(sql_err)? {
        let leased_until: Option<i64> = row.get(8).map_err(sql_err)?;
        if !fill.offer(leased_until, || decode_message(row, tx.opener()))? {
            break;
        }
    }
    let PageFill { messages, more, .. } = fill;
    drop(rows);
    let (Some(first), Some(last)) = (messages.first(), messages.last()) else {
        return Ok(Page::default());
    };
    let (first, last) = (first.id, last.id);
    let receipt = match lease {
        None => {
            tx.prepare_cached(
                "DELETE FROM pending_deliveries
                 WHERE conversation_id = ?1 AND recipient = ?2 AND message_id BETWEEN ?3 AND ?4",
            )
            .and_then(|mut s| {
                s.execute(params![
                    conversation.as_str(),
                    recipient.as_str(),
                    first,
                    last
                ])
            })
            .map_err(sql_err)?;
            None
        }
        Some(lease) => {
            tx.prepare_cached(
                "UPDATE pending_deliveries SET lease_id = ?5, lease_until = ?6
                 WHERE conversation_id = ?1 AND recipient = ?2 AND message_id BETWEEN ?3 AND ?4",
            )
            .and_then(|mut s| {
                s.execute(params![
                    conversation.as_str(),
                    recipient.as_str(),
                    first,
                    last,
                    lease.id,
                    lease.until.as_micros()
                ])
            })
            .map_err(sql_err)?;
            Some(lease.receipt(conversation, recipient, first, last))
        }
    };
    Ok(Page {
        messages,
        more,
        receipt,
    })
}

/// Removes the rows of an acknowledged lease (see [`crate::store::Store::acknowledge`]).
pub fn acknowledge(tx: &Connection, receipt: &Receipt) -> Result<(), StoreError> {
    tx.prepare_cached(
        "DELETE FROM pending_deliveries
         WHERE conversation_id = ?1 AND recipient = ?2 AND message_id BETWEEN ?3 AND ?4 AND lease_id = ?5",
    )
    .and_then(|mut s| {
        s.execute(params![
            receipt.conversation.as_str(),
            receipt.recipient.as_str(),
            receipt.first,
            receipt.last,
            receipt.lease_id
        ])
    })
    .map_err(sql_err)?;
    Ok(())
}

/// Decodes `id, from_side, action_type, content, files, created_at, from_role, recipients`.
pub fn decode_message(row: &rusqlite::Row<'_>, opener: Opener<'_>) -> Result<Message, StoreError> {
    let corrupt = |e: crate::domain::InvalidValue| StoreError::Corrupt(e.to_string());
    let id: i64 = row.get(0).map_err(sql_err)?;
    let from: String = row.get(1).map_err(sql_err)?;
    let action: String = row.get(2).map_err(sql_err)?;
    let id_text = id.to_string();
    let content = opener.open(
        Slot::new(Column::MessageContent, &id_text),
        row.get(3).map_err(sql_err)?,
    )?;
    let files = opener.open(
        Slot::new(Column::MessageFiles, &id_text),
        row.get(4).map_err(sql_err)?,
    )?;
    Ok(Message {
        id,
        from: Sender::parse(&from).map_err(corrupt)?,
        action_type: ActionType::parse(&action).map_err(corrupt)?,
        content,
        files_involved: serde_json::from_str(&files)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        created_at: Timestamp::from_micros(row.get(5).map_err(sql_err)?),
        from_role: row.get(6).map_err(sql_err)?,
        to: rows::decode_sides(row.get(7).map_err(sql_err)?)?,
    })
}

/// What `recipient` has queued at `now`: its oldest row decides.
pub fn pending(
    conn: &Connection,
    conversation: &ConversationId,
    recipient: Side,
    now: Timestamp,
) -> Result<Pending, StoreError> {
    let oldest: Option<Option<i64>> = conn
        .prepare_cached(
            "SELECT lease_until FROM pending_deliveries
             WHERE conversation_id = ?1 AND recipient = ?2 ORDER BY message_id LIMIT 1",
        )
        .and_then(|mut s| {
            s.query_row(params![conversation.as_str(), recipient.as_str()], |r| {
                r.get(0)
            })
            .optional()
        })
        .map_err(sql_err)?;
    Ok(match oldest {
        None => Pending::Nothing,
        Some(Some(until)) if until > now.as_micros() => {
            Pending::LeasedUntil(Timestamp::from_micros(until))
        }
        Some(_) => Pending::Ready,
    })
}

/// See [`crate::store::Store::ready_ids`].
pub fn ready_ids(
    conn: &Connection,
    conversation: &ConversationId,
    recipient: Side,
    now: Timestamp,
    limit: u32,
) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT message_id, lease_until FROM pending_deliveries
             WHERE conversation_id = ?1 AND recipient = ?2 ORDER BY message_id LIMIT ?3",
        )
        .map_err(sql_err)?;
    let rows = stmt
        .query_map(
            params![conversation.as_str(), recipient.as_str(), i64::from(limit)],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?)),
        )
        .map_err(sql_err)?;
    let mut ids = Vec::new();
    for row in rows {
        let (id, lease_until) = row.map_err(sql_err)?;
        if lease_until.is_some_and(|until| until > now.as_micros()) {
            break;
        }
        ids.push(id);
    }
    Ok(ids)
}

/// Sets a participant's heartbeat; [`StoreError::NotFound`] if the conversation is gone.
pub fn set_status(
    tx: &WriteTx<'_>,
    conversation: &ConversationId,
    side: Side,
    status: &StatusRecord,
) -> Result<(), StoreError> {
    let note = status
        .note
        .as_deref()
        .map(|n| {
            let row = note_row(conversation.as_str(), side.as_str());
            tx.seal(Slot::new(Column::StatusNote, &row), n)
        })
        .transpose()?;
    let changed = tx
        .prepare_cached("UPDATE participants SET status = ?3, note = ?4, status_at = ?5 WHERE conversation_id = ?1 AND side = ?2")
        .and_then(|mut s| {
            s.execute(params![
                conversation.as_str(),
                side.as_str(),
                status.status.as_str(),
                note,
                status.updated_at.as_micros()
            ])
        })
        .map_err(sql_err)?;
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
