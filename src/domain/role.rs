//! Role names: how participants name each other in `to`, `participant` and
//! every display. Two checks, loosest first: the shape every stored role
//! has ([`Role::parse_existing`], what an import of an older file accepts),
//! plus the names reserved for the bridge ([`Role::parse`], every role a
//! tool sets). A role may be a single letter, as a session id is written:
//! addressing refuses a name that would then mean two participants
//! (`service::addressing`). Pure values; nothing here does I/O.

use std::fmt;

use super::{InvalidValue, MAX_ROLE_CHARS};

/// Role names, compared in lower case without separators, that would pass a
/// participant off as the bridge itself.
const RESERVED_ROLES: &[&str] = &[
    "system",
    "bridge",
    "mcpbridge",
    "bridgesystem",
    "systembridge",
    "mcpbridgesystem",
];

/// A participant's role name, e.g. `backend_developer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role(String);

impl Role {
    /// Validates a role: 1–64 letters, digits, `_`, `-` or single spaces
    /// between words.
    ///
    /// # Errors
    /// When empty, too long, holding other characters, or a name reserved
    /// for the bridge.
    pub fn parse(field: &'static str, text: &str) -> Result<Self, InvalidValue> {
        let role = Self::parse_existing(field, text)?;
        // The bridge's own messages (a command's result) come from role
        // `system`; a participant named so could pass its text off as the
        // bridge's to the agents that read it.
        let plain: String = text
            .bytes()
            .filter(u8::is_ascii_alphanumeric)
            .map(|b| char::from(b.to_ascii_lowercase()))
            .collect();
        if RESERVED_ROLES.contains(&plain.as_str()) {
            return Err(InvalidValue::new(
                field,
                "is reserved for the bridge's own messages; choose another name",
            ));
        }
        Ok(role)
    }

    /// As [`Role::parse`], without the reserved names: for
    /// roles given before those rules (an import of an older export, a
    /// database written by an older build).
    ///
    /// # Errors
    /// When empty, too long, or holding other characters.
    pub fn parse_existing(field: &'static str, text: &str) -> Result<Self, InvalidValue> {
        let chars = text.chars().count();
        if chars == 0 || chars > MAX_ROLE_CHARS {
            return Err(InvalidValue::new(
                field,
                format!("must be 1 to {MAX_ROLE_CHARS} characters"),
            ));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b' '))
        {
            return Err(InvalidValue::new(
                field,
                "may hold only letters, digits, `_`, `-` and spaces",
            ));
        }
        // Roles name participants in every display: `alice` and `alice `
        // would look the same, so spaces only ever separate words.
        if text.starts_with(' ') || text.ends_with(' ') || text.contains("  ") {
            return Err(InvalidValue::new(
                field,
                "must not start or end with a space or hold two spaces in a row",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The role as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
