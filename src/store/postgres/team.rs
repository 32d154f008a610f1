//! Teams on PostgreSQL: invites (created and redeemed under the
//! conversation's lock), removal, unread previews and client bindings.

use super::db::{Db, Write, get};
use super::keys::decoded;
use super::ops;
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

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Stores an invite unless its role is taken or the conversation is full.
pub async fn create_invite(db: Db<'_>, invite: &NewInvite, max: u32) -> Result<(), StoreError> {
    let conversation = invite.conversation.as_str();
    ops::lock_conversation(db, conversation).await?;
    let at = invite.created_at.as_micros();
    let row = db
        .one(
            "SELECT EXISTS (SELECT 1 FROM participants WHERE conversation_id = $1 AND removed_at IS NULL AND lower(role) = lower($2))
                 OR EXISTS (SELECT 1 FROM invites WHERE conversation_id = $1 AND used_at IS NULL AND expires_at > $3 AND lower(role) = lower($2)),
                    (SELECT count(*) FROM participants WHERE conversation_id = $1 AND removed_at IS NULL)
                  + (SELECT count(*) FROM invites WHERE conversation_id = $1 AND used_at IS NULL AND expires_at > $3),
                    (SELECT count(*) FROM participants WHERE conversation_id = $1)
                  + (SELECT count(*) FROM invites WHERE conversation_id = $1 AND used_at IS NULL AND expires_at > $3)",
            &[&conversation, &invite.role.as_str(), &at],
        )
        .await?;
    if get::<bool>(&row, 0)? {
        return Err(StoreError::Conflict(format!(
            "the role {} is taken in this conversation",
            invite.role
        )));
    }
    if get::<i64>(&row, 1)? >= i64::from(max) {
        return Err(StoreError::LimitReached {
            what: limit::SEATS,
            limit: max,
        });
    }
    // Session ids are never reused: removed participants keep theirs, and
    // an invite no id is left for would only fail at its join.
    if get::<i64>(&row, 2)? >= MAX_SESSIONS as i64 {
        return Err(StoreError::LimitReached {
            what: limit::SESSION_IDS,
            limit: MAX_SESSIONS as u32,
        });
    }
    db.exec(
        "INSERT INTO invites (code_hash, conversation_id, role, kind, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &invite.code_hash,
            &conversation,
            &invite.role.as_str(),
            &invite.kind.as_str(),
            &invite.created_by.as_str(),
            &at,
            &invite.expires_at.as_micros(),
        ],
    )
    .await?;
    Ok(())
}

/// Redeems an invite: see `Store::redeem_invite`. The `UPDATE … WHERE
/// used_at IS NULL` makes a code work once; the conversation's lock makes two
/// different codes redeemed at once take different session ids.
pub async fn redeem_invite(
    w: &Write,
    code_hash: &str,
    max: u32,
    failures: Option<&Quota>,
    guard: &Guard,
) -> Result<Option<Joined>, StoreError> {
    let db = w.db();
    let at = guard.at.as_micros();
    // Locks in the order every other writer takes them (`end`, sends,
    // removals): the conversation first, then its invite. Taking the invite's
    // row first deadlocked against an operator's `end`.
    let target = db
        .opt(
            "SELECT conversation_id FROM invites WHERE code_hash = $1",
            &[&code_hash],
        )
        .await?;
    let mut invite = None;
    if let Some(target) = target {
        let target: String = get(&target, 0)?;
        if db.opt(ops::LOCK_CONVERSATION, &[&target]).await?.is_some() {
            invite = db
                .opt(
                    // The conversation's own end counts too: a code created
                    // while `end` ran is younger than the expiry `end` gave
                    // the others (read under the conversation's lock).
                    "UPDATE invites SET used_at = $2
                     WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2
                       AND conversation_id IN (SELECT id FROM conversations WHERE expires_at > $2)
                     RETURNING conversation_id, role, kind",
                    &[&code_hash, &at],
                )
                .await?;
        }
    }
    let Some(invite) = invite else {
        // Only failures are limited (see `Store::redeem_invite`).
        if let Some(quota) = failures {
            ops::check_quota(db, GUESS_KEY, quota, guard.at, false).await?;
            ops::bump_quota(db, GUESS_KEY, quota, guard.at).await?;
        }
        let draft = guard
            .audit
            .clone()
            .failed(Outcome::Denied, INVITE_INVALID_CODE);
        w.audit(guard.at, draft);
        return Ok(None);
    };
    let (conversation, role, kind): (String, String, String) =
        (get(&invite, 0)?, get(&invite, 1)?, get(&invite, 2)?);
    let id = ConversationId::parse(&conversation).map_err(corrupt)?;
    let row = db
        .one(
            "SELECT count(*), count(*) FILTER (WHERE removed_at IS NULL),
                    coalesce(bool_or(removed_at IS NULL AND lower(role) = lower($2)), false)
             FROM participants WHERE conversation_id = $1",
            &[&conversation, &role],
        )
        .await?;
    let (total, active, role_taken): (i64, i64, bool) =
        (get(&row, 0)?, get(&row, 1)?, get(&row, 2)?);
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
    let kind = ParticipantKind::parse(&kind).map_err(corrupt)?;
    db.exec(
        "INSERT INTO participants (conversation_id, side, role, kind, joined_at) VALUES ($1, $2, $3, $4, $5)",
        &[&conversation, &side.as_str(), &role, &kind.as_str(), &at],
    )
    .await?;
    db.exec(
        "UPDATE invites SET used_by = $2 WHERE code_hash = $1",
        &[&code_hash, &side.as_str()],
    )
    .await?;
    let mut draft = guard.audit.clone();
    draft.conversation = Some(conversation);
    draft.side = Some(side.as_str().to_owned());
    draft.detail = Some(format!("joined as {kind}"));
    w.audit(guard.at, draft);
    let conversation = ops::conversation(db, w.sealer(), &id)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(Some(Joined { conversation, side }))
}

/// Marks a participant removed and drops what only it could have used.
pub async fn remove_participant(
    db: Db<'_>,
    conversation: &ConversationId,
    side: Side,
    at: Timestamp,
) -> Result<(), StoreError> {
    // Under the lock every send holds until it commits: a send that has
    // queued a message for `side` commits first (and its delivery is deleted
    // below), or finds `side` removed. Without it a delivery inserted but
    // not yet committed outlived the removal.
    ops::lock_conversation(db, conversation.as_str()).await?;
    let changed = db
        .exec(
            "UPDATE participants SET removed_at = $3 WHERE conversation_id = $1 AND side = $2 AND removed_at IS NULL",
            &[&conversation.as_str(), &side.as_str(), &at.as_micros()],
        )
        .await?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    for sql in [
        "DELETE FROM pending_deliveries WHERE conversation_id = $1 AND recipient = $2",
        "DELETE FROM client_bindings WHERE conversation_id = $1 AND side = $2",
    ] {
        db.exec(sql, &[&conversation.as_str(), &side.as_str()])
            .await?;
    }
    Ok(())
}

/// Counts `side`'s undelivered messages, and those leased at `now`, and
/// reads the oldest `limit` not leased.
pub async fn peek_unread(
    db: Db<'_>,
    sealer: &Sealer,
    conversation: &ConversationId,
    side: Side,
    limit: u32,
    now: Timestamp,
) -> Result<Unread, StoreError> {
    let now = now.as_micros();
    let row = db
        .one(
            "SELECT count(*), count(*) FILTER (WHERE lease_until > $3), max(message_id)
             FROM pending_deliveries WHERE conversation_id = $1 AND recipient = $2",
            &[&conversation.as_str(), &side.as_str(), &now],
        )
        .await?;
    let (count, in_flight, newest): (i64, i64, Option<i64>) =
        (get(&row, 0)?, get(&row, 1)?, get(&row, 2)?);
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
    let rows = db
        .query(
            &super::inbox::UNREAD_HEAD,
            &[
                &conversation.as_str(),
                &side.as_str(),
                &i64::from(limit),
                &now,
            ],
        )
        .await?;
    let first = decoded(db, sealer, |o| {
        rows.iter()
            .map(|r| ops::decode_message(o, r))
            .collect::<Result<_, _>>()
    })
    .await?;
    Ok(Unread {
        count,
        in_flight,
        newest,
        first,
    })
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Records a binding (a second record of the same one changes nothing).
pub async fn record_binding(db: Db<'_>, b: &ClientBinding) -> Result<(), StoreError> {
    db.exec(
        "INSERT INTO client_bindings (client_pid, client_start, server_pid, server_start, conversation_id, side, bound_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        &[
            &i64::from(b.client.pid),
            &signed(b.client.start),
            &i64::from(b.server.pid),
            &signed(b.server.start),
            &b.conversation.as_str(),
            &b.side.as_str(),
            &b.bound_at.as_micros(),
        ],
    )
    .await?;
    Ok(())
}

/// Forgets the bindings of one server process.
pub async fn forget_bindings(db: Db<'_>, server: ProcessStamp) -> Result<(), StoreError> {
    db.exec(
        "DELETE FROM client_bindings WHERE server_pid = $1 AND server_start = $2",
        &[&i64::from(server.pid), &signed(server.start)],
    )
    .await?;
    Ok(())
}

/// The bindings of servers spawned by `client`.
pub async fn client_bindings(
    db: Db<'_>,
    client: ProcessStamp,
) -> Result<Vec<ClientBinding>, StoreError> {
    let rows = db
        .query(
            "SELECT server_pid, server_start, conversation_id, side, bound_at FROM client_bindings
             WHERE client_pid = $1 AND client_start = $2 ORDER BY bound_at, conversation_id, side",
            &[&i64::from(client.pid), &signed(client.start)],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let (pid, start): (i64, i64) = (get(r, 0)?, get(r, 1)?);
        out.push(ClientBinding {
            client,
            server: ProcessStamp {
                pid: u32::try_from(pid).map_err(corrupt)?,
                start: u64::try_from(start).map_err(corrupt)?,
            },
            conversation: ConversationId::parse(&get::<String>(r, 2)?).map_err(corrupt)?,
            side: Side::parse(&get::<String>(r, 3)?).map_err(corrupt)?,
            bound_at: Timestamp::from_micros(get(r, 4)?),
        });
    }
    Ok(out)
}
