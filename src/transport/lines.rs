//! rmcp's newline-delimited JSON-RPC transport for stdio, reading through the
//! [`LineGuard`] and decoding tool calls without trying every request type.
//!
//! rmcp decodes a line as a `ClientJsonRpcMessage`: it buffers the whole
//! message, checks its shape, buffers it again for the request, then tries
//! each of its ~20 request types in turn, building a serde error for every
//! miss (`tools/call` comes 15th). That was ~12 % of a stdio server's CPU per
//! tool call. Almost every line an agent sends is a `tools/call`, so such a
//! line — a request (`method` and `id`, no `result` or `error`) — is decoded
//! straight into rmcp's `CallToolRequest`. Any other line, and any `tools/call`
//! that decode refuses, goes through rmcp's own codec, so what every odd line
//! gets is rmcp's answer; the two decodes agree on every line the direct one
//! accepts, since no other request type accepts the method `tools/call`.
//! Writing is rmcp's codec too.

use std::future::Future;
use std::sync::Arc;

use futures_util::SinkExt;
use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequest, ClientJsonRpcMessage, ClientRequest, ErrorData, JsonRpcMessage,
    JsonRpcRequest, JsonRpcVersion2_0, RequestId,
};
use rmcp::service::TxJsonRpcMessage;
use rmcp::transport::Transport;
use rmcp::transport::async_rw::{JsonRpcMessageCodec, JsonRpcMessageCodecError};
use serde::Deserialize;
use serde::de::IgnoredAny;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Mutex;
use tokio_util::bytes::BytesMut;
use tokio_util::codec::{Decoder, FramedWrite};

use super::guard::LineGuard;
use super::unique_keys;

type Writer<W> = FramedWrite<W, JsonRpcMessageCodec<TxJsonRpcMessage<RoleServer>>>;

/// The server side of MCP over a pair of byte streams.
pub struct LineTransport<R, W> {
    lines: LineGuard<R>,
    write: Arc<Mutex<Option<Writer<W>>>>,
    /// The error owed for a line of the wrong shape; kept here so a
    /// cancelled `receive` still sends it.
    owed: Option<Owed>,
}

/// How far the owed error has gone.
enum Owed {
    Queue(Box<Refused>),
    Flush,
}

impl<R, W> LineTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    /// Reads `lines`, writes to `write`.
    pub fn new(lines: LineGuard<R>, write: W) -> Self {
        Self {
            lines,
            write: Arc::new(Mutex::new(Some(FramedWrite::new(
                write,
                JsonRpcMessageCodec::default(),
            )))),
            owed: None,
        }
    }

    /// Sends the owed error; `false` when the client is gone.
    async fn pay(&mut self) -> bool {
        let Some(state) = self.owed.as_mut() else {
            return true;
        };
        let mut write = self.write.lock().await;
        let Some(framed) = write.as_mut() else {
            return false;
        };
        if let Owed::Queue(refused) = state {
            let Refused { error, id } = (**refused).clone();
            let error = TxJsonRpcMessage::<RoleServer>::error(error, id);
            if framed.feed(error).await.is_err() {
                return false;
            }
            *state = Owed::Flush;
        }
        if framed.flush().await.is_err() {
            return false;
        }
        self.owed = None;
        true
    }
}

/// What a line turned out to be.
#[derive(Debug)]
enum Decoded {
    Message(Box<ClientJsonRpcMessage>),
    /// Nothing to answer: blank, not JSON, or a notification rmcp ignores.
    Skip,
    /// JSON of the wrong shape.
    Invalid(Box<Refused>),
}

/// The answer to a line of the wrong shape: rmcp's "invalid request", with
/// the line's id when it is a 2.0 request (a `method` and a plain id: a key given
/// twice, say), whose client waits for that id; with none for anything else
/// (a response is never answered by id). A request to a method the server
/// serves whose params are not an object is fine but for them, so it gets
/// invalid params (SPEC §3: -32602).
#[derive(Debug, Clone)]
struct Refused {
    error: ErrorData,
    id: Option<RequestId>,
}

impl Refused {
    /// `line` is JSON that rmcp could not read as a message.
    fn of(line: &[u8]) -> Self {
        let value: serde_json::Value = serde_json::from_slice(line).unwrap_or_default();
        let id = match value.get("id") {
            Some(serde_json::Value::Number(n)) => n.as_i64().map(RequestId::Number),
            Some(serde_json::Value::String(s)) => Some(RequestId::String(s.as_str().into())),
            _ => None,
        };
        match (crate::mcp::params_not_object(&value), id) {
            (Some(method), Some(id)) => Self {
                error: ErrorData::invalid_params(
                    crate::mcp::params_not_object_message(method),
                    None,
                ),
                id: Some(id),
            },
            (_, id) => Self {
                error: ErrorData::invalid_request("Invalid request", None),
                id: id.filter(|_| is_request(&value)),
            },
        }
    }
}

impl Refused {
    /// `line` gives a key twice in one object ([`unique_keys`]): refused
    /// whole, answered to its id when it is a request.
    fn duplicate(line: &[u8]) -> Self {
        Self {
            error: ErrorData::invalid_request(unique_keys::DUPLICATE_KEY, None),
            ..Self::of(line)
        }
    }
}

/// Whether `value` reads as a JSON-RPC 2.0 request: a string `method`, and
/// neither `result` nor `error`.
fn is_request(value: &serde_json::Value) -> bool {
    value.get("jsonrpc").and_then(serde_json::Value::as_str) == Some("2.0")
        && value
            .get("method")
            .is_some_and(serde_json::Value::is_string)
        && value.get("result").is_none()
        && value.get("error").is_none()
}

/// Decodes one line (without its newline) as rmcp's transport would.
fn decode(line: &[u8]) -> Decoded {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match read(line) {
        Decoded::Message(_) if unique_keys::duplicated(line) => {
            Decoded::Invalid(Box::new(Refused::duplicate(line)))
        }
        decoded => decoded,
    }
}

/// `line` as rmcp reads it.
fn read(line: &[u8]) -> Decoded {
    if let Some(call) = call_tool(line) {
        return Decoded::Message(Box::new(call));
    }
    // rmcp's codec tries exactly this first; only a line it refuses needs
    // the codec's tolerance (a byte order mark, unknown notifications).
    if let Ok(message) = serde_json::from_slice(line) {
        return Decoded::Message(Box::new(message));
    }
    let mut buf = BytesMut::with_capacity(line.len() + 1);
    buf.extend_from_slice(line);
    buf.extend_from_slice(b"\n");
    match JsonRpcMessageCodec::<ClientJsonRpcMessage>::default().decode(&mut buf) {
        Ok(Some(message)) => Decoded::Message(Box::new(message)),
        Ok(None) => Decoded::Skip,
        Err(JsonRpcMessageCodecError::Serde(e))
            if matches!(
                e.classify(),
                serde_json::error::Category::Data | serde_json::error::Category::Io
            ) =>
        {
            tracing::debug!(error = %e, "a line of the wrong shape");
            Decoded::Invalid(Box::new(Refused::of(line)))
        }
        Err(e) => {
            tracing::debug!(error = %e, "ignoring a line that is not JSON");
            Decoded::Skip
        }
    }
}

/// A `tools/call` request as rmcp reads one, noting the keys that would make
/// it another kind of message (rmcp goes by which keys are present, even
/// with a `null` value).
#[derive(Deserialize)]
struct CallLine {
    jsonrpc: JsonRpcVersion2_0,
    id: RequestId,
    #[serde(flatten)]
    request: CallToolRequest,
    #[serde(default, rename = "result", deserialize_with = "present")]
    has_result: bool,
    #[serde(default, rename = "error", deserialize_with = "present")]
    has_error: bool,
}

/// Called only for a key that is there.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

/// `line` (without its line end) as a `tools/call` request, when it plainly is one.
fn call_tool(line: &[u8]) -> Option<ClientJsonRpcMessage> {
    // Most other lines (pings, notifications) do not even hold the name.
    memchr::memmem::find(line, b"tools/call")?;
    let call: CallLine = serde_json::from_slice(line).ok()?;
    if call.has_result || call.has_error {
        return None;
    }
    Some(JsonRpcMessage::Request(JsonRpcRequest {
        jsonrpc: call.jsonrpc,
        id: call.id,
        request: ClientRequest::CallToolRequest(call.request),
    }))
}

impl<R, W> Transport<RoleServer> for LineTransport<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let write = Arc::clone(&self.write);
        async move {
            match write.lock().await.as_mut() {
                Some(framed) => framed.send(item).await.map_err(Into::into),
                None => Err(std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "Transport is closed",
                )),
            }
        }
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        loop {
            if !self.pay().await {
                return None;
            }
            let line = match std::future::poll_fn(|cx| self.lines.poll_line(cx)).await {
                Ok(Some(line)) => line,
                Ok(None) => return None,
                Err(e) => {
                    tracing::error!("Error reading from stream: {e}");
                    return None;
                }
            };
            match decode(&line) {
                Decoded::Message(message) => return Some(*message),
                Decoded::Skip => {}
                Decoded::Invalid(refused) => self.owed = Some(Owed::Queue(refused)),
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        drop(self.write.lock().await.take());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What rmcp's own decode makes of `line`.
    fn rmcp_decode(line: &str) -> Option<serde_json::Value> {
        let mut buf = BytesMut::from(format!("{line}\n").as_bytes());
        JsonRpcMessageCodec::<ClientJsonRpcMessage>::default()
            .decode(&mut buf)
            .ok()
            .flatten()
            .map(|m| serde_json::to_value(m).unwrap())
    }

    #[test]
    fn tool_calls_decode_as_rmcp_decodes_them() {
        let calls = [
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"check_messages","arguments":{"conversation_id":"c","limit":3}}}"#,
            r#"{"jsonrpc":"2.0","id":"x-1","method":"tools/call","params":{"name":"t","arguments":{},"_meta":{"progressToken":5,"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
            r#"{"params":{"name":"t"},"method":"tools/call","id":0,"jsonrpc":"2.0"}"#,
            "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"t\"}}\r",
        ];
        for line in calls {
            let Decoded::Message(direct) = decode(line.as_bytes()) else {
                panic!("{line}");
            };
            assert!(
                call_tool(line.trim_end_matches('\r').as_bytes()).is_some(),
                "{line}"
            );
            assert_eq!(
                Some(serde_json::to_value(*direct).unwrap()),
                rmcp_decode(line),
                "{line}"
            );
        }
    }

    #[test]
    fn anything_else_is_left_to_rmcp() {
        for line in [
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/whatever"}"#,
            r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"t"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"},"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"},"error":{"code":1,"message":"m"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"},"result":null}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"},"error":null}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"tools/call","params":{"name":"t"}}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"t"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"ping","params":{"name":"t"}}"#,
        ] {
            assert!(call_tool(line.as_bytes()).is_none(), "{line}");
            let ours = match decode(line.as_bytes()) {
                Decoded::Message(m) => Some(serde_json::to_value(*m).unwrap()),
                _ => None,
            };
            assert_eq!(ours, rmcp_decode(line), "{line}");
        }
    }

    #[test]
    fn odd_lines_get_rmcp_s_treatment() {
        assert!(matches!(decode(b""), Decoded::Skip));
        assert!(matches!(decode(b"   "), Decoded::Skip));
        // A notification of a method rmcp does not know, that it cannot decode.
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","method":"notifications/whatever","params":5}"#),
            Decoded::Skip
        ));
        assert!(matches!(decode(b"{}"), Decoded::Invalid(_)));
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","id":1}"#),
            Decoded::Invalid(r) if r.id.is_none()
        ));
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[]}"#),
            Decoded::Invalid(r) if r.id == Some(RequestId::Number(1))
        ));
        // A key given twice: refused, but answered to its id.
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","id":5,"method":"tools/list","method":"prompts/list"}"#),
            Decoded::Invalid(r) if r.id == Some(RequestId::Number(5))
        ));
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","id":"x","method":"ping","jsonrpc":"2.0"}"#),
            Decoded::Invalid(r) if r.id == Some(RequestId::String("x".into()))
        ));
        // A response of the wrong shape is never answered by its id.
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","id":2,"result":{},"result":{}}"#),
            Decoded::Invalid(r) if r.id.is_none()
        ));
    }
}
