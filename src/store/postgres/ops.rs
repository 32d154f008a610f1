//! The SQL of the tools' store operations on PostgreSQL. Writes run inside a
//! [`Write`] opened by the caller; the locks they take are what keep the
//! store's promises with many writers on many hosts (see the schema's notes).

use std::sync::LazyLock;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

use super::db::{Db, Write, get};
use super::keys::{Opener, decoded};
use crate::domain::{
    ActionType, ConversationId, Message, ParticipantKind, Sender, Side, Status, Timestamp,
};
use crate::ratelimit::{self, Quota, Window};
use crate::store::sealed::{Column, EMPTY_LIST, Sealer, Slot, note_row};
use crate::store::{
    Conversation, Guard, NewConversation, Participant, StatusRecord, StoreError, limit,
};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// The participant columns every reader selects, in [`decode_participant`]'s order.
pub const PARTICIPANT_COLUMNS: &str =
    "p.side, p.role, p.kind, p.status, p.note, p.status_at, p.joined_at, p.removed_at";

/// Decodes the [`PARTICIPANT_COLUMNS`] starting at column `at`, of a
/// participant of `conversation` (its note is sealed for that row).
pub fn decode_participant(
    o: &Opener<'_>,
    conversation: &str,
    row: &Row,
    at: usize,
) -> Result<Participant, StoreError> {
    let side: String = get(row, at)?;
    let kind: String = get(row, at + 2)?;
    let status: Option<String> = get(row, at + 3)?;
    let status = match status {
        None => None,
        Some(s) => Some(StatusRecord {
            status: Status::parse(&s).map_err(corrupt)?,
            note: get::<Option<Vec<u8>>>(row, at + 4)?
                .map(|note| {
                    o.open_bytes(
                        Slot::new(Column::StatusNote, &note_row(conversation, &side)),
                        note,
                    )
                })
                .transpose()?,
            updated_at: Timestamp::from_micros(
                get::<Option<i64>>(row, at + 5)?.unwrap_or_default(),
            ),
        }),
    };
    let time = |i: usize| -> Result<Option<Timestamp>, StoreError> {
        Ok(get::<Option<i64>>(row, at + i)?.map(Timestamp::from_micros))
    };
    Ok(Participant {
        side: Side::parse(&side).map_err(corrupt)?,
        role: get(row, at + 1)?,
        kind: ParticipantKind::parse(&kind).map_err(corrupt)?,
        status,
        joined_at: time(6)?,
        removed_at: time(7)?,
    })
}

/// Encodes sides for the `recipients` column: `b,c`.
pub fn encode_sides(sides: &[Side]) -> String {
    sides
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Decodes the `recipients` column (`NULL` for messages from before teams).
pub fn decode_sides(text: Option<String>) -> Result<Option<Vec<Side>>, StoreError> {
    let Some(text) = text else { return Ok(None) };
    if text.is_empty() {
        return Ok(Some(Vec::new()));
    }
    text.split(',')
        .map(|s| Side::parse(s).map_err(corrupt))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Message columns in [`decode_message`]'s order, from `messages m` and the
/// sender's participant row `p`.
pub const MESSAGE_COLUMNS: &str = "m.id, m.from_side, m.action_type, m.content, m.files, m.created_at, COALESCE(p.role, 'system'), m.recipients";

/// Decodes [`MESSAGE_COLUMNS`].
pub fn decode_message(o: &Opener<'_>, row: &Row) -> Result<Message, StoreError> {
    let id: i64 = get(row, 0)?;
    let key = id.to_string();
    let from: String = get(row, 1)?;
    let action: String = get(row, 2)?;
    let files: String = get(row, 4)?;
    let files = if files == EMPTY_LIST {
        files
    } else {
        o.open(Slot::new(Column::MessageFiles, &key), files)?
    };
    Ok(Message {
        id,
        from: Sender::parse(&from).map_err(corrupt)?,
        action_type: ActionType::parse(&action).map_err(corrupt)?,
        content: o.open_bytes(Slot::new(Column::MessageContent, &key), get(row, 3)?)?,
        files_involved: serde_json::from_str(&files).map_err(corrupt)?,
        created_at: Timestamp::from_micros(get(row, 5)?),
        from_role: get(row, 6)?,
        to: decode_sides(get(row, 7)?)?,
    })
}

/// A conversation with its participants, one row per participant (see
/// [`decode_conversation`]).
pub static CONVERSATION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT c.created_at, c.expires_at, {PARTICIPANT_COLUMNS}
         FROM conversations c JOIN participants p ON p.conversation_id = c.id
         WHERE c.id = $1 ORDER BY length(p.side), p.side"
    )
});

/// Reads a conversation with its participants.
pub async fn conversation(
    db: Db<'_>,
    sealer: &Sealer,
    id: &ConversationId,
) -> Result<Option<Conversation>, StoreError> {
    let rows = db.query(&CONVERSATION, &[&id.as_str()]).await?;
    decode_conversation(db, sealer, id, &rows).await
}

/// The conversation `id` from the rows of [`CONVERSATION`]; `None` when
/// there are none.
pub async fn decode_conversation(
    db: Db<'_>,
    sealer: &Sealer,
    id: &ConversationId,
    rows: &[Row],
) -> Result<Option<Conversation>, StoreError> {
    decoded(db, sealer, |o| {
        let mut found: Option<Conversation> = None;
        for row in rows {
            if found.is_none() {
                found = Some(Conversation {
                    id: id.clone(),
                    created_at: Timestamp::from_micros(get(row, 0)?),
                    expires_at: Timestamp::from_micros(get(row, 1)?),
                    participants: Vec::with_capacity(2),
                });
            }
            if let Some(c) = found.as_mut() {
                c.participants
                    .push(decode_participant(o, id.as_str(), row, 2)?);
            }
        }
        Ok(found)
    })
    .await
}

/// Locks conversation `$1`'s row until commit: sends to it, and joins, queue
/// here, so message ids are drawn in commit order. No row when it is gone.
pub const LOCK_CONVERSATION: &str = "SELECT 1 FROM conversations WHERE id = $1 FOR NO KEY UPDATE";

/// [`LOCK_CONVERSATION`]; [`StoreError::NotFound`] when it is gone.
pub async fn lock_conversation(db: Db<'_>, id: &str) -> Result<(), StoreError> {
    db.one(LOCK_CONVERSATION, &[&id]).await.map(drop)
}

/// Spends one call of the guard's quota, refusing when it has no room (see
/// [`PreparedQuota`]).
pub async fn spend_quota(db: Db<'_>, guard: &Guard) -> Result<(), StoreError> {
    PreparedQuota::new(db, guard).await?.spend(db).await
}

/// A guard's quota spend with its statements prepared, so that it can go
/// out in a transaction's first flight after the locks that come before it
/// (see [`Write::begin_with`]): a call refused later rolls its count back
/// with everything else, and should the `BEGIN` itself fail, the worst
/// outcome is one call counted too many.
///
/// The buckets are bumped first, which locks them, and counted after: a
/// second server spending the same quota waits for this one's commit and
/// then counts it. A refusal rolls the whole transaction back.
pub struct PreparedQuota<'g> {
    guard: &'g Guard,
    /// The bump and the count, when the guard has a quota to spend.
    statements: Option<(Statement, Statement)>,
}

impl<'g> PreparedQuota<'g> {
    pub async fn new(db: Db<'_>, guard: &'g Guard) -> Result<Self, StoreError> {
        let statements = match (&guard.quota, &guard.session) {
            (Some(_), Some(_)) => Some((
                db.prepare(BUMP_AND_PRUNE).await?,
                db.prepare(READ_BUCKETS).await?,
            )),
            _ => None,
        };
        Ok(Self { guard, statements })
    }

    /// Spends it: the bumps, the prunes and the count are sent when first
    /// polled, in that order, so the count sees the bumps.
    pub async fn spend(&self, db: Db<'_>) -> Result<(), StoreError> {
        let (Some(quota), Some((conversation, side)), Some((bump, read))) =
            (&self.guard.quota, &self.guard.session, &self.statements)
        else {
            return Ok(());
        };
        let key = (conversation.as_str(), side.as_str());
        let windows = Metered::new(quota, self.guard.at);
        let bump_params = windows.params(&key, quota);
        let read_params: [&(dyn ToSql + Sync); 3] = [&key.0, &key.1, &quota.class];
        let (bumped, rows) = tokio::join!(
            biased;
            db.exec_prepared(bump, &bump_params),
            db.query_prepared(read, &read_params),
        );
        bumped?;
        decide_quota(&rows?, quota, self.guard.at, true)
    }
}

/// Counts one call in the current bucket of every window `$4` (at buckets
/// `$5`) of quota class `$3` under conversation `$1` and side `$2`, and
/// drops each window's buckets older than `$6`: one statement for all
/// windows (the rows it inserts and those it deletes never overlap).
const BUMP_AND_PRUNE: &str = "WITH w AS (
         SELECT * FROM unnest($4::text[], $5::bigint[], $6::bigint[]) AS w(name, bucket, oldest)
     ), bumped AS (
         INSERT INTO rate_buckets (conversation_id, side, class, \"window\", bucket, count)
         SELECT $1, $2, $3, name, bucket, 1 FROM w
         ON CONFLICT (conversation_id, side, class, \"window\", bucket) DO UPDATE SET count = rate_buckets.count + 1
     ), pruned AS (
         DELETE FROM rate_buckets r USING w
         WHERE r.conversation_id = $1 AND r.side = $2 AND r.class = $3 AND r.\"window\" = w.name AND r.bucket < w.oldest
     )
     SELECT 1";

const READ_BUCKETS: &str = "SELECT \"window\", bucket, count FROM rate_buckets
     WHERE conversation_id = $1 AND side = $2 AND class = $3";

/// The windows a quota limits at a moment, as [`BUMP_AND_PRUNE`]'s columns:
/// each one's name, its current bucket and its oldest bucket still counted.
struct Metered {
    names: Vec<&'static str>,
    buckets: Vec<i64>,
    oldest: Vec<i64>,
}

impl Metered {
    fn new(quota: &Quota, at: Timestamp) -> Self {
        let windows = Window::ALL
            .into_iter()
            .filter(|w| quota.limits.of(*w).is_some());
        Self {
            names: windows.clone().map(Window::as_str).collect(),
            buckets: windows.clone().map(|w| w.bucket_of(at)).collect(),
            oldest: windows.map(|w| w.oldest_bucket(at)).collect(),
        }
    }

    /// [`BUMP_AND_PRUNE`]'s parameters for `quota` under `key`.
    fn params<'a>(
        &'a self,
        key: &'a (&'a str, &'a str),
        quota: &'a Quota,
    ) -> [&'a (dyn ToSql + Sync); 6] {
        [
            &key.0,
            &key.1,
            &quota.class,
            &self.names,
            &self.buckets,
            &self.oldest,
        ]
    }
}

/// Refuses when `quota` under `key` has no room at `at`; `own` says whether
/// this transaction already counted its own call (it is not held against it).
pub async fn check_quota(
    db: Db<'_>,
    key: (&str, &str),
    quota: &Quota,
    at: Timestamp,
    own: bool,
) -> Result<(), StoreError> {
    let rows = db
        .query(READ_BUCKETS, &[&key.0, &key.1, &quota.class])
        .await?;
    decide_quota(&rows, quota, at, own)
}

/// The decision on `quota` at `at` from its buckets' `rows` (see [`check_quota`]).
fn decide_quota(rows: &[Row], quota: &Quota, at: Timestamp, own: bool) -> Result<(), StoreError> {
    let stored = rows
        .iter()
        .map(|row| Ok((get(row, 0)?, get(row, 1)?, get(row, 2)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    ratelimit::decide_stored(&quota.limits, at, &stored, own).map_err(StoreError::QuotaExceeded)
}

/// Counts one call of `quota` under `key` at `at` and prunes old buckets.
pub async fn bump_quota(
    db: Db<'_>,
    key: (&str, &str),
    quota: &Quota,
    at: Timestamp,
) -> Result<(), StoreError> {
    let windows = Metered::new(quota, at);
    db.exec(BUMP_AND_PRUNE, &windows.params(&key, quota))
        .await
        .map(drop)
}

/// Inserts a conversation and its two participants.
pub async fn create_conversation(db: Db<'_>, new: &NewConversation) -> Result<(), StoreError> {
    db.exec(
        "INSERT INTO conversations (id, created_at, expires_at) VALUES ($1, $2, $3)",
        &[
            &new.id.as_str(),
            &new.created_at.as_micros(),
            &new.expires_at.as_micros(),
        ],
    )
    .await?;
    for (side, role, kind) in [
        (Side::A, &new.role_a, ParticipantKind::Owner),
        (Side::B, &new.role_b, ParticipantKind::Member),
    ] {
        db.exec(
            "INSERT INTO participants (conversation_id, side, role, kind) VALUES ($1, $2, $3, $4)",
            &[
                &new.id.as_str(),
                &side.as_str(),
                &role.as_str(),
                &kind.as_str(),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Refuses when `limit` conversations were created in the hour before `at`.
/// Serialised by a transaction-scoped advisory lock, so servers creating
/// conversations at the same moment count each other.
pub async fn check_recent_conversations(
    db: Db<'_>,
    at: Timestamp,
    limit: u32,
) -> Result<(), StoreError> {
    db.exec(
        "SELECT pg_advisory_xact_lock(hashtext('mcp_bridge.create_conversation'))",
        &[],
    )
    .await?;
    let since = at.plus_micros(-3_600_000_000);
    let row = db
        .one(
            "SELECT count(*) FROM (SELECT 1 FROM conversations WHERE created_at > $1 LIMIT $2) t",
            &[&since.as_micros(), &i64::from(limit)],
        )
        .await?;
    if get::<i64>(&row, 0)? >= i64::from(limit) {
        return Err(StoreError::LimitReached {
            what: limit::CONVERSATIONS_PER_HOUR,
            limit,
        });
    }
    Ok(())
}

/// Sets a participant's heartbeat; [`StoreError::NotFound`] if the conversation is gone
/// (or, when `live`, the participant was removed).
pub async fn set_status(
    w: &Write,
    conversation: &ConversationId,
    side: Side,
    status: &StatusRecord,
    live: bool,
) -> Result<(), StoreError> {
    let note = match &status.note {
        Some(note) => {
            let row = note_row(conversation.as_str(), side.as_str());
            Some(w.seal(Slot::new(Column::StatusNote, &row), note).await?)
        }
        None => None,
    };
    let changed = w
        .db()
        .exec(
            // `live`: a call's update, which a removal committed since its
            // check must stop (the row lock waits for the removal, and this
            // condition then sees it); an import may record a removed
            // participant's last status.
            "UPDATE participants SET status = $3, note = $4, status_at = $5
             WHERE conversation_id = $1 AND side = $2 AND (NOT $6 OR removed_at IS NULL)",
            &[
                &conversation.as_str(),
                &side.as_str(),
                &status.status.as_str(),
                &note.as_deref().map(str::as_bytes),
                &status.updated_at.as_micros(),
                &live,
            ],
        )
        .await?;
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
