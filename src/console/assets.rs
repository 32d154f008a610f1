//! The console's only static files, embedded in the binary: one style
//! sheet and one script (no inline code, so the CSP can forbid it). The
//! script's character classes are filled in from [`display::kept`], so what
//! it escapes live is what the server escapes on its pages.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;

use crate::display::{self, Lines};

/// The style sheet.
pub const CSS: &str = include_str!("assets/console.css");
/// The script as written: live updates through `EventSource`, DOM built
/// with `textContent` only; its character classes still to be filled in.
const JS_SOURCE: &str = include_str!("assets/console.js");

/// The script as served.
static JS: LazyLock<String> = LazyLock::new(|| {
    let in_blocks = class(|c| !display::kept(c, Lines::Many));
    let in_lines = class(|c| display::kept(c, Lines::Many) && !display::kept(c, Lines::One));
    JS_SOURCE
        .replace("@HIDDEN_IN_BLOCKS@", &in_blocks)
        .replace("@HIDDEN_IN_LINES@", &in_lines)
});

/// The body of a JavaScript `u`-mode character class holding exactly the
/// characters `member` names, as ranges of `\u{…}` escapes.
fn class(member: impl Fn(char) -> bool) -> String {
    let mut out = String::new();
    let mut run: Option<(u32, u32)> = None;
    let close = |out: &mut String, (first, last): (u32, u32)| {
        out.push_str(&format!("\\u{{{first:x}}}"));
        if last > first {
            out.push_str(&format!("-\\u{{{last:x}}}"));
        }
    };
    for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
        let n = u32::from(c);
        if !member(c) {
            continue;
        }
        run = match run {
            Some((first, last)) if last + 1 == n => Some((first, n)),
            Some(done) => {
                close(&mut out, done);
                Some((n, n))
            }
            None => Some((n, n)),
        };
    }
    if let Some(done) = run {
        close(&mut out, done);
    }
    out
}

/// `GET /assets/console.css`.
pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        CSS,
    )
}

/// `GET /assets/console.js`.
pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        JS.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ranges a class body from [`class`] names (a range still open
    /// ends at `u32::MAX` until its end is read).
    fn ranges(body: &str) -> Vec<(u32, u32)> {
        let mut out: Vec<(u32, u32)> = Vec::new();
        for item in body.split("\\u{").skip(1) {
            let n = u32::from_str_radix(item.trim_end_matches(['}', '-']), 16).unwrap();
            match out.last_mut() {
                Some((_, end)) if *end == u32::MAX => *end = n,
                _ => out.push((n, if item.ends_with("}-") { u32::MAX } else { n })),
            }
        }
        out
    }

    #[test]
    fn the_script_gets_exactly_the_servers_classes() {
        assert!(!JS.contains("@HIDDEN"), "a class was left unfilled");
        let blocks = |c| !display::kept(c, Lines::Many);
        let lines = |c| display::kept(c, Lines::Many) && !display::kept(c, Lines::One);
        for (member, body) in [
            (&blocks as &dyn Fn(char) -> bool, class(blocks)),
            (&lines, class(lines)),
        ] {
            assert!(JS.contains(&format!("/[{body}]/u")));
            let ranges = ranges(&body);
            for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
                let n = u32::from(c);
                let listed = ranges.iter().any(|&(a, b)| (a..=b).contains(&n));
                assert_eq!(listed, member(c), "U+{n:04X}");
            }
        }
        // What the red team saw shown raw live: an overlay mark in any field,
        // a no-break space and the ideographic space in a one-line field.
        assert!(blocks('\u{336}') && lines('\u{a0}') && lines('\u{3000}') && lines('\t'));
    }
}
