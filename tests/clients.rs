//! Interoperability with MCP clients that nobody on this project wrote: here
//! the official Python SDK (2.x and 1.x), and the checks it shares with
//! `clients_inspector` (the MCP Inspector CLI) and `clients_stateless` (a raw
//! stateless 2026-07-28 exchange without `initialize`).
//!
//! The clients are provisioned by the tests themselves, once, into
//! `<target dir>/mcp-clients/` (see `provision.rs`).

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::provision::{PY1_SPEC, PY2_SPEC, python_env, run};
use crate::util::*;

/// A fake AWS access key id of the real shape (not the documented example key,
/// which is deliberately left alone).
pub(crate) const SECRET: &str = "AKIAZ7Q3K5M2N8P4R6TX";
pub(crate) const SECRET_PLACEHOLDER: &str = "AWS_KEY_REDACTED";

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
pub(crate) const HANDSHAKE_VERSIONS: [&str; 2] = ["2025-06-18", "2025-11-25"];
pub(crate) const STATELESS_VERSION: &str = "2026-07-28";

/// How long one client run may take.
pub(crate) const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Asserts `id` is a conversation id and `a`/`b` distinct 64-hex tokens.
pub(crate) fn assert_conversation(created: &Value) {
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
pub(crate) fn assert_tool_listing(tools: &[Value], input: &str, output: &str) {
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
pub(crate) fn single_message(what: &str, body: &Value) -> Value {
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
            (&json!("reader"), &json!("unknown")),
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
