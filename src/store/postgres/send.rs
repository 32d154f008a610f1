//! The SQL of a send on PostgreSQL: the conversation's lock and read, the
//! bound on a recipient's unread messages, and the message with its
//! position, deliveries and wake-ups.

use std::sync::LazyLock;

use super::db::{Db, Params, Write, get};
use super::ops::{self, PreparedQuota, encode_sides};
use crate::domain::{ConversationId, Sender, Side, Timestamp};
use crate::store::sealed::{Column, EMPTY_LIST, Slot};
use crate::store::{Conversation, NewMessage, StoreError};

/// The position (schema 9) the next message of conversation `$1` takes: the
/// last message's plus one, or, after a message an older server wrote
/// without one, the number of messages plus one. Exact only under the
/// conversation's lock, in a statement that starts after the lock is taken
/// (a statement's snapshot precedes its own lock waits).
pub const NEXT_SEQ: &str = "(coalesce(
     (SELECT m.seq FROM messages m WHERE m.conversation_id = $1 ORDER BY m.id DESC LIMIT 1),
     (SELECT count(*) FROM messages m WHERE m.conversation_id = $1)) + 1)";

/// The next message's position ([`NEXT_SEQ`]) and, for every inbox of
/// conversation `$1` that holds a queued message, its side and the oldest
/// queued message's position (`NULL` when it has none): one index lookup per
/// participant. Whom a message goes to is decided after this read (from
/// the conversation read in the same flight), so it covers every inbox.
///
/// The inboxes are walked as participant rows, not `unnest` over a
/// parameter: the planner cannot size a parameter's array, so a generic plan
/// over `unnest` looked dearer than a custom one for every call, and the
/// statement was planned again on every send (~90 µs of the database's CPU,
/// more than its execution). Over the table it plans once per connection.
static OLDEST_QUEUED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {NEXT_SEQ}, array_agg(r.side), array_agg(o.seq)
         FROM participants r,
         LATERAL (SELECT m.seq FROM pending_deliveries d JOIN messages m ON m.id = d.message_id
                  WHERE d.conversation_id = $1 AND d.recipient = r.side
                  ORDER BY d.message_id LIMIT 1) o
         WHERE r.conversation_id = $1"
    )
});

/// The recipients among `$2` that already have `$3` unread messages not
/// leased at `$4`: one statement however many recipients a message has. It
/// walks the inboxes, so [`check_bound`] runs it only when one could be that
/// full. Recipients are participant rows, as in [`OLDEST_QUEUED`].
const FULL_INBOXES: &str =
    "SELECT coalesce(array_agg(r.side ORDER BY r.side), '{}') FROM participants r
     WHERE r.conversation_id = $1 AND r.side = ANY($2)
       AND (SELECT count(*) FROM (
         SELECT 1 FROM pending_deliveries d
         WHERE d.conversation_id = $1 AND d.recipient = r.side
           AND (d.lease_until IS NULL OR d.lease_until <= $4) LIMIT $3) t) >= $3";

/// What a send's first flight read ([`open_send`]).
pub struct Opened {
    /// The conversation, read after its lock was taken.
    pub conversation: Option<Conversation>,
    /// The message's id.
    pub id: i64,
    /// With an unread bound: the next message's position and, per inbox
    /// holding queued messages, the oldest one's position.
    queued: Option<Queued>,
    /// The quota's spending, reported after the unread bound.
    spent: Result<(), StoreError>,
}

struct Queued {
    next: i64,
    oldest: Vec<(String, Option<i64>)>,
}

impl Opened {
    /// The quota's spending: `Err` when it had no room.
    pub fn spent(&mut self) -> Result<(), StoreError> {
        std::mem::replace(&mut self.spent, Ok(()))
    }
}

/// A send's first flight, in the order the server runs it: the
/// conversation's lock, then (a statement's snapshot precedes its own lock
/// waits, so in statements of their own) the conversation with its
/// participants, for the send's rule to decide who may send and to whom,
/// and, with `max_pending`, the positions [`check_bound`] needs; then the
/// message id with the data-key epoch ([`Write::next_message_id`], drawn
/// under the lock so ids follow commit order), then the sender's `quota`
/// (after the lock: every transaction locks the conversation before rate
/// buckets). The transaction's `BEGIN` goes in the same flight
/// ([`Write::begin_with`]), so a send costs two round trips: this one and
/// the commit's.
pub async fn open_send(
    w: &Write,
    conversation: &ConversationId,
    max_pending: Option<u32>,
    quota: &PreparedQuota<'_>,
) -> Result<Opened, StoreError> {
    let lock = w.db().prepare(ops::LOCK_CONVERSATION).await?;
    let read = w.db().prepare(&ops::CONVERSATION).await?;
    super::keys::prepare_epoch_and_next_id(w.db()).await?;
    let oldest = match max_pending {
        Some(_) => Some(w.db().prepare(&OLDEST_QUEUED).await?),
        None => None,
    };
    let id = conversation.as_str();
    let (db, params): (Db<'_>, Params<'_>) = (w.db(), &[&id]);
    let (locked, rows, queued, next_id, spent) = tokio::join!(
        biased;
        db.exec_prepared(&lock, params),
        db.query_prepared(&read, params),
        async {
            let Some(stmt) = &oldest else {
                return Ok(None);
            };
            let rows = db.query_prepared(stmt, params).await?;
            let row = rows.first().ok_or(StoreError::NotFound)?;
            let sides = get::<Option<Vec<String>>>(row, 1)?.unwrap_or_default();
            let seqs = get::<Option<Vec<Option<i64>>>>(row, 2)?.unwrap_or_default();
            Ok(Some(Queued {
                next: get::<i64>(row, 0)?,
                oldest: sides.into_iter().zip(seqs).collect(),
            }))
        },
        w.next_message_id(),
        quota.spend(w.db()),
    );
    locked?;
    let rows = rows?;
    let (queued, id) = (queued?, next_id?);
    let conversation = ops::decode_conversation(w.db(), w.sealer(), conversation, &rows).await?;
    Ok(Opened {
        conversation,
        id,
        queued,
        spent,
    })
}

/// Refuses `message` with [`StoreError::InboxFull`], naming each full inbox
/// by its session and its role in `conversation`, when recipients already
/// have `limit` unread messages not leased at `now` (see
/// [`Store::send_message`](crate::store::Store::send_message)).
///
/// The bound is checked under the conversation's lock, so concurrent sends
/// count each other. Every queued row holds a distinct position from the
/// oldest queued up to this send's (positions count the conversation's
/// messages), so while fewer than `limit` positions separate the two no
/// inbox can be full, and only otherwise (or when the oldest queued message
/// has no position) are the rows counted, in a second round trip. Counting
/// on every send made a send's cost grow with the depth of the inbox;
/// bounding by ids, which every conversation draws from one sequence,
/// counted on most sends of a busy database. SQLite's `check_pending` bounds
/// by ids: one writer draws them, and counting there is a local read.
pub async fn check_bound(
    w: &Write,
    opened: &Opened,
    conversation: &Conversation,
    message: &NewMessage,
    limit: u32,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(queued) = &opened.queued else {
        return Ok(());
    };
    let could_be_full = queued.oldest.iter().any(|(side, oldest)| {
        message.deliver_to.iter().any(|r| r.as_str() == side)
            && oldest.is_none_or(|oldest| queued.next.saturating_sub(oldest) >= i64::from(limit))
    });
    if !could_be_full {
        return Ok(());
    }
    let recipients: Vec<&str> = message.deliver_to.iter().map(|s| s.as_str()).collect();
    let full = w
        .db()
        .one(
            FULL_INBOXES,
            &[
                &message.conversation.as_str(),
                &recipients,
                &i64::from(limit),
                &now.as_micros(),
            ],
        )
        .await?;
    let full: Vec<Side> = get::<Vec<String>>(&full, 0)?
        .iter()
        .filter_map(|side| Side::parse(side).ok())
        .collect();
    conversation.refuse_full_inboxes(full, limit)
}

/// The message with its position, its deliveries to active participants, and
/// their wake-up, in one statement.
static INSERT_MESSAGE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH m AS (
             INSERT INTO messages (id, conversation_id, from_side, action_type, content, files, created_at, recipients, seq)
             VALUES ($11, $1, $2, $3, $4, $5, $6, $7, {NEXT_SEQ}) RETURNING id
         ), d AS (
             INSERT INTO pending_deliveries (conversation_id, recipient, message_id)
             SELECT p.conversation_id, p.side, m.id FROM participants p, m
             WHERE p.conversation_id = $1 AND p.side = ANY($8) AND p.side <> $2 AND p.removed_at IS NULL
         ), n AS (SELECT pg_notify($9, $10))
         SELECT m.id FROM m, n"
    )
});

/// Inserts message `id` and one pending delivery per recipient that is still
/// an active participant, and wakes their long-polls at commit, in one
/// statement sent with the commit ([`Write::defer`]), after sealing the
/// texts for it. The id is bound into the sealed
/// values, so the caller draws it first ([`Write::next_message_id`]), under
/// the conversation's lock ([`open_send`]) so ids follow commit order.
/// The message's position is read in the insert, not taken from the unread
/// bound's read: an import may add messages to the conversation in between
/// (it locks `messages`, not the conversation).
pub async fn insert_message(w: &Write, message: &NewMessage, id: i64) -> Result<i64, StoreError> {
    let conversation = message.conversation.as_str();
    let files = serde_json::to_string(&message.files_involved)
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
    let key = id.to_string();
    let content = w
        .seal(Slot::new(Column::MessageContent, &key), &message.content)
        .await?;
    let files = if files == EMPTY_LIST {
        files
    } else {
        w.seal(Slot::new(Column::MessageFiles, &key), &files)
            .await?
    };
    let sides: Vec<String> = message
        .deliver_to
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    let wake = w.payload(&message.conversation, &message.deliver_to);
    let stmt = w.db().prepare(&INSERT_MESSAGE).await?;
    // Nothing in the transaction reads the message back: it goes out with the commit.
    w.defer(
        stmt,
        vec![
            Box::new(conversation.to_owned()),
            Box::new(message.from.as_str().to_owned()),
            Box::new(message.action_type.as_str().to_owned()),
            Box::new(content.into_bytes()),
            Box::new(files),
            Box::new(message.created_at.as_micros()),
            Box::new(encode_sides(&message.to)),
            Box::new(sides),
            Box::new(super::listen::CHANNEL),
            Box::new(wake),
            Box::new(id),
        ],
    );
    Ok(id)
}

/// Locks the conversation for a message the bridge writes (a YOLO run's
/// result) and checks, in the same statement, that a participant sender is
/// still active:
/// [`StoreError::NotFound`] when the conversation is gone or the sender was
/// removed (its token stopped working before this commit).
pub async fn lock_for_send(db: Db<'_>, message: &NewMessage) -> Result<(), StoreError> {
    let from = match message.from {
        Sender::Side(side) => Some(side.as_str()),
        Sender::System => None,
    };
    let row = db
        .one(LOCK_FOR_SEND, &[&message.conversation.as_str(), &from])
        .await?;
    if get::<bool>(&row, 0)? {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

const LOCK_FOR_SEND: &str = "SELECT $2::text IS NULL OR EXISTS (
         SELECT 1 FROM participants p WHERE p.conversation_id = c.id AND p.side = $2 AND p.removed_at IS NULL)
     FROM conversations c WHERE c.id = $1 FOR NO KEY UPDATE OF c";
