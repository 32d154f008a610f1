//! A guard in front of the stdio transport's decoder, so every line a client
//! sends gets an answer and no line can make the server hold unbounded memory.
//!
//! rmcp silently drops a line that is not valid JSON (so does every official
//! SDK, to avoid error storms between two confused peers), which leaves a
//! client that sent, say, `"limit": 1e400` or invalid UTF-8 waiting forever
//! for its answer. The guard checks each line first and replaces a bad one
//! with a well-formed request to the method [`INVALID_LINE_METHOD`] carrying
//! the original id (when one can be found) and the reason; the MCP layer
//! answers it with the matching JSON-RPC error (`-32700` parse error,
//! `-32600` for an over-long line). Lines longer than the limit are never
//! buffered whole. When stdin closes, the guard cancels a token so waiting
//! calls end at once. It hands out whole lines ([`LineGuard::poll_line`]),
//! which `transport::lines` decodes.
//!
//! Before the MCP lifecycle has started, rmcp ends the whole session on a
//! message that is not a request (a stray notification or response), so
//! until a line that starts it has passed (a well-formed `initialize`, or a
//! request carrying its protocol version in `_meta`), the guard drops such
//! messages: neither expects an answer.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::sync::CancellationToken;

pub use crate::mcp::{INVALID_LINE_METHOD, MAX_LINE_BYTES};

/// How much of an over-long line is kept to find its id.
const HEAD_BYTES: usize = 512;

/// Why a line was replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineProblem {
    /// Not valid JSON (syntax, invalid UTF-8, a number out of range, nesting too deep).
    Parse,
    /// Longer than [`MAX_LINE_BYTES`].
    TooLong,
}

impl LineProblem {
    /// The stable name carried in the stand-in request.
    pub const fn as_str(self) -> &'static str {
        match self {
            LineProblem::Parse => "parse",
            LineProblem::TooLong => "too_long",
        }
    }
}

/// The guarded reader.
pub struct LineGuard<R> {
    inner: R,
    /// Bytes read but not yet split into lines.
    pending: Vec<u8>,
    /// Checked lines (without their newline) ready for the decoder.
    ready: VecDeque<Vec<u8>>,
    /// While skipping an over-long line: its first bytes.
    skipping: Option<Vec<u8>>,
    eof: bool,
    closed: CancellationToken,
    /// Whether a line that starts the MCP lifecycle has passed.
    started: bool,
    /// The read buffer, zeroed once: zeroing 64 KiB on every poll cost more
    /// server time than a whole small tool call's SQL.
    chunk: Box<[u8]>,
}

/// How much one read from the client takes at most.
const CHUNK_BYTES: usize = 64 * 1024;

impl<R> LineGuard<R> {
    /// Guards `inner`; `closed` is cancelled when it reaches end of file.
    pub fn new(inner: R, closed: CancellationToken) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            ready: VecDeque::new(),
            skipping: None,
            eof: false,
            closed,
            started: false,
            chunk: vec![0; CHUNK_BYTES].into_boxed_slice(),
        }
    }

    /// Moves every complete line of `pending` to `ready`, checked; starts or
    /// continues skipping a line that grew past the limit.
    fn split_lines(&mut self) {
        let mut start = 0;
        while let Some(offset) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + offset;
            if let Some(head) = self.skipping.take() {
                // The end of an over-long line.
                self.ready.push_back(stand_in(&head, LineProblem::TooLong));
            } else {
                let line = &self.pending[start..end];
                match check(line) {
                    None => {
                        let keep = self.started || {
                            let (keep, starts) = before_start(line);
                            self.started = starts;
                            keep
                        };
                        if keep {
                            self.ready.push_back(line.to_vec());
                        }
                    }
                    Some(problem) => self.ready.push_back(stand_in(line, problem)),
                }
            }
            start = end + 1;
        }
        let rest_len = self.pending.len() - start;
        if self.skipping.is_some() {
            self.pending.clear();
        } else if rest_len > MAX_LINE_BYTES {
            self.skipping = Some(self.pending[start..start + HEAD_BYTES].to_vec());
            self.pending.clear();
        } else {
            self.pending.drain(..start);
        }
    }
}

/// Whether `line` is usable JSON, and if not, why.
fn check(line: &[u8]) -> Option<LineProblem> {
    let trimmed = line.strip_suffix(b"\r").unwrap_or(line);
    if trimmed.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    // Skipping a string does not check its UTF-8, and rmcp ignores a line
    // that is not UTF-8 without answering it.
    if std::str::from_utf8(trimmed).is_err()
        || serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_err()
    {
        return Some(LineProblem::Parse);
    }
    // Skipping a value neither converts numbers nor decodes `\u` escapes;
    // only a full parse sees a number out of range (1e400, or an integer of
    // hundreds of digits) or a lone surrogate (`\ud800`). Do it only when one
    // could be present.
    if needs_full_parse(trimmed) && serde_json::from_slice::<serde_json::Value>(trimmed).is_err() {
        return Some(LineProblem::Parse);
    }
    None
}

/// Whether `line` holds an exponent, a surrogate escape, a run of digits too
/// long for an `f64` or nesting deeper than serde_json's limit of 128: what
/// skipping a value does not check (it skips nesting without recursing).
pub(crate) fn needs_full_parse(line: &[u8]) -> bool {
    let (mut digits, mut depth) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for (i, &b) in line.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
                if b == b'u' && matches!(line.get(i + 1), Some(b'd' | b'D')) {
                    return true;
                }
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if digits >= 300 {
                    return true;
                }
                continue;
            }
            b'e' | b'E' if digits > 0 => return true,
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > 100 {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        digits = 0;
    }
    false
}

/// For a valid JSON line seen before the lifecycle started: whether to pass it
/// on (a notification or a response is dropped, since rmcp would end the
/// session on it) and whether it starts the lifecycle, judged as rmcp's
/// handshake judges it: an `initialize` request, or any other request but
/// `ping` and `discover` with complete protocol metadata.
fn before_start(line: &[u8]) -> (bool, bool) {
    use rmcp::model::{
        ClientJsonRpcMessage, ClientRequest, GetMeta, JsonRpcMessage, ProtocolVersion,
    };
    let Ok(serde_json::Value::Object(message)) = serde_json::from_slice(line) else {
        return (true, false);
    };
    let request =
        message.contains_key("id") && message.get("method").is_some_and(|m| m.is_string());
    if !request {
        let stray = ["method", "result", "error"]
            .iter()
            .any(|k| message.contains_key(*k));
        return (!stray, false);
    }
    let starts =
        match serde_json::from_value::<ClientJsonRpcMessage>(serde_json::Value::Object(message)) {
            Ok(JsonRpcMessage::Request(r)) => match &r.request {
                ClientRequest::InitializeRequest(_) => true,
                ClientRequest::PingRequest(_) | ClientRequest::DiscoverRequest(_) => false,
                other => {
                    let meta = other.get_meta();
                    meta.protocol_version().is_some()
                        && meta
                            .missing_required_keys(&ProtocolVersion::V_2026_07_28)
                            .is_empty()
                }
            },
            _ => false,
        };
    (true, starts)
}

/// The request that stands in for a bad line: same id if one can be found
/// near its start, else no id (answered as an invalid request).
fn stand_in(line: &[u8], problem: LineProblem) -> Vec<u8> {
    let Some(id) = find_id(line) else {
        return b"{}".to_vec();
    };
    let request = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": INVALID_LINE_METHOD,
        "params": { "problem": problem.as_str() },
    });
    request.to_string().into_bytes()
}

/// A JSON-RPC id (`"id": 12` or `"id": "abc"`) in the first bytes of a broken line.
fn find_id(line: &[u8]) -> Option<serde_json::Value> {
    let head = &line[..line.len().min(HEAD_BYTES)];
    let at = head.windows(4).position(|w| w == b"\"id\"")?;
    let rest = &head[at + 4..];
    let rest = &rest[rest.iter().position(|b| !b.is_ascii_whitespace())?..];
    let rest = rest.strip_prefix(b":")?;
    let rest = &rest[rest.iter().position(|b| !b.is_ascii_whitespace())?..];
    if let Some(s) = rest.strip_prefix(b"\"") {
        let end = s.iter().position(|&b| b == b'"' || b == b'\\')?;
        if s.get(end) != Some(&b'"') {
            return None;
        }
        return std::str::from_utf8(&s[..end])
            .ok()
            .map(|t| serde_json::Value::String(t.to_owned()));
    }
    let end = rest
        .iter()
        .position(|b| !(b.is_ascii_digit() || *b == b'-'))
        .unwrap_or(rest.len());
    // `1e400` or `1.5` is not an id this server could answer to.
    if rest
        .get(end)
        .is_some_and(|b| !(b.is_ascii_whitespace() || matches!(b, b',' | b'}')))
    {
        return None;
    }
    std::str::from_utf8(&rest[..end])
        .ok()?
        .parse::<i64>()
        .ok()
        .map(serde_json::Value::from)
}

impl<R: AsyncRead + Unpin> LineGuard<R> {
    /// The next checked line (without its newline), or `None` at end of input.
    ///
    /// Cancel-safe: a line is handed out only whole, and what was read of
    /// the next one stays here.
    ///
    /// # Errors
    /// When reading the input fails (the guard then counts as closed).
    pub fn poll_line(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<Option<Vec<u8>>>> {
        loop {
            if let Some(line) = self.ready.pop_front() {
                return Poll::Ready(Ok(Some(line)));
            }
            if self.eof {
                return Poll::Ready(Ok(None));
            }
            let mut buf = ReadBuf::new(&mut self.chunk);
            match Pin::new(&mut self.inner).poll_read(cx, &mut buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    self.closed.cancel();
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                    self.eof = true;
                    self.closed.cancel();
                }
                Poll::Ready(Ok(())) => {
                    let filled = buf.filled().len();
                    self.pending.extend_from_slice(&self.chunk[..filled]);
                    self.split_lines();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line the guard hands out, each followed by a newline.
    async fn through(input: &[u8]) -> String {
        let mut guard = LineGuard::new(input, CancellationToken::new());
        let mut out = Vec::new();
        while let Some(line) = std::future::poll_fn(|cx| guard.poll_line(cx))
            .await
            .unwrap()
        {
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn good_lines_pass_unchanged() {
        let input = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n\n{\"a\":1e5}\n";
        assert_eq!(through(input).await.as_bytes(), input);
    }

    #[tokio::test]
    async fn bad_lines_become_stand_ins_with_their_id() {
        let out = through(b"{\"jsonrpc\":\"2.0\",\"id\":7,\"params\":{\"limit\":1e400}}\nnot json\n{\"id\": \"x\", \xff}\n").await;
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["id"], 7);
        assert_eq!(lines[0]["method"], INVALID_LINE_METHOD);
        assert_eq!(lines[0]["params"]["problem"], "parse");
        assert_eq!(lines[1], serde_json::json!({}));
        assert_eq!(lines[2]["id"], "x");
    }

    #[tokio::test]
    async fn over_long_lines_are_never_buffered_whole() {
        let mut input = b"{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"x\",\"params\":\"".to_vec();
        input.extend(std::iter::repeat_n(b'a', MAX_LINE_BYTES * 2));
        input.extend_from_slice(b"\"}\n{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"ping\"}\n");
        let out = through(&input).await;
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["id"], 9);
        assert_eq!(lines[0]["params"]["problem"], "too_long");
        assert_eq!(lines[1]["method"], "ping");
    }

    #[tokio::test]
    async fn invalid_utf8_inside_a_string_is_a_parse_error() {
        let out =
            through(b"{\"jsonrpc\":\"2.0\",\"id\":16,\"method\":\"ping\",\"x\":\"\xff\xfe\"}\n")
                .await;
        let line: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(
            (line["id"].as_i64(), line["method"].as_str()),
            (Some(16), Some(INVALID_LINE_METHOD))
        );
    }

    #[tokio::test]
    async fn what_skipping_misses_is_a_parse_error() {
        let huge = format!("{{\"id\":4,\"n\":{}}}\n", "9".repeat(400));
        let deep = format!(
            "{{\"id\":4,\"x\":{}1{}}}\n",
            "{\"a\":".repeat(200),
            "}".repeat(200)
        );
        for line in [
            "{\"id\":4,\"x\":\"\\ud800\"}\n",
            "{\"id\":4,\"x\":\"\\uDFFF\"}\n",
            "{\"id\":4,\"n\":2E999}\n",
            &huge,
            &deep,
        ] {
            let out = through(line.as_bytes()).await;
            assert!(out.contains(INVALID_LINE_METHOD), "{line}: {out}");
        }
        let fine = format!(
            "{{\"id\":4,\"x\":\"\\ud83e\\udd80 \\u00e9 date 2e3 {}\",\"n\":1e300,\"y\":{}1{}}}\n",
            "{[".repeat(500),
            "[".repeat(100),
            "]".repeat(100)
        );
        assert_eq!(through(fine.as_bytes()).await, fine);
    }

    #[tokio::test]
    async fn stray_messages_before_initialize_are_dropped() {
        let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#;
        let input = format!(
            "{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}}\n\
             {{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{{}}}}\n\
             {{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}}\n\
             {{\"jsonrpc\":\"2.0\",\"id\":6,\"error\":{{\"code\":1,\"message\":\"x\"}}}}\n\
             {{}}\n{init}\n{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}}\n"
        );
        let out = through(input.as_bytes()).await;
        let lines: Vec<&str> = out.lines().collect();
        // The initialize without params (not one to rmcp) and `{}` pass, to be answered
        // -32600; only the well-formed initialize starts the lifecycle.
        assert_eq!(
            lines,
            vec![
                r#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#,
                "{}",
                init,
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            ]
        );
    }

    #[tokio::test]
    async fn deep_nesting_is_a_parse_error() {
        let mut input = b"{\"id\":3,\"x\":".to_vec();
        input.extend(std::iter::repeat_n(b'[', 100_000));
        input.push(b'\n');
        let out = through(&input).await;
        assert!(out.contains(INVALID_LINE_METHOD), "{out}");
    }
}
