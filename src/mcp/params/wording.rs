//! What an argument error says: serde's message with every client value
//! replaced (a secret sent in the wrong field never travels into an error
//! text or a log line) and its Rust type names said in JSON words.

/// Replaces quoted client values in a serde message with `…`, keeping quoted
/// identifiers (field and variant names), so a secret sent in the wrong field
/// never travels into an error text or a log line.
pub(super) fn sanitize(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '`']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        let after = &rest[start + 1..];
        let Some(len) = after.find(quote) else { break };
        let inner = &after[..len];
        out.push_str(&rest[..start]);
        out.push(quote);
        let identifier = !inner.is_empty()
            && inner.len() <= 32
            && inner.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        out.push_str(if identifier { inner } else { "…" });
        out.push(quote);
        rest = &after[len + 1..];
    }
    out.push_str(rest);
    // serde names the position of the error; it says nothing about the value.
    out
}

/// serde's Rust type names in "expected …" said as a model reads JSON:
/// `expected u32` means nothing to an agent, `expected an integer` does.
pub(super) fn plain_types(message: &str) -> String {
    const WORDS: [(&str, &str); 14] = [
        ("u8", "an integer"),
        ("u16", "an integer"),
        ("u32", "an integer"),
        ("u64", "an integer"),
        ("usize", "an integer"),
        ("i8", "an integer"),
        ("i16", "an integer"),
        ("i32", "an integer"),
        ("i64", "an integer"),
        ("isize", "an integer"),
        ("f32", "a number"),
        ("f64", "a number"),
        ("a sequence", "a list"),
        ("a map", "an object"),
    ];
    let Some((head, tail)) = message.split_once("expected ") else {
        return message.to_owned();
    };
    let (name, rest) = WORDS
        .iter()
        .find(|(rust, _)| {
            tail.strip_prefix(rust)
                .is_some_and(|r| !r.starts_with(|c: char| c.is_ascii_alphanumeric()))
        })
        .map_or((None, tail), |(rust, plain)| {
            (Some(*plain), &tail[rust.len()..])
        });
    match name {
        Some(plain) => format!("{head}expected {plain}{rest}"),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_type_names_are_said_in_json_words() {
        assert_eq!(
            plain_types("invalid type: string \"…\", expected u32 at line 1 column 9"),
            "invalid type: string \"…\", expected an integer at line 1 column 9"
        );
        assert_eq!(
            plain_types("invalid type: map, expected f64"),
            "invalid type: map, expected a number"
        );
        assert_eq!(
            plain_types("invalid type: string \"…\", expected a sequence"),
            "invalid type: string \"…\", expected a list"
        );
        assert_eq!(plain_types("expected u320"), "expected u320");
        assert_eq!(
            plain_types("unknown field `x`, expected `token`"),
            "unknown field `x`, expected `token`"
        );
    }

    #[test]
    fn sanitize_keeps_names_and_hides_values() {
        let e = serde_json::from_str::<super::super::CheckMessagesParams>(
            r#"{"conversation_id":"conv_0000000000000001","session_id":"a","token":"x","wait_seconds":"AKIAIOSFODNN7SECRET1"}"#,
        )
        .unwrap_err();
        let text = sanitize(&e.to_string());
        assert!(!text.contains("AKIA"), "{text}");
        assert_eq!(
            sanitize("unknown field `extra`, expected `token`"),
            "unknown field `extra`, expected `token`"
        );
        assert_eq!(
            sanitize("invalid value: string \"Hunter2!\""),
            "invalid value: string \"…\""
        );
    }
}
