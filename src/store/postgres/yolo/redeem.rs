//! Redeeming an approval token on PostgreSQL: the conversation's lock,
//! the quota, the rules of `Redemption::judge`, and marking the proposal
//! used only while it is still approved and its conversation live.

use super::super::db::{Write, get};
use super::super::keys::decoded;
use super::super::ops;
use super::{PROPOSAL_COLUMNS, decode_proposal};
use crate::audit::Outcome;
use crate::domain::ConversationId;
use crate::store::{Guard, Proposal, ProposalState, Redemption, StoreError};

pub(super) async fn redeem(
    w: &Write,
    conversation: &ConversationId,
    command: &str,
    token_hash: &str,
    guard: &Guard,
) -> Result<Result<Proposal, Redemption>, StoreError> {
    let db = w.db();
    // The conversation's lock first, as every writer takes it (then the
    // quota): an `end` that denies this approval commits wholly before or
    // after the redemption, never in between.
    ops::lock_conversation(db, conversation.as_str()).await?;
    ops::spend_quota(db, guard).await?;
    let found = db
        .opt(
            &format!("SELECT {PROPOSAL_COLUMNS} FROM yolo_proposals WHERE approval_hash = $1"),
            &[&token_hash],
        )
        .await?;
    let found = decoded(db, w.sealer(), |o| {
        found
            .as_ref()
            .map(|r| decode_proposal(o, r, false))
            .transpose()
    })
    .await?;
    let verdict = match Redemption::judge(
        found.as_ref(),
        conversation,
        guard.session.as_ref().map(|s| s.1),
        command,
        guard.at,
    ) {
        Ok(()) => found.ok_or(Redemption::Unknown),
        Err(refusal) => Err(refusal),
    };
    let verdict = match verdict {
        Ok(mut proposal) => {
            // Only while still approved (another server may have redeemed it)
            // and while the conversation is live.
            let used = db
                .opt(
                    "UPDATE yolo_proposals SET state = 'used', used_at = $2
                     WHERE id = $1 AND state = 'approved'
                       AND conversation_id IN (SELECT id FROM conversations WHERE expires_at > $2)
                     RETURNING 1",
                    &[&proposal.id, &guard.at.as_micros()],
                )
                .await?;
            if used.is_some() {
                proposal.state = ProposalState::Used;
                proposal.used_at = Some(guard.at);
                return Ok(Ok(proposal));
            }
            let state = db
                .opt(
                    "SELECT state FROM yolo_proposals WHERE id = $1",
                    &[&proposal.id],
                )
                .await?;
            match state.map(|r| get::<String>(&r, 0)).transpose()?.as_deref() {
                Some("used") => Redemption::AlreadyUsed,
                _ => Redemption::Withdrawn,
            }
        }
        Err(refusal) => refusal,
    };
    w.audit(
        guard.at,
        guard.audit.clone().failed(Outcome::Denied, verdict.code()),
    );
    Ok(Err(verdict))
}
