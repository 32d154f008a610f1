//! A string literal wrapped in a constructor or conversion that only carries
//! it: `String::from("…")`, `Some("…")`, `SecretString::new("….to_owned())`,
//! `new String("…")`, `Buffer.from("…")`, `str("…")`, Go's `[]byte("…")`,
//! ObjC's `@"…"`. The value of `password = String::from("X")` is `X`; read
//! as a bare word it would be the wrapper's name, or worse, its `[]byte(`.
//!
//! Only wrappers that return their argument (as a type, an owner or a
//! secret holder) are listed: a call in general computes its value
//! (`hash("…")`, `getenv("NAME")`, `input("Password: ")`).

/// Wrappers whose argument is the value, each up to and including its `(`.
const WRAPPERS: &[&str] = &[
    // Rust.
    "String::from(",
    "Some(",
    "Ok(",
    "SecretString::new(",
    "SecretString::from(",
    "Secret::new(",
    "SecretBox::new(",
    "Zeroizing::new(",
    "Cow::from(",
    "Cow::Borrowed(",
    "Box::from(",
    "Arc::from(",
    "Rc::from(",
    "OsString::from(",
    "CString::new(",
    // Java, C#, Kotlin, JavaScript.
    "new String(",
    "String(",
    "String.valueOf(",
    "Optional.of(",
    "Buffer.from(",
    "new SecureString(",
    "SecretValue.unsafePlainText(",
    "pulumi.secret(",
    // Python.
    "str(",
    "bytes(",
    "SecretStr(",
    "SecretBytes(",
    // Go.
    "[]byte(",
    "[]rune(",
    "string(",
    // C and C++.
    "std::string(",
    "QStringLiteral(",
    "_T(",
    "TEXT(",
];

/// Where the literal inside a wrapper at `v` opens (its quote), if `v`
/// starts one: a listed wrapper, or a quote's prefix (ObjC `@"…"`, C++
/// `L"…"`, `u8"…"`).
pub(crate) fn literal_inside(bytes: &[u8], v: usize) -> Option<usize> {
    let rest = bytes.get(v..)?;
    let quote = |k: usize| matches!(rest.get(k), Some(b'"' | b'\''));
    for prefix in [&b"@"[..], b"L", b"u8"] {
        if rest.starts_with(prefix) && rest.get(prefix.len()) == Some(&b'"') {
            return Some(v + prefix.len());
        }
    }
    let w = WRAPPERS.iter().find(|w| rest.starts_with(w.as_bytes()))?;
    // A wrapper glued to a longer name is another call (`toString(`, `MyString(`).
    if v > 0 && (bytes[v - 1].is_ascii_alphanumeric() || bytes[v - 1] == b'_') {
        return None;
    }
    let k = w.len()
        + rest[w.len()..]
            .iter()
            .take(4)
            .take_while(|&&b| b == b' ')
            .count();
    quote(k).then_some(v + k)
}

#[cfg(test)]
mod tests {
    use super::literal_inside;
    use crate::redact::tests::redacted as redact;

    #[test]
    fn a_wrapped_literal_is_redacted_not_its_wrapper() {
        let pw = "Summer.8631$hv";
        for line in [
            format!("let password = String::from(\"{pw}\");"),
            format!(
                "let cfg = Config {{ db_password: Some(\"{pw}\".into()), ..Default::default() }};"
            ),
            format!("let password = SecretString::new(\"{pw}\".to_owned());"),
            format!("String password = new String(\"{pw}\");"),
            format!("const password = Buffer.from(\"{pw}\");"),
            format!("password = str(\"{pw}\")"),
            format!("NSString *password = @\"{pw}\";"),
            format!("password := []byte(\"{pw}\")"),
        ] {
            let out = redact(&line);
            assert!(!out.contains(pw), "{line} -> {out}");
            // The wrapper stays as written; only the literal is replaced.
            assert!(out.contains("_REDACTED\""), "{line} -> {out}");
        }
    }

    #[test]
    fn calls_that_compute_a_value_are_left_alone() {
        for text in [
            "password = getpass(\"Password for the admin account: \")",
            "let token = String::from(name);",
            "api_key = os.getenv(\"OPENAI_API_KEY\")",
            "password := []byte(os.Getenv(\"DB_PASSWORD\"))",
            "let password = Some(\"\".into());",
            "secret = toString(\"Kx8sQ2mNvP4rT7wZ\")",
        ] {
            assert_eq!(redact(text), text);
        }
        assert_eq!(literal_inside(b"xString(\"a\")", 1), None);
    }
}
