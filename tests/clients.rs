//! Interoperability with MCP clients that nobody on this project wrote: the
//! official Python SDK (2.x and 1.x), the MCP Inspector CLI, and a raw
//! stateless 2026-07-28 exchange without `initialize`.
//!
//! The clients are provisioned by the tests themselves, once, into
//! `<target dir>/mcp-clients/` (see `provision.rs`).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::provision::{PY1_SPEC, PY2_SPEC, inspector, python_env, run};
use crate::util::*;

/// A fake AWS access key id of the real shape (not the documented example key,
/// which is deliberately left alone).
const SECRET: &str = "AKIAZ7Q3K5M2N8P4R6TX";
const SECRET_PLACEHOLDER: &str = "AWS_KEY_REDACTED";

/// The twelve tools, sorted.
const TOOLS: [&str; 12] = [
    "check_messages",
    "check_partner_status",
    "create_conversation",
    "create_invite",
    "enable_yolo_mode",
    "execute_command",
    "join_conversation",
    "list_my_conversations",
    "remove_participant",
    "send_message",
    "send_to_partner",
    "update_my_status",
];

/// Protocol versions negotiated through `initialize`.
const HANDSHAKE_VERSIONS: [&str; 2] = ["2025-06-18", "2025-11-25"];
const STATELESS_VERSION: &str = "2026-07-28";

/// How long one client run may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Asserts `id` is a conversation id and `a`/`b` distinct 64-hex tokens.
fn assert_conversation(created: &Value) {
    let id = created["conversation_id"].as_str().unwrap_or_default();
    assert!(
        id.starts_with("conv_") && is_hex(&id[5..], 16),
        "bad conversation id in {created}"
    );
    let (a, b) = (
        created["session_a_token"].as_str().unwrap_or_default(),
        created["session_b_token"].as_str().unwrap_or_default(),
    );
    assert!(
        is_hex(a, 64) && is_hex(b, 64) && a != b,
        "bad tokens in {created}"
    );
}

/// Asserts a listing holds the twelve tools, each with a closed input schema
/// and an object output schema. `input`/`output` name the schema keys.
fn assert_tool_listing(tools: &[Value], input: &str, output: &str) {
    let mut names: Vec<&str> = tools
        .iter()
        .map(|t| t["name"].as_str().expect("tool name"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, TOOLS, "tools listed");
    for tool in tools {
        let name = &tool["name"];
        let schema = &tool[input];
        assert_eq!(schema["type"], "object", "{name}: input schema {schema}");
        assert_eq!(
            schema["additionalProperties"],
            json!(false),
            "{name}: input schema must refuse unknown fields: {schema}"
        );
        let out = &tool[output];
        assert_eq!(out["type"], "object", "{name}: output schema {out}");
        assert!(
            out["properties"].as_object().is_some_and(|p| !p.is_empty()),
            "{name}: output schema without properties: {out}"
        );
    }
}

/// A Python SDK result record (`{structured, texts, is_error}`): asserts its
/// single text block is the JSON of its structured content and its error flag
/// is `error`; returns the structured content.
fn py_result<'a>(what: &str, rec: &'a Value, error: bool) -> &'a Value {
    assert!(
        rec.get("raised").is_none(),
        "{what}: the SDK raised instead of returning a result: {rec}"
    );
    assert_eq!(rec["is_error"], json!(error), "{what}: error flag in {rec}");
    let structured = &rec["structured"];
    assert!(
        structured.is_object(),
        "{what}: no structured content: {rec}"
    );
    let texts = rec["texts"].as_array().expect("texts");
    assert_eq!(texts.len(), 1, "{what}: one text block expected: {rec}");
    let text: Value = serde_json::from_str(texts[0].as_str().expect("text"))
        .unwrap_or_else(|e| panic!("{what}: text copy is not JSON ({e}): {rec}"));
    assert_eq!(
        &text, structured,
        "{what}: text copy differs from structured content"
    );
    structured
}

/// Asserts `body` (a `check_messages` result) holds exactly one message.
fn single_message(what: &str, body: &Value) -> Value {
    assert_eq!(body["more"], json!(false), "{what}: {body}");
    let messages = body["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1, "{what}: one message expected: {body}");
    messages[0].clone()
}

// ---------------------------------------------------------------------------
// The official Python SDK
// ---------------------------------------------------------------------------

/// Runs tests/support/py_session.py under the SDK installed by `spec` and
/// checks everything it recorded.
fn python_sdk(name: &str, spec: &str, major: u64) {
    let python = python_env(name, spec);
    let env = TestEnv::new(name);
    let logs = env.dir.join("logs");
    std::fs::create_dir_all(&logs).expect("log dir");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/py_session.py");
    let mut cmd = Command::new(&python);
    cmd.arg(script)
        .arg("--bin")
        .arg(env!("CARGO_BIN_EXE_mcp-bridge"))
        .arg("--db")
        .arg(&env.db)
        .arg("--log-dir")
        .arg(&logs)
        .args(["--secret", SECRET])
        .arg("--env")
        .arg(format!(
            "XDG_CONFIG_HOME={}",
            env.dir.join("xdg-config").display()
        ))
        .arg("--env")
        .arg(format!(
            "XDG_DATA_HOME={}",
            env.dir.join("xdg-data").display()
        ))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(&env.dir);
    let out = run(&mut cmd, CLIENT_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{name}: client session took {:.1} s",
        out.elapsed.as_secs_f64()
    );
    assert!(
        out.status.success(),
        "{name}: the Python client failed ({}).\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        out.stdout,
        out.stderr
    );
    let line = out.stdout.lines().last().unwrap_or_default();
    let summary: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{name}: no JSON summary ({e}):\n{}", out.stdout));

    // The SDK really is of the major version under test.
    let version = summary["sdk_version"].as_str().expect("sdk_version");
    assert_eq!(
        version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u64>().ok()),
        Some(major),
        "{name}: installed mcp {version}"
    );
    eprintln!("{name}: mcp {version} on Python {}", summary["python"]);

    for v in summary["protocol_versions"].as_array().expect("versions") {
        assert!(
            HANDSHAKE_VERSIONS.contains(&v.as_str().unwrap_or_default()),
            "{name}: negotiated protocol version {v}"
        );
    }
    assert_eq!(
        summary["protocol_versions"].as_array().map(Vec::len),
        Some(2),
        "{name}: two sessions"
    );

    // 1.x exposes camelCase schema attributes, 2.x snake_case; the script
    // reads the right ones, so a listing check covers both.
    assert_tool_listing(
        summary["tools"].as_array().expect("tools"),
        "input_schema",
        "output_schema",
    );

    let created = py_result("create_conversation", &summary["create"], false);
    assert_conversation(created);

    let sent = py_result("send_to_partner", &summary["send"], false);
    assert_eq!(
        sent["redactions"],
        json!({"aws_access_key_id": 1}),
        "{name}: the key must be counted as redacted"
    );
    let first_id = sent["message_id"].as_i64().expect("message_id");

    // Received on the other server process.
    let got = single_message(
        "check_messages",
        py_result("check", &summary["check"], false),
    );
    assert_eq!(
        got,
        json!({
            "id": first_id, "from_session": "a", "from_role": "backend dev",
            "action_type": "request",
            "content": format!("deploy with {SECRET_PLACEHOLDER} then run the migration"),
            "files_involved": ["deploy/aws.env"], "created_at": sent["created_at"],
            "conversation_id": created["conversation_id"], "to": ["frontend_dev"],
        }),
        "{name}: message as received"
    );

    // The long-poll on server 2 was woken by the send on server 1: it returned
    // the message, after the send, long before its wait ran out.
    let lp = &summary["longpoll"];
    let woken_by = py_result("long-poll send", &lp["send"], false);
    let woke = single_message("long-poll", py_result("long-poll", &lp["result"], false));
    assert_eq!(
        woke["id"], woken_by["message_id"],
        "{name}: long-poll got {woke}"
    );
    assert_eq!(woke["content"], "woken?", "{name}: long-poll got {woke}");
    assert!(
        woke["id"].as_i64().expect("id") > first_id,
        "{name}: ids increase"
    );
    let elapsed = lp["elapsed_s"].as_f64().expect("elapsed_s");
    let send_after = lp["send_after_s"].as_f64().expect("send_after_s");
    let wait = lp["wait_seconds"].as_f64().expect("wait_seconds");
    assert!(
        elapsed >= send_after * 0.8,
        "{name}: the long-poll returned after {elapsed:.3} s, before the send at {send_after} s"
    );
    assert!(
        elapsed < send_after + 3.0 && elapsed < wait,
        "{name}: the long-poll took {elapsed:.3} s for a send at {send_after} s (wait {wait} s)"
    );

    let status = py_result("update_my_status", &summary["update_status"], false);
    assert_eq!(status["status"], "working", "{name}: {status}");
    let partner = py_result("check_partner_status", &summary["partner_status"], false);
    assert_eq!(
        (
            &partner["partner_role"],
            &partner["status"],
            &partner["note"],
            &partner["alive"],
            &partner["last_heartbeat"]
        ),
        (
            &json!("frontend_dev"),
            &json!("working"),
            &json!("wiring the UI"),
            &json!(true),
            &status["updated_at"]
        ),
        "{name}: partner status {partner}"
    );

    // A domain error: a tool result with isError whose text names the code,
    // and no structured content the SDK could hold against the output schema.
    let refused = &summary["wrong_token"];
    assert!(
        refused.get("raised").is_none() && refused["is_error"] == true,
        "{name}: a refused call must be a tool error: {refused}"
    );
    assert!(
        refused["structured"].is_null(),
        "{name}: a tool error must not carry structured content: {refused}"
    );
    assert!(
        refused["texts"][0]
            .as_str()
            .is_some_and(|t| t.starts_with("auth_failed: ")),
        "{name}: the error text must start with its code: {refused}"
    );

    // A schema violation: both SDK lines surface the JSON-RPC error as an
    // exception (McpError in 1.x, MCPError in 2.x) carrying -32602.
    let extra = &summary["extra_field"];
    assert_eq!(
        (&extra["raised"], &extra["code"]),
        (&json!("protocol_error"), &json!(-32602)),
        "{name}: an unknown argument must be a JSON-RPC invalid-params error: {extra}"
    );
    assert!(
        extra["message"]
            .as_str()
            .is_some_and(|m| m.contains("extra_field")),
        "{name}: the error should name the field: {extra}"
    );

    let after = py_result("check after errors", &summary["after_errors"], false);
    assert_eq!(after, &json!({"messages": [], "more": false}), "{name}");

    // 2.x: the high-level Client negotiates the stateless protocol.
    if major >= 2 {
        let auto = &summary["auto_client"];
        assert_eq!(
            auto["protocol_version"], STATELESS_VERSION,
            "{name}: mcp.Client(mode='auto') should settle on {STATELESS_VERSION}: {auto}"
        );
        let names: Vec<&str> = auto["tool_names"]
            .as_array()
            .expect("tool_names")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(names, TOOLS, "{name}: stateless tools/list");
        assert_conversation(py_result("stateless create", &auto["create"], false));
        let unknown = py_result("stateless status", &auto["partner_status"], false);
        assert_eq!(
            (&unknown["partner_role"], &unknown["status"]),
            (&json!("b"), &json!("unknown")),
            "{name}: {unknown}"
        );
    } else {
        assert!(
            summary.get("auto_client").is_none(),
            "{name}: 1.x has no Client"
        );
    }

    // The secret went nowhere: not to the client, not into the servers' logs.
    let mut places = vec![
        ("client stdout".to_owned(), out.stdout.clone()),
        ("client stderr".to_owned(), out.stderr.clone()),
    ];
    for log in ["server1.stderr", "server2.stderr"] {
        let text = std::fs::read_to_string(logs.join(log))
            .unwrap_or_else(|e| panic!("{name}: read {log}: {e}"));
        assert!(
            text.contains("serving MCP on stdio"),
            "{name}: {log} is not a server log:\n{text}"
        );
        places.push((log.to_owned(), text));
    }
    let token = created["session_a_token"].as_str().expect("token");
    for (place, text) in &places {
        assert!(
            !text.contains(SECRET),
            "{name}: the secret leaked to {place}"
        );
        if place.starts_with("server") {
            assert!(!text.contains(token), "{name}: a token leaked to {place}");
        }
    }
}

#[test]
fn python_sdk_2x() {
    python_sdk("py2", PY2_SPEC, 2);
}

#[test]
fn python_sdk_1x() {
    python_sdk("py1", PY1_SPEC, 1);
}

// ---------------------------------------------------------------------------
// The MCP Inspector CLI
// ---------------------------------------------------------------------------

/// Runs the Inspector CLI against `mcp-bridge serve --db <db>` with `args`.
fn inspect(env: &TestEnv, args: &[&str]) -> (Value, String) {
    let mut cmd = Command::new(inspector());
    cmd.arg("--cli")
        .arg("-e")
        .arg(format!(
            "XDG_CONFIG_HOME={}",
            env.dir.join("xdg-config").display()
        ))
        .arg("-e")
        .arg(format!(
            "XDG_DATA_HOME={}",
            env.dir.join("xdg-data").display()
        ))
        .arg(env!("CARGO_BIN_EXE_mcp-bridge"))
        .arg("serve")
        .arg("--db")
        .arg(&env.db)
        .args(args)
        .current_dir(&env.dir);
    let out = run(&mut cmd, CLIENT_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("inspector {args:?}: {:.1} s", out.elapsed.as_secs_f64());
    assert!(
        out.status.success(),
        "the Inspector failed ({}) on {args:?}.\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        out.stdout,
        out.stderr
    );
    let value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "Inspector output is not JSON ({e}):\n{}\n--- stderr\n{}",
            out.stdout, out.stderr
        )
    });
    (value, out.stderr)
}

/// Checks the Inspector's stderr for schema complaints. Allowed: the server's
/// own log lines and the Inspector's portability notes about nullable fields
/// spelled `"type": [T, "null"]` (legal JSON Schema; see the report). Anything
/// else — `unknown format`, any other warning, an error-severity issue — fails.
fn assert_no_schema_warnings(stderr: &str) {
    let lower = stderr.to_lowercase();
    assert!(
        !lower.contains("unknown format"),
        "the Inspector met an unknown format:\n{stderr}"
    );
    let summary =
        regex::Regex::new(r"(\d+) errors?, (\d+) warnings? across \d+ tools?").expect("regex");
    let mut warnings_reported = 0;
    if let Some(c) = summary.captures(stderr) {
        assert_eq!(&c[1], "0", "schema errors reported:\n{stderr}");
        warnings_reported = c[2].parse::<usize>().expect("count");
    }
    let issues: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("Issue: "))
        .collect();
    let nullable =
        regex::Regex::new(r#"^`type` is an array \(\["[a-z]+","null"\]\)"#).expect("regex");
    for issue in &issues {
        assert!(
            nullable.is_match(issue),
            "an unexpected schema portability issue: {issue}\n{stderr}"
        );
    }
    assert_eq!(
        issues.len(),
        warnings_reported,
        "schema warnings counted but not detailed (or the reverse):\n{stderr}"
    );
    for line in stderr.lines() {
        let l = line.to_lowercase();
        let detail = line.trim_start();
        let known = line.starts_with("Warning: tool \"")
            || summary.is_match(line)
            || ["Path: ", "Issue: ", "Suggestion: "]
                .iter()
                .any(|p| detail.starts_with(p));
        assert!(
            known || !(l.contains("warn") || l.contains("error")),
            "unexpected warning or error from the Inspector or the server: {line}\n{stderr}"
        );
    }
}

#[test]
fn inspector_cli() {
    let env = TestEnv::new("inspector");

    // tools/list, with the portability report in full (--strict: exit 6 on
    // any error-severity issue).
    let (listed, stderr) = inspect(&env, &["--method", "tools/list", "--strict"]);
    assert_tool_listing(
        listed["tools"]
            .as_array()
            .expect("tools in Inspector output"),
        "inputSchema",
        "outputSchema",
    );
    assert_no_schema_warnings(&stderr);

    let (called, stderr) = inspect(
        &env,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "create_conversation",
            "--tool-arg",
            "my_role=a",
            "--tool-arg",
            "partner_role=b",
        ],
    );
    assert_no_schema_warnings(&stderr);
    assert_eq!(called["isError"], json!(false), "{called}");
    let created = &called["structuredContent"];
    assert_conversation(created);
    let text: Value = serde_json::from_str(called["content"][0]["text"].as_str().expect("text"))
        .expect("text copy is JSON");
    assert_eq!(&text, created, "text copy differs from structured content");
    let id = created["conversation_id"].as_str().expect("id");
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM conversations WHERE id = '{id}'"
        )),
        1,
        "the conversation is stored"
    );
}

// ---------------------------------------------------------------------------
// Stateless 2026-07-28 over raw stdio
// ---------------------------------------------------------------------------

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
        json!({"my_role": "a", "partner_role": "b"}),
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
