//! Where the server's log lines go: stderr, which is often a human's
//! terminal, through a writer that makes each line safe first.
//!
//! A log line can hold text a client chose: rmcp logs a refused request's
//! JSON-RPC id as it came (`response error id=…`), and an id may carry
//! escape sequences meant for the operator's terminal or a token. So every
//! line of another crate passes through the redaction engine, and every line
//! then has its control, bidirectional and invisible characters shown as
//! visible escapes (`crate::display`), whoever wrote it. Colours are off for the same reason:
//! the escapes that make them would be escaped too.

use std::io::Write;
use std::sync::OnceLock;

use tracing::Metadata;
use tracing_subscriber::fmt::MakeWriter;

use crate::display::{Lines, visible};
use crate::redact::Redactor;

/// Starts logging to stderr at `level` for this crate. rmcp's own logs stay at
/// `warn` whatever the level: at debug it prints whole requests, tokens and
/// message text included.
pub fn init(level: &str) {
    let filter = tracing_subscriber::EnvFilter::new(format!("warn,mcp_bridge={level},rmcp=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(SafeLines)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}

/// Makes a [`SafeLine`] per event. Only lines of other crates (rmcp's,
/// which may quote a request) go through the redaction engine: the
/// bridge's own log statements never hold a token or message text (tested
/// at `trace`), and building a second engine for the start-up line doubled
/// a stdio server's time to its first answer.
struct SafeLines;

impl<'a> MakeWriter<'a> for SafeLines {
    type Writer = SafeLine;

    fn make_writer(&'a self) -> SafeLine {
        SafeLine {
            line: Vec::new(),
            redact: true,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> SafeLine {
        SafeLine {
            line: Vec::new(),
            redact: !meta.target().starts_with("mcp_bridge"),
        }
    }
}

/// One log line, buffered until it is complete, then written made safe.
struct SafeLine {
    line: Vec<u8>,
    redact: bool,
}

impl Write for SafeLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SafeLine {
    fn drop(&mut self) {
        if self.line.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.line);
        let line = if self.redact {
            safe(&text)
        } else {
            visible(&text, Lines::Many).into_owned()
        };
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// `text` redacted, with whatever could act on a terminal escaped (line
/// ends kept).
fn safe(text: &str) -> String {
    static REDACTOR: OnceLock<Redactor> = OnceLock::new();
    let redacted = REDACTOR.get_or_init(Redactor::builtin).redact(text).text;
    // A session token is 64 hex digits, like any digest, so the engine keeps
    // it; no log line needs one.
    match crate::service::redact_token_shapes(&redacted) {
        Some(clean) => visible(&clean, Lines::Many).into_owned(),
        None => visible(&redacted, Lines::Many).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe;

    #[test]
    fn a_bare_session_token_never_reaches_the_log() {
        let token = "9f".repeat(32);
        let out = safe(&format!("WARN response error id={token}\n"));
        assert_eq!(out, "WARN response error id=SESSION_TOKEN_REDACTED\n");
        // Not a longer or shorter run, nor one glued to a word.
        let kept = format!("id={}0 x{token}", "9f".repeat(32));
        assert_eq!(safe(&kept), kept);
    }

    #[test]
    fn log_lines_are_made_safe() {
        let line = "WARN response error id=\u{1b}]0;PWNED\u{7}\u{1b}[2J 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\n";
        let out = safe(line);
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
        assert!(
            !out.contains("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"),
            "{out:?}"
        );
        assert!(out.ends_with('\n'));
        assert_eq!(safe("plain line\n"), "plain line\n");
    }
}
