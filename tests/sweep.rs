//! One plan that calls every tool, refused and successful, for a third-party
//! client to run (issue 10): the TypeScript SDK, the Python SDKs and the
//! Inspector each execute the same steps and record what their client handed
//! back, and [`assert_results`] holds every record to the contract:
//!
//! - a refused call reaches the client as a tool result (nothing thrown) with
//!   `isError`, no `structuredContent`, one text `<code>: <message>` and the
//!   same fields as JSON under `_meta["mcp-bridge/error"]`;
//! - a successful call has `structuredContent` that validates against the
//!   tool's `outputSchema` (checked by the client's own validator) and a text
//!   copy of it;
//! - arguments that break the schema stay a JSON-RPC `-32602` error.
//!
//! The plan is JSON ([`plan_json`]) that the runners in `sweep_clients.rs`
//! execute. A string `${N.field}` in a step stands for `field` of step N's
//! structured content (or of the answer to pause N, where the test acts as
//! the human).

use std::path::Path;

use serde_json::{Value, json};

use crate::util::*;

/// A token of the right shape that belongs to no session.
pub const WRONG_TOKEN: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The message limit (SPEC §5), one byte over it.
const TOO_LARGE: usize = 51_201;

/// What a step must produce.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Success; the structured content holds at least these fields.
    Ok(Value),
    /// A refused call with this code.
    Refused(&'static str),
    /// A JSON-RPC invalid-params error whose message names this field.
    InvalidParams(&'static str),
}

/// One step of the plan.
#[derive(Debug, Clone)]
pub enum Step {
    /// A tool call on one of the plan's servers.
    Call {
        server: &'static str,
        tool: &'static str,
        args: Value,
        expect: Expect,
    },
    /// The human confirms the YOLO mode asked for in conversation `conversation`.
    Confirm { conversation: Value },
    /// The human approves proposal `proposal`; the answer carries `approval_token`.
    Approve { proposal: Value },
}

/// A placeholder for `field` of step `n`'s result.
fn at(n: usize, field: &str) -> Value {
    json!(format!("${{{n}.{field}}}"))
}

/// The credentials of `side` in the conversation step 0 created, plus `extra`.
fn creds(side: &str, extra: Value) -> Value {
    let mut args = json!({
        "conversation_id": at(0, "conversation_id"),
        "session_id": side,
        "token": at(0, &format!("session_{side}_token")),
    });
    merge(&mut args, extra);
    args
}

/// [`creds`] with a token that belongs to no one.
fn wrong(side: &str, extra: Value) -> Value {
    let mut args = creds(side, extra);
    args["token"] = json!(WRONG_TOKEN);
    args
}

fn call(server: &'static str, tool: &'static str, args: Value, expect: Expect) -> Step {
    Step::Call {
        server,
        tool,
        args,
        expect,
    }
}

/// Every tool, refused for each reason a client can provoke cheaply and
/// successful in each of its result shapes. `workspace` is an existing directory.
pub fn steps(workspace: &Path) -> Vec<Step> {
    use Expect::*;
    let ws = json!(workspace);
    vec![
        /* 0 */
        call(
            "main",
            "create_conversation",
            json!({"my_role": "backend", "partner_role": "frontend"}),
            Ok(json!({})),
        ),
        /* 1 */
        call(
            "limited",
            "create_conversation",
            json!({"my_role": "backend", "partner_role": "frontend"}),
            Refused("resource_limit"),
        ),
        /* 2 */
        call(
            "main",
            "send_to_partner",
            creds(
                "a",
                json!({"message": "schema first", "action_type": "proposal"}),
            ),
            Ok(json!({"redactions": {}})),
        ),
        /* 3 */
        call(
            "main",
            "send_to_partner",
            wrong("a", json!({"message": "hello"})),
            Refused("auth_failed"),
        ),
        /* 4 */
        call(
            "main",
            "send_to_partner",
            creds("a", json!({"message": "x".repeat(TOO_LARGE)})),
            Refused("message_too_large"),
        ),
        /* 5 */
        call(
            "limited",
            "send_to_partner",
            creds("a", json!({"message": "one more"})),
            Refused("rate_limited"),
        ),
        /* 6 */
        call(
            "main",
            "check_messages",
            creds("b", json!({})),
            Ok(json!({"more": false})),
        ),
        /* 7 */
        call(
            "main",
            "check_messages",
            wrong("b", json!({})),
            Refused("auth_failed"),
        ),
        /* 8 */
        call(
            "main",
            "update_my_status",
            creds("b", json!({"status": "working", "note": "on it"})),
            Ok(json!({"status": "working"})),
        ),
        /* 9 */
        call(
            "main",
            "update_my_status",
            wrong("b", json!({"status": "blocked"})),
            Refused("auth_failed"),
        ),
        /* 10 */
        call(
            "main",
            "check_partner_status",
            creds("a", json!({})),
            Ok(json!({"status": "working", "note": "on it", "alive": true})),
        ),
        /* 11 */
        call(
            "main",
            "check_partner_status",
            wrong("a", json!({})),
            Refused("auth_failed"),
        ),
        /* 12: Gemini CLI adds this flag to every call. */
        call(
            "main",
            "check_partner_status",
            creds("a", json!({"wait_for_previous": true})),
            Ok(json!({"status": "working"})),
        ),
        /* 13 */
        call(
            "main",
            "check_partner_status",
            creds("a", json!({"extra_field": 1})),
            InvalidParams("extra_field"),
        ),
        /* 14 */
        call(
            "noyolo",
            "enable_yolo_mode",
            creds("a", json!({"mode": "safe", "workspace": ws})),
            Refused("yolo_disabled"),
        ),
        /* 15 */
        call(
            "main",
            "enable_yolo_mode",
            wrong("a", json!({"mode": "safe", "workspace": ws})),
            Refused("auth_failed"),
        ),
        /* 16 */
        call(
            "main",
            "execute_command",
            creds("a", json!({"command": "ls"})),
            Refused("yolo_not_active"),
        ),
        /* 17 */
        call(
            "main",
            "enable_yolo_mode",
            creds("a", json!({"mode": "safe", "workspace": ws})),
            Ok(json!({"status": "pending_confirmation"})),
        ),
        /* 18 */
        Step::Confirm {
            conversation: at(0, "conversation_id"),
        },
        /* 19 */
        call(
            "main",
            "execute_command",
            creds("a", json!({"command": "ls", "dry_run": true})),
            Ok(json!({"status": "dry_run"})),
        ),
        /* 20 */
        call(
            "main",
            "execute_command",
            creds("a", json!({"command": "rm -rf /"})),
            Refused("command_refused"),
        ),
        /* 21 */
        call(
            "main",
            "execute_command",
            creds("a", json!({"command": "ls"})),
            Ok(json!({"status": "pending_approval"})),
        ),
        /* 22 */
        call(
            "main",
            "execute_command",
            creds(
                "a",
                json!({"command": "ls", "approval_token": format!("apv_{}", "0".repeat(32))}),
            ),
            Refused("approval_invalid"),
        ),
        /* 23 */
        Step::Approve {
            proposal: at(21, "proposal_id"),
        },
        /* 24 */
        call(
            "main",
            "execute_command",
            creds(
                "a",
                json!({"command": "ls", "approval_token": at(23, "approval_token")}),
            ),
            Ok(json!({"status": "completed", "exit_code": 0})),
        ),
        /* 25 */
        call(
            "main",
            "execute_command",
            wrong("a", json!({"command": "ls"})),
            Refused("auth_failed"),
        ),
    ]
}

/// The servers the plan names, each `mcp-bridge serve` on the test's
/// database with its own settings.
fn servers() -> Value {
    json!({
        "main": {"MCP_BRIDGE_YOLO": "1"},
        // Room for the one conversation step 0 made, and for one send per minute.
        "limited": {
            "MCP_BRIDGE_LIMITS__CONVERSATIONS_PER_HOUR": "1",
            "MCP_BRIDGE_RATE_LIMITS__SEND_TO_PARTNER__PER_MINUTE": "1",
        },
        "noyolo": {},
    })
}

/// The environment every server gets (XDG directories inside the test's).
fn server_env(env: &TestEnv) -> Value {
    let mut vars = json!({
        "XDG_CONFIG_HOME": env.dir.join("xdg-config"),
        "XDG_DATA_HOME": env.dir.join("xdg-data"),
        "NO_COLOR": "1",
    });
    if env.pg_url().is_some() {
        // Every server of a PostgreSQL database shares one key file.
        vars["MCP_BRIDGE_KEY_FILE"] = json!(env.pg_key_file());
    }
    vars
}

/// The plan as the runners read it.
pub fn plan_json(env: &TestEnv, steps: &[Step]) -> Value {
    let steps: Vec<Value> = steps
        .iter()
        .map(|step| match step {
            Step::Call {
                server, tool, args, ..
            } => json!({"server": server, "tool": tool, "args": args}),
            Step::Confirm { conversation } => {
                json!({"pause": "confirm", "conversation": conversation})
            }
            Step::Approve { proposal } => json!({"pause": "approve", "proposal": proposal}),
        })
        .collect();
    json!({
        "command": env!("CARGO_BIN_EXE_mcp-bridge"),
        "args": ["serve", "--db", env.db],
        "env": server_env(env),
        "servers": servers(),
        "steps": steps,
    })
}

/// Holds every recorded result to its step's expectation (see the module doc).
/// `rpc_codes`: the client reports a JSON-RPC error's numeric code (the
/// Inspector CLI prints only its message).
pub fn assert_results(client: &str, steps: &[Step], results: &[Value], rpc_codes: bool) {
    let calls = steps
        .iter()
        .filter(|s| matches!(s, Step::Call { .. }))
        .count();
    assert_eq!(
        results.len(),
        calls,
        "{client}: one result per call expected: {results:?}"
    );
    let mut results = results.iter();
    for (n, step) in steps.iter().enumerate() {
        let Step::Call {
            tool, expect, args, ..
        } = step
        else {
            continue;
        };
        let rec = results.next().expect("counted above");
        assert_eq!(
            rec["step"],
            json!(n),
            "{client}: results out of order: {rec}"
        );
        let what = format!("{client}, step {n} ({tool})");
        match expect {
            Expect::Ok(fields) => assert_success(&what, rec, fields),
            Expect::Refused(code) => assert_refused(&what, rec, code, args),
            Expect::InvalidParams(field) => {
                let raised = &rec["raised"];
                assert!(
                    raised.is_object() && (!rpc_codes || raised["code"] == json!(-32602)),
                    "{what}: arguments that break the schema must be a JSON-RPC invalid-params error: {rec}"
                );
                assert!(
                    raised["message"]
                        .as_str()
                        .is_some_and(|m| m.contains(field)),
                    "{what}: the error should name {field}: {rec}"
                );
            }
        }
    }
}

fn assert_success(what: &str, rec: &Value, fields: &Value) {
    assert!(
        rec["raised"].is_null(),
        "{what}: the client threw instead of returning the result: {rec}"
    );
    assert_ne!(
        rec["is_error"],
        json!(true),
        "{what}: expected success: {rec}"
    );
    let structured = &rec["structured"];
    assert!(
        structured.is_object(),
        "{what}: no structured content: {rec}"
    );
    assert_eq!(
        rec["schema_errors"],
        json!([]),
        "{what}: the structured content does not validate against the tool's output schema: {rec}"
    );
    let texts = rec["texts"].as_array().expect("texts");
    assert_eq!(texts.len(), 1, "{what}: one text copy expected: {rec}");
    let copy: Value = serde_json::from_str(texts[0].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{what}: the text copy is not JSON ({e}): {rec}"));
    assert_eq!(
        &copy, structured,
        "{what}: text copy differs from structured content"
    );
    for (key, value) in fields.as_object().expect("expected fields") {
        assert_eq!(
            &structured[key], value,
            "{what}: field {key} in {structured}"
        );
    }
}

fn assert_refused(what: &str, rec: &Value, code: &str, args: &Value) {
    assert!(
        rec["raised"].is_null(),
        "{what}: the client threw instead of showing the tool error {code}: {rec}"
    );
    assert_eq!(
        rec["is_error"],
        json!(true),
        "{what}: expected the tool error {code}: {rec}"
    );
    assert!(
        rec["structured"].is_null(),
        "{what}: a refused call must not carry structured content (clients validate it \
         against the output schema): {rec}"
    );
    let error = &rec["meta"]["mcp-bridge/error"];
    assert_eq!(error["code"], code, "{what}: _meta error code: {rec}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: no message: {rec}");
    assert_eq!(
        rec["texts"],
        json!([format!("{code}: {message}")]),
        "{what}: the text must read `<code>: <message>`"
    );
    match code {
        "rate_limited" => {
            assert!(
                error["retry_after_s"].as_f64().is_some_and(|s| s > 0.0)
                    && error["window"] == "minute"
                    && error["limit"] == 1,
                "{what}: rate-limit details: {error}"
            );
        }
        "message_too_large" => {
            let size = args["message"].as_str().map(str::len).unwrap_or_default();
            assert_eq!(
                (&error["size"], &error["limit"]),
                (&json!(size), &json!(TOO_LARGE - 1)),
                "{what}: size details: {error}"
            );
        }
        _ => {}
    }
    // Secrets and tokens stay out of error texts.
    assert!(
        !message.contains(WRONG_TOKEN),
        "{what}: the token is echoed: {message}"
    );
}
