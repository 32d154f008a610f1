//! The SQL of reading an inbox on PostgreSQL: leasing a page under the
//! inbox's lock, acknowledging it, and what is waiting.

use super::db::{Db, get};
use super::keys::decoded;
use super::ops::{MESSAGE_COLUMNS, decode_message};
use crate::domain::{ConversationId, Side, Timestamp};
use crate::store::sealed::Sealer;
use crate::store::{Lease, Page, PageFill, PageLimit, Pending, Receipt, StoreError};

/// Locks `recipient`'s inbox (its participant row) until commit, so two
/// readers of one inbox take turns and never hand out the same message.
pub async fn lock_inbox(db: Db<'_>, conversation: &str, recipient: Side) -> Result<(), StoreError> {
    db.opt(
        "SELECT 1 FROM participants WHERE conversation_id = $1 AND side = $2 FOR NO KEY UPDATE",
        &[&conversation, &recipient.as_str()],
    )
    .await
    .map(drop)
}

/// Takes the next page of `recipient`'s inbox at `now`; the caller holds the
/// inbox lock ([`lock_inbox`]). Same rules as SQLite's `take_messages`.
pub async fn take_messages(
    db: Db<'_>,
    sealer: &Sealer,
    conversation: &ConversationId,
    recipient: Side,
    limit: PageLimit,
    lease: Option<Lease>,
    now: Timestamp,
) -> Result<Page, StoreError> {
    let rows = db
        .query(
            &format!(
                "SELECT {MESSAGE_COLUMNS}, d.lease_until
                 FROM pending_deliveries d
                 JOIN messages m ON m.id = d.message_id
                 LEFT JOIN participants p ON p.conversation_id = m.conversation_id AND p.side = m.from_side
                 WHERE d.conversation_id = $1 AND d.recipient = $2
                 ORDER BY d.message_id
                 LIMIT $3"
            ),
            &[
                &conversation.as_str(),
                &recipient.as_str(),
                &(i64::from(limit.count) + 1),
            ],
        )
        .await?;
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
    let receipt = match lease {
        None => {
            db.exec(
                "DELETE FROM pending_deliveries
                 WHERE conversation_id = $1 AND recipient = $2 AND message_id BETWEEN $3 AND $4",
                &[&conversation.as_str(), &recipient.as_str(), &first, &last],
            )
            .await?;
            None
        }
        Some(lease) => {
            db.exec(
                "UPDATE pending_deliveries SET lease_id = $5, lease_until = $6
                 WHERE conversation_id = $1 AND recipient = $2 AND message_id BETWEEN $3 AND $4",
                &[
                    &conversation.as_str(),
                    &recipient.as_str(),
                    &first,
                    &last,
                    &lease.id,
                    &lease.until.as_micros(),
                ],
            )
            .await?;
            Some(Receipt {
                conversation: conversation.clone(),
                recipient,
                lease_id: lease.id,
                first,
                last,
            })
        }
    };
    Ok(Page {
        messages,
        more,
        receipt,
    })
}

/// Removes the rows of an acknowledged lease.
pub async fn acknowledge(db: Db<'_>, receipt: &Receipt) -> Result<(), StoreError> {
    db.exec(
        "DELETE FROM pending_deliveries
         WHERE conversation_id = $1 AND recipient = $2 AND message_id BETWEEN $3 AND $4 AND lease_id = $5",
        &[
            &receipt.conversation.as_str(),
            &receipt.recipient.as_str(),
            &receipt.first,
            &receipt.last,
            &receipt.lease_id,
        ],
    )
    .await?;
    Ok(())
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
