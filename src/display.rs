//! What text an agent controls may look like on a human's terminal. One
//! classification of the characters that can act on a terminal or hide or
//! reorder what it shows — C0 and C1 controls, DEL, bidirectional overrides
//! and isolates, zero-width and other invisible format characters, variation
//! selectors, tag characters, line and paragraph separators; also overlay
//! marks, and in single-line fields blanks other than the ASCII space
//! ([`kept`]) — and two ways to
//! neutralise them: visible escapes for text (`\x1b`, `\u{202e}`), and JSON
//! `\uXXXX` escapes for JSON output, which leave the JSON's value unchanged.
//!
//! Pure: no I/O, calls nothing. The CLI renders through it
//! (`cli::output`); the service uses it to refuse such characters where no
//! agent has any business sending them (a YOLO workspace) and to keep export
//! files free of them.

use std::fmt::Write as _;

/// Whether a multi-line field keeps its line breaks (and tabs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// A single-line field (a role, a path, a command): every control is
    /// escaped, newline and tab included, so it cannot draw a line of its own.
    One,
    /// A block of text (a message body): newline and tab are kept, every
    /// other control is escaped.
    Many,
    /// A command a human approves: a newline is kept (it starts a line of
    /// the command, as the shell reads it); everything else as in `One`, so
    /// a tab or a blank that is not the ASCII space, which the shell reads
    /// differently from a space, shows as an escape.
    Command,
}

/// Whether `c` can act on a terminal, or hides, reorders or disguises text:
/// C0 controls (newline and tab included), DEL, C1 controls, and the
/// invisible format characters listed in this module's documentation.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_invisible(c)
}

/// Invisible or reordering characters that are not controls.
fn is_invisible(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD                      // soft hyphen
        | 0x034F                    // combining grapheme joiner
        | 0x061C                    // Arabic letter mark (bidi)
        | 0x0600..=0x0605           // Arabic number signs (format)
        | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x115F | 0x1160           // Hangul fillers
        | 0x17B4 | 0x17B5           // Khmer invisible vowels
        | 0x180B..=0x180F           // Mongolian variation selectors and vowel separator
        | 0x200B..=0x200F           // zero-width space/joiners, LRM, RLM
        | 0x2028 | 0x2029           // line and paragraph separators
        | 0x202A..=0x202E           // bidi embeddings and overrides
        | 0x2060..=0x206F           // word joiner, invisible operators, bidi isolates, deprecated format
        | 0x3164 | 0xFFA0           // Hangul fillers
        | 0xFE00..=0xFE0F           // variation selectors
        | 0xFEFF                    // zero-width no-break space (BOM)
        | 0xFFF0..=0xFFF8           // unassigned, default ignorable: drawn as nothing
        | 0xFFF9..=0xFFFB           // interlinear annotation
        | 0x110BD | 0x110CD
        | 0x13430..=0x1343F         // Egyptian hieroglyph format controls
        | 0x1BCA0..=0x1BCA3         // shorthand format controls
        | 0x1D173..=0x1D17A         // musical symbol format controls
        // Tags, variation selectors supplement and the unassigned rest of
        // the plane's default-ignorable block: all drawn as nothing.
        | 0xE0000..=0xE0FFF
    )
}

/// Whether `text` holds any character [`is_unsafe`] names.
pub fn has_unsafe(text: &str) -> bool {
    text.chars().any(is_unsafe)
}

/// Whether `c` is kept as is in `lines` mode. Besides [`is_unsafe`], marks
/// drawn over their neighbour (`a\u{336}pproved` reads as struck out) are
/// escaped everywhere, and in a single-line field so are blanks that are not
/// the ASCII space (NBSP, U+3000, the braille blank): a status note of such
/// blanks pushes the rest of a line out of sight, while in a message body
/// they are ordinary typography (French, CJK) and stay.
pub fn kept(c: char, lines: Lines) -> bool {
    if c.is_ascii() {
        return !c.is_control()
            || match lines {
                Lines::One => false,
                Lines::Many => c == '\n' || c == '\t',
                Lines::Command => c == '\n',
            };
    }
    !is_unsafe(c) && !is_overlay(c) && (lines == Lines::Many || !is_blank_lookalike(c))
}

/// A combining mark of the overlay class (canonical combining class 1):
/// strokes, slashes and rings drawn across the character before it.
fn is_overlay(c: char) -> bool {
    unicode_normalization::char::canonical_combining_class(c) == 1
}

/// A character other than the ASCII space that draws as blank.
fn is_blank_lookalike(c: char) -> bool {
    !c.is_ascii() && (c.is_whitespace() || c == '\u{2800}')
}

/// `text` with every unsafe character replaced by a visible escape: `\x1b`
/// for an ASCII control or DEL, `\u{202e}` for anything else. Borrowed when
/// nothing needed escaping.
pub fn visible(text: &str, lines: Lines) -> std::borrow::Cow<'_, str> {
    if text.chars().all(|c| kept(c, lines)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if kept(c, lines) {
            out.push(c);
        } else {
            push_escape(&mut out, c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `command` as the human approving it must read it, one to one: line
/// breaks kept, every other character [`Lines::Command`] does not keep
/// escaped and — only then, and then every one — each backslash doubled, so
/// an escape cannot pass for the same characters typed (`\x0a` typed
/// shows as `\\x0a`, a newline escaped would show as `\x0a`). The flag says
/// the backslashes were doubled: the reader must be told. Without any
/// escape the command is shown exactly as it is.
pub fn exact_command(command: &str) -> (std::borrow::Cow<'_, str>, bool) {
    if command.chars().all(|c| kept(c, Lines::Command)) {
        return (std::borrow::Cow::Borrowed(command), false);
    }
    let mut out = String::with_capacity(command.len() + 16);
    for c in command.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if kept(c, Lines::Command) {
            out.push(c);
        } else {
            push_escape(&mut out, c);
        }
    }
    (std::borrow::Cow::Owned(out), true)
}

/// Appends the visible escape of `c`.
pub fn push_escape(out: &mut String, c: char) {
    let n = u32::from(c);
    // Writing to a String cannot fail.
    let _ = if n < 0x80 {
        write!(out, "\\x{n:02x}")
    } else {
        write!(out, "\\u{{{n:x}}}")
    };
}

/// JSON text (as serde_json writes it) with every unsafe character that
/// serde leaves raw (DEL, C1, the invisible characters) written as a JSON
/// `\uXXXX` escape (a surrogate pair above U+FFFF). The JSON means exactly
/// the same; only its bytes become safe to print. serde_json already escapes
/// C0 controls inside strings, so a raw newline, tab or carriage return is
/// layout and stays; the other characters can only occur inside JSON
/// strings, so replacing them wherever they occur is exact.
pub fn json_safe(json: &str) -> std::borrow::Cow<'_, str> {
    let escaped = |c: char| {
        (is_unsafe(c) && !matches!(c, '\n' | '\t' | '\r')) || is_overlay(c) || is_blank_lookalike(c)
    };
    if !json.chars().any(escaped) {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if escaped(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approved_command_reads_one_to_one() {
        // Plain commands, line breaks included, show as they are.
        assert_eq!(exact_command("ls -l\nrm x").0, "ls -l\nrm x");
        assert!(!exact_command(r"grep 'a\.b'").1);
        // The twins of the red team: an escaped newline and a typed `\x0a`
        // used to look the same.
        let typed = "printf 'a\\x0a' # rm -rf src\nrm -rf src";
        let real = "printf 'a\n' # rm -rf src\\x0arm -rf src";
        let (shown_typed, shown_real) = (exact_command(typed), exact_command(real));
        assert_ne!(shown_typed.0, shown_real.0);
        assert_eq!(shown_typed.0, typed, "only newlines: nothing to escape");
        // A tab, a non-breaking space or an escape sequence is escaped, and
        // then every backslash is doubled.
        let (shown, doubled) = exact_command("echo\ta\u{a0}b \\x09\x1b");
        assert!(doubled);
        assert_eq!(shown, "echo\\x09a\\u{a0}b \\\\x09\\x1b");
        // One to one over a few hundred mixtures.
        let alphabet = ['a', '\\', 'x', '0', '9', '\n', '\t', '\u{a0}', '\x1b', ' '];
        let mut seen = std::collections::HashMap::new();
        for n in 0..100_000u32 {
            let text: String = (0..5)
                .map(|i| alphabet[(n / 10u32.pow(i) % 10) as usize])
                .collect();
            let shown = exact_command(&text);
            let key = (shown.0.into_owned(), shown.1);
            if let Some(other) = seen.insert(key, text.clone()) {
                panic!("{other:?} and {text:?} show alike");
            }
        }
    }

    #[test]
    fn every_class_is_escaped_visibly() {
        let cases = [
            ("a\x1b[2Jb", "a\\x1b[2Jb"),
            ("bell\x07", "bell\\x07"),
            ("del\x7f", "del\\x7f"),
            ("csi\u{9b}31m", "csi\\u{9b}31m"),
            ("nel\u{85}x", "nel\\u{85}x"),
            ("rlo\u{202e}fdp.exe", "rlo\\u{202e}fdp.exe"),
            ("iso\u{2066}x\u{2069}", "iso\\u{2066}x\\u{2069}"),
            (
                "lrm\u{200e}rlm\u{200f}alm\u{61c}",
                "lrm\\u{200e}rlm\\u{200f}alm\\u{61c}",
            ),
            (
                "zw\u{200b}\u{200c}\u{200d}",
                "zw\\u{200b}\\u{200c}\\u{200d}",
            ),
            ("wj\u{2060}\u{2064}", "wj\\u{2060}\\u{2064}"),
            (
                "bom\u{feff}shy\u{ad}mvs\u{180e}",
                "bom\\u{feff}shy\\u{ad}mvs\\u{180e}",
            ),
            ("vs\u{fe0f}\u{e0100}", "vs\\u{fe0f}\\u{e0100}"),
            ("tag\u{e0041}\u{e007f}", "tag\\u{e0041}\\u{e007f}"),
            ("ls\u{2028}ps\u{2029}", "ls\\u{2028}ps\\u{2029}"),
            ("cr\rlf\ntab\t", "cr\\x0dlf\\x0atab\\x09"),
        ];
        for (input, want) in cases {
            assert_eq!(visible(input, Lines::One), want, "{input:?}");
            assert!(has_unsafe(input), "{input:?}");
        }
    }

    #[test]
    fn overlays_everywhere_and_odd_blanks_in_one_line_fields_are_escaped() {
        let struck = "a\u{336}pproved \u{338}x";
        assert_eq!(visible(struck, Lines::One), "a\\u{336}pproved \\u{338}x");
        assert_eq!(visible(struck, Lines::Many), "a\\u{336}pproved \\u{338}x");
        let pushed = "ok\u{2800}\u{2800}\u{3000}\u{a0}done";
        assert_eq!(
            visible(pushed, Lines::One),
            "ok\\u{2800}\\u{2800}\\u{3000}\\u{a0}done"
        );
        // In a message body they are typography: French, CJK, braille charts.
        for text in ["prix\u{a0}: 5\u{a0}€", "東京\u{3000}大阪", "⠁\u{2800}⠃"] {
            assert!(matches!(
                visible(text, Lines::Many),
                std::borrow::Cow::Borrowed(_)
            ));
        }
        // Combining marks that are not overlays (accents, Devanagari vowel
        // signs) stay in both.
        for text in [
            "cafe\u{301}",
            "ति",
            "Tie\u{302}\u{301}ng Vie\u{323}\u{302}t",
        ] {
            assert!(matches!(
                visible(text, Lines::One),
                std::borrow::Cow::Borrowed(_)
            ));
        }
        let json = json_safe("{\"note\":\"a\u{336}b\u{2800}\"}");
        assert_eq!(json, "{\"note\":\"a\\u0336b\\u2800\"}");
    }

    #[test]
    fn blocks_keep_newlines_and_tabs_only() {
        assert_eq!(
            visible("one\n\ttwo\r\x1b]0;title\x07", Lines::Many),
            "one\n\ttwo\\x0d\\x1b]0;title\\x07"
        );
    }

    #[test]
    fn ordinary_text_passes_unchanged_and_unallocated() {
        for text in [
            "backend ↔ frontend",
            "/home/me/project/src/main.rs",
            "grep -n 'x' a.txt | wc -l",
            "naïve café 日本語 emoji 🎉",
            "C:\\Users\\me",
        ] {
            assert!(matches!(
                visible(text, Lines::One),
                std::borrow::Cow::Borrowed(_)
            ));
            assert!(!has_unsafe(text), "{text:?}");
        }
    }

    #[test]
    fn json_stays_the_same_value_with_safe_bytes() {
        let value = serde_json::json!({
            "text": "a\u{202e}b\u{9b}c\u{7f}d\u{e0041}e\x1b",
            "plain": "x\\u202e",
        });
        let raw = serde_json::to_string_pretty(&value).unwrap();
        let safe = json_safe(&raw);
        assert!(!has_unsafe(&safe.replace('\n', "")), "{safe}");
        assert!(
            safe.contains("\\u202e") && safe.contains("\\udb40\\udc41"),
            "{safe}"
        );
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }
}
