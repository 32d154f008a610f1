//! Ids and values of the coordination domain, validated on construction.
//!
//! Every limit here is one constant used both by the MCP input schemas
//! (`mcp::params`) and by the `parse` constructors, so the schema a client sees
//! and the check the server makes can never drift apart. Nothing here does I/O.

use std::fmt;
use std::str::FromStr;

/// Largest accepted message, in bytes of UTF-8 (50 KiB), checked before redaction.
pub const MAX_MESSAGE_BYTES: usize = 51_200;
/// Largest message text stored: redaction placeholders may make a text
/// longer than it was sent, up to this (and an import accepts this much).
pub const MAX_STORED_MESSAGE_BYTES: usize = 2 * MAX_MESSAGE_BYTES;
/// Longest role name, in characters.
pub const MAX_ROLE_CHARS: usize = 64;
/// Characters a role may contain (letters, digits, `_`, `-`, space).
pub const ROLE_PATTERN: &str = r"^[A-Za-z0-9_\- ]{1,64}$";
/// Shape of a conversation id: `conv_` and 16 lowercase hex digits.
pub const CONVERSATION_ID_PATTERN: &str = r"^conv_[0-9a-f]{16}$";
/// Shape of a session token: 64 lowercase hex digits (256 bits).
pub const TOKEN_PATTERN: &str = r"^[0-9a-f]{64}$";
/// Longest status note, in characters (redacted before storage).
pub const MAX_NOTE_CHARS: usize = 500;
/// Most paths in `files_involved`.
pub const MAX_FILES: usize = 100;
/// Longest path in `files_involved`, in characters.
pub const MAX_PATH_CHARS: usize = 4096;
/// Largest `wait_seconds` a client may ask for (the seed's bound).
pub const MAX_WAIT_SECONDS: u64 = 60;
/// Longest a long-poll really waits, in seconds: below the 60 s tool-call
/// timeout of Codex and of the TypeScript SDK (and so of most editors), so a
/// wait that finds nothing still answers before the client gives up on it.
pub const LONG_POLL_CAP_SECONDS: u64 = 45;
/// Most bytes of paths one message may list in `files_involved`, together.
pub const MAX_FILES_BYTES: usize = 16 * 1024;
/// Most bytes of message text and paths one `check_messages` reply carries
/// (at least one message is always returned, whatever its size); `more`
/// says when others wait.
pub const MAX_REPLY_BYTES: usize = 1024 * 1024;
/// Largest page of messages one `check_messages` call returns.
pub const MAX_PAGE: u32 = 500;
/// Page size when the caller gives none.
pub const DEFAULT_PAGE: u32 = 100;
/// Largest value any `*_minutes` setting accepts (ten years): no conversation,
/// activation or approval the tools write lasts longer, which is what lets
/// `restore` refuse times no configuration could have produced.
pub const MAX_TTL_MINUTES: f64 = 5_256_000.0;
/// [`MAX_TTL_MINUTES`] in microseconds.
pub const MAX_TTL_MICROS: i64 = 5_256_000 * 60_000_000;

/// Why a value was rejected; names the field so the caller can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {reason}")]
pub struct InvalidValue {
    /// The argument or setting that was wrong.
    pub field: &'static str,
    /// What is wrong with it, phrased to follow the field name.
    pub reason: String,
}

impl InvalidValue {
    /// Builds the error for `field`.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// A microsecond-precision UTC instant, stored as microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// The current time from the system clock.
    pub fn now() -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self(i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX))
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// This instant moved by `micros` (saturating).
    pub const fn plus_micros(self, micros: i64) -> Self {
        Self(self.0.saturating_add(micros))
    }

    /// Microseconds from `earlier` to `self` (negative when `earlier` is later).
    pub const fn micros_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2026-11-25T10:47:56.123456Z`.
    pub fn to_rfc3339(self) -> String {
        match jiff::Timestamp::from_microsecond(self.0) {
            Ok(ts) => format!("{ts:.6}"),
            Err(_) => String::from("invalid-time"),
        }
    }

    /// Parses RFC 3339 (any offset) into a UTC instant.
    ///
    /// # Errors
    /// When `text` is not an RFC 3339 timestamp.
    pub fn parse_rfc3339(text: &str) -> Result<Self, InvalidValue> {
        let ts: jiff::Timestamp = text
            .parse()
            .map_err(|e| InvalidValue::new("time", format!("is not an RFC 3339 time: {e}")))?;
        Ok(Self(ts.as_microsecond()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// A conversation id: `conv_` followed by 16 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConversationId(String);

impl ConversationId {
    /// A fresh random id (64 bits from the OS generator).
    ///
    /// # Errors
    /// When the operating system cannot supply random bytes.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes)?;
        Ok(Self(format!("conv_{}", hex::encode(bytes))))
    }

    /// Validates `text` as a conversation id.
    ///
    /// # Errors
    /// When `text` is not `conv_` + 16 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let ok = text.len() == 21
            && text.starts_with("conv_")
            && text[5..]
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidValue::new(
                "conversation_id",
                "must be `conv_` followed by 16 lowercase hex digits",
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who wrote a message: a side, or the bridge itself (command results).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sender {
    /// One of the conversation's participants.
    Side(Side),
    /// The bridge, e.g. the result of an approved command.
    System,
}

impl Sender {
    /// `"a"`, `"b"` or `"system"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Sender::Side(side) => side.as_str(),
            Sender::System => "system",
        }
    }

    /// Parses the stored form.
    ///
    /// # Errors
    /// For an unknown sender.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        match text {
            "system" => Ok(Sender::System),
            other => Side::parse(other).map(Sender::Side),
        }
    }
}

/// Generates a closed set of wire names with `as_str`, `parse` and `ALL`.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }

            /// Parses a wire name.
            ///
            /// # Errors
            /// For a name outside the set.
            pub fn parse(text: &str) -> Result<Self, InvalidValue> {
                match text {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(InvalidValue::new(
                        $field,
                        format!("must be one of: {}", [$($wire),+].join(", ")),
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(text: &str) -> Result<Self, InvalidValue> {
                Self::parse(text)
            }
        }
    };
}

mod invite;
mod role;
mod session;
mod since;

pub use invite::{
    INVITE_BITS, INVITE_CODE_PATTERN, INVITE_SYMBOLS, InviteCode, MAX_INVITE_CODE_CHARS,
};
pub use role::Role;
pub use session::{MAX_SESSIONS, ParticipantKind, SESSION_ID_PATTERN, Side};
pub use since::parse_since;

wire_enum! {
    /// What a message is for; helps the partner decide how to react.
    ActionType, "action_type" {
        /// A suggested plan or change.
        Proposal = "proposal",
        /// A question expecting an answer.
        Question = "question",
        /// An answer to a question.
        Answer = "answer",
        /// Plain information (the default).
        Info = "info",
        /// A review of the partner's work.
        Review = "review",
        /// A progress report.
        Status = "status",
        /// A request for the partner to do something.
        Request = "request",
        /// An acknowledgement.
        Ack = "ack",
        /// Written by the bridge (command results); agents cannot send it.
        System = "system",
    }
}

wire_enum! {
    /// A participant's heartbeat status.
    Status, "status" {
        /// Busy on the task.
        Working = "working",
        /// Waiting for the partner.
        Waiting = "waiting",
        /// Stuck and needs help.
        Blocked = "blocked",
        /// Done.
        Complete = "complete",
    }
}

wire_enum! {
    /// How much an approved command may do.
    YoloMode, "mode" {
        /// Read-only programs inside the workspace.
        Safe = "safe",
        /// Safe plus listed build, test and version-control subcommands.
        Restricted = "restricted",
        /// Anything not on the always-blocked list, through `sh -c`.
        Yolo = "yolo",
    }
}

/// A message text within the size limit. Not yet redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    /// Accepts 1 to [`MAX_MESSAGE_BYTES`] bytes.
    ///
    /// # Errors
    /// [`MessageSizeError`] when empty or too large; the text is never echoed.
    pub fn parse(text: String) -> Result<Self, MessageSizeError> {
        if text.is_empty() {
            return Err(MessageSizeError::Empty);
        }
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(MessageSizeError::TooLarge {
                size: text.len(),
                limit: MAX_MESSAGE_BYTES,
            });
        }
        Ok(Self(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Message text is client content: keep it out of `Debug` output and logs.
impl fmt::Debug for MessageText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageText({} bytes)", self.0.len())
    }
}

/// Why a message text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MessageSizeError {
    /// Zero bytes.
    #[error("`message` must not be empty")]
    Empty,
    /// Over the limit.
    #[error("message is {size} bytes, the limit is {limit} bytes; split it into smaller messages")]
    TooLarge {
        /// Bytes received.
        size: usize,
        /// Bytes allowed.
        limit: usize,
    },
}

/// Validates a status note: at most [`MAX_NOTE_CHARS`] characters.
///
/// # Errors
/// When too long.
pub fn check_note(note: &str) -> Result<(), InvalidValue> {
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(InvalidValue::new(
            "note",
            format!("must be at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Validates `files_involved`: at most [`MAX_FILES`] non-empty paths of at most
/// [`MAX_PATH_CHARS`] characters, without NUL bytes.
///
/// # Errors
/// Naming the first offending entry by position.
pub fn check_files(files: &[String]) -> Result<(), InvalidValue> {
    if files.len() > MAX_FILES {
        return Err(InvalidValue::new(
            "files_involved",
            format!("may list at most {MAX_FILES} paths"),
        ));
    }
    let total: usize = files.iter().map(String::len).sum();
    if total > MAX_FILES_BYTES {
        return Err(InvalidValue::new(
            "files_involved",
            format!("the paths take {total} bytes together; at most {MAX_FILES_BYTES}"),
        ));
    }
    for (i, path) in files.iter().enumerate() {
        let chars = path.chars().count();
        if chars == 0 || chars > MAX_PATH_CHARS || path.contains('\0') {
            return Err(InvalidValue::new(
                "files_involved",
                format!("entry {i} must be 1 to {MAX_PATH_CHARS} characters without NUL bytes"),
            ));
        }
    }
    Ok(())
}

/// A stored message as a recipient sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Monotonically increasing id; the delivery order.
    pub id: i64,
    /// Who wrote it.
    pub from: Sender,
    /// The writer's role (`system` for the bridge).
    pub from_role: String,
    /// What it is for.
    pub action_type: ActionType,
    /// The redacted text.
    pub content: String,
    /// The redacted paths it concerns.
    pub files_involved: Vec<String>,
    /// When it was stored.
    pub created_at: Timestamp,
    /// The participants it was addressed to, in session order; `None` for a
    /// message stored before conversations had more than two participants,
    /// which went to every participant but its sender.
    pub to: Option<Vec<Side>>,
}

impl Message {
    /// What it counts against a reply's [`MAX_REPLY_BYTES`]: its text and
    /// paths as JSON writes them. A control character is six bytes there
    /// (`\u0001`): counted as one, a page of them went out 13 times the
    /// bound (twice, as text and as structured content).
    pub fn reply_bytes(&self) -> usize {
        json_len(&self.content)
            + self
                .files_involved
                .iter()
                .map(|p| json_len(p))
                .sum::<usize>()
    }
}

/// The length of `text` as a JSON string's contents.
fn json_len(text: &str) -> usize {
    text.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..0x20 => 6,
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests;
