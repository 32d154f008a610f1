//! Helpers for the HTTP tests: a real `mcp-bridge serve --http` on a free
//! loopback port (the port is read from the line the server prints), rmcp's
//! streamable HTTP client with a bearer token, and raw requests for what a
//! well-behaved client never sends.

use std::process::Stdio;
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::util::*;

/// A running `mcp-bridge serve --http`.
pub struct HttpServer {
    child: tokio::process::Child,
    /// `http://127.0.0.1:PORT/mcp` (or `https://…`).
    pub url: String,
    /// `127.0.0.1:PORT`.
    pub authority: String,
    stderr: tokio::sync::watch::Receiver<String>,
}

/// Makes a named token with `role` through the CLI and returns it.
pub fn make_token(env: &TestEnv, name: &str, role: &str) -> String {
    let out = env
        .bridge()
        .args(["http-token", "create", name, "--role", role, "--db"])
        .arg(&env.db)
        .output()
        .expect("run http-token create");
    assert!(
        out.status.success(),
        "http-token create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

impl HttpServer {
    /// `serve --http 127.0.0.1:0 --db <db>` plus `args`, with `vars`.
    pub async fn start(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> HttpServer {
        Self::try_start(env, "127.0.0.1:0", args, vars)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`HttpServer::start`] on `addr`; `Err` holds the server's stderr
    /// if it exited instead of serving.
    pub async fn try_start(
        env: &TestEnv,
        addr: &str,
        args: &[&str],
        vars: &[(&str, &str)],
    ) -> Result<HttpServer, String> {
        Self::try_start_with(env, addr, args, vars, |_| {}).await
    }

    /// Like [`HttpServer::try_start`], the command adjusted by `adjust` first.
    pub async fn try_start_with(
        env: &TestEnv,
        addr: &str,
        args: &[&str],
        vars: &[(&str, &str)],
        adjust: impl FnOnce(&mut std::process::Command),
    ) -> Result<HttpServer, String> {
        let mut cmd = env.serve_command(vars);
        cmd.args(["--http", addr]).args(args);
        adjust(&mut cmd);
        let mut cmd = tokio::process::Command::from(cmd);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn mcp-bridge serve --http");
        let err = child.stderr.take().expect("piped stderr");
        let (tx, mut stderr) = tokio::sync::watch::channel(String::new());
        tokio::spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tx.send_modify(|all| {
                    all.push_str(&line);
                    all.push('\n');
                });
            }
        });
        let marker = "mcp-bridge: serving MCP on ";
        let found = matches!(
            tokio::time::timeout(EVENT_TIMEOUT, stderr.wait_for(|all| all.contains(marker))).await,
            Ok(Ok(_))
        );
        let text = stderr.borrow().clone();
        let url = match found {
            true => text
                .lines()
                .find_map(|l| l.strip_prefix(marker))
                .expect("marker line")
                .to_owned(),
            false => {
                let _ = tokio::time::timeout(EVENT_TIMEOUT, child.wait()).await;
                return Err(stderr.borrow().clone());
            }
        };
        let authority = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .expect("authority")
            .to_owned();
        Ok(HttpServer {
            child,
            url,
            authority,
            stderr,
        })
    }

    /// An rmcp client connected with `token` (none: no header).
    pub async fn client(&self, token: Option<&str>) -> Client {
        let mut config = StreamableHttpClientTransportConfig::with_uri(self.url.clone());
        if let Some(token) = token {
            config = config.auth_header(token);
        }
        let transport = StreamableHttpClientTransport::from_config(config);
        tokio::time::timeout(EVENT_TIMEOUT, ().serve(transport))
            .await
            .expect("handshake in time")
            .unwrap_or_else(|e| panic!("MCP handshake over HTTP failed: {e}\n{}", self.stderr()))
    }

    /// Everything the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.borrow().clone()
    }

    /// The server's process id.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id().expect("running")).expect("pid")
    }

    /// Sends `signal` to the server.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let r = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(r, 0, "kill");
    }

    /// SIGTERM, then waits for the exit; returns its status and stderr.
    pub async fn terminate(mut self) -> (std::process::ExitStatus, String) {
        self.signal(libc::SIGTERM);
        let status = tokio::time::timeout(Duration::from_secs(40), self.child.wait())
            .await
            .expect("the server exits after SIGTERM")
            .expect("wait");
        // The reader task may still be copying the last lines.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.stderr.wait_for(|_| false)).await;
        (status, self.stderr())
    }
}

/// A raw answer: status, headers, body.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    /// A header's value, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The JSON-RPC message in a JSON or single-event SSE body.
    pub fn message(&self) -> Value {
        let text = if self.header("content-type").starts_with("text/event-stream") {
            self.body
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .rfind(|l| !l.is_empty())
                .unwrap_or_default()
                .to_owned()
        } else {
            self.body.clone()
        };
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// POSTs `body` to `url` with MCP's headers, `token` and `extra` headers.
pub async fn post(
    url: &str,
    token: Option<&str>,
    extra: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> Answer {
    try_post(url, token, extra, body)
        .await
        .unwrap_or_else(|e| panic!("HTTP request: {e}"))
}

/// [`post`], handing back a transport failure (e.g. the server closed the
/// connection while the body was still being sent).
pub async fn try_post(
    url: &str,
    token: Option<&str>,
    extra: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> Result<Answer, reqwest::Error> {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    for (k, v) in extra {
        request = request.header(*k, *v);
    }
    let response = tokio::time::timeout(EVENT_TIMEOUT, request.body(body).send())
        .await
        .expect("answer in time")?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// GETs `url` with `extra` headers.
pub async fn get(url: &str, extra: &[(&str, &str)]) -> Answer {
    let mut request = reqwest::Client::new().get(url);
    for (k, v) in extra {
        request = request.header(*k, *v);
    }
    let response = request.send().await.expect("HTTP request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    Answer {
        status,
        headers,
        body,
    }
}

/// The per-request envelope of the stateless 2026-07-28 protocol.
pub fn stateless_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    })
}

/// A stateless `tools/call` request body.
pub fn stateless_call(id: i64, tool: &str, arguments: Value) -> String {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments, "_meta": stateless_meta()},
    })
    .to_string()
}

/// Headers a stateless 2026-07-28 request carries (SEP-2243 asks for the
/// method and, for `tools/call`, the tool name beside the body).
pub const STATELESS_HEADERS: &[(&str, &str)] = &[
    ("mcp-protocol-version", "2026-07-28"),
    ("mcp-method", "tools/call"),
];

/// POSTs a stateless `tools/call` of `tool` with every header it needs.
pub async fn stateless(
    url: &str,
    token: Option<&str>,
    id: i64,
    tool: &str,
    arguments: Value,
) -> Answer {
    let mut headers = STATELESS_HEADERS.to_vec();
    headers.push(("mcp-name", tool));
    post(url, token, &headers, stateless_call(id, tool, arguments)).await
}

/// Reads until the server closes the connection; what it sent.
pub async fn until_closed(tcp: &mut TcpStream) -> String {
    let mut got = Vec::new();
    tokio::time::timeout(EVENT_TIMEOUT, tcp.read_to_end(&mut got))
        .await
        .expect("the server closes the connection")
        .ok();
    String::from_utf8_lossy(&got).into_owned()
}

/// A connection to `authority` that has sent `text`.
pub async fn sent(authority: &str, text: &[u8]) -> TcpStream {
    let mut tcp = TcpStream::connect(authority).await.expect("connect");
    tcp.write_all(text).await.expect("write");
    tcp
}

/// The protocol version of MCP sessions over HTTP in these tests.
pub const SESSION_VERSION: &str = "2025-06-18";

/// The headers of a request in MCP session `session`.
pub fn session_headers(session: &str) -> [(&str, &str); 2] {
    [
        ("mcp-session-id", session),
        ("mcp-protocol-version", SESSION_VERSION),
    ]
}

/// Opens an MCP session on `url` as `token`; its `Mcp-Session-Id`.
pub async fn open_session(url: &str, token: &str) -> String {
    let init = serde_json::json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": SESSION_VERSION, "capabilities": {},
                   "clientInfo": {"name": "session-test", "version": "1"}}
    });
    let opened = post(url, Some(token), &[], init.to_string()).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    let session = opened.header("mcp-session-id").to_owned();
    let done = serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let acked = post(
        url,
        Some(token),
        &session_headers(&session),
        done.to_string(),
    )
    .await;
    assert!(acked.status < 300, "{}", acked.body);
    session
}

/// `tools/call` of `tool` in MCP session `session` on `url` as `token`.
pub async fn session_call(
    url: &str,
    token: &str,
    session: &str,
    tool: &str,
    arguments: Value,
) -> Answer {
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments}
    });
    post(
        url,
        Some(token),
        &session_headers(session),
        body.to_string(),
    )
    .await
}

/// The structured result of a successful call.
pub fn answer_result(answer: &Answer) -> Value {
    assert_eq!(answer.status, 200, "{}", answer.body);
    let message = answer.message();
    let result = &message["result"];
    assert!(
        !result.is_null() && result["isError"] != serde_json::json!(true),
        "{}",
        answer.body
    );
    result["structuredContent"].clone()
}

/// Waits until side `side`'s `check_messages` in conversation `id` has spent
/// one request of its minute quota: the call has reached the tool, so a
/// client that gives up now gives up mid-wait.
pub async fn wait_check_started(env: &TestEnv, id: &str, side: &str) {
    wait_until("the long-poll to spend its quota", || {
        env.count(&format!(
            "SELECT coalesce(sum(count), 0) FROM rate_buckets WHERE conversation_id = '{id}'
               AND side = '{side}' AND class = 'check_messages' AND \"window\" = 'minute'"
        )) == 1
    })
    .await;
}

/// Waits until side `side`'s given-up `check_messages` in conversation `id`
/// is audited, once, as cancelled.
pub async fn wait_check_cancelled(env: &TestEnv, id: &str, side: &str) {
    wait_until("the given-up call to be audited as cancelled", || {
        env.count(&format!(
            "SELECT count(*) FROM audit_log WHERE conversation_id = '{id}'
               AND side = '{side}' AND action = 'check_messages' AND code = 'cancelled'"
        )) == 1
    })
    .await;
}
