//! Puts one server entry into a client's configuration text, leaving every
//! other byte alone: other servers, other keys, comments, key order and
//! indentation. JSON goes through a concrete syntax tree (`jsonc-parser`),
//! TOML through `toml_edit`; both only touch the entry's own keys, and only
//! when their value differs, so a second run produces the same text.
//!
//! Text in, text out: no file access here.

mod json;
mod toml;

use serde_json::Value;

/// The syntax of a client's configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON, with `//` and `/* */` comments allowed when `comments` is set
    /// (the client strips them before parsing).
    Json {
        /// Whether the client accepts comments.
        comments: bool,
    },
    /// TOML.
    Toml,
}

/// The entry to put in place: `servers_key.name = { fields… }`.
#[derive(Debug, Clone)]
pub struct Desired<'a> {
    /// The table of servers (`mcpServers`, `mcp_servers`).
    pub servers_key: &'a str,
    /// The server's name in that table.
    pub name: &'a str,
    /// The keys setup owns, in the order a new entry lists them.
    pub fields: Vec<(&'a str, Value)>,
    /// Keys removed from an existing entry because they would contradict the
    /// fields (another transport's `url`, say). Keys in neither list stay.
    pub conflicting: &'a [&'a str],
}

/// Why a file's text cannot be edited. Nothing is written in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The text does not parse.
    #[error("it does not parse: {0}")]
    Syntax(String),
    /// A value has the wrong shape (e.g. the servers key is not a table).
    #[error("{0}")]
    Shape(String),
}

/// Returns `text` with `desired` merged in. `text` may be empty (a new file).
///
/// # Errors
/// [`MergeError`] when the text does not parse or the servers key is not a table.
pub fn merge(format: Format, text: &str, desired: &Desired<'_>) -> Result<String, MergeError> {
    let merged = match format {
        Format::Json { comments } => json::merge(text, comments, desired)?,
        Format::Toml => toml::merge(text, desired)?,
    };
    Ok(keep_line_endings(text, merged))
}

/// `merged` with the line breaks the edit added written as `text` writes
/// its own. Both printers end what they insert with LF, so a file saved by a
/// Windows editor came back with mixed endings (and, through `toml_edit`,
/// all LF). Only a file whose every break is CRLF is converted: in a mixed
/// one, a lone LF may be part of a value (a TOML multi-line string).
fn keep_line_endings(text: &str, merged: String) -> String {
    let crlf = text.matches("\r\n").count();
    if crlf == 0 || crlf != text.matches('\n').count() {
        return merged;
    }
    let mut out = String::with_capacity(merged.len() + merged.len() / 16);
    let mut after_cr = false;
    for c in merged.chars() {
        if c == '\n' && !after_cr {
            out.push('\r');
        }
        out.push(c);
        after_cr = c == '\r';
    }
    out
}

/// Every server entry in the table at the keys `table` (`["mcpServers"]`)
/// of `text`, by name, as JSON values (TOML converted). A missing table has none.
///
/// # Errors
/// [`MergeError`] when the text does not parse or the table is not a table.
pub fn servers(
    format: Format,
    text: &str,
    table: &[&str],
) -> Result<Vec<(String, Value)>, MergeError> {
    match lookup(format, text, table)? {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => Ok(map.into_iter().collect()),
        Some(_) => Err(not_a_table(&table.join("."))),
    }
}

/// Looks up a dotted path of keys (`projects`, `/home/me/p`, `trust_level`) in `text`.
///
/// # Errors
/// [`MergeError`] when the text does not parse.
pub fn lookup(format: Format, text: &str, path: &[&str]) -> Result<Option<Value>, MergeError> {
    let root = match format {
        Format::Json { comments } => json::to_value(text, comments)?,
        Format::Toml => toml::to_value(text)?,
    };
    Ok(path.iter().try_fold(&root, |v, key| v.get(key)).cloned())
}

fn not_a_table(key: &str) -> MergeError {
    MergeError::Shape(format!("`{key}` is not a table of servers"))
}

#[cfg(test)]
mod tests;
