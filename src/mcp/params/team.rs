//! Arguments of the team tools: invites, joining, addressed messages, removal
//! and the session's own conversations.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

// The credential names are used by `session_params!`, expanded here.
use super::{
    ArgumentError, CONVERSATION_ID_PATTERN, CredentialArgs, MAX_FILES, MAX_PATH_CHARS,
    MAX_ROLE_CHARS, MessageKind, SESSION_ID_PATTERN, TOKEN_SCHEMA_PATTERN, ToolArgs,
    credential_args,
};
use crate::domain::{
    self, INVITE_CODE_PATTERN, InvalidValue, MAX_INVITE_CODE_CHARS, MAX_SESSIONS, ParticipantKind,
};
use crate::service::Addressing;

/// What an invited participant may do.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[schemars(inline)]
#[serde(rename_all = "lowercase")]
pub enum InviteAs {
    #[default]
    Member,
    Observer,
}

impl From<InviteAs> for ParticipantKind {
    fn from(a: InviteAs) -> Self {
        match a {
            InviteAs::Member => ParticipantKind::Member,
            InviteAs::Observer => ParticipantKind::Observer,
        }
    }
}

session_params! {
/// Arguments of `create_invite`.
pub struct CreateInviteParams {
    /// The newcomer's role, unique in the conversation.
    #[schemars(length(min = 1, max = MAX_ROLE_CHARS), pattern(domain::ROLE_PATTERN))]
    pub role: String,
    /// member (default: sends, receives what is addressed to it) or observer (receives everything, cannot send).
    #[serde(default, rename = "as")]
    pub kind: InviteAs,
    /// Minutes until the code expires (default 10, at most 1440).
    #[schemars(range(min = 1, max = 1440))]
    pub expires_minutes: Option<f64>,
}
}

impl CreateInviteParams {
    /// Validates the role and lifetime.
    ///
    /// # Errors
    /// When either breaks its bounds.
    pub fn check(&self) -> Result<(), ArgumentError> {
        domain::Role::parse("role", &self.role)?;
        if let Some(m) = self.expires_minutes
            && !(m.is_finite() && (1.0..=1440.0).contains(&m))
        {
            return Err(InvalidValue::new("expires_minutes", "must be between 1 and 1440").into());
        }
        Ok(())
    }
}

/// Arguments of `join_conversation`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::mcp::input_schema)]
#[serde(deny_unknown_fields)]
pub struct JoinConversationParams {
    /// The invite code a human gave you, e.g. 7KQ2-M9XD-4HTP-0R3C (any case, dashes optional).
    #[schemars(length(min = 16, max = MAX_INVITE_CODE_CHARS), pattern(INVITE_CODE_PATTERN))]
    pub invite_code: String,
}

impl ToolArgs for JoinConversationParams {
    type Valid = Self;

    fn validate(self) -> Result<Self, ArgumentError> {
        let ok = (16..=MAX_INVITE_CODE_CHARS).contains(&self.invite_code.len())
            && self
                .invite_code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b' ');
        if !ok {
            return Err(InvalidValue::new(
                "invite_code",
                "must be 16 letters and digits, dashes and spaces allowed",
            )
            .into());
        }
        Ok(self)
    }
}

/// Who a message is for: one role or session id, or a list of them.
#[derive(Debug, Clone, Default)]
pub struct Recipients(pub Vec<String>);

/// One name or a list: models write either, and the schema says so.
impl JsonSchema for Recipients {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Recipients".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let name =
            serde_json::json!({"type": "string", "minLength": 1, "maxLength": MAX_ROLE_CHARS});
        schemars::json_schema!({
            "description": "Roles or session ids to write to (one, or a list); omit to write to everyone else.",
            "anyOf": [
                name,
                {"type": "array", "items": name, "minItems": 1, "maxItems": MAX_SESSIONS}
            ]
        })
    }
}

impl<'de> Deserialize<'de> for Recipients {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        match OneOrMany::deserialize(d) {
            Ok(OneOrMany::One(name)) => Ok(Recipients(vec![name])),
            Ok(OneOrMany::Many(names)) => Ok(Recipients(names)),
            Err(_) => Err(serde::de::Error::custom(
                "`to` must be a role or session id, or a list of them",
            )),
        }
    }
}

session_params! {
/// Arguments of `send_message`.
pub struct SendMessageParams {
    /// The message (UTF-8, at most 51200 bytes). Secrets are redacted before storage.
    #[schemars(length(min = 1))]
    pub message: String,
    #[serde(default)]
    #[schemars(with = "Recipients")]
    pub to: Option<Recipients>,
    /// What the message is for (default "info").
    #[serde(default)]
    pub action_type: MessageKind,
    /// Paths the message concerns.
    #[serde(default)]
    #[schemars(length(max = MAX_FILES), inner(length(min = 1, max = MAX_PATH_CHARS)))]
    pub files_involved: Vec<String>,
}
}

impl SendMessageParams {
    /// Validates the message, the recipients and the paths.
    ///
    /// # Errors
    /// When one breaks its bounds.
    pub fn check(&self) -> Result<(), ArgumentError> {
        if self.message.is_empty() {
            return Err(InvalidValue::new("message", "must not be empty").into());
        }
        if let Some(Recipients(names)) = &self.to {
            let ok = (1..=MAX_SESSIONS).contains(&names.len())
                && names
                    .iter()
                    .all(|n| !n.is_empty() && n.chars().count() <= MAX_ROLE_CHARS);
            if !ok {
                return Err(InvalidValue::new(
                    "to",
                    format!("must name 1 to {MAX_SESSIONS} roles or session ids of at most {MAX_ROLE_CHARS} characters"),
                )
                .into());
            }
        }
        domain::check_files(&self.files_involved).map_err(Into::into)
    }

    /// Who the message is for.
    pub fn addressing(&self) -> Addressing {
        match &self.to {
            None => Addressing::Everyone,
            Some(Recipients(names)) => Addressing::To(names.clone()),
        }
    }
}

session_params! {
/// Arguments of `remove_participant`.
pub struct RemoveParticipantParams {
    /// The participant to remove: its role or session id.
    #[schemars(length(min = 1, max = MAX_ROLE_CHARS))]
    pub participant: String,
}
}

impl RemoveParticipantParams {
    /// Validates the name's length.
    ///
    /// # Errors
    /// When it is empty or too long.
    pub fn check(&self) -> Result<(), ArgumentError> {
        if self.participant.is_empty() || self.participant.chars().count() > MAX_ROLE_CHARS {
            return Err(InvalidValue::new(
                "participant",
                format!("must be 1 to {MAX_ROLE_CHARS} characters"),
            )
            .into());
        }
        Ok(())
    }
}

session_params! {
/// Arguments of `list_my_conversations`: none needed; credentials, if given,
/// narrow the list to one conversation.
pub struct ListMyConversationsParams {}
}

impl ListMyConversationsParams {
    /// Nothing beyond the credentials to check.
    ///
    /// # Errors
    /// Never.
    pub fn check(&self) -> Result<(), ArgumentError> {
        Ok(())
    }
}
