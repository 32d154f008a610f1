//! The YOLO tables' rows and the statements the store's operations share:
//! decoding activations and proposals, finding and deciding a proposal,
//! and denying a conversation's open proposals when its mode is revoked.

use std::path::PathBuf;

use rusqlite::{Connection, Row, params};

use super::keys::Opener;
use super::sql_err;
use crate::domain::{ConversationId, Side, Timestamp, YoloMode};
use crate::store::sealed::{Column, Sealer, Slot};
use crate::store::{
    Activation, ActivationRequest, ActivationState, Proposal, ProposalState, StoreError,
};

pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("unreadable {what}"))
}

pub(super) fn time(v: Option<i64>) -> Option<Timestamp> {
    v.map(Timestamp::from_micros)
}

pub(super) const ACTIVATION_COLUMNS: &str = "conversation_id, requested_by, mode, workspace, timeout_s, sandbox, requested_at, state, confirmed_at, expires_at";

pub(super) fn decode_activation(row: &Row<'_>) -> Result<Activation, StoreError> {
    let get = |i| row.get::<_, String>(i).map_err(sql_err);
    let conversation = ConversationId::parse(&get(0)?).map_err(|_| corrupt("activation"))?;
    Ok(Activation {
        request: ActivationRequest {
            conversation,
            requested_by: Side::parse(&get(1)?).map_err(|_| corrupt("activation"))?,
            mode: YoloMode::parse(&get(2)?).map_err(|_| corrupt("activation"))?,
            workspace: PathBuf::from(get(3)?),
            timeout_s: row.get(4).map_err(sql_err)?,
            sandbox: row.get(5).map_err(sql_err)?,
            requested_at: Timestamp::from_micros(row.get(6).map_err(sql_err)?),
        },
        state: ActivationState::parse(&get(7)?).ok_or_else(|| corrupt("activation"))?,
        confirmed_at: time(row.get(8).map_err(sql_err)?),
        expires_at: time(row.get(9).map_err(sql_err)?),
    })
}

/// Denies the conversation's pending and approved proposals.
pub(super) fn deny_open_proposals(
    tx: &Connection,
    conversation: &str,
    at: i64,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE yolo_proposals SET state = 'denied', decided_at = ?2 WHERE conversation_id = ?1 AND state IN ('pending', 'approved')",
    )
    .and_then(|mut s| s.execute(params![conversation, at]))
    .map(drop)
    .map_err(sql_err)
}

/// Revokes the conversation's activation and denies its open proposals
/// (`yolo revoke`, `end`); whether there was an activation to revoke.
pub(super) fn revoke(tx: &Connection, conversation: &str, at: i64) -> Result<bool, StoreError> {
    let changed = tx
        .prepare_cached("UPDATE yolo_activations SET state = 'revoked', expires_at = ?2 WHERE conversation_id = ?1 AND state <> 'revoked'")
        .and_then(|mut s| s.execute(params![conversation, at]))
        .map_err(sql_err)?;
    deny_open_proposals(tx, conversation, at)?;
    Ok(changed > 0)
}

/// Marks an approved proposal used, if its conversation is still live.
pub(super) const REDEEM: &str = "UPDATE yolo_proposals SET state = 'used', used_at = ?2
     WHERE id = ?1 AND state = 'approved'
       AND conversation_id IN (SELECT id FROM conversations WHERE expires_at > ?2)";

pub(super) const PROPOSAL_COLUMNS: &str = "id, conversation_id, side, command, mode, created_at, state, decided_at, approval_expires_at, used_at";

/// A proposal row; when `listing`, a command that does not open is marked
/// (`Proposal::unreadable`) instead of failing the whole list.
pub(super) fn decode_proposal(
    row: &Row<'_>,
    opener: Opener<'_>,
    listing: bool,
) -> Result<Proposal, StoreError> {
    let get = |i| row.get::<_, String>(i).map_err(sql_err);
    let id = get(0)?;
    let (command, unreadable) = match opener.open(Slot::new(Column::ProposalCommand, &id), get(3)?)
    {
        Ok(command) => (command, None),
        Err(StoreError::Corrupt(why)) if listing => (String::new(), Some(why)),
        Err(e) => return Err(e),
    };
    Ok(Proposal {
        id,
        conversation: ConversationId::parse(&get(1)?).map_err(|_| corrupt("proposal"))?,
        side: Side::parse(&get(2)?).map_err(|_| corrupt("proposal"))?,
        command,
        mode: YoloMode::parse(&get(4)?).map_err(|_| corrupt("proposal"))?,
        created_at: Timestamp::from_micros(row.get(5).map_err(sql_err)?),
        state: ProposalState::parse(&get(6)?).ok_or_else(|| corrupt("proposal"))?,
        decided_at: time(row.get(7).map_err(sql_err)?),
        approval_expires_at: time(row.get(8).map_err(sql_err)?),
        used_at: time(row.get(9).map_err(sql_err)?),
        unreadable,
    })
}

pub(super) fn query_all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(sql_err)?;
    let mut rows = stmt.query(params).map_err(sql_err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql_err)? {
        out.push(decode(row)?);
    }
    Ok(out)
}

pub(super) fn find_proposal(
    conn: &Connection,
    sealer: &Sealer,
    id: &str,
) -> Result<Option<Proposal>, StoreError> {
    let opener = Opener::new(conn, sealer);
    Ok(query_all(
        conn,
        &format!("SELECT {PROPOSAL_COLUMNS} FROM yolo_proposals WHERE id = ?1"),
        [id],
        |r| decode_proposal(r, opener, true),
    )?
    .pop())
}

/// Moves a pending proposal to `state`; [`StoreError::Conflict`] when it is not pending.
pub(super) fn decide(
    tx: &Connection,
    id: &str,
    state: ProposalState,
    hash: Option<&str>,
    expires: Option<Timestamp>,
    at: Timestamp,
) -> Result<(), StoreError> {
    let changed = tx
        .prepare_cached(&format!(
            "UPDATE yolo_proposals SET state = ?2, decided_at = ?3, approval_hash = ?4, approval_expires_at = ?5
             WHERE id = ?1 AND {}",
            ProposalState::decidable_from(state)
        ))
        .and_then(|mut s| s.execute(params![id, state.as_str(), at.as_micros(), hash, expires.map(Timestamp::as_micros)]))
        .map_err(sql_err)?;
    match changed {
        1 => Ok(()),
        _ if !tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM yolo_proposals WHERE id = ?1)")
            .and_then(|mut s| s.query_row([id], |r| r.get::<_, bool>(0)))
            .map_err(sql_err)? =>
        {
            Err(StoreError::NotFound)
        }
        _ => Err(StoreError::Conflict(format!(
            "proposal {id} is no longer {}",
            if state == ProposalState::Denied {
                "pending or approved"
            } else {
                "pending"
            }
        ))),
    }
}
