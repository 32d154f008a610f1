//! Properties over generated inputs: redaction never panics, keeps valid
//! UTF-8, never changes (and so never grows) secret-free text, and is
//! idempotent.

use super::redactor;
use proptest::prelude::*;

/// Fragments of ordinary developer text that must never be redacted.
#[rustfmt::skip]
const SAFE: &[&str] = &[
    "the",
    "token",
    "key",
    "password",
    "secret",
    "api",
    "auth",
    // No "is"/"was": "password is a b c" is a multi-word password assignment,
    // which the engine rightly redacts.
    "for",
    "\n",
    "\t",
    "-",
    ".",
    ",",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "https://example.com/a/b",
    "commit",
    "Author",
    "max_tokens",
    "passwordless",
    "tokenizer",
    "password_hash",
    "$API_KEY",
    "${{ secrets.X }}",
    "<token>",
    "YOUR_API_KEY",
    "****",
    "sk-",
    "ghp_",
    "AKIA",
    "eyJ",
    "-----BEGIN",
    "Bearer",
    "Basic",
    "kind: Secret",
    "ü",
    "日本",
    "→",
    "release",
    "notes",
];

fn safe_text() -> impl Strategy<Value = String> {
    // Fragments are separated by spaces: glued together they can spell a real
    // assignment (`password_x=y`), which is not secret-free any more.
    prop::collection::vec(prop::sample::select(SAFE), 0..60).prop_map(|v| v.join(" "))
}

/// Text with secrets mixed in, to exercise the replacement path.
fn text_with_secrets() -> impl Strategy<Value = String> {
    let secret = prop::sample::select(vec![
        "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",
        "AKIAXVZPYCEQTGR7SAQ6",
        "password=Tr0ub4dor&3x",
        "postgres://app:nsiMoGemmTK44qKjafYZW93FZdr@db:5432/x",
        "Authorization: Bearer K3NO4oKczipt8djBZfcV6PeVZcvm2AI1jy1Kt4sm",
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIFakeBodyBodyBodyBodyBodyBody0123\n-----END EC PRIVATE KEY-----",
        "api_key: \"Z4CRYu4udt1o1G9c3d8k2aC1mz\"",
    ]);
    prop::collection::vec(
        prop_oneof![safe_text(), secret.prop_map(String::from)],
        0..8,
    )
    .prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_arbitrary_text(t in any::<String>()) {
        let out = redactor().redact(&t);
        prop_assert!(std::str::from_utf8(out.text.as_bytes()).is_ok());
    }

    #[test]
    fn never_panics_on_ascii_soup(t in "[ -~\n]{0,400}") {
        let _ = redactor().redact(&t);
    }

    #[test]
    fn secret_free_text_is_unchanged(t in safe_text()) {
        let out = redactor().redact(&t);
        prop_assert!(out.text.len() <= t.len());
        prop_assert_eq!(out.text.as_ref(), t.as_str());
    }

    #[test]
    fn idempotent(t in text_with_secrets()) {
        let once = redactor().redact(&t).text.into_owned();
        let twice = redactor().redact(&once);
        prop_assert_eq!(twice.text.as_ref(), once.as_str());
    }

    #[test]
    fn idempotent_on_ascii_soup(t in "[ -~\n]{0,300}") {
        let once = redactor().redact(&t).text.into_owned();
        let twice = redactor().redact(&once);
        prop_assert_eq!(twice.text.as_ref(), once.as_str());
    }
}

/// Characters the matching view drops: zero-width, soft hyphen, BOM, bidi
/// controls, variation selectors, tags.
const HIDDEN: &[&str] = &[
    "\u{200B}",
    "\u{200C}",
    "\u{200D}",
    "\u{00AD}",
    "\u{FEFF}",
    "\u{202E}",
    "\u{2066}",
    "\u{FE0F}",
    "\u{E0041}",
];

/// Secret-free text with hidden characters sprinkled in.
fn safe_text_with_hidden() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(SAFE),
            1 => prop::sample::select(HIDDEN),
        ],
        0..60,
    )
    .prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn hidden_characters_alone_change_nothing(t in safe_text_with_hidden()) {
        let out = redactor().redact(&t);
        prop_assert_eq!(out.text.as_ref(), t.as_str());
    }

    #[test]
    fn a_hidden_character_anywhere_in_a_token_does_not_hide_it(
        at in 0usize..40,
        hidden in prop::sample::select(HIDDEN),
    ) {
        let token = "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";
        let t = format!("push with {}{hidden}{} please", &token[..at], &token[at..]);
        let out = redactor().redact(&t).text.into_owned();
        prop_assert!(out.starts_with("push with ") && out.ends_with(" please"), "{}", out);
        let body: Vec<char> = token[4..].chars().collect();
        for w in body.windows(8) {
            let run: String = w.iter().collect();
            prop_assert!(!out.contains(&run), "{:?} survived in {:?}", run, out);
        }
        let again = redactor().redact(&out).text.into_owned();
        prop_assert_eq!(again, out);
    }
}
