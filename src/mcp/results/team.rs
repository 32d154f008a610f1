//! Results of the team tools.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::service::{Invited, JoinedSession, MyConversation, ParticipantView, Removed, Sent};

/// A participant as the team tools show it.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = crate::mcp::output_schema)]
pub struct ParticipantInfo {
    pub session_id: String,
    pub role: String,
    /// owner, member or observer.
    pub kind: String,
    /// working, waiting, blocked, complete or unknown.
    pub status: String,
    pub note: Option<String>,
    pub seconds_since_heartbeat: Option<u64>,
    /// Heartbeat recent enough.
    pub alive: bool,
}

impl From<ParticipantView> for ParticipantInfo {
    fn from(p: ParticipantView) -> Self {
        Self {
            session_id: p.side.as_str().to_owned(),
            role: p.role,
            kind: p.kind.as_str().to_owned(),
            status: p.status.map_or("unknown", |s| s.as_str()).to_owned(),
            note: p.note,
            seconds_since_heartbeat: p.seconds_since_heartbeat,
            alive: p.alive,
        }
    }
}

fn infos(v: Vec<ParticipantView>) -> Vec<ParticipantInfo> {
    v.into_iter().map(ParticipantInfo::from).collect()
}

/// Result of `create_invite`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = crate::mcp::output_schema)]
pub struct CreateInviteResult {
    /// Single-use; give it to a human, never in a message.
    pub invite_code: String,
    pub role: String,
    #[serde(rename = "as")]
    pub kind: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
}

impl From<Invited> for CreateInviteResult {
    fn from(i: Invited) -> Self {
        Self {
            invite_code: i.code.to_display(),
            role: i.role,
            kind: i.kind.as_str().to_owned(),
            expires_at: i.expires_at.to_rfc3339(),
        }
    }
}

/// Result of `join_conversation`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = crate::mcp::output_schema)]
pub struct JoinConversationResult {
    pub conversation_id: String,
    pub session_id: String,
    /// Your token; this session remembers it.
    pub token: String,
    pub role: String,
    /// member or observer.
    pub kind: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
    pub participants: Vec<ParticipantInfo>,
}

impl From<JoinedSession> for JoinConversationResult {
    fn from(j: JoinedSession) -> Self {
        Self {
            conversation_id: j.creds.conversation.to_string(),
            session_id: j.creds.side.as_str().to_owned(),
            token: j.creds.token.to_hex(),
            role: j.role,
            kind: j.kind.as_str().to_owned(),
            expires_at: j.expires_at.to_rfc3339(),
            participants: infos(j.participants),
        }
    }
}

/// Result of `send_message`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = crate::mcp::output_schema)]
pub struct SendMessageResult {
    /// The stored message's id.
    pub message_id: i64,
    /// When it was stored (RFC 3339, UTC).
    pub created_at: String,
    /// The roles it was addressed to.
    pub to: Vec<String>,
    /// Secrets removed before storage, counted per kind.
    pub redactions: BTreeMap<String, usize>,
}

impl From<Sent> for SendMessageResult {
    fn from(s: Sent) -> Self {
        Self {
            message_id: s.message_id,
            created_at: s.created_at.to_rfc3339(),
            to: s.to,
            redactions: s.redactions,
        }
    }
}

/// Result of `remove_participant`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = crate::mcp::output_schema)]
pub struct RemoveParticipantResult {
    pub removed_session_id: String,
    pub removed_role: String,
    /// Everyone still taking part.
    pub participants: Vec<ParticipantInfo>,
}

impl From<Removed> for RemoveParticipantResult {
    fn from(r: Removed) -> Self {
        Self {
            removed_session_id: r.side.as_str().to_owned(),
            removed_role: r.role,
            participants: infos(r.participants),
        }
    }
}

/// One conversation this session takes part in.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = crate::mcp::output_schema)]
pub struct MyConversationInfo {
    pub conversation_id: String,
    pub session_id: String,
    pub role: String,
    pub kind: Option<String>,
    /// active, expired, removed or gone.
    pub state: String,
    pub expires_at: Option<String>,
    /// Messages waiting for you.
    pub unread: u64,
    pub participants: Vec<ParticipantInfo>,
}

/// Result of `list_my_conversations`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = crate::mcp::output_schema)]
pub struct ListMyConversationsResult {
    /// The conversations this session created or joined, oldest first.
    pub conversations: Vec<MyConversationInfo>,
}

impl From<Vec<MyConversation>> for ListMyConversationsResult {
    fn from(v: Vec<MyConversation>) -> Self {
        Self {
            conversations: v
                .into_iter()
                .map(|c| MyConversationInfo {
                    conversation_id: c.conversation.to_string(),
                    session_id: c.side.as_str().to_owned(),
                    role: c.role,
                    kind: c.kind.map(|k| k.as_str().to_owned()),
                    state: c.state.as_str().to_owned(),
                    expires_at: c.expires_at.map(|t| t.to_rfc3339()),
                    unread: c.unread,
                    participants: infos(c.participants),
                })
                .collect(),
        }
    }
}
