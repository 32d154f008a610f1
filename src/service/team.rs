//! Teams: removal and the conversations a session is bound to (addressing
//! is in `addressing`).
//! The rules live here — only the owner removes, roles are unique, observers
//! see everything and send nothing — and the store applies them atomically.
//! Invites and joining are in `invite`.

use super::addressing::{find, printable};
use super::{Bridge, ServiceError, SessionCredentials, session_draft};
use crate::audit::AuditDraft;
use crate::domain::{ConversationId, InvalidValue, ParticipantKind, Side, Status, Timestamp};
use crate::store::{Conversation, Guard, Participant, Store};

/// Settings for conversations of more than two participants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeamSettings {
    /// Active participants a conversation may have (2 to 26).
    pub max_participants: u32,
    /// Default invite lifetime, in microseconds.
    pub invite_ttl_us: i64,
}

impl Default for TeamSettings {
    fn default() -> Self {
        Self {
            max_participants: 16,
            invite_ttl_us: 10 * 60_000_000,
        }
    }
}

/// A participant as the tools show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantView {
    /// Session id.
    pub side: Side,
    /// Role.
    pub role: String,
    /// What it may do.
    pub kind: ParticipantKind,
    /// Last status, if any.
    pub status: Option<Status>,
    /// Its note.
    pub note: Option<String>,
    /// When it last reported.
    pub last_heartbeat: Option<Timestamp>,
    /// Seconds since then.
    pub seconds_since_heartbeat: Option<u64>,
    /// Whether that is recent enough.
    pub alive: bool,
}

impl ParticipantView {
    /// `p` as seen at `now`, alive if its heartbeat is at most `timeout_s` old.
    pub fn of(p: &Participant, now: Timestamp, timeout_s: u64) -> Self {
        let heartbeat = p.status.as_ref();
        let age = heartbeat
            .map(|s| u64::try_from(now.micros_since(s.updated_at).max(0) / 1_000_000).unwrap_or(0));
        Self {
            side: p.side,
            role: p.role.clone(),
            kind: p.kind,
            status: heartbeat.map(|s| s.status),
            note: heartbeat.and_then(|s| s.note.clone()),
            last_heartbeat: heartbeat.map(|s| s.updated_at),
            seconds_since_heartbeat: age,
            alive: age.is_some_and(|a| a <= timeout_s),
        }
    }
}

/// A removed participant.
#[derive(Debug, Clone)]
pub struct Removed {
    /// Its session id.
    pub side: Side,
    /// Its role.
    pub role: String,
    /// Who is left.
    pub participants: Vec<ParticipantView>,
}

/// Where a bound session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Works.
    Active,
    /// The conversation expired.
    Expired,
    /// The owner removed this session.
    Removed,
    /// The conversation no longer exists (cleaned up).
    Gone,
}

impl SessionState {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            SessionState::Active => "active",
            SessionState::Expired => "expired",
            SessionState::Removed => "removed",
            SessionState::Gone => "gone",
        }
    }
}

/// One conversation this session is bound to.
#[derive(Debug, Clone)]
pub struct MyConversation {
    /// The conversation.
    pub conversation: ConversationId,
    /// This session's id in it.
    pub side: Side,
    /// This session's role (empty when the conversation is gone).
    pub role: String,
    /// What this session may do.
    pub kind: Option<ParticipantKind>,
    /// Whether it still works.
    pub state: SessionState,
    /// When the conversation expires.
    pub expires_at: Option<Timestamp>,
    /// Messages waiting for this session.
    pub unread: u64,
    /// Everyone taking part.
    pub participants: Vec<ParticipantView>,
}

impl<S: Store> Bridge<S> {
    /// Removes a participant (by role or session id) from the caller's
    /// conversation. Only the owner may, and not itself. The removed token
    /// stops working at once in every process.
    ///
    /// # Errors
    /// Authentication, permission, argument or storage failures.
    pub async fn remove_participant(
        &self,
        creds: &SessionCredentials,
        who: &str,
    ) -> Result<Removed, ServiceError> {
        const TOOL: &str = "remove_participant";
        let at = self.clock.now();
        let mut draft = session_draft(TOOL, creds);
        let caller = self.authorize(creds, &draft, at).await?;
        if !caller.kind.may_manage() {
            let e = ServiceError::Forbidden(
                "only the conversation's owner (session a) may remove participants".into(),
            );
            return Err(self.refuse(draft, e));
        }
        let target = match find(&caller.conversation, caller.side, "participant", who) {
            Err(e) => Err(e),
            Ok(Some(side)) if side == caller.side => Err(InvalidValue::new(
                "participant",
                "is yourself; the owner cannot leave its own conversation",
            )),
            Ok(Some(side)) => Ok(side),
            Ok(None) => Err(InvalidValue::new(
                "participant",
                format!(
                    "names {:?}, which is no active participant's role or session id here",
                    printable(who)
                ),
            )),
        };
        let side = match target {
            Ok(s) => s,
            Err(e) => return Err(self.refuse(draft, e.into())),
        };
        draft.detail = Some(format!("removed={side}"));
        let guard = Guard {
            at,
            session: None,
            quota: None,
            audit: draft.clone(),
        };
        if let Err(e) = self
            .store
            .remove_participant(creds.conversation.clone(), side, guard)
            .await
        {
            return Err(self.refuse(draft, e.into()));
        }
        let role = caller
            .conversation
            .participant(side)
            .map(|p| p.role.clone())
            .unwrap_or_default();
        let mut participants = self.views(&caller.conversation, at);
        participants.retain(|p| p.side != side);
        Ok(Removed {
            side,
            role,
            participants,
        })
    }

    /// The conversations `bound` names, with this session's role, state and
    /// unread count. Reads only; one audit record for the call, and one
    /// overview read of the client's quota (`rate_limits.overview`).
    ///
    /// # Errors
    /// [`ServiceError::AuthFailed`] for a token that is not the session's;
    /// storage failures.
    pub async fn my_conversations(
        &self,
        bound: &[SessionCredentials],
    ) -> Result<Vec<MyConversation>, ServiceError> {
        let at = self.clock.now();
        let mut draft = AuditDraft::new("mcp", "list_my_conversations");
        draft.count = Some(i64::try_from(bound.len()).unwrap_or(i64::MAX));
        if let Err(e) = self.spend_overview(at) {
            return Err(self.refuse(draft, e));
        }
        // Explicit credentials may narrow the list: they must be genuine.
        if let Some(b) = bound
            .iter()
            .find(|b| !self.key.verify(&b.conversation, b.side, &b.token))
        {
            let draft = draft.on(Some(b.conversation.as_str()), Some(b.side.as_str()));
            return Err(self.refuse(draft, ServiceError::AuthFailed));
        }
        let mut out = Vec::with_capacity(bound.len());
        for b in bound {
            let found = match self.store.conversation(&b.conversation).await {
                Ok(c) => c,
                Err(e) => return Err(self.refuse(draft, e.into())),
            };
            let Some(c) = found else {
                out.push(MyConversation {
                    conversation: b.conversation.clone(),
                    side: b.side,
                    role: String::new(),
                    kind: None,
                    state: SessionState::Gone,
                    expires_at: None,
                    unread: 0,
                    participants: Vec::new(),
                });
                continue;
            };
            let me = c.participant(b.side);
            let state = if at >= c.expires_at {
                SessionState::Expired
            } else if me.is_none_or(|p| p.removed_at.is_some()) {
                SessionState::Removed
            } else {
                SessionState::Active
            };
            let unread = if state == SessionState::Active {
                match self.store.peek_unread(&c.id, b.side, 0, at).await {
                    // As the inbox hook counts: not what is in flight.
                    Ok(u) => super::inbox::waiting(&u),
                    Err(e) => return Err(self.refuse(draft, e.into())),
                }
            } else {
                0
            };
            out.push(MyConversation {
                conversation: c.id.clone(),
                side: b.side,
                role: me.map(|p| p.role.clone()).unwrap_or_default(),
                kind: me.map(|p| p.kind),
                state,
                expires_at: Some(c.expires_at),
                unread,
                // Who is in it, their notes and heartbeats, are for its
                // active participants only: a removed seat, or anyone once
                // it has expired, learns only its own state.
                participants: match state {
                    SessionState::Active => self.views(&c, at),
                    _ => Vec::new(),
                },
            });
        }
        self.audit(draft);
        Ok(out)
    }

    /// Every active participant of `c` as the tools show it.
    pub(super) fn views(&self, c: &Conversation, at: Timestamp) -> Vec<ParticipantView> {
        c.active()
            .map(|p| ParticipantView::of(p, at, self.settings.heartbeat_timeout_s))
            .collect()
    }
}
