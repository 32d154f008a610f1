//! A guard in front of rmcp's line reader, so every line a client sends gets
//! an answer and no line can make the server hold unbounded memory.
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
//! calls end at once.

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
    /// Checked bytes ready for rmcp, and how many of them it has taken.
    ready: Vec<u8>,
    taken: usize,
    /// While skipping an over-long line: its first bytes.
    skipping: Option<Vec<u8>>,
    eof: bool,
    closed: CancellationToken,
}

impl<R> LineGuard<R> {
    /// Guards `inner`; `closed` is cancelled when it reaches end of file.
    pub fn new(inner: R, closed: CancellationToken) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            ready: Vec::new(),
            taken: 0,
            skipping: None,
            eof: false,
            closed,
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
                self.ready
                    .extend_from_slice(&stand_in(&head, LineProblem::TooLong));
            } else {
                let line = &self.pending[start..end];
                match check(line) {
                    None => {
                        self.ready.extend_from_slice(line);
                        self.ready.push(b'\n');
                    }
                    Some(problem) => self.ready.extend_from_slice(&stand_in(line, problem)),
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
    if serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_err() {
        return Some(LineProblem::Parse);
    }
    // Skipping a value does not convert numbers; only a full parse sees one
    // out of range (1e400). Do it only when an exponent could be present.
    let exponent = trimmed
        .windows(2)
        .any(|w| w[0].is_ascii_digit() && matches!(w[1], b'e' | b'E'));
    if exponent && serde_json::from_slice::<serde_json::Value>(trimmed).is_err() {
        return Some(LineProblem::Parse);
    }
    None
}

/// The request that stands in for a bad line: same id if one can be found
/// near its start, else no id (answered as an invalid request).
fn stand_in(line: &[u8], problem: LineProblem) -> Vec<u8> {
    let Some(id) = find_id(line) else {
        return b"{}\n".to_vec();
    };
    let request = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": INVALID_LINE_METHOD,
        "params": { "problem": problem.as_str() },
    });
    let mut out = request.to_string().into_bytes();
    out.push(b'\n');
    out
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
    std::str::from_utf8(&rest[..end])
        .ok()?
        .parse::<i64>()
        .ok()
        .map(serde_json::Value::from)
}

impl<R: AsyncRead + Unpin> AsyncRead for LineGuard<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        loop {
            if self.taken < self.ready.len() {
                let n = out.remaining().min(self.ready.len() - self.taken);
                let start = self.taken;
                out.put_slice(&self.ready[start..start + n]);
                self.taken += n;
                if self.taken == self.ready.len() {
                    self.ready.clear();
                    self.taken = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if self.eof {
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 64 * 1024];
            let mut buf = ReadBuf::new(&mut chunk);
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
                    let filled = buf.filled().to_vec();
                    self.pending.extend_from_slice(&filled);
                    self.split_lines();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn through(input: &[u8]) -> String {
        let mut guard = LineGuard::new(input, CancellationToken::new());
        let mut out = Vec::new();
        guard.read_to_end(&mut out).await.unwrap();
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
    async fn deep_nesting_is_a_parse_error() {
        let mut input = b"{\"id\":3,\"x\":".to_vec();
        input.extend(std::iter::repeat_n(b'[', 100_000));
        input.push(b'\n');
        let out = through(&input).await;
        assert!(out.contains(INVALID_LINE_METHOD), "{out}");
    }
}
