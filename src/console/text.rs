//! What text an agent controls looks like on a console page. maud escapes
//! it, so it never becomes markup; this module also keeps it from lying to
//! the human: every control, bidirectional, invisible or other format
//! character ([`display::is_unsafe`], the same list the CLI escapes) is shown
//! as its visible escape (`\u{202e}`) in a `<mark class="hidden-char">`, so a
//! right-to-left override cannot reorder a file name and a zero-width space
//! cannot hide in a command. Redaction placeholders are marked too. The
//! script (`assets/console.js`) builds the same structure for live updates.

use maud::{Markup, html};

use crate::display::{self, Lines};

/// The tooltip of an escaped character.
const HIDDEN_TITLE: &str = "an invisible, control or text-direction character, shown as its code";

/// A block of agent text (a message, a command): line breaks and tabs kept.
pub fn block(text: &str) -> Markup {
    marked(text, Lines::Many)
}

/// A command a human approves: its line breaks kept, a tab or an odd blank
/// (which the shell reads differently from a space) marked like a control.
pub fn command(text: &str) -> Markup {
    marked(text, Lines::Command)
}

/// A one-line field of agent text (a note, a path, an audit detail): a
/// line break is escaped too, so it cannot draw a line of its own.
pub fn line(text: &str) -> Markup {
    marked(text, Lines::One)
}

fn marked(text: &str, lines: Lines) -> Markup {
    html! {
        @for (plain, placeholder) in split_placeholders(text) {
            (escaped(plain, lines))
            @if let Some(p) = placeholder { mark.redacted title="a secret was removed here" { (p) } }
        }
    }
}

/// `text` with its unsafe characters as marked escapes.
fn escaped(text: &str, lines: Lines) -> Markup {
    let kept = |c: char| display::kept(c, lines);
    let mut parts: Vec<(&str, Option<String>)> = Vec::new();
    let mut start = 0;
    for (at, c) in text.char_indices() {
        if !kept(c) {
            let mut code = String::new();
            display::push_escape(&mut code, c);
            parts.push((&text[start..at], Some(code)));
            start = at + c.len_utf8();
        }
    }
    parts.push((&text[start..], None));
    html! {
        @for (plain, code) in &parts {
            (plain)
            @if let Some(code) = code { mark.hidden-char title=(HIDDEN_TITLE) { (code) } }
        }
    }
}

/// Splits `text` into (plain, placeholder) pairs; placeholders are runs of
/// `A-Z`, `0-9` and `_` that start with a letter and end in `_REDACTED`.
pub fn split_placeholders(text: &str) -> Vec<(&str, Option<&str>)> {
    const SUFFIX: &str = "_REDACTED";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(SUFFIX) {
        let end = at + SUFFIX.len();
        // The placeholder's bytes are all ASCII, so walking back over them
        // byte by byte stops on a character boundary whatever came before
        // (`é_REDACTED`): a character index + 1 would land inside `é`.
        let start = rest.as_bytes()[..at]
            .iter()
            .rposition(|&b| !(b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
            .map_or(0, |i| i + 1);
        let word_ends = !rest[end..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        let starts_with_letter = rest[start..].starts_with(|c: char| c.is_ascii_uppercase());
        if start < at && word_ends && starts_with_letter {
            out.push((&rest[..start], Some(&rest[start..end])));
        } else {
            out.push((&rest[..end], None));
        }
        rest = &rest[end..];
    }
    out.push((rest, None));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_and_text_is_kept() {
        let parts = split_placeholders(
            "key AWS_KEY_REDACTED and NOT_REDACTEDX, _REDACTED, x PASSWORD_REDACTED",
        );
        let marked: Vec<_> = parts.iter().filter_map(|(_, p)| *p).collect();
        assert_eq!(marked, ["AWS_KEY_REDACTED", "PASSWORD_REDACTED"]);
        let joined: String = parts
            .iter()
            .map(|(a, p)| format!("{a}{}", p.unwrap_or("")))
            .collect();
        assert_eq!(
            joined,
            "key AWS_KEY_REDACTED and NOT_REDACTEDX, _REDACTED, x PASSWORD_REDACTED"
        );
    }

    #[test]
    fn a_placeholder_after_any_character_splits_on_a_boundary() {
        for text in [
            "é_REDACTED",
            "café_REDACTED x",
            "東京KEY_REDACTED",
            "ü TOKEN_REDACTED",
        ] {
            let parts = split_placeholders(text);
            let joined: String = parts
                .iter()
                .map(|(a, p)| format!("{a}{}", p.unwrap_or("")))
                .collect();
            assert_eq!(joined, text);
        }
        let marked = |t| {
            split_placeholders(t)
                .into_iter()
                .filter_map(|(_, p)| p)
                .collect::<Vec<_>>()
        };
        assert_eq!(marked("東京KEY_REDACTED"), ["KEY_REDACTED"]);
        assert_eq!(marked("ü TOKEN_REDACTED"), ["TOKEN_REDACTED"]);
        assert!(marked("é_REDACTED").is_empty());
    }

    #[test]
    fn agent_markup_is_escaped() {
        let html = block("<script>alert(1)</script> TOKEN_REDACTED").into_string();
        assert!(html.starts_with("&lt;script&gt;"), "{html}");
        assert!(html.contains("<mark class=\"redacted\""), "{html}");
    }

    #[test]
    fn hidden_characters_become_visible_codes() {
        let html = block("pay \u{202e}exe.txt\u{200b}\nnext\tTOKEN_REDACTED\x1b[2J").into_string();
        assert!(
            !html
                .chars()
                .any(|c| c == '\u{202e}' || c == '\u{200b}' || c == '\x1b'),
            "{html}"
        );
        assert!(html.contains("pay <mark class=\"hidden-char\""), "{html}");
        assert!(html.contains(">\\u{202e}</mark>exe.txt"), "{html}");
        assert!(
            html.contains(">\\u{200b}</mark>\nnext\t<mark class=\"redacted\""),
            "{html}"
        );
        assert!(html.contains(">\\x1b</mark>[2J"), "{html}");
        let one = line("a\nb\tc").into_string();
        assert!(one.contains(">\\x0a</mark>b<mark"), "{one}");
        assert_eq!(line("plain").into_string(), "plain");
    }
}
