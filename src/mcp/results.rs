//! Tool outputs: the JSON objects returned as `structuredContent` (and as a
//! text copy), with the output schemas published in `tools/list`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::Message;
use crate::service::{Created, Inbox, PartnerStatus, Sent, StatusUpdated};

/// Result of `create_conversation`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CreateConversationResult {
    /// The new conversation's id.
    pub conversation_id: String,
    /// Your token (side "a"). Keep it secret.
    pub session_a_token: String,
    /// Your partner's token (side "b"); hand it over privately.
    pub session_b_token: String,
    /// When the conversation expires (RFC 3339, UTC).
    pub expires_at: String,
}

impl From<Created> for CreateConversationResult {
    fn from(c: Created) -> Self {
        Self {
            conversation_id: c.conversation.to_string(),
            session_a_token: c.token_a.to_hex(),
            session_b_token: c.token_b.to_hex(),
            expires_at: c.expires_at.to_rfc3339(),
        }
    }
}

/// Result of `send_to_partner`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SendToPartnerResult {
    /// The stored message's id.
    pub message_id: i64,
    /// When it was stored (RFC 3339, UTC).
    pub created_at: String,
    /// Secrets removed before storage, counted per kind.
    pub redactions: BTreeMap<String, usize>,
}

impl From<Sent> for SendToPartnerResult {
    fn from(s: Sent) -> Self {
        Self {
            message_id: s.message_id,
            created_at: s.created_at.to_rfc3339(),
            redactions: s.redactions,
        }
    }
}

/// One delivered message.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MessageView {
    /// Message id; ids increase in send order.
    pub id: i64,
    /// The sender's side ("a", "b") or "system" for the bridge.
    pub from_session: String,
    /// The sender's role.
    pub from_role: String,
    /// What the message is for.
    pub action_type: String,
    /// The (redacted) text.
    pub content: String,
    /// Paths the message concerns.
    pub files_involved: Vec<String>,
    /// When it was sent (RFC 3339, UTC).
    pub created_at: String,
}

impl From<Message> for MessageView {
    fn from(m: Message) -> Self {
        Self {
            id: m.id,
            from_session: m.from.as_str().to_owned(),
            from_role: m.from_role,
            action_type: m.action_type.as_str().to_owned(),
            content: m.content,
            files_involved: m.files_involved,
            created_at: m.created_at.to_rfc3339(),
        }
    }
}

/// Result of `check_messages`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CheckMessagesResult {
    /// Your unread messages in send order; each is delivered only once.
    pub messages: Vec<MessageView>,
    /// Whether more messages are waiting beyond this page.
    pub more: bool,
}

impl From<Inbox> for CheckMessagesResult {
    fn from(i: Inbox) -> Self {
        Self {
            messages: i.messages.into_iter().map(MessageView::from).collect(),
            more: i.more,
        }
    }
}

/// Result of `update_my_status`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UpdateMyStatusResult {
    /// The recorded status.
    pub status: String,
    /// When it was recorded (RFC 3339, UTC).
    pub updated_at: String,
}

impl From<StatusUpdated> for UpdateMyStatusResult {
    fn from(s: StatusUpdated) -> Self {
        Self {
            status: s.status.as_str().to_owned(),
            updated_at: s.updated_at.to_rfc3339(),
        }
    }
}

/// Result of `check_partner_status`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CheckPartnerStatusResult {
    /// Your partner's role.
    pub partner_role: String,
    /// working, waiting, blocked, complete, or unknown before its first update.
    pub status: String,
    /// Its last note, if any.
    pub note: Option<String>,
    /// When it last updated its status (RFC 3339, UTC), if ever.
    pub last_heartbeat: Option<String>,
    /// Seconds since that update, if any.
    pub seconds_since_heartbeat: Option<u64>,
    /// Whether that update is recent enough to call the partner alive.
    pub alive: bool,
}

impl From<PartnerStatus> for CheckPartnerStatusResult {
    fn from(p: PartnerStatus) -> Self {
        Self {
            partner_role: p.partner_role,
            status: p.status.map_or("unknown", |s| s.as_str()).to_owned(),
            note: p.note,
            last_heartbeat: p.last_heartbeat.map(|t| t.to_rfc3339()),
            seconds_since_heartbeat: p.seconds_since_heartbeat,
            alive: p.alive,
        }
    }
}
