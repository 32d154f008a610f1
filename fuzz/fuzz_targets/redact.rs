//! Arbitrary UTF-8 through the redaction engine: it never panics, its output
//! is valid UTF-8 by construction, and redacting the output again changes
//! nothing (placeholders never match a rule).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mcp_bridge::redact::Redactor;

static REDACTOR: LazyLock<Redactor> = LazyLock::new(Redactor::builtin);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let once = REDACTOR.redact(text);
    if once.counts.is_empty() {
        assert_eq!(once.text, text, "nothing counted but the text changed");
    }
    let twice = REDACTOR.redact(&once.text);
    assert_eq!(twice.text, once.text, "redaction is not idempotent");
});
