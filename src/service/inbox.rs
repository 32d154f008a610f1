//! Unread previews: how many messages wait for a session and the first line
//! of each, read without marking anything read. Serves `mcp-bridge inbox`
//! (run by a client's hooks, which finds the session through the process that
//! spawned both it and the server) and the `bridge://inbox` MCP resource.

use super::Bridge;
use crate::audit::AuditDraft;
use crate::domain::{ActionType, ConversationId, Side, Timestamp};
use crate::store::{AdminStore, ProcessStamp, Store, Unread};

use super::ServiceError;

/// Longest first line kept in a preview, in characters.
pub const PREVIEW_CHARS: usize = 200;

/// One unread message, previewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadMessage {
    /// Its id.
    pub id: i64,
    /// The sender's role (`system` for the bridge).
    pub from_role: String,
    /// What it is for.
    pub action_type: ActionType,
    /// Its first non-empty line, cut at [`PREVIEW_CHARS`] (redacted, as stored).
    pub first_line: String,
    /// When it was sent.
    pub created_at: Timestamp,
}

/// What waits for one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadSummary {
    /// The conversation.
    pub conversation: ConversationId,
    /// The session.
    pub side: Side,
    /// Its role.
    pub role: String,
    /// Unread messages in all.
    pub unread: u64,
    /// The oldest of them, previewed.
    pub first: Vec<UnreadMessage>,
}

/// Unread summaries as the JSON both the CLI (`inbox --json`) and the
/// `bridge://inbox` resource give: one shape for scripts and clients.
pub fn summaries_json(summaries: &[UnreadSummary]) -> serde_json::Value {
    serde_json::json!({
        "unread": summaries.iter().map(|s| s.unread).sum::<u64>(),
        "conversations": summaries.iter().map(|s| serde_json::json!({
            "conversation_id": s.conversation.as_str(),
            "session_id": s.side.as_str(),
            "role": s.role,
            "unread": s.unread,
            "first": s.first.iter().map(|m| serde_json::json!({
                "id": m.id,
                "from_role": m.from_role,
                "action_type": m.action_type.as_str(),
                "first_line": m.first_line,
                "created_at": m.created_at.to_rfc3339(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// How many of `unread` wait for their reader: those not in flight.
///
/// A message handed to its reader in a reply stays queued under a lease
/// until its acknowledgement commits, half a second after the reply was
/// written (`mcp::held`), or 20 s later if the reply never got out. It is
/// no longer waiting meanwhile: counted, it made a hook run right after the
/// read (a `PostToolUse` on `check_messages`, a `Stop`) remind the agent of
/// the message it had just read, and a `Stop` hook keep it from stopping
/// for nothing. One whose lease lapses is queued again and counts again, so
/// nothing is hidden for longer than a lease.
pub(super) fn waiting(unread: &Unread) -> u64 {
    unread.count.saturating_sub(unread.in_flight)
}

/// The first non-empty line of `text`, cut at [`PREVIEW_CHARS`] characters.
fn first_line(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut out: String = line.trim().chars().take(PREVIEW_CHARS).collect();
    if line.trim().chars().count() > PREVIEW_CHARS || text.trim().lines().count() > 1 {
        out.push('…');
    }
    out
}

/// The audit record of a reminder by `actor` that shows `summaries`, or
/// `None` when it shows nothing (hooks run on every prompt; empty checks
/// leave no trace).
fn reminder_record(actor: &'static str, summaries: &[UnreadSummary]) -> Option<AuditDraft> {
    let total: u64 = summaries.iter().map(|s| s.unread).sum();
    if total == 0 {
        return None;
    }
    let mut draft = AuditDraft::new(actor, "inbox");
    if let [only] = summaries {
        draft = draft.on(Some(only.conversation.as_str()), Some(only.side.as_str()));
    }
    draft.count = Some(i64::try_from(total).unwrap_or(i64::MAX));
    Some(draft)
}

impl<S: Store> Bridge<S> {
    /// Previews what waits for each of `sessions` at `at` (at most
    /// `per_session` messages each), skipping sessions that expired, were
    /// removed or whose conversation is gone. Audits nothing.
    async fn previews(
        &self,
        sessions: &[(ConversationId, Side)],
        per_session: u32,
        at: Timestamp,
    ) -> Result<Vec<UnreadSummary>, ServiceError> {
        let mut out = Vec::new();
        for (conversation, side) in sessions {
            let Some(c) = self.store.conversation(conversation).await? else {
                continue;
            };
            let Some(me) = c.active_participant(*side) else {
                continue;
            };
            if at >= c.expires_at {
                continue;
            }
            let unread = self
                .store
                .peek_unread(conversation, *side, per_session, at)
                .await?;
            let waiting = waiting(&unread);
            if waiting == 0 {
                continue;
            }
            out.push(UnreadSummary {
                conversation: conversation.clone(),
                side: *side,
                role: me.role.clone(),
                unread: waiting,
                first: unread
                    .first
                    .into_iter()
                    .map(|m| UnreadMessage {
                        id: m.id,
                        from_role: m.from_role,
                        action_type: m.action_type,
                        first_line: first_line(&m.content),
                        created_at: m.created_at,
                    })
                    .collect(),
            });
        }
        Ok(out)
    }

    /// What waits for `sessions`, previewed for an agent reading its inbox
    /// resource: one overview read of the client's quota
    /// (`rate_limits.overview`), since a read that reveals anything is an
    /// audit record and needs no valid session.
    ///
    /// # Errors
    /// [`ServiceError::RateLimited`] (audited, folded like every refusal);
    /// storage failures.
    pub async fn agent_inbox(
        &self,
        sessions: &[(ConversationId, Side)],
        per_session: u32,
    ) -> Result<Vec<UnreadSummary>, ServiceError> {
        let at = self.clock.now();
        if let Err(e) = self.spend_overview(at) {
            return Err(self.refuse(AuditDraft::new("mcp", "inbox"), e));
        }
        let out = self.previews(sessions, per_session, at).await?;
        // Batched: the server lives on, so the record lands a moment later
        // (and is retried with the next write if the database is busy).
        if let Some(draft) = reminder_record("mcp", &out) {
            self.store.append_audit(at, draft);
        }
        Ok(out)
    }

    /// The id of the newest message waiting for any of `sessions`: it grows
    /// exactly when a message arrives for them. No audit (an id reveals no
    /// content); the inbox resource's watch calls this on every wake-up.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn newest_unread(
        &self,
        sessions: &[(ConversationId, Side)],
    ) -> Result<Option<i64>, ServiceError> {
        let (mut newest, now) = (None, self.clock.now());
        for (conversation, side) in sessions {
            let unread = self.store.peek_unread(conversation, *side, 0, now).await?;
            newest = newest.max(unread.newest);
        }
        Ok(newest)
    }

    /// The sessions held by live servers that `client` spawned, oldest first.
    /// `alive` says whether a server process still runs (pid and start time
    /// match), so bindings left by a crashed server are ignored.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn client_sessions(
        &self,
        client: ProcessStamp,
        alive: impl Fn(ProcessStamp) -> bool,
    ) -> Result<Vec<(ConversationId, Side)>, ServiceError> {
        let mut out: Vec<(ConversationId, Side)> = Vec::new();
        for b in self.store.client_bindings(client).await? {
            let key = (b.conversation, b.side);
            if alive(b.server) && !out.contains(&key) {
                out.push(key);
            }
        }
        Ok(out)
    }
}

impl<S: Store + AdminStore> Bridge<S> {
    /// What waits for `sessions`, previewed for a client's hook
    /// (`mcp-bridge inbox`), at most `per_session` messages each. A reminder
    /// that shows anything is audited (actor `cli`) before it is returned:
    /// the command exits right after printing, so a record left for later
    /// would be lost, and what could not be recorded must not be shown.
    ///
    /// # Errors
    /// Storage failures, among them the audit record's (the database stayed
    /// locked past this process's busy timeout).
    pub async fn hook_inbox(
        &self,
        sessions: &[(ConversationId, Side)],
        per_session: u32,
    ) -> Result<Vec<UnreadSummary>, ServiceError> {
        let at = self.clock.now();
        let out = self.previews(sessions, per_session, at).await?;
        if let Some(draft) = reminder_record("cli", &out) {
            self.store.record_management(at, draft).await?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_take_the_first_non_empty_line() {
        assert_eq!(first_line("hello"), "hello");
        assert_eq!(first_line("\n\n  hello  \nworld"), "hello…");
        assert_eq!(
            first_line(&"x".repeat(250)).chars().count(),
            PREVIEW_CHARS + 1
        );
        assert_eq!(first_line(""), "");
    }
}
