//! What an argument error says: serde's message with every client value
//! replaced (a secret sent in the wrong field never travels into an error
//! text or a log line) and its Rust type names said in JSON words.

/// Longest unknown field name repeated back: a real name is short.
const MAX_NAME: usize = 32;

/// serde's message with every client value replaced by `…`, so a secret sent
/// in the wrong field never travels into an error text or a log line.
///
/// The message is read by its shape, not by pairing quotes: a value may hold
/// quotes or backticks itself (`` `x`secret` `` shifted a naive pairing and
/// the secret came back outside the quotes). serde writes a client value in
/// exactly these places, and everything after it (`, expected …`) is ours:
/// - `unknown variant `V`, expected …`: the value is always hidden (a
///   passphrase is a plausible mistaken `status`);
/// - `unknown field `F``, `missing field `F``, `duplicate field `F``: a
///   short lowercase name is kept (it tells the agent what it got wrong),
///   anything else hidden;
/// - `invalid type: string "V", expected …` and `invalid value: …`.
///
/// Any other message is not ours to trust: everything quoted in it is hidden.
pub(super) fn sanitize(message: &str) -> String {
    const EXPECTED: &str = ", expected ";
    for (prefix, close, keep_names) in [
        ("unknown variant `", "`", false),
        ("unknown field `", "`", true),
        ("missing field `", "`", true),
        ("duplicate field `", "`", true),
        ("invalid type: string \"", "\"", false),
        ("invalid value: string \"", "\"", false),
        // A number may be a secret too (a PIN, a numeric key).
        ("invalid type: integer `", "`", false),
        ("invalid value: integer `", "`", false),
        ("invalid type: floating point `", "`", false),
        ("invalid value: floating point `", "`", false),
        ("invalid type: character `", "`", false),
        ("invalid value: character `", "`", false),
    ] {
        let Some(rest) = message.strip_prefix(prefix) else {
            continue;
        };
        // Our part starts at the last `", expected "` (a value may contain
        // that text too, but never after serde's own); without one, the
        // value runs to the last closing quote.
        let end = rest
            .rfind(&format!("{close}{EXPECTED}"))
            .or_else(|| rest.rfind(&format!("{close}, there are no")))
            .or_else(|| rest.rfind(close));
        let Some(end) = end else {
            return format!("{prefix}…{close}");
        };
        let value = &rest[..end];
        let shown = if keep_names && is_name(value) {
            value
        } else {
            "…"
        };
        let ours = &rest[end + close.len()..];
        return format!("{prefix}{shown}{close}{}", hide_quoted(ours));
    }
    hide_quoted(message)
}

/// Whether `text` looks like a field name rather than a value: lowercase
/// letters and `_` (the tools' own names have no digits; a lowercase hex
/// key does).
fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_NAME
        && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// `text` with whatever follows an opening quote up to its closing one
/// hidden, keeping short names (the `expected` lists of field and variant
/// names). Used only on text serde wrote itself (after a value), or on a
/// message of no known shape, where a stray quote hides the rest.
fn hide_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(['"', '`']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        out.push_str(&rest[..start + 1]);
        let after = &rest[start + 1..];
        let Some(len) = after.find(quote) else {
            // An unpaired quote: what follows cannot be told from a value.
            out.push('…');
            return out;
        };
        let inner = &after[..len];
        out.push_str(if is_name(inner) { inner } else { "…" });
        out.push(quote);
        rest = &after[len + 1..];
    }
    out.push_str(rest);
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

    /// The acceptance run's cases: a value holding backticks or quotes, and
    /// a passphrase made of lowercase letters, sent as an enum value or a
    /// field name, through the real deserializer.
    #[test]
    fn no_client_value_survives_whatever_it_holds() {
        let secret = "Zq8vT2pLk9Xw4Rb7Nc1Ym5Hs";
        let passphrase = "correcthorsebatterystaple";
        let values = [
            format!("`{secret}`"),
            format!("`x`{secret}`"),
            format!("{secret}`, expected `"),
            format!("\"{secret}\""),
            format!("a\"{secret}"),
            passphrase.to_owned(),
            format!("{passphrase}`"),
        ];
        for value in &values {
            let status = serde_json::json!({"status": value});
            let e =
                serde_json::from_value::<super::super::UpdateMyStatusParams>(status).unwrap_err();
            let text = sanitize(&e.to_string());
            assert!(
                !text.contains(secret) && !text.contains(passphrase),
                "{value:?} → {text}"
            );
            assert!(text.contains("`working`"), "the choices stay: {text}");
            let mut field = serde_json::Map::new();
            field.insert(value.clone(), serde_json::json!(1));
            let e = serde_json::from_value::<super::super::UpdateMyStatusParams>(
                serde_json::Value::Object(field),
            )
            .unwrap_err();
            let text = sanitize(&e.to_string());
            assert!(!text.contains(secret), "{value:?} → {text}");
            let e = serde_json::from_value::<super::super::CheckMessagesParams>(
                serde_json::json!({"wait_seconds": value}),
            )
            .unwrap_err();
            let text = sanitize(&e.to_string());
            assert!(
                !text.contains(secret) && !text.contains(passphrase),
                "{value:?} → {text}"
            );
        }
        // Numbers and lowercase hex names are values too (review).
        for args in [
            serde_json::json!({"limit": 4_829_130_007_u64}),
            serde_json::json!({"limit": -314_159_265_358_i64}),
            serde_json::json!({"limit": 31_415.926}),
            serde_json::json!({"9f86d081884c7d659a2feaa0c55ad015": 1}),
        ] {
            let e = serde_json::from_value::<super::super::CheckMessagesParams>(args.clone())
                .unwrap_err();
            let text = sanitize(&e.to_string());
            for planted in ["4829130007", "314159265358", "31415", "9f86d081"] {
                assert!(!text.contains(planted), "{args} → {text}");
            }
        }
        // A short field name is still named, so the agent sees its mistake.
        let e = serde_json::from_value::<super::super::UpdateMyStatusParams>(
            serde_json::json!({"status": "working", "mesage": "x"}),
        )
        .unwrap_err();
        assert!(
            sanitize(&e.to_string()).starts_with("unknown field `mesage`, expected"),
            "{e}"
        );
        assert_eq!(sanitize("something `odd"), "something `…");
    }
}
