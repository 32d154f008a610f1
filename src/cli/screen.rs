//! [`Screen`]: the last line of defence between agent-controlled text and a
//! human's terminal. Every human-facing stream of the CLI is one; it escapes
//! any control, bidi or invisible character that reaches it, except newline,
//! tab and the exact colour codes [`super::output::Style`] writes.

use std::io::Write;

use super::output::Color;
use crate::display::{self, Lines};

/// A human-facing output stream. Whatever is written to it reaches the
/// terminal with every control character escaped except newline, tab and
/// the exact colour codes [`Style`] writes (when `colour` is on), and with
/// invisible and bidi characters escaped too. It works a line at a time, so
/// a colour code is never split; [`Write::flush`] passes on a partial line
/// (a prompt).
pub struct Screen<W: Write> {
    inner: W,
    colour: bool,
    pending: Vec<u8>,
}

impl<W: Write> Screen<W> {
    /// A screen over `inner`; `colour` lets [`Style`]'s codes through.
    pub fn new(inner: W, colour: bool) -> Self {
        Self {
            inner,
            colour,
            pending: Vec::new(),
        }
    }

    /// Escapes and writes `bytes` (whole lines, or the rest at a flush).
    fn emit(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(bytes);
        let mut out = String::with_capacity(text.len());
        let mut rest: &str = &text;
        while let Some(c) = rest.chars().next() {
            if c == '\x1b'
                && self.colour
                && let Some(code) = Color::ALL
                    .iter()
                    .map(|c| c.code())
                    .chain(["0"])
                    .map(|code| format!("\x1b[{code}m"))
                    .find(|seq| rest.starts_with(seq.as_str()))
            {
                out.push_str(&code);
                rest = &rest[code.len()..];
                continue;
            }
            if !display::kept(c, Lines::Many) {
                display::push_escape(&mut out, c);
            } else {
                out.push(c);
            }
            rest = &rest[c.len_utf8()..];
        }
        self.inner.write_all(out.as_bytes())
    }
}

impl<W: Write> Write for Screen<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(end) = self.pending.iter().rposition(|b| *b == b'\n') {
            let lines: Vec<u8> = self.pending.drain(..=end).collect();
            self.emit(&lines)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let rest = std::mem::take(&mut self.pending);
        self.emit(&rest)?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for Screen<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod screen_tests {
    use super::*;
    use crate::cli::output::Style;

    fn through(colour: bool, writes: &[&str]) -> String {
        let mut out = Vec::new();
        {
            let mut screen = Screen::new(&mut out, colour);
            for w in writes {
                screen.write_all(w.as_bytes()).unwrap();
            }
            screen.flush().unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn only_the_styles_own_colour_codes_pass() {
        let style = Style { color: true };
        let painted = format!("{}\n", style.paint("ok", Color::Green));
        assert_eq!(through(true, &[&painted]), painted);
        assert_eq!(through(false, &[&painted]), "\\x1b[32mok\\x1b[0m\n");
        // Hidden text, cursor moves, titles and C1 CSI never pass.
        assert_eq!(
            through(true, &["a\x1b[8mb\x1b[2J\x1b]0;t\x07\u{9b}1m\u{202e}\n"]),
            "a\\x1b[8mb\\x1b[2J\\x1b]0;t\\x07\\u{9b}1m\\u{202e}\n"
        );
    }

    #[test]
    fn lines_split_across_writes_and_prompts_come_through() {
        let style = Style { color: true };
        let painted = style.paint("x", Color::Red);
        let (head, tail) = painted.split_at(3);
        assert_eq!(
            through(true, &["one ", head, tail, "\n", "prompt: "]),
            format!("one {painted}\nprompt: ")
        );
        assert_eq!(through(false, &["caf", "\u{e9}\t\n"]), "caf\u{e9}\t\n");
    }
}
