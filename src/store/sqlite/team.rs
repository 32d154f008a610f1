//! The SQL of teams: invites (created and redeemed atomically), removal,
//! unread previews and the client bindings `mcp-bridge inbox` looks up.
//! Every write runs inside an immediate transaction opened by the caller.

use rusqlite::{Connection, OptionalExtension, params};

use super::keys::Opener;
use super::tx::WriteTx;
use super::{limits, ops, sql_err};
use crate::audit::Outcome;
use crate::domain::{ConversationId, MAX_SESSIONS, ParticipantKind, Side, Timestamp};
use crate::ratelimit::Quota;
use crate::store::sealed::Sealer;
use crate::store::{
    ClientBinding, Guard, INVITE_INVALID_CODE, Joined, NewInvite, ProcessStamp, StoreError, Unread,
    limit,
};

/// The rate-limit key of failed invite redemptions: one counter per database.
const GUESS_KEY: (&str, &str) = ("", "");

/// Of `conversation` at `at`: active participants plus outstanding invites
/// (seats), and every participant ever, removed ones too, plus outstanding
/// invites (session ids spoken for, since ids are never reused).
fn seats_taken(tx: &Connection, conversation: &str, at: i64) -> Result<(i64, i64), StoreError> {
    tx.prepare_cached(
        "SELECT (SELECT count(*) FROM participants WHERE conversation_id = ?1 AND removed_at IS NULL) + o.n,
                (SELECT count(*) FROM participants WHERE conversation_id = ?1) + o.n
         FROM (SELECT count(*) AS n FROM invites WHERE conversation_id = ?1 AND used_at IS NULL AND expires_at > ?2) AS o",
    )
    .and_then(|mut s| s.query_row(params![conversation, at], |r| Ok((r.get(0)?, r.get(1)?))))
    .map_err(sql_err)
}

/// Stores an invite unless its role is taken or the conversation is full.
pub fn create_invite(tx: &Connection, invite: &NewInvite, max: u32) -> Result<(), StoreError> {
    let conversation = invite.conversation.as_str();
    let at = invite.created_at.as_micros();
    let taken: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM participants WHERE conversation_id = ?1 AND removed_at IS NULL AND lower(role) = lower(?2))
                 OR EXISTS (SELECT 1 FROM invites WHERE conversation_id = ?1 AND used_at IS NULL AND expires_at > ?3 AND lower(role) = lower(?2))",
        )
        .and_then(|mut s| s.query_row(params![conversation, invite.role.as_str(), at], |r| r.get(0)))
        .map_err(sql_err)?;
    if taken {
        return Err(StoreError::Conflict(format!(
            "the role {} is taken in this conversation",
            invite.role
        )));
    }
    let (seats, ids) = seats_taken(tx, conversation, at)?;
    if seats >= i64::from(max) {
        return Err(StoreError::LimitReached {
            what: limit::SEATS,
            limit: max,
        });
    }
    // An invite no session id is left for would only fail at its join,
    // having held its role meanwhile.
    if ids >= MAX_SESSIONS as i64 {
        return Err(StoreError::LimitReached {
            what: limit::SESSION_IDS,
            limit: MAX_SESSIONS as u32,
        });
    }
    tx.prepare_cached(
        "INSERT INTO invites (code_hash, conversation_id, role, kind, created_by, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            invite.code_hash,
            conversation,
            invite.role.as_str(),
            invite.kind.as_str(),
            invite.created_by.as_str(),
            at,
            invite.expires_at.as_micros()
        ])
    })
    .map_err(sql_err)?;
    Ok(())
}

/// Redeems an invite: see `Store::redeem_invite`.
pub fn redeem_invite(
    tx: &WriteTx<'_>,
    code_hash: &str,
    max: u32,
    failures: Option<&Quota>,
    guard: &Guard,
) -> Result<Option<Joined>, StoreError> {
    let at = guard.at.as_micros();
    let invite: Option<(String, String, String)> = tx
        .prepare_cached(
            // The conversation's own end counts too: a code created while
            // `end` ran is younger than the expiry `end` gave the others.
            "UPDATE invites SET used_at = ?2
             WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2
               AND conversation_id IN (SELECT id FROM conversations WHERE expires_at > ?2)
             RETURNING conversation_id, role, kind",
        )
        .and_then(|mut s| {
            s.query_row(params![code_hash, at], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
        })
        .map_err(sql_err)?;
    let Some((conversation, role, kind)) = invite else {
        // Only failures are limited: a genuine code is never locked out by
        // someone else's guessing (see `Store::redeem_invite`).
        if let Some(quota) = failures {
            limits::check_quota(tx, GUESS_KEY, quota, guard)?;
            limits::bump_quota(tx, GUESS_KEY, quota, guard.at)?;
        }
        let draft = guard
            .audit
            .clone()
            .failed(Outcome::Denied, INVITE_INVALID_CODE);
        ops::append_audit(tx, guard.at, &draft)?;
        return Ok(None);
    };
    let id =
        ConversationId::parse(&conversation).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let (total, active, role_taken): (i64, i64, bool) = tx
        .prepare_cached(
            "SELECT count(*), count(*) FILTER (WHERE removed_at IS NULL),
                    coalesce(max(removed_at IS NULL AND lower(role) = lower(?2)), 0)
             FROM participants WHERE conversation_id = ?1",
        )
        .and_then(|mut s| {
            s.query_row(params![conversation, role], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
        })
        .map_err(sql_err)?;
    if active >= i64::from(max) {
        return Err(StoreError::LimitReached {
            what: limit::ACTIVE,
            limit: max,
        });
    }
    let side = usize::try_from(total)
        .ok()
        .and_then(Side::nth)
        .ok_or(StoreError::LimitReached {
            what: limit::SESSION_IDS,
            limit: MAX_SESSIONS as u32,
        })?;
    if role_taken {
        return Err(StoreError::Conflict(format!(
            "the role {role} was taken meanwhile"
        )));
    }
    let kind = ParticipantKind::parse(&kind).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.prepare_cached(
        "INSERT INTO participants (conversation_id, side, role, kind, joined_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| s.execute(params![conversation, side.as_str(), role, kind.as_str(), at]))
    .map_err(sql_err)?;
    tx.prepare_cached("UPDATE invites SET used_by = ?2 WHERE code_hash = ?1")
        .and_then(|mut s| s.execute(params![code_hash, side.as_str()]))
        .map_err(sql_err)?;
    let mut draft = guard.audit.clone();
    draft.conversation = Some(conversation);
    draft.side = Some(side.as_str().to_owned());
    draft.detail = Some(format!("joined as {kind}"));
    ops::append_audit(tx, guard.at, &draft)?;
    let conversation = ops::conversation(tx.opener(), tx, &id)?.ok_or(StoreError::NotFound)?;
    Ok(Some(Joined { conversation, side }))
}

/// Marks a participant removed and drops what only it could have used.
pub fn remove_participant(
    tx: &Connection,
    conversation: &ConversationId,
    side: Side,
    at: Timestamp,
) -> Result<(), StoreError> {
    let changed = tx
        .prepare_cached(
            "UPDATE participants SET removed_at = ?3 WHERE conversation_id = ?1 AND side = ?2 AND removed_at IS NULL",
        )
        .and_then(|mut s| s.execute(params![conversation.as_str(), side.as_str(), at.as_micros()]))
        .map_err(sql_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    for sql in [
        "DELETE FROM pending_deliveries WHERE conversation_id = ?1 AND recipient = ?2",
        "DELETE FROM client_bindings WHERE conversation_id = ?1 AND side = ?2",
    ] {
        tx.prepare_cached(sql)
            .and_then(|mut s| s.execute(params![conversation.as_str(), side.as_str()]))
            .map_err(sql_err)?;
    }
    Ok(())
}

/// Counts `side`'s undelivered messages, and those leased at `now`, and
/// reads the oldest `limit` not leased.
pub fn peek_unread(
    conn: &Connection,
    sealer: &Sealer,
    conversation: &ConversationId,
    side: Side,
    limit: u32,
    now: Timestamp,
) -> Result<Unread, StoreError> {
    let (count, in_flight, newest): (i64, i64, Option<i64>) = conn
        .prepare_cached(
            "SELECT count(*), count(CASE WHEN lease_until > ?3 THEN 1 END), max(message_id)
             FROM pending_deliveries WHERE conversation_id = ?1 AND recipient = ?2",
        )
        .and_then(|mut s| {
            s.query_row(
                params![conversation.as_str(), side.as_str(), now.as_micros()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
        .map_err(sql_err)?;
    let (count, in_flight) = (
        u64::try_from(count).unwrap_or(0),
        u64::try_from(in_flight).unwrap_or(0),
    );
    if count == in_flight || limit == 0 {
        return Ok(Unread {
            count,
            in_flight,
            newest,
            first: Vec::new(),
        });
    }
    let mut stmt = conn
        .prepare_cached(
            "SELECT m.id, m.from_side, m.action_type, m.content, m.files, m.created_at, COALESCE(p.role, 'system'), m.recipients
             FROM pending_deliveries d
             JOIN messages m ON m.id = d.message_id
             LEFT JOIN participants p ON p.conversation_id = m.conversation_id AND p.side = m.from_side
             WHERE d.conversation_id = ?1 AND d.recipient = ?2
               AND (d.lease_until IS NULL OR d.lease_until <= ?4)
             ORDER BY d.message_id
             LIMIT ?3",
        )
        .map_err(sql_err)?;
    let mut rows = stmt
        .query(params![
            conversation.as_str(),
            side.as_str(),
            limit,
            now.as_micros()
        ])
        .map_err(sql_err)?;
    let mut first = Vec::new();
    while let Some(row) = rows.next().map_err(sql_err)? {
        first.push(ops::decode_message(row, Opener::new(conn, sealer))?);
    }
    Ok(Unread {
        count,
        in_flight,
        newest,
        first,
    })
}

fn stamp(pid: i64, start: i64) -> Result<ProcessStamp, StoreError> {
    Ok(ProcessStamp {
        pid: u32::try_from(pid).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        start: u64::try_from(start).map_err(|e| StoreError::Corrupt(e.to_string()))?,
    })
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Records a binding (a second record of the same one changes nothing).
pub fn record_binding(tx: &Connection, b: &ClientBinding) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO client_bindings (client_pid, client_start, server_pid, server_start, conversation_id, side, bound_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
    )
    .and_then(|mut s| {
        s.execute(params![
            b.client.pid,
            signed(b.client.start),
            b.server.pid,
            signed(b.server.start),
            b.conversation.as_str(),
            b.side.as_str(),
            b.bound_at.as_micros()
        ])
    })
    .map_err(sql_err)?;
    Ok(())
}

/// Forgets the bindings of one server process.
pub fn forget_bindings(tx: &Connection, server: ProcessStamp) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM client_bindings WHERE server_pid = ?1 AND server_start = ?2")
        .and_then(|mut s| s.execute(params![server.pid, signed(server.start)]))
        .map_err(sql_err)?;
    Ok(())
}

/// The bindings of servers spawned by `client`.
pub fn client_bindings(
    conn: &Connection,
    client: ProcessStamp,
) -> Result<Vec<ClientBinding>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT server_pid, server_start, conversation_id, side, bound_at FROM client_bindings
             WHERE client_pid = ?1 AND client_start = ?2 ORDER BY bound_at, conversation_id, side",
        )
        .map_err(sql_err)?;
    let rows = stmt
        .query_map(params![client.pid, signed(client.start)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .map_err(sql_err)?;
    let corrupt = |e: crate::domain::InvalidValue| StoreError::Corrupt(e.to_string());
    let mut out = Vec::new();
    for row in rows {
        let (pid, start, conversation, side, at) = row.map_err(sql_err)?;
        out.push(ClientBinding {
            client,
            server: stamp(pid, start)?,
            conversation: ConversationId::parse(&conversation).map_err(corrupt)?,
            side: Side::parse(&side).map_err(corrupt)?,
            bound_at: Timestamp::from_micros(at),
        });
    }
    Ok(out)
}
