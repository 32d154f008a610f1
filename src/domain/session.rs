//! Who takes part in a conversation: session ids (`a`, `b`, … in joining
//! order) and what each participant may do (its kind).
//!
//! Pure values; the rules that use them (who may invite, send or remove) live
//! in the service layer.

use std::fmt;
use std::str::FromStr;

use super::InvalidValue;

/// Most session ids a conversation can hand out: one lowercase letter each,
/// `a` to `z`. A letter is easy for a model or a human to repeat exactly, and
/// teams are three to eight sessions, far below this bound.
pub const MAX_SESSIONS: usize = 26;
/// Shape of a session id in tool schemas.
pub const SESSION_ID_PATTERN: &str = "^[a-z]$";

const NAMES: [&str; MAX_SESSIONS] = [
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s",
    "t", "u", "v", "w", "x", "y", "z",
];

/// A participant's session id within one conversation: `a` (the creator and
/// owner), `b` (the partner named at creation), then `c`, `d`, … for those who
/// join with an invite, in joining order. Ids are never reused, not even after
/// a participant is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Side(u8);

impl Side {
    /// The creator (and owner).
    pub const A: Side = Side(0);
    /// The partner named by `create_conversation`.
    pub const B: Side = Side(1);

    /// The `index`-th session id (0 is `a`), if there is one.
    pub fn nth(index: usize) -> Option<Side> {
        u8::try_from(index)
            .ok()
            .filter(|_| index < MAX_SESSIONS)
            .map(Side)
    }

    /// Position in joining order (0 for `a`).
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// `"a"`, `"b"`, ….
    pub const fn as_str(self) -> &'static str {
        NAMES[self.0 as usize]
    }

    /// Validates a session id: one letter `a`–`z`.
    ///
    /// # Errors
    /// For anything else.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        match text.as_bytes() {
            [b @ b'a'..=b'z'] => Ok(Side(b - b'a')),
            _ => Err(InvalidValue::new(
                "session_id",
                "must be one lowercase letter (\"a\", \"b\", …)",
            )),
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

wire_enum! {
    /// What a participant may do. The owner (side `a`) sends, receives what is
    /// addressed to it, invites and removes; a member sends and receives what
    /// is addressed to it; an observer receives every message and sends none.
    ParticipantKind, "as" {
        /// The creator: a member that also invites and removes.
        Owner = "owner",
        /// Sends, and receives what is addressed to it.
        Member = "member",
        /// Receives every message; cannot send.
        Observer = "observer",
    }
}

impl ParticipantKind {
    /// Whether it may send messages.
    pub const fn may_send(self) -> bool {
        !matches!(self, ParticipantKind::Observer)
    }

    /// Whether it may invite and remove participants.
    pub const fn may_manage(self) -> bool {
        matches!(self, ParticipantKind::Owner)
    }

    /// Whether it gets a copy of every message, addressed to it or not.
    pub const fn sees_everything(self) -> bool {
        matches!(self, ParticipantKind::Observer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_single_letters_in_order() {
        assert_eq!(Side::A.as_str(), "a");
        assert_eq!(Side::B.as_str(), "b");
        assert_eq!(Side::nth(2).map(Side::as_str), Some("c"));
        assert_eq!(Side::nth(25).map(Side::as_str), Some("z"));
        assert_eq!(Side::nth(26), None);
        for i in 0..MAX_SESSIONS {
            let side = Side::nth(i).unwrap();
            assert_eq!(Side::parse(side.as_str()).unwrap(), side);
            assert_eq!(side.index(), i);
        }
        for bad in ["", "A", "aa", "1", "é", "{", "`"] {
            assert!(Side::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Side::A < Side::B);
    }

    #[test]
    fn kinds_say_what_they_may_do() {
        assert!(ParticipantKind::Owner.may_manage() && ParticipantKind::Owner.may_send());
        assert!(!ParticipantKind::Member.may_manage() && ParticipantKind::Member.may_send());
        assert!(!ParticipantKind::Observer.may_send());
        assert!(ParticipantKind::Observer.sees_everything());
        assert_eq!(
            ParticipantKind::parse("observer").unwrap(),
            ParticipantKind::Observer
        );
        assert!(ParticipantKind::parse("admin").is_err());
    }
}
