//! Tool inputs: strict serde types whose JSON Schemas clients see, and their
//! conversion into domain values.
//!
//! Every struct denies unknown fields (the schema then says
//! `additionalProperties: false`), closed sets are enums, and bounds come from
//! the constants in `domain`, so the schema and the check are one definition.
//! Arguments that break the schema are answered with a JSON-RPC
//! `invalid params` error (SPEC §3), not a tool result.

use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::auth::Token;
use crate::domain::{
    self, ActionType, CONVERSATION_ID_PATTERN, ConversationId, DEFAULT_PAGE, InvalidValue,
    LONG_POLL_CAP_SECONDS, MAX_FILES, MAX_NOTE_CHARS, MAX_PAGE, MAX_PATH_CHARS, MAX_ROLE_CHARS,
    MAX_WAIT_SECONDS, ROLE_PATTERN, SESSION_ID_PATTERN, Side, Status,
};
use crate::service::{CredentialArgs, SessionCredentials};

/// Schema pattern for tokens (either case; tokens are shown in lowercase).
const TOKEN_SCHEMA_PATTERN: &str = r"^[0-9a-fA-F]{64}$";

/// Tool arguments as received: either the typed value or why it does not fit
/// the schema. Named `Parameters` because rmcp's `#[tool]` macro finds a tool's
/// input schema through a parameter of that name; unlike rmcp's own wrapper it
/// hands a mismatch to the tool (which audits it) instead of answering for it.
pub struct Parameters<T: ToolArgs> {
    /// The decoded and validated arguments.
    pub args: Result<T::Valid, ArgumentError>,
    /// `conversation_id` and `session_id` as sent, if they were strings, for the audit trail.
    pub raw_ids: (Option<String>, Option<String>),
}

/// Arguments a tool can decode: serde checks the shape, [`ToolArgs::validate`]
/// the rest of the schema (lengths, patterns, ranges) and turns them into the
/// values the tool works with.
pub trait ToolArgs: DeserializeOwned {
    /// What validation produces.
    type Valid;

    /// Checks what serde cannot.
    ///
    /// # Errors
    /// The first argument that breaks the schema.
    fn validate(self) -> Result<Self::Valid, ArgumentError>;
}

impl<T: ToolArgs + JsonSchema> JsonSchema for Parameters<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// Arguments that MCP clients add to every tool on their own, which the
/// server accepts and ignores while still refusing any other unknown field:
/// Gemini CLI declares an optional boolean `wait_for_previous` on every tool
/// it hands its model (and tells the model to set it on dependent calls), then
/// passes it through. Only the type the client sends is accepted, so a value
/// of another shape is still an error.
const CLIENT_INJECTED_FLAGS: [&str; 1] = ["wait_for_previous"];

/// Takes the client-injected flags out of `arguments`.
fn drop_client_injected(arguments: &mut JsonObject) {
    for name in CLIENT_INJECTED_FLAGS {
        if arguments
            .get(name)
            .is_some_and(|v| v.is_boolean() || v.is_null())
        {
            arguments.remove(name);
        }
    }
}

impl<S, T: ToolArgs> FromContextPart<ToolCallContext<'_, S>> for Parameters<T> {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, rmcp::ErrorData> {
        let mut arguments: JsonObject = context.arguments.take().unwrap_or_default();
        drop_client_injected(&mut arguments);
        let raw = |k: &str| arguments.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let raw_ids = (raw("conversation_id"), raw("session_id"));
        let args = serde_json::from_value::<T>(serde_json::Value::Object(arguments))
            .map_err(|e| ArgumentError(plain_types(&sanitize(&e.to_string()))))
            .and_then(T::validate);
        Ok(Self { args, raw_ids })
    }
}

/// Arguments that do not fit a tool's schema; the text never repeats a client value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ArgumentError(pub String);

impl From<InvalidValue> for ArgumentError {
    fn from(e: InvalidValue) -> Self {
        Self(e.to_string())
    }
}

/// The kinds of message an agent may send.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[schemars(inline)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Proposal,
    Question,
    Answer,
    #[default]
    Info,
    Review,
    Status,
    Request,
    Ack,
}

impl From<MessageKind> for ActionType {
    fn from(k: MessageKind) -> Self {
        match k {
            MessageKind::Proposal => ActionType::Proposal,
            MessageKind::Question => ActionType::Question,
            MessageKind::Answer => ActionType::Answer,
            MessageKind::Info => ActionType::Info,
            MessageKind::Review => ActionType::Review,
            MessageKind::Status => ActionType::Status,
            MessageKind::Request => ActionType::Request,
            MessageKind::Ack => ActionType::Ack,
        }
    }
}

/// A heartbeat status.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[schemars(inline)]
#[serde(rename_all = "lowercase")]
pub enum StatusValue {
    Working,
    Waiting,
    Blocked,
    Complete,
}

impl From<StatusValue> for Status {
    fn from(s: StatusValue) -> Self {
        match s {
            StatusValue::Working => Status::Working,
            StatusValue::Waiting => Status::Waiting,
            StatusValue::Blocked => Status::Blocked,
            StatusValue::Complete => Status::Complete,
        }
    }
}

/// Arguments of `create_conversation`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::mcp::input_schema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversationParams {
    /// Your role, e.g. "backend_developer".
    #[schemars(length(min = 1, max = MAX_ROLE_CHARS), pattern(ROLE_PATTERN))]
    pub my_role: String,
    /// Your partner's role, e.g. "frontend_developer".
    #[schemars(length(min = 1, max = MAX_ROLE_CHARS), pattern(ROLE_PATTERN))]
    pub partner_role: String,
}

impl ToolArgs for CreateConversationParams {
    type Valid = Self;

    fn validate(self) -> Result<Self, ArgumentError> {
        self.check()?;
        Ok(self)
    }
}

impl CreateConversationParams {
    /// Validates both roles against the schema's length and pattern.
    ///
    /// # Errors
    /// When a role is empty, too long or holds other characters.
    pub fn check(&self) -> Result<(), ArgumentError> {
        domain::Role::parse("my_role", &self.my_role)?;
        domain::Role::parse("partner_role", &self.partner_role)?;
        Ok(())
    }
}

/// Declares a session tool's argument struct: the three credentials every
/// session tool takes — all optional, since a session bound by
/// `create_conversation` or `join_conversation` may leave them out — then its
/// own fields. (serde's `flatten` cannot be combined with
/// `deny_unknown_fields`, so the credentials are spelled out.)
macro_rules! session_params {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Deserialize, JsonSchema)]
        #[schemars(transform = crate::mcp::input_schema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Omit in a session that created or joined.
            #[schemars(length(min = 21, max = 21), pattern(CONVERSATION_ID_PATTERN))]
            pub conversation_id: Option<String>,
            /// Your session id (a, b, …); omit likewise.
            #[schemars(length(min = 1, max = 1), pattern(SESSION_ID_PATTERN))]
            pub session_id: Option<String>,
            /// Your token; omit likewise.
            #[schemars(length(min = 64, max = 64), pattern(TOKEN_SCHEMA_PATTERN))]
            pub token: Option<String>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $name {
            /// Validates the credentials that were given.
            ///
            /// # Errors
            /// When an id or the token is malformed.
            fn credentials(&self) -> Result<CredentialArgs, ArgumentError> {
                credential_args(
                    self.conversation_id.as_deref(),
                    self.session_id.as_deref(),
                    self.token.as_deref(),
                )
            }
        }

        impl ToolArgs for $name {
            type Valid = (CredentialArgs, $name);

            fn validate(self) -> Result<Self::Valid, ArgumentError> {
                self.check()?;
                Ok((self.credentials()?, self))
            }
        }
    };
}

/// Validates the credentials a call gave: each must be well-formed, and a
/// token needs both ids (a bound session leaves out all three, or narrows its
/// choice with `conversation_id`/`session_id` alone).
///
/// # Errors
/// When one is malformed, or a token comes without its ids.
fn credential_args(
    conversation: Option<&str>,
    side: Option<&str>,
    token: Option<&str>,
) -> Result<CredentialArgs, ArgumentError> {
    let args = CredentialArgs {
        conversation: conversation.map(ConversationId::parse).transpose()?,
        side: side.map(Side::parse).transpose()?,
        token: token.map(Token::parse).transpose()?,
    };
    if args.token.is_some() && (args.conversation.is_none() || args.side.is_none()) {
        return Err(ArgumentError(
            "`token` comes with `conversation_id` and `session_id`".into(),
        ));
    }
    Ok(args)
}

// After `session_params!`, which they use.
mod team;
mod wording;
mod yolo;

use wording::{plain_types, sanitize};

pub use team::{
    CreateInviteParams, InviteAs, JoinConversationParams, ListMyConversationsParams, Recipients,
    RemoveParticipantParams, SendMessageParams,
};
pub use yolo::{EnableYoloModeParams, ExecuteCommandParams, ModeValue};

session_params! {
/// Arguments of `send_to_partner`.
pub struct SendToPartnerParams {
    /// The message (UTF-8, at most 51200 bytes). Secrets are redacted before storage.
    #[schemars(length(min = 1))]
    pub message: String,
    /// What the message is for (default "info").
    #[serde(default)]
    pub action_type: MessageKind,
    /// Paths the message concerns.
    #[serde(default)]
    #[schemars(length(max = MAX_FILES), inner(length(min = 1, max = MAX_PATH_CHARS)))]
    pub files_involved: Vec<String>,
}
}

session_params! {
/// Arguments of `check_messages`.
pub struct CheckMessagesParams {
    /// Seconds to wait for a first message when none is waiting (0–60, default 0; a longer wait than 45 waits 45).
    #[schemars(range(min = 0, max = MAX_WAIT_SECONDS))]
    pub wait_seconds: Option<f64>,
    /// Most messages to return (1–500, default 100); `more` says if any are left.
    #[schemars(range(min = 1, max = MAX_PAGE))]
    pub limit: Option<u32>,
}
}

impl CheckMessagesParams {
    /// How long to wait (checked by [`CheckMessagesParams::check`]).
    pub fn wait(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(
            self.wait_seconds
                .unwrap_or(0.0)
                .clamp(0.0, LONG_POLL_CAP_SECONDS as f64),
        )
    }

    /// The page size (checked by [`CheckMessagesParams::check`]).
    pub fn page(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_PAGE)
    }

    /// Validates the wait and page size.
    ///
    /// # Errors
    /// When either is out of range.
    pub fn check(&self) -> Result<(), ArgumentError> {
        let wait = self.wait_seconds.unwrap_or(0.0);
        if !(0.0..=MAX_WAIT_SECONDS as f64).contains(&wait) {
            return Err(InvalidValue::new(
                "wait_seconds",
                format!("must be between 0 and {MAX_WAIT_SECONDS}"),
            )
            .into());
        }
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(
                InvalidValue::new("limit", format!("must be between 1 and {MAX_PAGE}")).into(),
            );
        }
        Ok(())
    }

    /// The credentials and wait of a long-poll that names its session
    /// explicitly (all three credentials, well formed) and waits: one a
    /// transport may park before serving it (`service::park`). `None` for
    /// any other call, valid or not: it is served at once and answers for
    /// itself.
    pub fn parkable(arguments: JsonObject) -> Option<(SessionCredentials, std::time::Duration)> {
        let params: Self = serde_json::from_value(serde_json::Value::Object(arguments)).ok()?;
        let (args, params) = params.validate().ok()?;
        let creds = SessionCredentials {
            conversation: args.conversation?,
            side: args.side?,
            token: args.token?,
        };
        Some((creds, params.wait())).filter(|(_, wait)| !wait.is_zero())
    }
}

impl CheckPartnerStatusParams {
    /// Nothing beyond the credentials to check.
    ///
    /// # Errors
    /// Never.
    pub fn check(&self) -> Result<(), ArgumentError> {
        Ok(())
    }
}

session_params! {
/// Arguments of `update_my_status`.
pub struct UpdateMyStatusParams {
    /// Your current status.
    pub status: StatusValue,
    /// A short note for your partner (at most 500 characters; redacted).
    #[schemars(length(max = MAX_NOTE_CHARS))]
    pub note: Option<String>,
}
}

impl SendToPartnerParams {
    /// Validates what the schema bounds: a non-empty message (its size limit is
    /// a tool error, checked by the service) and the paths.
    ///
    /// # Errors
    /// When the message is empty or a path list breaks its bounds.
    pub fn check(&self) -> Result<(), ArgumentError> {
        if self.message.is_empty() {
            return Err(InvalidValue::new("message", "must not be empty").into());
        }
        domain::check_files(&self.files_involved).map_err(Into::into)
    }
}

impl UpdateMyStatusParams {
    /// Validates the note length.
    ///
    /// # Errors
    /// When the note is too long.
    pub fn check(&self) -> Result<(), ArgumentError> {
        match &self.note {
            Some(note) => domain::check_note(note).map_err(Into::into),
            None => Ok(()),
        }
    }
}

session_params! {
/// Arguments of `check_partner_status`.
pub struct CheckPartnerStatusParams {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_polls_are_capped_below_client_timeouts() {
        let parse = |wait: f64| {
            serde_json::from_value::<CheckMessagesParams>(serde_json::json!({
                "conversation_id": "conv_0000000000000001", "session_id": "a",
                "token": "0".repeat(64), "wait_seconds": wait
            }))
            .expect("valid")
        };
        for (asked, waited) in [(0.0, 0), (10.0, 10), (45.0, 45), (60.0, 45)] {
            let params = parse(asked);
            assert!(params.check().is_ok(), "{asked} is a valid wait");
            assert_eq!(params.wait().as_secs(), waited, "wait_seconds {asked}");
        }
    }

    #[test]
    fn only_the_injected_flags_of_known_clients_are_dropped() {
        let mut args = serde_json::json!({"a": 1, "wait_for_previous": true, "other": true});
        let map = args.as_object_mut().expect("object");
        drop_client_injected(map);
        assert_eq!(map.len(), 2);
        assert!(!map.contains_key("wait_for_previous"));
        let mut odd = serde_json::json!({"wait_for_previous": "yes"});
        let map = odd.as_object_mut().expect("object");
        drop_client_injected(map);
        assert!(
            map.contains_key("wait_for_previous"),
            "a string is not the client's flag"
        );
    }
}
