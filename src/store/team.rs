//! What the store keeps for conversations of more than two participants:
//! invites, the bindings of running server processes (for `mcp-bridge inbox`),
//! and unread previews. The rules — who may invite or remove, how addressing
//! resolves, how codes are hashed and when they expire — belong to the service
//! layer; the store applies its decisions atomically.

use crate::domain::{ConversationId, Message, ParticipantKind, Role, Side, Timestamp};

use super::{Conversation, StoreError};

/// The code the audit trail records for a join with an unknown, used or
/// expired invite code (all three are the same answer).
pub const INVITE_INVALID_CODE: &str = "invite_invalid";

/// An invitation to store. Only the keyed hash of its code is kept.
#[derive(Debug, Clone)]
pub struct NewInvite {
    /// `HMAC(key, code)` in hex; the primary key.
    pub code_hash: String,
    /// The conversation it admits to.
    pub conversation: ConversationId,
    /// The role the newcomer takes.
    pub role: Role,
    /// What the newcomer may do (member or observer).
    pub kind: ParticipantKind,
    /// Who invited.
    pub created_by: Side,
    /// When.
    pub created_at: Timestamp,
    /// When it stops working (never after the conversation expires).
    pub expires_at: Timestamp,
}

/// A participant added by redeeming an invite.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The conversation as it is after the join (the newcomer included).
    pub conversation: Conversation,
    /// The newcomer's session id.
    pub side: Side,
}

/// A process, identified so that a reused pid never matches: its pid and its
/// start time (clock ticks after boot, from `/proc/<pid>/stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcessStamp {
    /// Process id.
    pub pid: u32,
    /// Start time in clock ticks after boot.
    pub start: u64,
}

/// A session that a running `serve` process is bound to, keyed by the client
/// process that spawned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientBinding {
    /// The MCP client (the server's parent process).
    pub client: ProcessStamp,
    /// The `serve` process holding the binding.
    pub server: ProcessStamp,
    /// The conversation.
    pub conversation: ConversationId,
    /// The bound session.
    pub side: Side,
    /// When it was bound.
    pub bound_at: Timestamp,
}

/// What waits for one session, read without marking anything read.
#[derive(Debug, Clone, Default)]
pub struct Unread {
    /// Undelivered messages in all, those in flight included.
    pub count: u64,
    /// Of those, the ones under a lease that is still live at the time of
    /// the read: handed to a reader, their acknowledgement not committed yet.
    pub in_flight: u64,
    /// The id of the newest of them (in flight or not).
    pub newest: Option<i64>,
    /// The oldest of them not in flight, up to the limit asked for, in send order.
    pub first: Vec<Message>,
}

impl Conversation {
    /// The participants still taking part (not removed), in session order.
    pub fn active(&self) -> impl Iterator<Item = &super::Participant> {
        self.participants.iter().filter(|p| p.removed_at.is_none())
    }

    /// The sides removed from it.
    pub fn removed(&self) -> impl Iterator<Item = Side> + '_ {
        self.participants
            .iter()
            .filter(|p| p.removed_at.is_some())
            .map(|p| p.side)
    }

    /// The participant with `side`, if it is still taking part.
    pub fn active_participant(&self, side: Side) -> Option<&super::Participant> {
        self.active().find(|p| p.side == side)
    }

    /// Who a message stored before teams went to: every participant but its
    /// sender that had already joined when it was sent.
    pub fn everyone_else_at(
        &self,
        from: Side,
        at: Timestamp,
    ) -> impl Iterator<Item = &super::Participant> {
        self.participants
            .iter()
            .filter(move |p| p.side != from && p.joined_at.is_none_or(|j| j <= at))
    }

    /// The roles of `sides`, in the order given (a side no longer known — it
    /// joined after this conversation was read — is named by its session id).
    pub fn roles_of(&self, sides: &[Side]) -> Vec<String> {
        sides
            .iter()
            .map(|s| {
                self.participant(*s)
                    .map_or_else(|| s.as_str().to_owned(), |p| p.role.clone())
            })
            .collect()
    }

    /// Refuses a send when `full` names any inbox already holding `limit`
    /// unread messages: [`StoreError::InboxFull`], each by session id and
    /// role. One place for both backends.
    ///
    /// # Errors
    /// As said, when `full` is not empty.
    pub fn refuse_full_inboxes(&self, full: Vec<Side>, limit: u32) -> Result<(), StoreError> {
        if full.is_empty() {
            return Ok(());
        }
        let roles = self.roles_of(&full);
        Err(StoreError::InboxFull {
            full: full.into_iter().zip(roles).collect(),
            limit,
        })
    }
}
