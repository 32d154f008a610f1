//! What MCP clients other than our own need from the server (issue 10):
//! truthful tool annotations and titles, client-injected arguments accepted
//! (Gemini CLI's `wait_for_previous`), refused calls that every SDK shows as a
//! readable tool error, and progress notifications while a long-poll waits.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, ProgressNotificationParam};
use rmcp::service::NotificationContext;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::util::*;

#[tokio::test]
async fn every_tool_has_a_title_and_truthful_annotations() {
    let env = TestEnv::new("annotations");
    let s = env.server().await;
    let tools = s.client.list_all_tools().await.expect("tools/list");
    let by_name: BTreeMap<String, Value> = tools
        .into_iter()
        .map(|t| {
            (
                t.name.to_string(),
                serde_json::to_value(&t).expect("tool json"),
            )
        })
        .collect();
    // (read-only, destructive, open world) as each tool really behaves.
    let expected = [
        ("create_conversation", false, false, false),
        ("send_to_partner", false, false, false),
        ("check_messages", false, false, false),
        ("update_my_status", false, false, false),
        ("check_partner_status", true, false, false),
        ("enable_yolo_mode", false, false, false),
        ("execute_command", false, true, true),
        ("create_invite", false, false, false),
        ("join_conversation", false, false, false),
        ("send_message", false, false, false),
        ("remove_participant", false, true, false),
        ("list_my_conversations", true, false, false),
    ];
    assert_eq!(by_name.len(), expected.len(), "{:?}", by_name.keys());
    for (name, read_only, destructive, open_world) in expected {
        let tool = &by_name[name];
        let title = tool["title"].as_str().unwrap_or_default();
        assert!(!title.is_empty(), "{name} has no title: {tool}");
        let a = &tool["annotations"];
        assert_eq!(a["title"], title, "{name}: annotation title");
        assert_eq!(a["readOnlyHint"], read_only, "{name}: readOnlyHint in {a}");
        assert_eq!(
            a["openWorldHint"], open_world,
            "{name}: openWorldHint in {a}"
        );
        if !read_only {
            // Codex runs a tool unattended when it is read-only, or when it
            // is neither destructive nor open-world: the hint must be explicit.
            assert_eq!(
                a["destructiveHint"], destructive,
                "{name}: destructiveHint in {a}"
            );
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn gemini_injected_wait_for_previous_is_accepted_and_ignored() {
    let env = TestEnv::new("wait_for_previous");
    let s = env.server().await;
    let peer = s.peer();
    let created = call(
        &peer,
        "create_conversation",
        json!({"my_role": "backend", "partner_role": "frontend", "wait_for_previous": false}),
    )
    .await;
    let created = ok(&created);
    let conv = Conv {
        id: created["conversation_id"].as_str().expect("id").to_owned(),
        a: created["session_a_token"].as_str().expect("a").to_owned(),
        b: created["session_b_token"].as_str().expect("b").to_owned(),
    };
    let tools = [
        ("send_to_partner", json!({"message": "hello"})),
        ("update_my_status", json!({"status": "working"})),
        ("check_partner_status", json!({})),
        ("check_messages", json!({})),
    ];
    for (tool, extra) in tools {
        let mut args = conv.args("a", extra);
        args["wait_for_previous"] = json!(true);
        ok(&call(&peer, tool, args).await);
    }
    let got = check(&peer, &conv, "b", json!({"wait_for_previous": true})).await;
    assert_eq!(contents(&got), ["hello"]);

    // Only the shape the client sends is accepted; any other unknown field
    // is still a schema error naming the field.
    let mut odd = conv.args("a", json!({"wait_for_previous": "yes"}));
    let answer = try_call(&peer, "check_partner_status", odd.clone()).await;
    invalid_params(answer, "wait_for_previous of the wrong type");
    odd = conv.args("a", json!({"wait_for_next": true}));
    let message = invalid_params(
        try_call(&peer, "check_partner_status", odd).await,
        "unknown field",
    );
    assert!(message.contains("wait_for_next"), "{message}");
    s.stop().await;
}

#[tokio::test]
async fn a_refused_call_is_a_readable_tool_error_for_every_tool() {
    let env = TestEnv::new("readable_errors");
    let s = env.server().await;
    let peer = s.peer();
    let conv = Conv::create(&peer).await;
    let wrong = "0".repeat(64);
    let calls = [
        ("send_to_partner", json!({"message": "hi"})),
        ("check_messages", json!({})),
        ("update_my_status", json!({"status": "waiting"})),
        ("check_partner_status", json!({})),
        (
            "enable_yolo_mode",
            json!({"mode": "safe", "workspace": env.dir.to_str().expect("utf-8")}),
        ),
        ("execute_command", json!({"command": "ls"})),
    ];
    for (tool, extra) in calls {
        let mut args = conv.args("a", extra);
        args["token"] = json!(wrong);
        let result = call(&peer, tool, args).await;
        tool_error(&result, "auth_failed");
    }
    s.stop().await;
}

/// A client handler that keeps the progress notifications it is sent.
#[derive(Clone, Default)]
struct ProgressLog(Arc<Mutex<Vec<ProgressNotificationParam>>>);

impl ClientHandler for ProgressLog {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.0.lock().expect("progress log").push(params);
    }
}

#[tokio::test]
async fn a_waiting_long_poll_reports_progress_to_a_client_that_asks() {
    let env = TestEnv::new("progress");
    let mut child = crate::util_raw::piped_serve(&env);
    let io = (
        child.stdout.take().expect("stdout"),
        child.stdin.take().expect("stdin"),
    );
    let log = ProgressLog::default();
    let client = log.clone().serve(io).await.expect("handshake");
    let peer = client.peer().clone();
    let conv = Conv::create(&peer).await;

    // rmcp's client puts a progress token on every request, as the
    // TypeScript SDK does when asked to reset its timeout on progress.
    let params = CallToolRequestParams::new("check_messages")
        .with_arguments(as_map(conv.args("b", json!({"wait_seconds": 7}))));
    let result = tokio::time::timeout(Duration::from_secs(60), peer.call_tool(params))
        .await
        .expect("long-poll answered")
        .expect("call");
    assert!(messages(&ok(&result)).is_empty());
    let seen = log.0.lock().expect("log").clone();
    assert!(!seen.is_empty(), "no progress notification while waiting");
    for note in &seen {
        assert_eq!(note.progress_token, seen[0].progress_token);
        assert_eq!(note.total, Some(7.0));
        assert_eq!(note.message.as_deref(), Some("waiting for messages"));
    }
    assert!(
        seen.windows(2).all(|w| w[0].progress < w[1].progress),
        "progress must increase: {seen:?}"
    );

    // A call that does not wait reports nothing.
    let before = seen.len();
    check(&peer, &conv, "b", json!({})).await;
    assert_eq!(log.0.lock().expect("log").len(), before);
    let _ = client.cancel().await;
}

fn as_map(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}
