//! The PostgreSQL side of [`YoloStore`]. An approval is redeemed with
//! `UPDATE … WHERE state = 'approved'`, which PostgreSQL re-checks after
//! waiting for a concurrent redeemer's row lock: of two servers racing with
//! one token, exactly one changes the row.

use std::path::PathBuf;

use tokio_postgres::Row;

mod redeem;

use super::db::{Db, Write, get};
use super::deadline::read;
use super::keys::{Opener, decoded};
use super::{PgStore, in_tx, ops, send};
use crate::audit::AuditDraft;
use crate::domain::{ConversationId, Side, Timestamp, YoloMode};
use crate::store::sealed::{Column, Sealer, Slot};
use crate::store::{
    Activation, ActivationRequest, ActivationState, Guard, MAX_PENDING_PROPOSALS, NewMessage,
    NewSnapshot, Proposal, ProposalState, Redemption, Snapshot, StoreError, YoloStore, limit,
};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("unreadable {what}"))
}

fn time(v: Option<i64>) -> Option<Timestamp> {
    v.map(Timestamp::from_micros)
}

const ACTIVATION_COLUMNS: &str = "conversation_id, requested_by, mode, workspace, timeout_s, sandbox, requested_at, state, confirmed_at, expires_at";

fn decode_activation(row: &Row) -> Result<Activation, StoreError> {
    let text = |i| get::<String>(row, i);
    Ok(Activation {
        request: ActivationRequest {
            conversation: ConversationId::parse(&text(0)?).map_err(|_| corrupt("activation"))?,
            requested_by: Side::parse(&text(1)?).map_err(|_| corrupt("activation"))?,
            mode: YoloMode::parse(&text(2)?).map_err(|_| corrupt("activation"))?,
            workspace: PathBuf::from(text(3)?),
            timeout_s: u32::try_from(get::<i64>(row, 4)?).map_err(|_| corrupt("activation"))?,
            sandbox: get(row, 5)?,
            requested_at: Timestamp::from_micros(get(row, 6)?),
        },
        state: ActivationState::parse(&text(7)?).ok_or_else(|| corrupt("activation"))?,
        confirmed_at: time(get(row, 8)?),
        expires_at: time(get(row, 9)?),
    })
}

const PROPOSAL_COLUMNS: &str = "id, conversation_id, side, command, mode, created_at, state, decided_at, approval_expires_at, used_at";

/// A proposal row; when `listing`, a command that does not open is marked
/// (`Proposal::unreadable`) instead of failing the whole list.
fn decode_proposal(o: &Opener<'_>, row: &Row, listing: bool) -> Result<Proposal, StoreError> {
    let text = |i| get::<String>(row, i);
    let id = text(0)?;
    let (command, unreadable) =
        match o.open_bytes(Slot::new(Column::ProposalCommand, &id), get(row, 3)?) {
            Ok(command) => (command, None),
            Err(StoreError::Corrupt(why)) if listing => (String::new(), Some(why)),
            Err(e) => return Err(e),
        };
    Ok(Proposal {
        id,
        conversation: ConversationId::parse(&text(1)?).map_err(|_| corrupt("proposal"))?,
        side: Side::parse(&text(2)?).map_err(|_| corrupt("proposal"))?,
        command,
        mode: YoloMode::parse(&text(4)?).map_err(|_| corrupt("proposal"))?,
        created_at: Timestamp::from_micros(get(row, 5)?),
        state: ProposalState::parse(&text(6)?).ok_or_else(|| corrupt("proposal"))?,
        decided_at: time(get(row, 7)?),
        approval_expires_at: time(get(row, 8)?),
        used_at: time(get(row, 9)?),
        unreadable,
    })
}

async fn find_proposal(
    db: Db<'_>,
    sealer: &Sealer,
    id: &str,
) -> Result<Option<Proposal>, StoreError> {
    let row = db
        .opt(
            &format!("SELECT {PROPOSAL_COLUMNS} FROM yolo_proposals WHERE id = $1"),
            &[&id],
        )
        .await?;
    decoded(db, sealer, |o| {
        row.as_ref()
            .map(|r| decode_proposal(o, r, true))
            .transpose()
    })
    .await
}

/// Moves a pending proposal to `state`; [`StoreError::Conflict`] when it is not pending.
async fn decide(
    db: Db<'_>,
    id: &str,
    state: ProposalState,
    hash: Option<&str>,
    expires: Option<Timestamp>,
    at: Timestamp,
) -> Result<(), StoreError> {
    let changed = db
        .exec(
            &format!(
                "UPDATE yolo_proposals SET state = $2, decided_at = $3, approval_hash = $4, approval_expires_at = $5
                 WHERE id = $1 AND {}",
                ProposalState::decidable_from(state)
            ),
            &[&id, &state.as_str(), &at.as_micros(), &hash, &expires.map(Timestamp::as_micros)],
        )
        .await?;
    match changed {
        1 => Ok(()),
        _ if db
            .opt("SELECT 1 FROM yolo_proposals WHERE id = $1", &[&id])
            .await?
            .is_none() =>
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

async fn deny_open_proposals(db: Db<'_>, conversation: &str, at: i64) -> Result<(), StoreError> {
    db.exec(
        "UPDATE yolo_proposals SET state = 'denied', decided_at = $2 WHERE conversation_id = $1 AND state IN ('pending', 'approved')",
        &[&conversation, &at],
    )
    .await
    .map(drop)
}

/// Revokes the conversation's activation and denies its open proposals
/// (`yolo revoke`, `end`); whether there was an activation to revoke.
pub(super) async fn revoke(db: Db<'_>, conversation: &str, at: i64) -> Result<bool, StoreError> {
    let changed = db
        .exec(
            "UPDATE yolo_activations SET state = 'revoked', expires_at = $2 WHERE conversation_id = $1 AND state <> 'revoked'",
            &[&conversation, &at],
        )
        .await?;
    deny_open_proposals(db, conversation, at).await?;
    Ok(changed > 0)
}

impl YoloStore for PgStore {
    async fn request_activation(
        &self,
        request: ActivationRequest,
        guard: Guard,
    ) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            ops::spend_quota(w.db(), &guard).await?;
            let r = &request;
            let workspace = r.workspace.to_string_lossy().into_owned();
            w.db().exec(
                &format!(
                    "INSERT INTO yolo_activations ({ACTIVATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', NULL, NULL)
                     ON CONFLICT (conversation_id) DO UPDATE SET requested_by = $2, mode = $3, workspace = $4, timeout_s = $5,
                         sandbox = $6, requested_at = $7, state = 'pending', confirmed_at = NULL, expires_at = NULL"
                ),
                &[
                    &r.conversation.as_str(),
                    &r.requested_by.as_str(),
                    &r.mode.as_str(),
                    &workspace,
                    &i64::from(r.timeout_s),
                    &r.sandbox,
                    &r.requested_at.as_micros(),
                ],
            )
            .await?;
            // As in SQLite: what was proposed or approved under the previous
            // activation dies with it.
            deny_open_proposals(w.db(), r.conversation.as_str(), r.requested_at.as_micros())
                .await?;
            w.audit(guard.at, guard.audit.clone());
            Ok(())
        })
    }

    async fn activation(
        &self,
        conversation: &ConversationId,
    ) -> Result<Option<Activation>, StoreError> {
        read(self.client().await?, async |db| {
            db.opt(
                &format!(
                    "SELECT {ACTIVATION_COLUMNS} FROM yolo_activations WHERE conversation_id = $1"
                ),
                &[&conversation.as_str()],
            )
            .await?
            .as_ref()
            .map(decode_activation)
            .transpose()
        })
        .await
    }

    async fn activations(&self) -> Result<Vec<Activation>, StoreError> {
        read(self.client().await?, async |db| {
            db.query(
                &format!(
                    "SELECT {ACTIVATION_COLUMNS} FROM yolo_activations ORDER BY requested_at DESC"
                ),
                &[],
            )
            .await?
            .iter()
            .map(decode_activation)
            .collect()
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
        in_tx!(self, |w| {
            let changed = w
                .db()
                .exec(
                    "UPDATE yolo_activations SET state = 'active', confirmed_at = $3, expires_at = $4
                     WHERE conversation_id = $1 AND requested_at = $2 AND state = 'pending'",
                    &[
                        &conversation.as_str(),
                        &requested_at.as_micros(),
                        &at.as_micros(),
                        &expires_at.as_micros(),
                    ],
                )
                .await?;
            if changed != 1 {
                return Err(StoreError::Conflict(
                    "the activation request changed while it was being confirmed".into(),
                ));
            }
            w.audit(at, audit.clone());
            Ok(())
        })
    }

    async fn revoke_activation(
        &self,
        conversation: ConversationId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            if !revoke(w.db(), conversation.as_str(), at.as_micros()).await? {
                return Err(StoreError::NotFound);
            }
            w.audit(at, audit.clone());
            Ok(())
        })
    }

    async fn create_proposal(&self, proposal: Proposal, guard: Guard) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            let p = &proposal;
            // Serialises proposals of one conversation, so two processes
            // cannot both take the last place under the cap; taken before
            // the quota, in the order every writer takes them.
            ops::lock_conversation(w.db(), p.conversation.as_str()).await?;
            ops::spend_quota(w.db(), &guard).await?;
            // The activation must still be on: a revoke committed since the
            // call's check would otherwise leave this proposal pending. Its
            // row stays locked (shared) until the commit, so a revoke that
            // follows denies this proposal too.
            let active = w
                .db()
                .opt(
                    "SELECT 1 FROM yolo_activations
                     WHERE conversation_id = $1 AND state = 'active' AND expires_at > $2 FOR SHARE",
                    &[&p.conversation.as_str(), &p.created_at.as_micros()],
                )
                .await?;
            if active.is_none() {
                return Err(StoreError::Conflict(crate::store::REVOKED_MEANWHILE.into()));
            }
            let row = w
                .db()
                .one(
                    "SELECT count(*) FROM yolo_proposals WHERE conversation_id = $1 AND state = 'pending'",
                    &[&p.conversation.as_str()],
                )
                .await?;
            if get::<i64>(&row, 0)? >= i64::from(MAX_PENDING_PROPOSALS) {
                return Err(StoreError::LimitReached {
                    what: limit::PENDING_PROPOSALS,
                    limit: MAX_PENDING_PROPOSALS,
                });
            }
            let command = w
                .seal(Slot::new(Column::ProposalCommand, &p.id), &p.command)
                .await?;
            w.db()
                .exec(
                    "INSERT INTO yolo_proposals (id, conversation_id, side, command, mode, created_at, state)
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending')",
                    &[
                        &p.id,
                        &p.conversation.as_str(),
                        &p.side.as_str(),
                        &command.as_bytes(),
                        &p.mode.as_str(),
                        &p.created_at.as_micros(),
                    ],
                )
                .await?;
            w.audit(guard.at, guard.audit.clone());
            Ok(())
        })
    }

    async fn proposal(&self, id: &str) -> Result<Option<Proposal>, StoreError> {
        read(self.client().await?, async |db| {
            find_proposal(db, &self.inner.sealer, id).await
        })
        .await
    }

    async fn proposals(
        &self,
        conversation: Option<ConversationId>,
    ) -> Result<Vec<Proposal>, StoreError> {
        let sealer = &self.inner.sealer;
        read(self.client().await?, async |db| {
            let rows = db
                .query(
                    &format!(
                        "SELECT {PROPOSAL_COLUMNS} FROM yolo_proposals WHERE $1::text IS NULL OR conversation_id = $1 ORDER BY created_at DESC"
                    ),
                    &[&conversation.as_ref().map(ConversationId::as_str)],
                )
                .await?;
            decoded(db, sealer, |o| {
                rows.iter().map(|r| decode_proposal(o, r, true)).collect()
            })
            .await
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
        in_tx!(self, |w| {
            decide(
                w.db(),
                &id,
                ProposalState::Approved,
                Some(&token_hash),
                Some(expires_at),
                at,
            )
            .await?;
            w.audit(at, audit.clone());
            Ok(())
        })
    }

    async fn deny_proposal(
        &self,
        id: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            decide(w.db(), &id, ProposalState::Denied, None, None, at).await?;
            w.audit(at, audit.clone());
            Ok(())
        })
    }

    async fn redeem_approval(
        &self,
        conversation: ConversationId,
        command: String,
        token_hash: String,
        guard: Guard,
    ) -> Result<Result<Proposal, Redemption>, StoreError> {
        in_tx!(self, |w| {
            redeem::redeem(&w, &conversation, &command, &token_hash, &guard).await
        })
    }

    async fn record_run(
        &self,
        result: NewMessage,
        snapshot: Option<(NewSnapshot, PathBuf)>,
        guard: Guard,
    ) -> Result<i64, StoreError> {
        let id = in_tx!(self, |w| {
            send::lock_for_send(w.db(), &result).await?;
            if let Some((snap, workspace)) = &snapshot {
                w.db()
                    .exec(
                        "INSERT INTO yolo_snapshots (id, conversation_id, proposal_id, workspace, git_ref, commit_id, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        &[
                            &snap.id,
                            &result.conversation.as_str(),
                            &snap.proposal_id,
                            &workspace.to_string_lossy().into_owned(),
                            &snap.git_ref,
                            &snap.commit_id,
                            &guard.at.as_micros(),
                        ],
                    )
                    .await?;
            }
            let id = w.next_message_id().await?;
            let id = send::insert_message(&w, &result, id).await?;
            w.audit(guard.at, guard.audit.clone());
            Ok(id)
        })?;
        self.inner.hub.notify();
        Ok(id)
    }

    async fn snapshot(&self, id: &str) -> Result<Option<Snapshot>, StoreError> {
        let client = self.client().await?;
        let row = Db::Client(&client)
            .opt(
                "SELECT id, proposal_id, git_ref, commit_id, conversation_id, workspace, created_at FROM yolo_snapshots WHERE id = $1",
                &[&id],
            )
            .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(Snapshot {
            snapshot: NewSnapshot {
                id: get(&r, 0)?,
                proposal_id: get(&r, 1)?,
                git_ref: get(&r, 2)?,
                commit_id: get(&r, 3)?,
            },
            conversation: ConversationId::parse(&get::<String>(&r, 4)?)
                .map_err(|_| corrupt("snapshot"))?,
            workspace: PathBuf::from(get::<String>(&r, 5)?),
            created_at: Timestamp::from_micros(get(&r, 6)?),
        }))
    }

    async fn keep_hidden(
        &self,
        host: String,
        paths: Vec<Vec<u8>>,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let db = Db::Client(&client);
        for path in &paths {
            db.exec(
                "INSERT INTO hidden_paths (host, path, recorded_at) VALUES ($1, $2, $3)
                 ON CONFLICT (host, path) DO UPDATE SET recorded_at = EXCLUDED.recorded_at",
                &[&host, path, &at.as_micros()],
            )
            .await?;
        }
        Ok(())
    }

    async fn hidden_paths(&self, host: String) -> Result<Vec<Vec<u8>>, StoreError> {
        let client = self.client().await?;
        Db::Client(&client)
            .query(
                "SELECT path FROM hidden_paths WHERE host = $1 ORDER BY path",
                &[&host],
            )
            .await?
            .iter()
            .map(|r| get(r, 0))
            .collect()
    }
}
