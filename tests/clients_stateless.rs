//! The stateless 2026-07-28 protocol over raw stdio, without any SDK and
//! without `initialize`: `server/discover`, `tools/list` and tool calls with
//! the per-request envelope, a domain error in its usual shape, and a request
//! without the envelope refused while the server keeps answering.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::clients::{
    HANDSHAKE_VERSIONS, SECRET, SECRET_PLACEHOLDER, STATELESS_VERSION, assert_conversation,
    assert_tool_listing, single_message,
};
use crate::util::*;

/// A `serve` process spoken to line by line, without any SDK.
struct RawServer {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: mpsc::Receiver<String>,
    next_id: i64,
}

impl RawServer {
    fn start(env: &TestEnv) -> RawServer {
        let mut child = env
            .serve_command(&[])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mcp-bridge serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take().expect("stdin");
        RawServer {
            child,
            stdin,
            lines,
            next_id: 1,
        }
    }

    /// Sends one request and returns the response with its id.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let line = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        writeln!(self.stdin, "{line}").expect("write request");
        self.stdin.flush().expect("flush");
        let deadline = Instant::now() + EVENT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let answer = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no answer to {method} (id {id}): {e}"));
            let value: Value = serde_json::from_str(&answer)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {answer}"));
            if value["id"] == json!(id) {
                assert_eq!(value["jsonrpc"], "2.0", "{value}");
                return value;
            }
            assert!(
                value.get("id").is_none(),
                "answer to another request: {value}"
            );
        }
    }

    /// Closes stdin and returns the server's stderr once it has exited.
    fn stop(mut self) -> String {
        drop(self.stdin);
        let deadline = Instant::now() + EVENT_TIMEOUT;
        while self.child.try_wait().expect("wait").is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not exit after stdin closed");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr)
            .expect("read stderr");
        stderr
    }
}

/// The per-request envelope of the stateless protocol.
fn stateless_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": STATELESS_VERSION,
        "io.modelcontextprotocol/clientCapabilities": {},
    })
}

/// A stateless `tools/call`; returns its result (asserting it is not a
/// JSON-RPC error) after checking the text copy matches the structured content.
fn stateless_call(server: &mut RawServer, tool: &str, arguments: Value) -> Value {
    let answer = server.request(
        "tools/call",
        json!({"name": tool, "arguments": arguments, "_meta": stateless_meta()}),
    );
    let result = answer
        .get("result")
        .unwrap_or_else(|| panic!("{tool}: no result: {answer}"))
        .clone();
    if result["isError"] == true {
        return result;
    }
    let text: Value = serde_json::from_str(result["content"][0]["text"].as_str().expect("text"))
        .unwrap_or_else(|e| panic!("{tool}: text copy is not JSON ({e}): {result}"));
    assert_eq!(
        text, result["structuredContent"],
        "{tool}: text copy differs from structured content"
    );
    result
}

#[test]
fn stateless_2026_07_28_without_initialize() {
    let env = TestEnv::new("stateless");
    let mut server = RawServer::start(&env);

    let discovered = server.request("server/discover", json!({"_meta": stateless_meta()}));
    let result = discovered
        .get("result")
        .unwrap_or_else(|| panic!("server/discover failed: {discovered}"));
    let versions: Vec<&str> = result["supportedVersions"]
        .as_array()
        .unwrap_or_else(|| panic!("no supportedVersions: {result}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for v in HANDSHAKE_VERSIONS.iter().chain([&STATELESS_VERSION]) {
        assert!(versions.contains(v), "{v} not offered: {versions:?}");
    }
    assert!(
        result["capabilities"]["tools"].is_object(),
        "no tools capability: {result}"
    );

    let listed = server.request("tools/list", json!({"_meta": stateless_meta()}));
    assert_tool_listing(
        listed["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("tools/list failed: {listed}")),
        "inputSchema",
        "outputSchema",
    );

    let created = stateless_call(
        &mut server,
        "create_conversation",
        json!({"my_role": "writer", "partner_role": "reader"}),
    );
    assert_ne!(created["isError"], json!(true), "{created}");
    let conv = &created["structuredContent"];
    assert_conversation(conv);
    let side = |s: &str| {
        json!({
            "conversation_id": conv["conversation_id"],
            "session_id": s,
            "token": conv[format!("session_{s}_token")],
        })
    };

    let mut send = side("a");
    send["message"] = json!(format!("key {SECRET}"));
    let sent = stateless_call(&mut server, "send_to_partner", send);
    assert_eq!(
        sent["structuredContent"]["redactions"],
        json!({"aws_access_key_id": 1}),
        "{sent}"
    );
    let inbox = stateless_call(&mut server, "check_messages", side("b"));
    let got = single_message("stateless check_messages", &inbox["structuredContent"]);
    assert_eq!(got["content"], format!("key {SECRET_PLACEHOLDER}"), "{got}");

    // A domain error keeps its shape in the stateless protocol.
    let mut wrong = side("b");
    wrong["token"] = json!("0".repeat(64));
    let refused = stateless_call(&mut server, "check_messages", wrong);
    assert_eq!(raw_error_code(&refused), Some("auth_failed"), "{refused}");

    // A request without the envelope (and no initialize before) is a JSON-RPC
    // error, and the server keeps answering.
    let bare = server.request(
        "tools/call",
        json!({"name": "check_messages", "arguments": side("b")}),
    );
    assert!(
        bare["error"]["code"].is_i64() && bare.get("result").is_none(),
        "a request without _meta on an uninitialized connection should be refused: {bare}"
    );
    let again = stateless_call(&mut server, "check_messages", side("b"));
    assert_eq!(
        again["structuredContent"],
        json!({"messages": [], "more": false}),
        "{again}"
    );

    let stderr = server.stop();
    assert!(!stderr.contains(SECRET), "the secret leaked to the log");
}
