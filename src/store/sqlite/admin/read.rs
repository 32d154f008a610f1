//! The read side of the management commands: every conversation with its
//! participants, their summaries (`list`), and whole conversations with
//! their messages (`show`, `export`), each from one snapshot.

use std::collections::{HashMap, HashSet};

use rusqlite::Connection;

use super::super::keys::Opener;
use super::super::tx::ReadTx;
use super::super::{rows, sql_err};
use super::{corrupt, count};
use crate::domain::{ActionType, ConversationId, Message, Sender, Side, Timestamp};
use crate::store::admin::{ConversationRecord, ConversationSummary, MessageRecord};
use crate::store::sealed::{Column, Sealer, Slot};
use crate::store::{Conversation, StoreError};

/// Every conversation with its participants, oldest first.
pub(super) fn all_conversations(
    conn: &Connection,
    opener: Opener<'_>,
) -> Result<Vec<Conversation>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT c.id, c.created_at, c.expires_at, {}
             FROM conversations c JOIN participants p ON p.conversation_id = c.id
             ORDER BY c.created_at, c.id, length(p.side), p.side",
            rows::PARTICIPANT_COLUMNS
        ))
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
        let participant = rows::decode_participant(row, 3, &id, opener)?;
        if let Some(c) = out.last_mut() {
            c.participants.push(participant);
        }
    }
    Ok(out)
}

pub(super) fn summaries(
    conn: &Connection,
    sealer: &Sealer,
) -> Result<Vec<ConversationSummary>, StoreError> {
    let tx = ReadTx::begin(conn)?;
    let conversations = all_conversations(&tx, Opener::new(conn, sealer))?;
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

pub(super) fn records(
    conn: &Connection,
    sealer: &Sealer,
    ids: Option<&[ConversationId]>,
) -> Result<Vec<ConversationRecord>, StoreError> {
    let tx = ReadTx::begin(conn)?;
    let opener = Opener::new(conn, sealer);
    let wanted: Option<HashSet<&str>> = ids.map(|ids| ids.iter().map(|i| i.as_str()).collect());
    let mut out: Vec<ConversationRecord> = all_conversations(&tx, opener)?
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
            "SELECT conversation_id, id, from_side, action_type, content, files, created_at, recipients
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
        let row_key = id.to_string();
        let content = opener.open(
            Slot::new(Column::MessageContent, &row_key),
            row.get(4).map_err(sql_err)?,
        )?;
        let files = opener.open(
            Slot::new(Column::MessageFiles, &row_key),
            row.get(5).map_err(sql_err)?,
        )?;
        record.messages.push(MessageRecord {
            message: Message {
                id,
                from,
                from_role,
                action_type: ActionType::parse(&row.get::<_, String>(3).map_err(sql_err)?)
                    .map_err(corrupt)?,
                content,
                files_involved: serde_json::from_str(&files).map_err(corrupt)?,
                created_at: Timestamp::from_micros(row.get(6).map_err(sql_err)?),
                to: rows::decode_sides(row.get(7).map_err(sql_err)?)?,
            },
            unread_by: pending.remove(&id).unwrap_or_default(),
        });
    }
    Ok(out)
}
