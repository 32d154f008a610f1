//! This bridge's own session tokens in what agents write. A session token
//! is 64 hex digits, the shape of every SHA-256 digest, so the redaction
//! engine cannot tell one from a checksum; but the bridge can: it derives
//! the tokens of a conversation's seats from its key. A message or note that
//! carries one of its conversation's tokens (an agent pasting its own, or
//! its partner's, into the chat) has it replaced before it is stored, so it
//! never reaches the store, `show`, the console or another agent's context.
//! The text is read in the redaction engine's normalised view, so a token
//! with a zero-width space inside, in fullwidth digits or wrapped over lines
//! is found too. Costs nothing unless the text holds 64 hex digits.

use std::collections::BTreeMap;

use crate::auth::ServerKey;
use crate::domain::{ConversationId, MAX_SESSIONS, Side};

/// What replaces a session token.
pub const SESSION_TOKEN_PLACEHOLDER: &str = "SESSION_TOKEN_REDACTED";

/// The kind counted in `redactions`.
pub const SESSION_TOKEN_KIND: &str = "bridge_session_token";

/// Hex digits in a session token.
const TOKEN_HEX: usize = 64;

/// `text` with every token of `conversation`'s seats replaced, counted into
/// `counts`; `None` when there is none.
pub(super) fn redact_session_tokens(
    key: &ServerKey,
    conversation: &ConversationId,
    text: &str,
    counts: &mut BTreeMap<String, usize>,
) -> Option<String> {
    // Derived only when the text has enough hex digits to hold a token.
    let tokens = std::cell::OnceCell::new();
    let is_token = |digits: &str| {
        tokens
            .get_or_init(|| {
                (0..MAX_SESSIONS)
                    .filter_map(Side::nth)
                    .map(|side| key.derive(conversation, side).to_hex())
                    .collect::<Vec<String>>()
            })
            .iter()
            .any(|t| t.eq_ignore_ascii_case(digits))
    };
    // Read as the redaction engine reads text (invisible characters dropped,
    // fullwidth digits folded, a token wrapped over lines joined), so a token
    // written in a form a person or a model still reads is replaced too.
    let spans = crate::redact::find_known_hex(text, TOKEN_HEX, &is_token);
    if spans.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for &(start, end) in &spans {
        out.push_str(&text[last..start]);
        out.push_str(SESSION_TOKEN_PLACEHOLDER);
        last = end;
    }
    out.push_str(&text[last..]);
    *counts.entry(SESSION_TOKEN_KIND.to_owned()).or_insert(0) += spans.len();
    Some(out)
}

/// `text` with every run shaped like a session token (64 hex digits alone)
/// replaced, whoever's it is; `None` when there is none. For the server's
/// log, where the conversation is not known and no line needs a digest: a
/// client can put its own token anywhere a log line quotes it (a request id).
pub fn redact_token_shapes(text: &str) -> Option<String> {
    let runs = hex_runs(text);
    if runs.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end) in runs {
        out.push_str(&text[last..start]);
        out.push_str(SESSION_TOKEN_PLACEHOLDER);
        last = end;
    }
    out.push_str(&text[last..]);
    Some(out)
}

/// The byte ranges of runs of exactly [`TOKEN_HEX`] hex digits that no
/// letter, digit or `_` touches.
fn hex_runs(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_hexdigit() || (i > 0 && word(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_hexdigit() {
            i += 1;
        }
        if i - start == TOKEN_HEX && !bytes.get(i).is_some_and(|&b| word(b)) {
            runs.push((start, i));
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_conversations_tokens_are_replaced() {
        let key = ServerKey::from_bytes([7; 32]);
        let conv = ConversationId::parse("conv_0123456789abcdef").unwrap();
        let other = ConversationId::parse("conv_fedcba9876543210").unwrap();
        let mine = key.derive(&conv, Side::B).to_hex();
        let theirs = key.derive(&other, Side::A).to_hex();
        let digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let text = format!(
            "b's token is {mine}, ({}) sha256 {digest} x{mine} {theirs}",
            mine.to_uppercase()
        );
        let mut counts = BTreeMap::new();
        let out = redact_session_tokens(&key, &conv, &text, &mut counts).expect("replaced");
        assert_eq!(
            out,
            format!(
                "b's token is SESSION_TOKEN_REDACTED, (SESSION_TOKEN_REDACTED) sha256 {digest} x{mine} {theirs}"
            )
        );
        assert_eq!(counts.get(SESSION_TOKEN_KIND), Some(&2));
        let mut none = BTreeMap::new();
        assert!(redact_session_tokens(&key, &conv, digest, &mut none).is_none());
        assert!(none.is_empty());
    }

    #[test]
    fn tokens_hidden_or_wrapped_are_replaced() {
        let key = ServerKey::from_bytes([7; 32]);
        let conv = ConversationId::parse("conv_0123456789abcdef").unwrap();
        let t = key.derive(&conv, Side::B).to_hex();
        let wide: String = t
            .chars()
            .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c))
            .collect();
        for text in [
            format!("fyi {}\u{200B}{} thanks", &t[..30], &t[30..]),
            format!("fyi {}\u{00AD}{} thanks", &t[..30], &t[30..]),
            format!("fyi {wide} thanks"),
            format!("fyi {}\n{} thanks", &t[..32], &t[32..]),
        ] {
            let mut counts = BTreeMap::new();
            let out = redact_session_tokens(&key, &conv, &text, &mut counts).expect("replaced");
            assert_eq!(out, "fyi SESSION_TOKEN_REDACTED thanks", "{text:?}");
            assert_eq!(counts.get(SESSION_TOKEN_KIND), Some(&1));
        }
    }
}
