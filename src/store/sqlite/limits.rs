//! The SQL of the limits a write checks inside its transaction: a caller's
//! rate quota, conversations created per hour, and a recipient's unread
//! messages. Every function runs inside the caller's immediate transaction,
//! but for [`database_size`], which the service reads on its own.

use rusqlite::{Connection, params};

use super::sql_err;
use crate::domain::Timestamp;
use crate::ratelimit::{self, Quota, Window};
use crate::store::{Conversation, Guard, NewMessage, StoreError, limit};

/// Checks the guard's quota and, if it has room, spends one call of it.
/// A refusal writes nothing: the service audits it like any other refusal,
/// so repeats of it are folded into one record.
pub fn spend_quota(tx: &Connection, guard: &Guard) -> Result<(), StoreError> {
    let (Some(quota), Some((conversation, side))) = (&guard.quota, &guard.session) else {
        return Ok(());
    };
    let key = (conversation.as_str(), side.as_str());
    check_quota(tx, key, quota, guard)?;
    bump_quota(tx, key, quota, guard.at)
}

/// Refuses (appending the guard's audit record as denied) when `quota`,
/// counted under `key` (conversation, side), has no room at `guard.at`.
pub fn check_quota(
    tx: &Connection,
    key: (&str, &str),
    quota: &Quota,
    guard: &Guard,
) -> Result<(), StoreError> {
    // Every window's buckets in one statement.
    let stored = tx
        .prepare_cached(
            "SELECT window, bucket, count FROM rate_buckets
             WHERE conversation_id = ?1 AND side = ?2 AND class = ?3",
        )
        .and_then(|mut select| {
            select
                .query_map(params![key.0, key.1, quota.class], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(sql_err)?;
    ratelimit::decide_stored(&quota.limits, guard.at, &stored, false)
        .map_err(StoreError::QuotaExceeded)
}

/// Counts one call of `quota` under `key` at `at`. A window's old buckets
/// are pruned when it starts a new one (they no longer count either way).
pub fn bump_quota(
    tx: &Connection,
    key: (&str, &str),
    quota: &Quota,
    at: Timestamp,
) -> Result<(), StoreError> {
    let mut bump = tx
        .prepare_cached(
            "INSERT INTO rate_buckets (conversation_id, side, class, window, bucket, count) VALUES (?1, ?2, ?3, ?4, ?5, 1)
             ON CONFLICT DO UPDATE SET count = count + 1 RETURNING count",
        )
        .map_err(sql_err)?;
    let mut prune = tx
        .prepare_cached(
            "DELETE FROM rate_buckets WHERE conversation_id = ?1 AND side = ?2 AND class = ?3 AND window = ?4 AND bucket < ?5",
        )
        .map_err(sql_err)?;
    for window in Window::ALL {
        if quota.limits.of(window).is_none() {
            continue;
        }
        let count: i64 = bump
            .query_row(
                params![
                    key.0,
                    key.1,
                    quota.class,
                    window.as_str(),
                    window.bucket_of(at)
                ],
                |r| r.get(0),
            )
            .map_err(sql_err)?;
        if count == 1 {
            prune
                .execute(params![
                    key.0,
                    key.1,
                    quota.class,
                    window.as_str(),
                    window.oldest_bucket(at)
                ])
                .map_err(sql_err)?;
        }
    }
    Ok(())
}

/// Refuses when `limit` conversations were created in the hour before `at`.
pub fn check_recent_conversations(
    tx: &Connection,
    at: Timestamp,
    limit: u32,
) -> Result<(), StoreError> {
    let since = at.plus_micros(-3_600_000_000);
    let recent: i64 = tx
        .prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM conversations WHERE created_at > ?1 LIMIT ?2)",
        )
        .and_then(|mut s| s.query_row(params![since.as_micros(), limit], |r| r.get(0)))
        .map_err(sql_err)?;
    if recent >= i64::from(limit) {
        return Err(StoreError::LimitReached {
            what: limit::CONVERSATIONS_PER_HOUR,
            limit,
        });
    }
    Ok(())
}

/// Refuses, naming each full inbox by its session and its role in
/// `conversation`, when recipients of `message` already have `limit` unread
/// messages not leased at `now` (see
/// [`Store::send_message`](crate::store::Store::send_message)).
///
/// Ids only grow, so a recipient's unread messages all lie between its oldest
/// unread id and the newest id: when that span is below the limit (the usual
/// case) no counting is needed; otherwise at most `limit` rows are counted
/// (past the one page a live lease can hold).
pub fn check_pending(
    tx: &Connection,
    conversation: &Conversation,
    message: &NewMessage,
    limit: u32,
    now: Timestamp,
) -> Result<(), StoreError> {
    let newest: i64 = tx
        .prepare_cached("SELECT coalesce(max(id), 0) FROM messages")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(sql_err)?;
    let mut oldest_pending = tx
        .prepare_cached(
            "SELECT min(message_id) FROM pending_deliveries WHERE conversation_id = ?1 AND recipient = ?2",
        )
        .map_err(sql_err)?;
    let mut full = Vec::new();
    for &recipient in &message.deliver_to {
        let side = recipient.as_str();
        let oldest: Option<i64> = oldest_pending
            .query_row(params![message.conversation.as_str(), side], |r| r.get(0))
            .map_err(sql_err)?;
        let Some(oldest) = oldest else { continue };
        if newest - oldest + 1 < i64::from(limit) {
            continue;
        }
        let pending: i64 = tx
            .prepare_cached(
                "SELECT count(*) FROM (SELECT 1 FROM pending_deliveries WHERE conversation_id = ?1 AND recipient = ?2
                   AND (lease_until IS NULL OR lease_until <= ?4) LIMIT ?3)",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![message.conversation.as_str(), side, limit, now.as_micros()],
                    |r| r.get(0),
                )
            })
            .map_err(sql_err)?;
        if pending >= i64::from(limit) {
            full.push(recipient);
        }
    }
    conversation.refuse_full_inboxes(full, limit)
}

/// The bytes of the database's pages in use: `page_count − freelist_count`
/// pages of `page_size`. Pages a delete freed are on the free list, reused
/// before the file grows, so they do not count although SQLite never
/// shrinks the file. Three header reads, no table scan.
pub fn database_size(conn: &mut Connection) -> Result<u64, StoreError> {
    let pragma = |name: &str| {
        conn.prepare_cached(&format!("PRAGMA {name}"))
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .map_err(sql_err)
    };
    let used = pragma("page_count")?.saturating_sub(pragma("freelist_count")?);
    let bytes = used.saturating_mul(pragma("page_size")?);
    Ok(u64::try_from(bytes).unwrap_or(0))
}
