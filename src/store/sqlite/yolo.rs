//! The SQLite side of [`YoloStore`]: activations, proposals, approvals and
//! snapshots. Redeeming an approval is a single immediate transaction, so two
//! processes racing with one token cannot both win.

use std::path::PathBuf;

use rusqlite::{OptionalExtension, params};

use super::keys::Opener;
pub(super) use super::yolo_rows::revoke;
use super::yolo_rows::{
    ACTIVATION_COLUMNS, PROPOSAL_COLUMNS, REDEEM, corrupt, decide, decode_activation,
    decode_proposal, deny_open_proposals, find_proposal, query_all,
};
use super::{SqliteStore, limits, ops, sql_err};
use crate::audit::{AuditDraft, Outcome};
use crate::domain::{ConversationId, Timestamp};
use crate::store::sealed::{Column, Slot};
use crate::store::{
    Activation, ActivationRequest, Guard, MAX_PENDING_PROPOSALS, NewMessage, NewSnapshot, Proposal,
    ProposalState, Redemption, Snapshot, StoreError, YoloStore, limit,
};

impl YoloStore for SqliteStore {
    async fn request_activation(
        &self,
        request: ActivationRequest,
        guard: Guard,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            limits::spend_quota(tx, &guard)?;
            let r = &request;
            tx.prepare_cached(&format!(
                "INSERT INTO yolo_activations ({ACTIVATION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', NULL, NULL)
                 ON CONFLICT (conversation_id) DO UPDATE SET requested_by = ?2, mode = ?3, workspace = ?4, timeout_s = ?5,
                     sandbox = ?6, requested_at = ?7, state = 'pending', confirmed_at = NULL, expires_at = NULL"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    r.conversation.as_str(),
                    r.requested_by.as_str(),
                    r.mode.as_str(),
                    r.workspace.to_string_lossy(),
                    r.timeout_s,
                    r.sandbox,
                    r.requested_at.as_micros()
                ])
            })
            .map_err(sql_err)?;
            // The request replaces the previous activation, so what was proposed or
            // approved under it dies with it: an approval given for one mode and
            // workspace must not run in another once the new request is confirmed.
            deny_open_proposals(tx, r.conversation.as_str(), r.requested_at.as_micros())?;
            ops::append_audit(tx, guard.at, &guard.audit)
        })
        .await
    }

    async fn activation(
        &self,
        conversation: &ConversationId,
    ) -> Result<Option<Activation>, StoreError> {
        let id = conversation.clone();
        self.call(move |conn| {
            let sql = format!(
                "SELECT {ACTIVATION_COLUMNS} FROM yolo_activations WHERE conversation_id = ?1"
            );
            Ok(query_all(conn, &sql, [id.as_str()], decode_activation)?.pop())
        })
        .await
    }

    async fn activations(&self) -> Result<Vec<Activation>, StoreError> {
        self.call(|conn| {
            let sql = format!(
                "SELECT {ACTIVATION_COLUMNS} FROM yolo_activations ORDER BY requested_at DESC"
            );
            query_all(conn, &sql, [], decode_activation)
        })
        .await
    }

    async fn confirm_activation(
        &self,
        conversation: ConversationId,
        requested_at: Timestamp,
        expires_at: Timestamp,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE yolo_activations SET state = 'active', confirmed_at = ?3, expires_at = ?4
                     WHERE conversation_id = ?1 AND requested_at = ?2 AND state = 'pending'",
                )
                .and_then(|mut s| s.execute(params![conversation.as_str(), requested_at.as_micros(), at.as_micros(), expires_at.as_micros()]))
                .map_err(sql_err)?;
            if changed != 1 {
                return Err(StoreError::Conflict("the activation request changed while it was being confirmed".into()));
            }
            ops::append_audit(tx, at, &audit)
        })
        .await
    }

    async fn revoke_activation(
        &self,
        conversation: ConversationId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            if !revoke(tx, conversation.as_str(), at.as_micros())? {
                return Err(StoreError::NotFound);
            }
            ops::append_audit(tx, at, &audit)
        })
        .await
    }

    async fn create_proposal(&self, proposal: Proposal, guard: Guard) -> Result<(), StoreError> {
        self.write(move |tx| {
            limits::spend_quota(tx, &guard)?;
            let p = &proposal;
            // The activation must still be on (a revoke may have committed
            // since the call's check): else this proposal would stay pending.
            let active: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM yolo_activations WHERE conversation_id = ?1 AND state = 'active' AND expires_at > ?2)")
                .and_then(|mut s| s.query_row(params![p.conversation.as_str(), p.created_at.as_micros()], |r| r.get(0)))
                .map_err(sql_err)?;
            if !active {
                return Err(StoreError::Conflict(crate::store::REVOKED_MEANWHILE.into()));
            }
            let pending: i64 = tx
                .prepare_cached("SELECT count(*) FROM yolo_proposals WHERE conversation_id = ?1 AND state = 'pending'")
                .and_then(|mut s| s.query_row([p.conversation.as_str()], |r| r.get(0)))
                .map_err(sql_err)?;
            if pending >= i64::from(MAX_PENDING_PROPOSALS) {
                return Err(StoreError::LimitReached { what: limit::PENDING_PROPOSALS, limit: MAX_PENDING_PROPOSALS });
            }
            let command = tx.seal(Slot::new(Column::ProposalCommand, &p.id), &p.command)?;
            tx.prepare_cached(
                "INSERT INTO yolo_proposals (id, conversation_id, side, command, mode, created_at, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending')",
            )
            .and_then(|mut s| s.execute(params![p.id, p.conversation.as_str(), p.side.as_str(), command, p.mode.as_str(), p.created_at.as_micros()]))
            .map_err(sql_err)?;
            ops::append_audit(tx, guard.at, &guard.audit)
        })
        .await
    }

    async fn proposal(&self, id: &str) -> Result<Option<Proposal>, StoreError> {
        let id = id.to_owned();
        let sealer = self.inner.sealer.clone();
        self.call(move |conn| find_proposal(conn, &sealer, &id))
            .await
    }

    async fn proposals(
        &self,
        conversation: Option<ConversationId>,
    ) -> Result<Vec<Proposal>, StoreError> {
        let sealer = self.inner.sealer.clone();
        self.call(move |conn| {
            let sql = format!(
                "SELECT {PROPOSAL_COLUMNS} FROM yolo_proposals WHERE ?1 IS NULL OR conversation_id = ?1 ORDER BY created_at DESC"
            );
            let opener = Opener::new(conn, &sealer);
            query_all(conn, &sql, [conversation.as_ref().map(ConversationId::as_str)], |r| decode_proposal(r, opener, true))
        })
        .await
    }

    async fn approve_proposal(
        &self,
        id: String,
        token_hash: String,
        expires_at: Timestamp,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            decide(
                tx,
                &id,
                ProposalState::Approved,
                Some(&token_hash),
                Some(expires_at),
                at,
            )?;
            ops::append_audit(tx, at, &audit)
        })
        .await
    }

    async fn deny_proposal(
        &self,
        id: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            decide(tx, &id, ProposalState::Denied, None, None, at)?;
            ops::append_audit(tx, at, &audit)
        })
        .await
    }

    async fn redeem_approval(
        &self,
        conversation: ConversationId,
        command: String,
        token_hash: String,
        guard: Guard,
    ) -> Result<Result<Proposal, Redemption>, StoreError> {
        self.write(move |tx| {
            limits::spend_quota(tx, &guard)?;
            let sql =
                format!("SELECT {PROPOSAL_COLUMNS} FROM yolo_proposals WHERE approval_hash = ?1");
            let opener = tx.opener();
            let found: Option<Proposal> = query_all(tx, &sql, [&token_hash], |r| {
                decode_proposal(r, opener, false)
            })?
            .pop();
            let verdict = match Redemption::judge(
                found.as_ref(),
                &conversation,
                guard.session.as_ref().map(|s| s.1),
                &command,
                guard.at,
            ) {
                Ok(()) => found.ok_or(Redemption::Unknown),
                Err(refusal) => Err(refusal),
            };
            match verdict {
                Ok(mut proposal) => {
                    // Only in a live conversation (it may have expired since
                    // the call was authorized); this transaction is the only writer.
                    let changed = tx
                        .prepare_cached(REDEEM)
                        .and_then(|mut s| s.execute(params![proposal.id, guard.at.as_micros()]))
                        .map_err(sql_err)?;
                    if changed != 1 {
                        let refusal = Redemption::Withdrawn;
                        ops::append_audit(
                            tx,
                            guard.at,
                            &guard.audit.clone().failed(Outcome::Denied, refusal.code()),
                        )?;
                        return Ok(Err(refusal));
                    }
                    proposal.state = ProposalState::Used;
                    proposal.used_at = Some(guard.at);
                    Ok(Ok(proposal))
                }
                Err(refusal) => {
                    ops::append_audit(
                        tx,
                        guard.at,
                        &guard.audit.clone().failed(Outcome::Denied, refusal.code()),
                    )?;
                    Ok(Err(refusal))
                }
            }
        })
        .await
    }

    async fn record_run(
        &self,
        result: NewMessage,
        snapshot: Option<(NewSnapshot, PathBuf)>,
        guard: Guard,
    ) -> Result<i64, StoreError> {
        let id = self
            .write(move |tx| {
                ops::check_sender(tx, &result)?;
                if let Some((snap, workspace)) = &snapshot {
                    tx.prepare_cached(
                        "INSERT INTO yolo_snapshots (id, conversation_id, proposal_id, workspace, git_ref, commit_id, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            snap.id,
                            result.conversation.as_str(),
                            snap.proposal_id,
                            workspace.to_string_lossy(),
                            snap.git_ref,
                            snap.commit_id,
                            guard.at.as_micros()
                        ])
                    })
                    .map_err(sql_err)?;
                }
                let id = ops::insert_message(tx, &result)?;
                ops::append_audit(tx, guard.at, &guard.audit)?;
                Ok(id)
            })
            .await?;
        self.announce_message();
        Ok(id)
    }

    async fn snapshot(&self, id: &str) -> Result<Option<Snapshot>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            conn.prepare_cached(
                "SELECT id, proposal_id, git_ref, commit_id, conversation_id, workspace, created_at FROM yolo_snapshots WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([&id], |r| {
                    Ok((
                        NewSnapshot { id: r.get(0)?, proposal_id: r.get(1)?, git_ref: r.get(2)?, commit_id: r.get(3)? },
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, i64>(6)?,
                    ))
                })
                .optional()
            })
            .map_err(sql_err)?
            .map(|(snapshot, conversation, workspace, at)| {
                Ok(Snapshot {
                    snapshot,
                    conversation: ConversationId::parse(&conversation).map_err(|_| corrupt("snapshot"))?,
                    workspace: PathBuf::from(workspace),
                    created_at: Timestamp::from_micros(at),
                })
            })
            .transpose()
        })
        .await
    }

    async fn keep_hidden(
        &self,
        host: String,
        paths: Vec<Vec<u8>>,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let mut keep = tx
                .prepare_cached(
                    "INSERT INTO hidden_paths (host, path, recorded_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO UPDATE SET recorded_at = excluded.recorded_at",
                )
                .map_err(sql_err)?;
            for path in &paths {
                keep.execute(params![host, path, at.as_micros()])
                    .map_err(sql_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn hidden_paths(&self, host: String) -> Result<Vec<Vec<u8>>, StoreError> {
        self.call(move |conn| {
            conn.prepare_cached("SELECT path FROM hidden_paths WHERE host = ?1 ORDER BY path")
                .and_then(|mut s| s.query_map([&host], |r| r.get(0))?.collect())
                .map_err(sql_err)
        })
        .await
    }
}
