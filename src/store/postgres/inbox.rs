//! The SQL of reading an inbox on PostgreSQL: leasing a page under the
//! inbox's lock, acknowledging it, and what is waiting.

use std::sync::LazyLock;

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::db::{Db, Owned, Write, get};
use super::keys::decoded;
use super::ops::{MESSAGE_COLUMNS, PreparedQuota, decode_message};
use crate::domain::{ConversationId, Side, Timestamp};
use crate::store::{Lease, Page, PageFill, PageLimit, Pending, Receipt, StoreError};

/// The oldest `$3` messages queued for recipient `$2` in conversation `$1`,
/// in order: [`MESSAGE_COLUMNS`], then the delivery's `lease_until`. Built
/// once: every take and every unread peek reads through it.
pub static INBOX_HEAD: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {MESSAGE_COLUMNS}, d.lease_until
         FROM pending_deliveries d
         JOIN messages m ON m.id = d.message_id
         LEFT JOIN participants p ON p.conversation_id = m.conversation_id AND p.side = m.from_side
         WHERE d.conversation_id = $1 AND d.recipient = $2
         ORDER BY d.message_id
         LIMIT $3"
    )
});

/// [`INBOX_HEAD`] without the messages leased at `$4`: the oldest `$3` an
/// unread preview shows (those in flight to a reader are not waiting).
pub static UNREAD_HEAD: LazyLock<String> = LazyLock::new(|| {
    INBOX_HEAD.replace(
        "WHERE d.conversation_id = $1 AND d.recipient = $2",
        "WHERE d.conversation_id = $1 AND d.recipient = $2
           AND (d.lease_until IS NULL OR d.lease_until <= $4)",
    )
});

/// An inbox read's first flight: locks `recipient`'s inbox (its participant
/// row) until commit, so two readers of one inbox take turns and never hand
/// out the same message, then reads the head of the inbox under that lock
/// (the server runs the read once the lock is granted, with a fresh
/// snapshot), then spends the reader's `quota` (after the inbox's lock, the
/// order every transaction takes them in). The transaction's `BEGIN` goes
/// in the same flight ([`super::db::Write::begin_with`]).
pub async fn open_inbox(
    db: Db<'_>,
    conversation: &ConversationId,
    recipient: Side,
    limit: PageLimit,
    quota: &PreparedQuota<'_>,
) -> Result<Vec<Row>, StoreError> {
    let lock = db
        .prepare(
            "SELECT 1 FROM participants WHERE conversation_id = $1 AND side = $2 FOR NO KEY UPDATE",
        )
        .await?;
    let head = db.prepare(&INBOX_HEAD).await?;
    let (conversation, recipient) = (conversation.as_str(), recipient.as_str());
    let count = i64::from(limit.count) + 1;
    let lock_params: [&(dyn ToSql + Sync); 2] = [&conversation, &recipient];
    let head_params: [&(dyn ToSql + Sync); 3] = [&conversation, &recipient, &count];
    let (locked, rows, spent) = tokio::join!(
        biased;
        db.query_prepared(&lock, &lock_params),
        db.query_prepared(&head, &head_params),
        quota.spend(db),
    );
    locked?;
    let rows = rows?;
    spent.map(|()| rows)
}

/// Takes the next page of `recipient`'s inbox at `now` out of `rows`, the
/// head of the inbox read under its lock ([`open_inbox`]). Same rules as
/// SQLite's `take_messages`. The lease (or, without one, the removal) is
/// sent with the commit ([`Write::defer`]).
pub async fn take_messages(
    w: &Write,
    rows: Vec<Row>,
    conversation: &ConversationId,
    recipient: Side,
    limit: PageLimit,
    lease: Option<Lease>,
    now: Timestamp,
) -> Result<Page, StoreError> {
    let (db, sealer) = (w.db(), w.sealer());
    let fill = decoded(db, sealer, |o| {
        let mut fill = PageFill::new(limit, now);
        for row in &rows {
            if !fill.offer(get(row, 8)?, || decode_message(o, row))? {
                break;
            }
        }
        Ok(fill)
    })
    .await?;
    let PageFill { messages, more, .. } = fill;
    let (Some(first), Some(last)) = (messages.first(), messages.last()) else {
        return Ok(Page::default());
    };
    let (first, last) = (first.id, last.id);
    // Nothing in the transaction reads the inbox again: the change goes out
    // with the commit. Without a lease (a transport that cannot report
    // writes) the page leaves the inbox at once.
    let mut params: Vec<Owned> = vec![
        Box::new(conversation.as_str().to_owned()),
        Box::new(recipient.as_str().to_owned()),
        Box::new(first),
        Box::new(last),
    ];
    let sql = match &lease {
        None => {
            "DELETE FROM pending_deliveries
             WHERE conversation_id = $1 AND recipient = $2 AND message_id BETWEEN $3 AND $4"
        }
        Some(lease) => {
            params.push(Box::new(lease.id));
            params.push(Box::new(lease.until.as_micros()));
            "UPDATE pending_deliveries SET lease_id = $5, lease_until = $6
             WHERE conversation_id = $1 AND recipient = $2 AND message_id BETWEEN $3 AND $4"
        }
    };
    w.defer(db.prepare(sql).await?, params);
    let receipt = lease.map(|lease| lease.receipt(conversation, recipient, first, last));
    Ok(Page {
        messages,
        more,
        receipt,
    })
}

/// Removes the rows of an acknowledged lease and wakes the inbox's waiters
/// on every server (`payload`, see `listen`), in one statement.
pub async fn acknowledge(db: Db<'_>, receipt: &Receipt, payload: &str) -> Result<(), StoreError> {
    db.exec(
        "WITH gone AS (
             DELETE FROM pending_deliveries
             WHERE conversation_id = $1 AND recipient = $2 AND message_id BETWEEN $3 AND $4 AND lease_id = $5
             RETURNING 1)
         SELECT pg_notify($6, $7)",
        &[
            &receipt.conversation.as_str(),
            &receipt.recipient.as_str(),
            &receipt.first,
            &receipt.last,
            &receipt.lease_id,
            &super::listen::CHANNEL,
            &payload,
        ],
    )
    .await
    .map(drop)
}

/// See [`crate::store::Store::ready_ids`].
pub async fn ready_ids(
    db: Db<'_>,
    conversation: &ConversationId,
    recipient: Side,
    now: Timestamp,
    limit: u32,
) -> Result<Vec<i64>, StoreError> {
    let rows = db
        .query(
            "SELECT message_id, lease_until FROM pending_deliveries
             WHERE conversation_id = $1 AND recipient = $2 ORDER BY message_id LIMIT $3",
            &[
                &conversation.as_str(),
                &recipient.as_str(),
                &i64::from(limit),
            ],
        )
        .await?;
    let mut ids = Vec::with_capacity(rows.len());
    for row in &rows {
        if get::<Option<i64>>(row, 1)?.is_some_and(|until| until > now.as_micros()) {
            break;
        }
        ids.push(get::<i64>(row, 0)?);
    }
    Ok(ids)
}

/// What `recipient` has queued at `now`: its oldest row decides.
pub async fn pending(
    db: Db<'_>,
    conversation: &ConversationId,
    recipient: Side,
    now: Timestamp,
) -> Result<Pending, StoreError> {
    let oldest = db
        .opt(
            "SELECT lease_until FROM pending_deliveries
             WHERE conversation_id = $1 AND recipient = $2 ORDER BY message_id LIMIT 1",
            &[&conversation.as_str(), &recipient.as_str()],
        )
        .await?;
    let Some(row) = oldest else {
        return Ok(Pending::Nothing);
    };
    Ok(match get::<Option<i64>>(&row, 0)? {
        Some(until) if until > now.as_micros() => {
            Pending::LeasedUntil(Timestamp::from_micros(until))
        }
        _ => Pending::Ready,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The unread head is the inbox head narrowed by the lease: built by
    /// replacing its `WHERE`, which must therefore still be there.
    #[test]
    fn the_unread_head_leaves_out_leased_messages() {
        assert_ne!(*UNREAD_HEAD, *INBOX_HEAD);
        assert!(
            UNREAD_HEAD.contains("d.lease_until <= $4"),
            "{}",
            *UNREAD_HEAD
        );
    }
}
