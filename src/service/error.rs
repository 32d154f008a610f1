//! `ServiceError`: one variant per outcome of the contract, each with a stable
//! wire code. The text says what happened and what to do; it never echoes a
//! token or message content.

use crate::audit::Outcome;
use crate::domain::{InvalidValue, MessageSizeError, Timestamp};
use crate::ratelimit::Window;
use crate::store::StoreError;

/// Why a tool call or management action did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Wrong token, another side's token, another conversation's token, or an
    /// unknown conversation — deliberately indistinguishable.
    #[error(
        "authentication failed: check conversation_id, session_id and token (tokens belong to one conversation and one side)"
    )]
    AuthFailed,
    /// The conversation is past its expiry.
    #[error("conversation expired at {expired_at}; create a new conversation")]
    ConversationExpired {
        /// When it expired.
        expired_at: Timestamp,
    },
    /// The message exceeds the size limit (the text is not echoed).
    #[error("message is {size} bytes, the limit is {limit} bytes; split it into smaller messages")]
    MessageTooLarge {
        /// Bytes received.
        size: usize,
        /// Bytes allowed.
        limit: usize,
    },
    /// A rate-limit window is full.
    #[error("rate limit reached: at most {limit} call{} per {} {scope}; retry in {retry_after_s} s", if *limit == 1 { "" } else { "s" }, window.as_str())]
    RateLimited {
        /// The full window.
        window: Window,
        /// Its limit.
        limit: u32,
        /// Seconds until a call would be accepted.
        retry_after_s: u64,
        /// Whose calls are counted, e.g. [`SESSION_SCOPE`].
        scope: &'static str,
    },
    /// An invite code that is unknown, already used or expired — deliberately
    /// indistinguishable, so guessing learns nothing.
    #[error(
        "invite code not valid (unknown, already used or expired); ask the conversation's owner for a new one"
    )]
    InviteInvalid,
    /// The caller's kind of participant may not do this (e.g. an observer sending).
    #[error("{0}")]
    Forbidden(String),
    /// An argument is well-formed but not acceptable.
    // Not "invalid argument: …": the code (`invalid_argument`) says so
    // already. Transparent, not "{0}" with a source: a printed error chain
    // said the reason twice.
    #[error(transparent)]
    InvalidArgument(#[from] InvalidValue),
    /// Everyone else has left: the owner, alone after removing the others,
    /// sent to everyone (`send_to_partner`, or `send_message` without `to`).
    #[error(
        "nobody is left to receive the message: every other participant has been removed; invite someone with create_invite, or start a new conversation"
    )]
    NoRecipient,
    /// YOLO mode is not enabled on this server.
    #[error(
        "command execution is disabled on this server (start it with MCP_BRIDGE_YOLO=1 to offer it)"
    )]
    YoloDisabled,
    /// YOLO mode is not active for this conversation (never confirmed, expired or revoked).
    #[error(
        "command execution is not active for this conversation: call enable_yolo_mode, then a human must run `mcp-bridge yolo confirm {conversation}`"
    )]
    YoloNotActive {
        /// The conversation.
        conversation: String,
    },
    /// The command policy refused the command.
    #[error("command refused (rule {rule}): {detail}")]
    CommandRefused {
        /// The rule that refused it.
        rule: &'static str,
        /// Why, in words.
        detail: String,
    },
    /// The approval token cannot be used for this call.
    #[error("{}", approval_text(*.0))]
    ApprovalRefused(crate::store::Redemption),
    /// The sandbox is required but unavailable, or turned off but not allowed.
    #[error("{0}")]
    SandboxUnavailable(String),
    /// Snapshotting the git workspace failed, so the command was not run.
    #[error("could not snapshot the git workspace, so the command was not run: {0}")]
    SnapshotFailed(String),
    /// Putting a snapshot back into the git workspace failed (`yolo restore`).
    #[error("could not restore the git workspace from its snapshot: {0}")]
    RestoreFailed(String),
    /// A resource bound of this bridge was reached.
    #[error("{what} reached its limit of {limit}; {advice}")]
    ResourceLimit {
        /// Which bound.
        what: &'static str,
        /// Its value.
        limit: u32,
        /// What to do.
        advice: &'static str,
    },
    /// Recipients' inboxes hold `limits.max_pending_messages` unread
    /// messages; named, so a member blocked by an observer that never reads
    /// knows whom the owner should remove.
    #[error(
        "{} reached {} limit of {limit}; wait until {} {}; in a team every recipient counts, observers too, so the owner can remove one that never reads (setting limits.max_pending_messages)",
        unread_waiting_for(full),
        if full.len() == 1 { "its" } else { "their" },
        if full.len() == 1 { "it reads" } else { "they read" },
        if full.len() == 1 { "its messages" } else { "their messages" }
    )]
    InboxFull {
        /// Each full inbox: its session id and role.
        full: Vec<(crate::domain::Side, String)>,
        /// The bound.
        limit: u32,
    },
    /// A management command named a conversation that does not exist.
    #[error("unknown conversation {0} (`mcp-bridge list` shows the conversations)")]
    UnknownConversation(crate::domain::ConversationId),
    /// `tokens` for an expired conversation without `--force`.
    #[error(
        "conversation {id} expired at {expired_at}; its tokens no longer work (add --force to print them anyway)"
    )]
    TokensExpired {
        /// The conversation.
        id: crate::domain::ConversationId,
        /// When it expired.
        expired_at: Timestamp,
    },
    /// An import file that cannot be used.
    #[error(transparent)]
    ExportFile(#[from] super::admin::ExportFileError),
    /// A backup file that is damaged, from a newer build, or not a bridge database.
    #[error("{0}")]
    BadBackup(String),
    /// A management action named something that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A management action raced with another one.
    #[error("{0}")]
    Conflict(String),
    /// The database stayed locked too long.
    #[error("the bridge database is busy; retry in a moment")]
    Busy,
    /// The database cannot be reached; nothing was done. The cause is
    /// logged, not returned (it names hosts and ports).
    #[error(
        "the bridge's database cannot be reached right now; nothing was done; retry in a few seconds"
    )]
    Unavailable(#[source] StoreError),
    /// The client cancelled the call (or went away) before it finished.
    #[error("the call was cancelled")]
    Cancelled,
    /// Anything else; details are logged, not returned.
    #[error("internal error; the server log has details")]
    Internal(#[source] StoreError),
}

impl ServiceError {
    /// What a log line says of this error: an internal one's cause, which
    /// its message keeps from clients ("the server log has details").
    pub fn logged(&self) -> String {
        match self {
            ServiceError::Internal(cause) | ServiceError::Unavailable(cause) => {
                crate::store::error_chain(cause)
            }
            other => other.to_string(),
        }
    }

    /// The stable wire code.
    pub const fn code(&self) -> &'static str {
        match self {
            ServiceError::AuthFailed => "auth_failed",
            ServiceError::ConversationExpired { .. } => "conversation_expired",
            ServiceError::MessageTooLarge { .. } => "message_too_large",
            ServiceError::RateLimited { .. } => crate::store::RATE_LIMITED_CODE,
            ServiceError::InvalidArgument(_) | ServiceError::NoRecipient => "invalid_argument",
            ServiceError::InviteInvalid => crate::store::INVITE_INVALID_CODE,
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::YoloDisabled => "yolo_disabled",
            ServiceError::YoloNotActive { .. } => "yolo_not_active",
            ServiceError::CommandRefused { .. } => "command_refused",
            ServiceError::ApprovalRefused(r) => match r {
                crate::store::Redemption::Expired => "approval_expired",
                crate::store::Redemption::AlreadyUsed => "approval_used",
                _ => "approval_invalid",
            },
            ServiceError::SandboxUnavailable(_) => "sandbox_unavailable",
            ServiceError::SnapshotFailed(_) => "snapshot_failed",
            ServiceError::RestoreFailed(_) => "restore_failed",
            ServiceError::ResourceLimit { .. } | ServiceError::InboxFull { .. } => "resource_limit",
            ServiceError::UnknownConversation(_) => "unknown_conversation",
            ServiceError::TokensExpired { .. } => "conversation_expired",
            ServiceError::ExportFile(super::admin::ExportFileError::TooNew { .. }) => {
                "export_too_new"
            }
            ServiceError::ExportFile(super::admin::ExportFileError::OtherKey { .. }) => {
                "export_other_key"
            }
            ServiceError::ExportFile(_) => "invalid_export",
            ServiceError::BadBackup(_) => "bad_backup",
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Conflict(_) => "conflict",
            ServiceError::Busy => "busy",
            ServiceError::Unavailable(_) => "unavailable",
            ServiceError::Cancelled => "cancelled",
            ServiceError::Internal(_) => "internal_error",
        }
    }

    /// Whether a management command was refused (exit code 1) rather than
    /// failed (exit code 2).
    pub const fn is_refusal(&self) -> bool {
        matches!(
            self,
            ServiceError::UnknownConversation(_) | ServiceError::TokensExpired { .. }
        )
    }

    /// How the audit trail classifies it.
    pub const fn outcome(&self) -> Outcome {
        match self {
            ServiceError::AuthFailed
            | ServiceError::ConversationExpired { .. }
            | ServiceError::RateLimited { .. }
            | ServiceError::InviteInvalid
            | ServiceError::Forbidden(_)
            | ServiceError::YoloDisabled
            | ServiceError::YoloNotActive { .. }
            | ServiceError::CommandRefused { .. }
            | ServiceError::ApprovalRefused(_)
            | ServiceError::SandboxUnavailable(_)
            | ServiceError::ResourceLimit { .. }
            | ServiceError::InboxFull { .. }
            | ServiceError::UnknownConversation(_)
            | ServiceError::TokensExpired { .. } => Outcome::Denied,
            _ => Outcome::Error,
        }
    }
}

/// The scope of a session's own rate limits.
pub const SESSION_SCOPE: &str = "for this session";

/// The scope of the database-wide quota of failed joins.
pub const JOIN_SCOPE: &str = "for wrong invite codes across every server on this database (rate_limits.join_conversation); a genuine code still works";

/// The scope of the fixed per-client limit on wrong invite codes, from one
/// client process or with one HTTP bearer token (no setting: see
/// `JOIN_FAILURES_PER_PROCESS_PER_MINUTE`).
pub const JOIN_CLIENT_SCOPE: &str = "for wrong invite codes from this client (fixed, not a setting); a genuine code still works once the minute is over";

/// The scope of the per-bearer-token quota of unauthenticated calls (HTTP).
pub const UNAUTHENTICATED_TOKEN_SCOPE: &str = "for calls without a valid session token (new conversations and failed authentications) made with this HTTP bearer token (rate_limits.unauthenticated)";

/// The scope of the per-process quota of unauthenticated calls.
pub const UNAUTHENTICATED_SCOPE: &str = "for calls without a valid token (new conversations and failed authentications) from this client process (rate_limits.unauthenticated)";

/// The scope of the per-bearer-token quota of overview reads (HTTP).
pub const OVERVIEW_TOKEN_SCOPE: &str = "for list_my_conversations and reads of bridge://inbox made with this HTTP bearer token (rate_limits.overview)";

/// The scope of the per-process quota of overview reads.
pub const OVERVIEW_SCOPE: &str = "for list_my_conversations and reads of bridge://inbox from this client process (rate_limits.overview)";

impl ServiceError {
    /// `rate_limited` for `refusal`, whose quota counts the calls of `scope`.
    pub(crate) fn rate_limited(refusal: crate::ratelimit::Refusal, scope: &'static str) -> Self {
        ServiceError::RateLimited {
            window: refusal.window,
            limit: refusal.limit,
            retry_after_s: refusal.retry_after_s,
            scope,
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            // A conversation deleted under us looks exactly like an unknown one.
            StoreError::NotFound => ServiceError::AuthFailed,
            StoreError::Busy => ServiceError::Busy,
            e @ StoreError::Unavailable(_) => ServiceError::Unavailable(e),
            StoreError::QuotaExceeded(r) => ServiceError::rate_limited(r, SESSION_SCOPE),
            StoreError::LimitReached { what, limit } => ServiceError::ResourceLimit {
                what,
                limit,
                advice: if what.starts_with("conversations") {
                    "reuse an existing conversation or retry later (setting limits.conversations_per_hour)"
                } else if what.starts_with("session ids") {
                    // Before "participants", which its text names too:
                    // removing one frees no id.
                    "start another conversation (an outstanding invite holds its id until it is used or expires)"
                } else if what.contains("participants") {
                    "remove a participant first, or start another conversation (setting teams.max_participants)"
                } else if what.starts_with("undecided command proposals") {
                    "wait until the human approves or denies the pending proposals (`mcp-bridge yolo approve|deny`)"
                } else {
                    "wait until the recipients read their messages; in a team every recipient counts, observers too, so the owner can remove one that never reads (setting limits.max_pending_messages)"
                },
            },
            StoreError::InboxFull { full, limit } => ServiceError::InboxFull { full, limit },
            StoreError::Conflict(text) => ServiceError::Conflict(text),
            other => ServiceError::Internal(other),
        }
    }
}

impl From<MessageSizeError> for ServiceError {
    fn from(e: MessageSizeError) -> Self {
        match e {
            MessageSizeError::Empty => {
                ServiceError::InvalidArgument(InvalidValue::new("message", "must not be empty"))
            }
            MessageSizeError::TooLarge { size, limit } => {
                ServiceError::MessageTooLarge { size, limit }
            }
        }
    }
}

/// "unread messages waiting for qa (session c) and watcher (session d)".
fn unread_waiting_for(full: &[(crate::domain::Side, String)]) -> String {
    let names: Vec<String> = full
        .iter()
        .map(|(side, role)| format!("{role} (session {side})"))
        .collect();
    let names = match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => "the recipient".to_owned(),
    };
    format!("unread messages waiting for {names}")
}

fn approval_text(r: crate::store::Redemption) -> &'static str {
    use crate::store::Redemption;
    match r {
        Redemption::Unknown => {
            "approval token not valid: propose the command without approval_token and ask the human to run `mcp-bridge yolo approve PROPOSAL`"
        }
        Redemption::OtherConversation => "approval token belongs to another conversation",
        Redemption::OtherCommand => {
            "approval token was issued for a different command; pass exactly the approved command text"
        }
        Redemption::Expired => "approval token has expired; propose the command again",
        Redemption::AlreadyUsed => {
            "approval token was already used; each approval runs its command once"
        }
        Redemption::OtherSide => {
            "approval token is for a command another session proposed; only the session that proposed a command may run it"
        }
        Redemption::Withdrawn => {
            "approval was withdrawn before it was used: the human denied it or revoked YOLO mode, or the conversation ended; nothing ran"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Side;

    #[test]
    fn a_duplicate_key_reaches_no_caller_with_the_drivers_text() {
        let driver = std::io::Error::other("UNIQUE constraint failed: audit_log.seq");
        let e = ServiceError::from(StoreError::Duplicate(Box::new(driver)));
        assert_eq!(e.code(), "internal_error");
        assert!(!e.to_string().contains("audit_log"), "{e}");
    }

    #[test]
    fn a_full_inbox_is_named_by_role_and_session() {
        let one = ServiceError::from(StoreError::InboxFull {
            full: vec![(Side::B, "dev".to_owned())],
            limit: 3,
        });
        assert_eq!(
            (one.code(), one.outcome()),
            ("resource_limit", Outcome::Denied)
        );
        assert!(
            one.to_string()
                .starts_with("unread messages waiting for dev (session b) reached its limit of 3; wait until it reads its messages;"),
            "{one}"
        );
        let c = Side::parse("c").expect("a session id");
        let two = ServiceError::InboxFull {
            full: vec![(Side::B, "dev".to_owned()), (c, "qa".to_owned())],
            limit: 3,
        };
        assert!(
            two.to_string()
                .starts_with("unread messages waiting for dev (session b) and qa (session c) reached their limit of 3; wait until they read their messages;"),
            "{two}"
        );
    }
}
