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

/// Secrets this process knows and no log line may show: the shared HTTP
/// bearer token (any text the operator chose, so no pattern finds it; a
/// client can put it in a request id, which rmcp logs).
static NEVER_LOGGED: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// What replaces one of them.
const NEVER_LOGGED_PLACEHOLDER: &str = "HTTP_TOKEN_REDACTED";

/// Keeps `secret` out of every later log line.
pub fn never_log(secret: &str) {
    if !secret.is_empty() {
        let mut known = NEVER_LOGGED
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        known.push(secret.to_owned());
    }
}

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

/// What rmcp logs at ERROR when a reply cannot be written because its
/// client went away: a killed agent, a dropped HTTP request, a revoked
/// token's cut stream. The bridge handles all of them (a page handed out is
/// leased and comes again), so they are no error an operator should be
/// paged for; acceptance runs counted dozens per run of normal clients.
const GONE_CLIENT_LINES: [&str; 2] = [
    "failed to send pending response during drain",
    "fail to response message",
];

/// The transport errors that mean the client is gone.
const GONE_CLIENT_ERRORS: [&str; 4] = [
    "closed",
    "Broken pipe",
    "Connection reset",
    "connection reset",
];

/// Whether a formatted rmcp ERROR line says only that the client went
/// away. Judged here, on the few lines written, rather than by a
/// per-event filter: a filter of its own made every disabled callsite of
/// rmcp's hot path a dynamic check (an empty check cost ~8 µs more CPU).
fn gone_client(line: &str) -> bool {
    line.contains("ERROR")
        && GONE_CLIENT_LINES.iter().any(|m| line.contains(m))
        && GONE_CLIENT_ERRORS.iter().any(|e| line.contains(e))
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
            rmcp_error: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> SafeLine {
        SafeLine {
            line: Vec::new(),
            redact: !meta.target().starts_with("mcp_bridge"),
            rmcp_error: *meta.level() == tracing::Level::ERROR && meta.target().starts_with("rmcp"),
        }
    }
}

/// One log line, buffered until it is complete, then written made safe.
struct SafeLine {
    line: Vec<u8>,
    redact: bool,
    /// An ERROR of rmcp's: left out when it says only that a client went
    /// away ([`gone_client`]).
    rmcp_error: bool,
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
        if self.rmcp_error && gone_client(&text) {
            return;
        }
        let line = if self.redact {
            safe(&text)
        } else {
            visible(&text, Lines::Many).into_owned()
        };
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// The most of one log line that is written: a client's id of a megabyte
/// made every request refused write a megabyte and redact it (~0.2 s of
/// CPU each: red team).
const MAX_LINE_BYTES: usize = 16 * 1024;

/// `text` cut to [`MAX_LINE_BYTES`], redacted, and one line with whatever
/// could act on a terminal escaped: a newline inside it (a client's id)
/// would draw a fake log line of its own.
fn safe(text: &str) -> String {
    static REDACTOR: OnceLock<Redactor> = OnceLock::new();
    let (text, left_out) = shorten(text);
    let known = NEVER_LOGGED
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let scrubbed = known
        .iter()
        .filter(|secret| text.contains(secret.as_str()))
        .fold(std::borrow::Cow::Borrowed(text), |t, secret| {
            std::borrow::Cow::Owned(t.replace(secret.as_str(), NEVER_LOGGED_PLACEHOLDER))
        });
    drop(known);
    let redacted = REDACTOR
        .get_or_init(Redactor::builtin)
        .redact(&scrubbed)
        .text;
    // A session token is 64 hex digits, like any digest, so the engine keeps
    // it; no log line needs one.
    let clean = match crate::service::redact_token_shapes(&redacted) {
        Some(clean) => std::borrow::Cow::Owned(clean),
        None => redacted,
    };
    let body = clean.strip_suffix('\n');
    let mut line = visible(body.unwrap_or(&clean), Lines::One).into_owned();
    if left_out > 0 {
        line.push_str(&format!(" … ({left_out} bytes left out)"));
    }
    if body.is_some() || left_out > 0 {
        line.push('\n');
    }
    line
}

/// `text` cut to at most [`MAX_LINE_BYTES`], back to a blank or a JSON
/// delimiter so that no secret is cut in two (its head alone would not be
/// recognised), and how many bytes were left out.
fn shorten(text: &str) -> (&str, usize) {
    if text.len() <= MAX_LINE_BYTES {
        return (text, 0);
    }
    let mut end = MAX_LINE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let end = text[..end]
        .rfind(|c: char| c.is_whitespace() || matches!(c, ',' | '"' | '{' | '}' | '[' | ']'))
        .unwrap_or(0);
    (&text[..end], text.len() - end)
}

#[cfg(test)]
mod tests {
    use super::{gone_client, safe};

    #[test]
    fn only_a_gone_clients_reply_errors_are_left_out() {
        let at = "2026-12-07T14:10:35.998814Z ERROR";
        for gone in [
            "failed to send pending response during drain error=Broken pipe (os error 32)",
            "fail to response message error=channel closed",
            "failed to send pending response during drain error=Transport closed",
        ] {
            assert!(gone_client(&format!("{at} {gone}\n")), "{gone}");
        }
        for kept in [
            "fail to response message error=serialization failed",
            "some other failure error=channel closed",
        ] {
            assert!(!gone_client(&format!("{at} {kept}\n")), "{kept}");
        }
    }

    #[test]
    fn a_line_stays_one_line_of_bounded_length() {
        let forged = safe("WARN response error id=\"x\nINFO all is well\"\n");
        assert_eq!(
            forged,
            "WARN response error id=\"x\\x0aINFO all is well\"\n"
        );
        let secret = "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";
        let long = format!(
            "id=\"{}{secret}{}\"\n",
            "a".repeat(16 * 1024 - 20),
            "b".repeat(1 << 20)
        );
        let out = safe(&long);
        assert!(out.len() < 17 * 1024, "{}", out.len());
        assert!(
            out.ends_with("bytes left out)\n"),
            "{}",
            &out[out.len() - 40..]
        );
        assert!(!out.contains("ghp_"), "a secret cut in two leaked its head");
    }

    #[test]
    fn the_shared_token_never_reaches_the_log() {
        super::never_log("team-secret-42");
        let out = safe("WARN response error id=\"team-secret-42\"\n");
        assert_eq!(out, "WARN response error id=\"HTTP_TOKEN_REDACTED\"\n");
    }

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
