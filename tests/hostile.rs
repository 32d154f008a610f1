//! Hostile input over the wire: raw bytes written to a real server's stdin.
//! Malformed JSON, JSON that is not JSON-RPC, unknown methods, messages
//! before `initialize`, duplicate ids, a 10 MB line, deep nesting, invalid
//! UTF-8, NUL bytes, numbers out of range, every argument of every tool with
//! every wrong JSON type, `wait_seconds: 1e308`. Each gets its proper answer
//! (a JSON-RPC error with its id where one can be found, a tool error, or —
//! for a notification or a stray response — nothing), a `ping` right after
//! each is answered, the server's peak memory (VmHWM) stays bounded across
//! repeated rounds, and a normal session works at the end.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::util::*;

/// A server driven through raw bytes.
struct Raw {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    out: tokio::sync::mpsc::UnboundedReceiver<Value>,
    stderr: tokio::task::JoinHandle<Vec<u8>>,
    sentinel: u64,
    /// Hostile inputs written so far.
    tried: usize,
}

/// What one hostile line must be answered with.
#[derive(Debug, Clone)]
enum Expect {
    /// A JSON-RPC error with this id (`Value::Null`: none) and one of these codes.
    Error(Value, &'static [i64]),
    /// A successful result with this id.
    Result(Value),
    /// A tool result with `isError` and this code.
    ToolError(Value, &'static str),
}

const PARSE: &[i64] = &[-32700];
const INVALID_REQUEST: &[i64] = &[-32600];
/// A line with no recoverable id: JSON-RPC asks for -32700 (parse) or -32600
/// (invalid request), both with a null id; the server answers the latter.
const NO_ID: &[i64] = &[-32700, -32600];
const NOT_FOUND: &[i64] = &[-32601];
/// A broken line with an id before `initialize`: rmcp's handshake answers the
/// guard's stand-in for it as a request without protocol metadata (-32602).
const PRE_INIT_PARSE: &[i64] = &[-32700, -32602];
const INVALID_PARAMS: &[i64] = &[-32602];
/// `tools/call` with unusable params: invalid params, or no such method as
/// rmcp sees it (its typed request falls back to an unknown one).
const BAD_CALL: &[i64] = &[-32602, -32601, -32600];

impl Raw {
    async fn spawn(env: &TestEnv) -> Raw {
        let mut cmd = tokio::process::Command::from(env.serve_command(&[]));
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn mcp-bridge serve");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let (tx, out) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let value: Value = serde_json::from_slice(&line).unwrap_or_else(|e| {
                    panic!(
                        "stdout carried a line that is not JSON ({e}): {:?}",
                        String::from_utf8_lossy(&line[..line.len().min(300)])
                    )
                });
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let stderr = tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = err.read_to_end(&mut buf).await;
            buf
        });
        Raw {
            child,
            stdin,
            out,
            stderr,
            sentinel: 0,
            tried: 0,
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        tokio::time::timeout(Duration::from_secs(30), async {
            self.stdin.write_all(bytes).await.expect("write stdin");
            if !bytes.ends_with(b"\n") {
                self.stdin.write_all(b"\n").await.expect("write stdin");
            }
            self.stdin.flush().await.expect("flush stdin");
        })
        .await
        .expect("the server stopped reading its stdin");
    }

    async fn next(&mut self, waiting_for: &str) -> Value {
        tokio::time::timeout(EVENT_TIMEOUT, self.out.recv())
            .await
            .unwrap_or_else(|_| panic!("no answer while waiting for {waiting_for}"))
            .unwrap_or_else(|| panic!("the server closed stdout while waiting for {waiting_for}"))
    }

    /// Writes `line`, then a `ping` with a fresh id, and reads until the ping
    /// is answered and every expected answer has arrived; anything else fails.
    async fn exchange(&mut self, what: &str, line: &[u8], expect: &[Expect]) {
        self.tried += 1;
        self.sentinel += 1;
        let ping =
            json!({"jsonrpc": "2.0", "id": format!("ping-{}", self.sentinel), "method": "ping"});
        self.write(line).await;
        self.write(ping.to_string().as_bytes()).await;
        let mut open: Vec<Expect> = expect.to_vec();
        let mut pinged = false;
        while !pinged || !open.is_empty() {
            let msg = self.next(what).await;
            if msg["id"] == ping["id"] {
                assert!(
                    msg.get("result").is_some(),
                    "{what}: ping after it failed: {msg}"
                );
                pinged = true;
                continue;
            }
            let at = open
                .iter()
                .position(|e| matches(e, &msg))
                .unwrap_or_else(|| {
                    panic!(
                        "{what}: unexpected answer {}; expected {open:?}",
                        shorten(&msg)
                    )
                });
            open.remove(at);
        }
    }

    /// Peak resident memory of the server, in KiB.
    fn hwm_kib(&self) -> u64 {
        let pid = self.child.id().expect("server running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }

    /// Closes stdin and waits for a clean exit; returns stderr.
    async fn close(self) -> String {
        let Raw {
            mut child,
            stdin,
            stderr,
            ..
        } = self;
        drop(stdin);
        let status = tokio::time::timeout(EVENT_TIMEOUT, child.wait())
            .await
            .expect("server exits when stdin closes")
            .expect("wait");
        let stderr = String::from_utf8_lossy(&stderr.await.unwrap_or_default()).into_owned();
        assert!(status.success(), "server exited with {status:?}:\n{stderr}");
        stderr
    }
}

fn matches(expect: &Expect, msg: &Value) -> bool {
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    match expect {
        Expect::Error(want, codes) => {
            id == *want
                && msg["error"]["code"]
                    .as_i64()
                    .is_some_and(|c| codes.contains(&c))
                && msg["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
        }
        Expect::Result(want) => id == *want && msg.get("result").is_some(),
        Expect::ToolError(want, code) => {
            id == *want
                && msg["result"]["isError"] == true
                && raw_error_code(&msg["result"]) == Some(*code)
        }
    }
}

fn shorten(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 400 {
        format!("{}… ({} bytes)", &s[..400], s.len())
    } else {
        s
    }
}

fn request(id: u64, method: &str, params: Value) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
        .to_string()
        .into_bytes()
}

fn tool_call(id: u64, tool: &str, arguments: Value) -> Vec<u8> {
    request(
        id,
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
    )
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"hostile","version":"0"}}}"#;

/// Messages before `initialize`: stray ones are dropped, requests answered,
/// and the handshake still works afterwards.
async fn before_initialize(raw: &mut Raw) {
    let none: &[Expect] = &[];
    raw.exchange(
        "initialized notification first",
        br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        none,
    )
    .await;
    raw.exchange(
        "a cancellation first",
        br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}"#,
        none,
    )
    .await;
    raw.exchange(
        "a response first",
        br#"{"jsonrpc":"2.0","id":5,"result":{}}"#,
        none,
    )
    .await;
    raw.exchange(
        "an error response first",
        br#"{"jsonrpc":"2.0","id":6,"error":{"code":1,"message":"x"}}"#,
        none,
    )
    .await;
    raw.exchange(
        "tools/list before initialize",
        &request(1, "tools/list", json!({})),
        &[Expect::Error(json!(1), INVALID_PARAMS)],
    )
    .await;
    raw.exchange(
        "tools/call before initialize",
        &tool_call(
            2,
            "create_conversation",
            json!({"my_role": "x", "partner_role": "y"}),
        ),
        &[Expect::Error(json!(2), INVALID_PARAMS)],
    )
    .await;
    raw.exchange(
        "initialize without params",
        br#"{"jsonrpc":"2.0","id":7,"method":"initialize"}"#,
        &[Expect::Error(json!(7), INVALID_PARAMS)],
    )
    .await;
    raw.exchange(
        "garbage before initialize",
        b"hello?",
        &[Expect::Error(Value::Null, NO_ID)],
    )
    .await;
    raw.exchange(
        "truncated initialize",
        &INITIALIZE.as_bytes()[..60],
        &[Expect::Error(json!("init"), PRE_INIT_PARSE)],
    )
    .await;
    raw.exchange(
        "initialize",
        INITIALIZE.as_bytes(),
        &[Expect::Result(json!("init"))],
    )
    .await;
    raw.write(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .await;
}

/// Lines that are not usable JSON-RPC, each with its answer.
fn wire_cases() -> Vec<(&'static str, Vec<u8>, Vec<Expect>)> {
    let mut cases: Vec<(&'static str, Vec<u8>, Vec<Expect>)> = vec![
        (
            "truncated JSON with an id",
            br#"{"jsonrpc":"2.0","id":101,"method":"ping""#.to_vec(),
            vec![Expect::Error(json!(101), PARSE)],
        ),
        (
            "trailing garbage",
            br#"{"jsonrpc":"2.0","id":102,"method":"ping"} x"#.to_vec(),
            vec![Expect::Error(json!(102), PARSE)],
        ),
        (
            "a string id in broken JSON",
            br#"{"id": "abc", "jsonrpc": 2.0.0}"#.to_vec(),
            vec![Expect::Error(json!("abc"), PARSE)],
        ),
        ("plain text", b"GET / HTTP/1.1".to_vec(), vec![Expect::Error(Value::Null, NO_ID)]),
        ("a lone brace", b"{".to_vec(), vec![Expect::Error(Value::Null, NO_ID)]),
        ("single quotes", b"{'jsonrpc':'2.0'}".to_vec(), vec![Expect::Error(Value::Null, NO_ID)]),
        ("NaN", br#"{"jsonrpc":"2.0","id":103,"method":"ping","params":{"x":NaN}}"#.to_vec(), vec![Expect::Error(json!(103), PARSE)]),
        ("an empty array", b"[]".to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("a batch", br#"[{"jsonrpc":"2.0","id":104,"method":"ping"}]"#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("a number", b"42".to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("a string", br#""ping""#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("null", b"null".to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("true", b"true".to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("an empty object", b"{}".to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("an unrelated object", br#"{"hello":"world"}"#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("JSON-RPC 1.0", br#"{"jsonrpc":"1.0","id":105,"method":"ping"}"#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("no jsonrpc member", br#"{"id":106,"method":"ping"}"#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("a method that is a number", br#"{"jsonrpc":"2.0","id":107,"method":5}"#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("an id that is an object", br#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("an id that is a fraction", br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("an id below i64", br#"{"jsonrpc":"2.0","id":-9223372036854775809,"method":"ping"}"#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("an id of 1e400", br#"{"jsonrpc":"2.0","id":1e400,"method":"ping"}"#.to_vec(), vec![Expect::Error(Value::Null, NO_ID)]),
        ("an unknown method", request(108, "no/such/method", json!({})), vec![Expect::Error(json!(108), NOT_FOUND)]),
        ("an unoffered capability", request(109, "resources/list", json!({})), vec![Expect::Error(json!(109), NOT_FOUND)]),
        ("prompts/get", request(110, "prompts/get", json!({"name": "x"})), vec![Expect::Error(json!(110), NOT_FOUND)]),
        ("a 1 MB method name", request(111, &"m".repeat(1 << 20), json!({})), vec![Expect::Error(json!(111), NOT_FOUND)]),
        ("a method name holding a secret", request(112, "sk-proj-0123456789abcdefghijklmnopqrstuvwxyz", json!({})), vec![Expect::Error(json!(112), NOT_FOUND)]),
        ("an unknown tool", tool_call(113, "drop_database", json!({})), vec![Expect::Error(json!(113), INVALID_PARAMS)]),
        ("tools/call without params", br#"{"jsonrpc":"2.0","id":114,"method":"tools/call"}"#.to_vec(), vec![Expect::Error(json!(114), BAD_CALL)]),
        ("tools/call with params as a string", br#"{"jsonrpc":"2.0","id":115,"method":"tools/call","params":"x"}"#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("a tool name that is a number", request(116, "tools/call", json!({"name": 5, "arguments": {}})), vec![Expect::Error(json!(116), BAD_CALL)]),
        ("arguments as an array", request(117, "tools/call", json!({"name": "send_to_partner", "arguments": []})), vec![Expect::Error(json!(117), BAD_CALL)]),
        ("arguments as a string", request(118, "tools/call", json!({"name": "send_to_partner", "arguments": "x"})), vec![Expect::Error(json!(118), BAD_CALL)]),
        ("no arguments", request(119, "tools/call", json!({"name": "check_messages"})), vec![Expect::Error(json!(119), INVALID_PARAMS)]),
        ("invalid UTF-8 in a string", b"{\"jsonrpc\":\"2.0\",\"id\":120,\"method\":\"ping\",\"params\":{\"x\":\"\xff\xfe\"}}".to_vec(), vec![Expect::Error(json!(120), PARSE)]),
        ("an overlong UTF-8 encoding", b"{\"jsonrpc\":\"2.0\",\"id\":121,\"method\":\"ping\",\"params\":{\"x\":\"\xc0\xaf\"}}".to_vec(), vec![Expect::Error(json!(121), PARSE)]),
        ("a UTF-16 surrogate in UTF-8", b"{\"jsonrpc\":\"2.0\",\"id\":122,\"method\":\"ping\",\"params\":{\"x\":\"\xed\xa0\x80\"}}".to_vec(), vec![Expect::Error(json!(122), PARSE)]),
        ("bare invalid bytes", b"\xff\xfe\xfd\x00\x01".to_vec(), vec![Expect::Error(Value::Null, NO_ID)]),
        ("a lone surrogate escape", br#"{"jsonrpc":"2.0","id":123,"method":"ping","params":{"x":"\ud800"}}"#.to_vec(), vec![Expect::Error(json!(123), PARSE)]),
        ("a raw NUL in a string", b"{\"jsonrpc\":\"2.0\",\"id\":124,\"method\":\"ping\",\"params\":{\"x\":\"a\x00b\"}}".to_vec(), vec![Expect::Error(json!(124), PARSE)]),
        ("a raw NUL between tokens", b"{\"jsonrpc\":\"2.0\",\x00\"id\":125,\"method\":\"ping\"}".to_vec(), vec![Expect::Error(json!(125), PARSE)]),
        ("an escaped NUL is fine", br#"{"jsonrpc":"2.0","id":126,"method":"ping","params":{"x":"a\u0000b"}}"#.to_vec(), vec![Expect::Result(json!(126))]),
        ("a limit of 1e400", br#"{"jsonrpc":"2.0","id":127,"method":"tools/call","params":{"name":"check_messages","arguments":{"limit":1e400}}}"#.to_vec(), vec![Expect::Error(json!(127), PARSE)]),
        ("a limit of 2^64", br#"{"jsonrpc":"2.0","id":128,"method":"tools/call","params":{"name":"check_messages","arguments":{"conversation_id":"conv_0123456789abcdef","session_id":"a","token":"0000000000000000000000000000000000000000000000000000000000000000","limit":18446744073709551616}}}"#.to_vec(), vec![Expect::Error(json!(128), INVALID_PARAMS)]),
        ("a negative limit", tool_call(129, "check_messages", json!({"conversation_id": "conv_0123456789abcdef", "session_id": "a", "token": "0".repeat(64), "limit": -1})), vec![Expect::Error(json!(129), INVALID_PARAMS)]),
        ("wait_seconds 1e308", tool_call(130, "check_messages", json!({"conversation_id": "conv_0123456789abcdef", "session_id": "a", "token": "0".repeat(64), "wait_seconds": 1e308})), vec![Expect::Error(json!(130), INVALID_PARAMS)]),
        ("wait_seconds -1e308", tool_call(131, "check_messages", json!({"conversation_id": "conv_0123456789abcdef", "session_id": "a", "token": "0".repeat(64), "wait_seconds": -1e308})), vec![Expect::Error(json!(131), INVALID_PARAMS)]),
        ("wait_seconds 5e-324", tool_call(132, "check_messages", json!({"conversation_id": "conv_0123456789abcdef", "session_id": "a", "token": "0".repeat(64), "wait_seconds": 5e-324})), vec![Expect::ToolError(json!(132), "auth_failed")]),
        ("timeout_s of 2^32", tool_call(133, "enable_yolo_mode", json!({"conversation_id": "conv_0123456789abcdef", "session_id": "a", "token": "0".repeat(64), "mode": "safe", "workspace": "/tmp", "timeout_s": 4_294_967_296_u64})), vec![Expect::Error(json!(133), INVALID_PARAMS)]),
    ];
    cases.push((
        "an integer of 400 digits",
        format!(
            r#"{{"jsonrpc":"2.0","id":134,"method":"ping","params":{{"n":{}}}}}"#,
            "9".repeat(400)
        )
        .into_bytes(),
        vec![Expect::Error(json!(134), PARSE)],
    ));
    // Nesting: within serde_json's depth limit it is just a wrong type; past it, a parse error.
    let nested = |depth: usize| -> Vec<u8> {
        let mut line = br#"{"jsonrpc":"2.0","id":140,"method":"tools/call","params":{"name":"send_to_partner","arguments":{"message":"#.to_vec();
        line.extend(std::iter::repeat_n(b'[', depth));
        line.extend(std::iter::repeat_n(b']', depth));
        line.extend_from_slice(b"}}}");
        line
    };
    cases.push((
        "arrays nested 100 deep",
        nested(100),
        vec![Expect::Error(json!(140), INVALID_PARAMS)],
    ));
    let mut deep = br#"{"jsonrpc":"2.0","id":141,"method":"ping","params":"#.to_vec();
    deep.extend(std::iter::repeat_n(b'[', 1_000_000));
    cases.push((
        "arrays nested a million deep, unclosed",
        deep,
        vec![Expect::Error(json!(141), PARSE)],
    ));
    let mut objects = br#"{"jsonrpc":"2.0","id":142,"method":"ping","params":"#.to_vec();
    for _ in 0..10_000 {
        objects.extend_from_slice(br#"{"a":"#);
    }
    objects.extend_from_slice(b"1");
    objects.extend(std::iter::repeat_n(b'}', 10_001));
    cases.push((
        "objects nested 10 000 deep",
        objects,
        vec![Expect::Error(json!(142), PARSE)],
    ));
    // Long lines: 10 MB with and without an id, and just under the 4 MiB limit.
    let mut huge = br#"{"jsonrpc":"2.0","id":150,"method":"tools/call","params":{"name":"send_to_partner","arguments":{"message":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 10 << 20));
    huge.extend_from_slice(br#""}}}"#);
    cases.push((
        "a 10 MB line",
        huge,
        vec![Expect::Error(json!(150), INVALID_REQUEST)],
    ));
    let mut anonymous = vec![b'['; 1];
    anonymous.extend(std::iter::repeat_n(b'7', 10 << 20));
    cases.push((
        "a 10 MB line without an id",
        anonymous,
        vec![Expect::Error(Value::Null, NO_ID)],
    ));
    let mut near = br#"{"jsonrpc":"2.0","id":151,"method":"tools/call","params":{"name":"send_to_partner","arguments":{"conversation_id":"conv_0123456789abcdef","session_id":"a","token":"0000000000000000000000000000000000000000000000000000000000000000","message":""#.to_vec();
    near.extend(std::iter::repeat_n(b'y', (4 << 20) - 1024));
    near.extend_from_slice(br#""}}}"#);
    cases.push((
        "a 4 MB message",
        near,
        vec![Expect::ToolError(json!(151), "auth_failed")],
    ));
    let mut escapes = br#"{"jsonrpc":"2.0","id":152,"method":"tools/call","params":{"name":"send_to_partner","arguments":{"conversation_id":"conv_0123456789abcdef","session_id":"a","token":"0000000000000000000000000000000000000000000000000000000000000000","message":""#.to_vec();
    for _ in 0..300_000 {
        escapes.extend_from_slice(br"\ud83e\udd80");
    }
    escapes.extend_from_slice(br#""}}}"#);
    cases.push((
        "3.6 MB of escaped emoji",
        escapes,
        vec![Expect::ToolError(json!(152), "auth_failed")],
    ));
    cases
}

/// A valid value for each argument, as a base for the wrong-type cases.
fn valid_value(name: &str) -> Value {
    match name {
        "conversation_id" => json!("conv_0123456789abcdef"),
        "session_id" => json!("a"),
        "token" => json!("0".repeat(64)),
        "my_role" | "partner_role" => json!("dev"),
        "message" => json!("hello"),
        "status" => json!("working"),
        "mode" => json!("safe"),
        "workspace" => json!("/tmp"),
        "command" => json!("ls"),
        other => panic!("no valid value known for argument {other}; extend valid_value"),
    }
}

/// The JSON types a schema accepts (an enum of strings is a string).
fn accepted_types(schema: &Value) -> BTreeSet<&'static str> {
    let mut out = BTreeSet::new();
    let mut add = |t: &str| {
        out.insert(match t {
            "string" => "string",
            "integer" => "integer",
            "number" => "number",
            "boolean" => "boolean",
            "array" => "array",
            "object" => "object",
            "null" => "null",
            other => panic!("unknown schema type {other}"),
        });
    };
    match &schema["type"] {
        Value::String(t) => add(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).for_each(add),
        _ => {}
    }
    if let Some(one_of) = schema["anyOf"].as_array().or(schema["oneOf"].as_array()) {
        for s in one_of {
            out.extend(accepted_types(s));
        }
    }
    if out.is_empty() && schema["enum"].is_array() {
        out.insert("string");
    }
    assert!(!out.is_empty(), "cannot tell the type of {schema}");
    out
}

/// Every argument of every tool with every JSON type its schema rejects.
async fn wrong_types(raw: &mut Raw, tools: &[Value]) -> usize {
    let mut id = 10_000;
    let mut tried = 0;
    for tool in tools {
        let name = tool["name"].as_str().expect("tool name");
        let schema = &tool["inputSchema"];
        let required: BTreeSet<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let properties = schema["properties"].as_object().expect("properties");
        let base: serde_json::Map<String, Value> = required
            .iter()
            .map(|k| ((*k).to_owned(), valid_value(k)))
            .collect();
        for (arg, arg_schema) in properties {
            let accepted = accepted_types(arg_schema);
            let optional = !required.contains(arg.as_str());
            let candidates = [
                ("null", json!(null)),
                ("boolean", json!(true)),
                ("integer", json!(7)),
                ("number", json!(1.5)),
                ("string", json!("text")),
                ("array", json!(["text"])),
                ("object", json!({"k": "v"})),
            ];
            for (kind, value) in candidates {
                let fits = accepted.contains(kind)
                    || (kind == "integer" && accepted.contains("number"))
                    || (kind == "null" && optional);
                if fits {
                    continue;
                }
                let mut args = base.clone();
                args.insert(arg.clone(), value);
                id += 1;
                tried += 1;
                raw.exchange(
                    "a wrong-typed argument",
                    &tool_call(id, name, Value::Object(args)),
                    &[Expect::Error(json!(id), INVALID_PARAMS)],
                )
                .await;
            }
        }
    }
    tried
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bytes_get_proper_answers_and_memory_stays_bounded() {
    let env = TestEnv::new("hostile");
    let mut raw = Raw::spawn(&env).await;
    before_initialize(&mut raw).await;
    let baseline = raw.hwm_kib();

    raw.write(&request(1, "tools/list", json!({}))).await;
    let listed = raw.next("tools/list").await;
    let tools = listed["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("tools/list answered {listed}"))
        .clone();
    assert_eq!(tools.len(), 7, "every tool is listed");

    let (mut inputs_peaks, mut peaks) = (Vec::new(), Vec::new());
    let mut wrong = 0;
    for _round in 0..3 {
        for (what, line, expect) in wire_cases() {
            raw.exchange(what, &line, &expect).await;
        }
        // Duplicate ids: JSON-RPC asks clients not to reuse an id in flight;
        // the server still answers at least once and keeps serving.
        raw.tried += 1;
        raw.write(&request(160, "ping", json!({}))).await;
        raw.write(&request(160, "ping", json!({}))).await;
        raw.write(&request(161, "ping", json!({}))).await;
        let mut seen = Vec::new();
        while !seen.contains(&json!(161)) {
            seen.push(raw.next("duplicate ids").await["id"].clone());
        }
        assert!(
            seen.contains(&json!(160)),
            "no answer to a duplicated id: {seen:?}"
        );
        raw.exchange("after duplicate ids", b"", &[]).await;
        wrong = wrong_types(&mut raw, &tools).await;
        inputs_peaks.push(raw.hwm_kib());
        // A flood of 20 000 requests in one write: all answered.
        raw.tried += 1;
        let flood: Vec<u8> = (0..20_000u64)
            .flat_map(|i| {
                let mut l = request(1_000_000 + i, "ping", json!({}));
                l.push(b'\n');
                l
            })
            .collect();
        raw.write(&flood).await;
        for _ in 0..20_000 {
            let answer = raw.next("the flood").await;
            assert!(answer.get("result").is_some(), "{answer}");
        }
        peaks.push(raw.hwm_kib());
    }

    // The connection still serves a normal session.
    raw.write(&tool_call(
        200,
        "create_conversation",
        json!({"my_role": "dev", "partner_role": "ops"}),
    ))
    .await;
    let created = raw.next("create_conversation").await;
    let conv = &created["result"]["structuredContent"];
    let args = |extra: Value| {
        let mut a = json!({"conversation_id": conv["conversation_id"], "session_id": "b", "token": conv["session_b_token"]});
        merge(&mut a, extra);
        a
    };
    raw.write(&tool_call(
        201,
        "send_to_partner",
        args(json!({"message": "still here"})),
    ))
    .await;
    assert!(raw.next("send").await["result"]["structuredContent"]["message_id"].is_i64());

    let growth_mib = |kib: u64| (kib.saturating_sub(baseline)) as f64 / 1024.0;
    let shown = |v: &[u64]| {
        v.iter()
            .map(|p| format!("{:.1}", growth_mib(*p)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    eprintln!(
        "hostile: {} hostile inputs over 3 rounds ({wrong} wrong-typed arguments and a flood of 20 000 requests per round); \
         VmHWM {:.1} MiB after initialize, growth after each round's inputs [{}] MiB, after each flood [{}] MiB",
        raw.tried,
        baseline as f64 / 1024.0,
        shown(&inputs_peaks),
        shown(&peaks),
    );
    // Bounded: the inputs (lines up to the 4 MiB limit, 10 MB lines skipped)
    // cost a few copies of the largest accepted line; 20 000 requests in flight
    // at once cost what their tasks and queued answers hold; and nothing grows
    // once every input has been seen once.
    assert!(
        growth_mib(inputs_peaks[0]) < 64.0,
        "peak memory grew by {:.1} MiB on the hostile inputs",
        growth_mib(inputs_peaks[0])
    );
    assert!(
        growth_mib(peaks[0]) < 256.0,
        "peak memory grew by {:.1} MiB with the flood",
        growth_mib(peaks[0])
    );
    assert!(
        peaks[2].saturating_sub(peaks[0]) < 8 * 1024,
        "peak memory keeps growing from round to round: {peaks:?} KiB"
    );
    let stderr = raw.close().await;
    for bad in [
        "panicked",
        "internal error",
        "sk-proj-0123456789",
        "mmmmmmmmmmmmmmmm",
    ] {
        assert!(
            !stderr.contains(bad),
            "stderr holds {bad:?}:\n{}",
            &stderr[..stderr.len().min(3000)]
        );
    }
}

/// A client that vanishes in the middle of a line: the partial line is
/// ignored and the server exits cleanly.
#[tokio::test]
async fn a_half_written_line_at_end_of_input_is_ignored() {
    let env = TestEnv::new("hostile_eof");
    let mut raw = Raw::spawn(&env).await;
    raw.write(INITIALIZE.as_bytes()).await;
    assert!(raw.next("initialize").await.get("result").is_some());
    raw.stdin
        .write_all(br#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"send_to"#)
        .await
        .expect("write");
    let stderr = raw.close().await;
    assert!(!stderr.contains("panicked"), "{stderr}");
}
