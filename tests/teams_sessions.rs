//! Sessions that remember who they are, and agents that need not remember to
//! poll: a server process bound by create/join leaves credentials out (and
//! reads every bound conversation at once), a process that never created or
//! joined is refused, prompts guide an agent, and the `bridge://inbox`
//! resource pushes `notifications/resources/updated` to a subscriber.

use rmcp::model::{
    GetPromptRequestParams, ReadResourceRequestParams, ResourceUpdatedNotificationParam,
    SubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::teams::{join, say};
use crate::util::*;
use crate::util_raw::{RawServe, piped_serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bound_sessions_leave_out_credentials_and_read_every_conversation() {
    let env = TestEnv::new("teams_bound");
    let no_limits = [("MCP_BRIDGE_RATE_LIMITS", "off")];
    let owner = env.server_with(&no_limits).await;
    let member = env.server_with(&no_limits).await;
    let stranger = env.server_with(&no_limits).await;
    let one = Conv::create(&owner).await;
    let two = Conv::create_with_roles(&owner, "lead", "helper").await;

    // Bound to two conversations, the owner must say which one to invite into.
    let ambiguous = call(&owner, "create_invite", json!({"role": "qa"})).await;
    let text = tool_error(&ambiguous, "invalid_argument")["message"].to_string();
    assert!(text.contains(&one.id) && text.contains(&two.id), "{text}");
    let mut codes = Vec::new();
    for conv in [&one, &two] {
        let r = ok(&call(
            &owner,
            "create_invite",
            json!({"conversation_id": conv.id, "role": "qa"}),
        )
        .await);
        codes.push(r["invite_code"].as_str().unwrap().to_owned());
    }
    for code in &codes {
        join(&member, code).await;
    }

    for (conv, text) in [(&one, "one"), (&two, "two"), (&one, "three")] {
        say(
            &owner,
            text,
            json!({"conversation_id": conv.id, "to": "qa"}),
        )
        .await;
    }
    let listed = ok(&call(&member, "list_my_conversations", json!({})).await);
    let summary: Vec<(String, String, String, u64, usize)> = listed["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["conversation_id"].as_str().unwrap().to_owned(),
                c["session_id"].as_str().unwrap().to_owned(),
                c["state"].as_str().unwrap().to_owned(),
                c["unread"].as_u64().unwrap(),
                c["participants"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (one.id.clone(), "c".into(), "active".into(), 2, 3),
            (two.id.clone(), "c".into(), "active".into(), 1, 3),
        ]
    );

    // Without conversation_id, check_messages reads both, in send order, each
    // message naming its conversation.
    let inbox = ok(&call(&member, "check_messages", json!({})).await);
    let got: Vec<(String, String)> = messages(&inbox)
        .iter()
        .map(|m| {
            (
                m["conversation_id"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (one.id.clone(), "one".into()),
            (two.id.clone(), "two".into()),
            (one.id.clone(), "three".into())
        ]
    );
    // Sending needs a choice; conversation_id alone makes it.
    tool_error(
        &call(&member, "send_message", json!({"message": "hi"})).await,
        "invalid_argument",
    );
    let sent = say(&member, "hi", json!({"conversation_id": two.id})).await;
    assert_eq!(sent["to"], json!(["lead", "helper"]));

    // A long-poll over both wakes for a message in either, from another process.
    let waiting = {
        let peer = member.peer();
        tokio::spawn(
            async move { call(&peer, "check_messages", json!({"wait_seconds": 30})).await },
        )
    };
    let helper = env.server().await;
    ok(&call(
        &helper,
        "send_message",
        two.args("b", json!({"message": "wake up", "to": "qa"})),
    )
    .await);
    let woke = tokio::time::timeout(EVENT_TIMEOUT, waiting)
        .await
        .expect("the long-poll wakes")
        .expect("task");
    let woke = messages(&ok(&woke));
    assert_eq!(
        (
            woke[0]["conversation_id"].as_str(),
            woke[0]["content"].as_str()
        ),
        (Some(two.id.as_str()), Some("wake up"))
    );
    // Narrowing to one conversation reads only that one.
    say(
        &owner,
        "only one",
        json!({"conversation_id": one.id, "to": "qa"}),
    )
    .await;
    say(
        &owner,
        "only two",
        json!({"conversation_id": two.id, "to": "qa"}),
    )
    .await;
    let narrowed = ok(&call(
        &member,
        "check_messages",
        json!({"conversation_id": two.id}),
    )
    .await);
    assert_eq!(contents(&narrowed), ["only two"]);
    // Removed from one conversation, the session still reads the other at once.
    ok(&call(
        &owner,
        "remove_participant",
        json!({"conversation_id": one.id, "participant": "qa"}),
    )
    .await);
    say(
        &owner,
        "still here",
        json!({"conversation_id": two.id, "to": "qa"}),
    )
    .await;
    let rest = ok(&call(&member, "check_messages", json!({})).await);
    assert_eq!(contents(&rest), ["still here"]);
    tool_error(
        &call(
            &member,
            "check_messages",
            json!({"conversation_id": one.id}),
        )
        .await,
        "auth_failed",
    );
    let states = ok(&call(&member, "list_my_conversations", json!({})).await);
    assert_eq!(
        (
            states["conversations"][0]["state"].as_str(),
            states["conversations"][1]["state"].as_str()
        ),
        (Some("removed"), Some("active"))
    );
    // Nor is the seat it was removed from a choice to make: a send without
    // credentials goes to the one conversation it still takes part in (it
    // was refused, naming both, and the one named the other way failed).
    let sent = say(&member, "to the live one", json!({})).await;
    assert_eq!(sent["to"], json!(["lead", "helper"]), "{sent}");

    // A process that never created or joined is refused without credentials,
    // and told what to pass; naming a conversation it holds no seat in is an
    // authentication failure …
    let refusals =
        "SELECT count(*) FROM audit_log WHERE code IN ('auth_failed', 'invalid_argument')";
    let before = env.count(refusals);
    for (tool, args) in [
        ("check_messages", json!({})),
        ("send_message", json!({"message": "x"})),
        ("send_to_partner", json!({"message": "x"})),
        ("update_my_status", json!({"status": "working"})),
        ("check_partner_status", json!({})),
        ("create_invite", json!({"role": "x"})),
    ] {
        let refused = tool_error(&call(&stranger, tool, args).await, "invalid_argument");
        assert!(
            refused["message"]
                .as_str()
                .unwrap_or_default()
                .contains("join_conversation")
        );
    }
    tool_error(
        &call(
            &stranger,
            "check_messages",
            json!({"conversation_id": one.id}),
        )
        .await,
        "auth_failed",
    );
    assert_eq!(
        ok(&call(&stranger, "list_my_conversations", json!({})).await),
        json!({"conversations": []})
    );
    // Explicit credentials narrow the list only when they are genuine.
    let forged = json!({"conversation_id": one.id, "session_id": "b", "token": one.a});
    tool_error(
        &call(&stranger, "list_my_conversations", forged).await,
        "auth_failed",
    );
    let mine = ok(&call(&stranger, "list_my_conversations", one.args("b", json!({}))).await);
    assert_eq!(mine["conversations"][0]["role"], "frontend");
    // … and works as before with them.
    assert_eq!(
        contents(&check(&stranger, &one, "a", json!({})).await),
        Vec::<String>::new()
    );
    ok(&call(
        &owner,
        "check_partner_status",
        json!({"conversation_id": one.id}),
    )
    .await);
    // Refusals are audited (read-only ones a moment later: they are batched).
    wait_until("the refusals to be audited", || {
        env.count(refusals) >= before + 8
    })
    .await;
    for s in [owner, member, stranger, helper] {
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_tell_an_agent_how_to_work_in_a_team() {
    let env = TestEnv::new("teams_prompts");
    let s = env.server().await;
    let prompts = s.list_all_prompts().await.expect("prompts/list");
    let names: Vec<(String, Vec<(String, bool)>)> = prompts
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.arguments
                    .iter()
                    .flatten()
                    .map(|a| (a.name.clone(), a.required == Some(true)))
                    .collect(),
            )
        })
        .collect();
    let arg = |n: &str, r: bool| (n.to_owned(), r);
    assert_eq!(
        names,
        [
            (
                "start_team".to_owned(),
                vec![
                    arg("my_role", true),
                    arg("teammates", true),
                    arg("goal", false)
                ]
            ),
            ("join_team".to_owned(), vec![arg("invite_code", true)]),
            (
                "review_work".to_owned(),
                vec![arg("teammate", true), arg("focus", false)]
            ),
        ]
    );
    let get = |name: &str, args: Value| {
        let mut p = GetPromptRequestParams::new(name);
        p.arguments = args.as_object().cloned();
        p
    };
    let text = |r: rmcp::model::GetPromptResult| -> String {
        serde_json::to_value(&r.messages[0]).unwrap()["content"]["text"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let start = text(
        s.get_prompt(get(
            "start_team",
            json!({"my_role": "backend", "teammates": "frontend, reviewer:observer"}),
        ))
        .await
        .expect("start_team"),
    );
    for needle in [
        "create_conversation",
        "\"frontend\"",
        "create_invite",
        "as: observer",
        "wait_seconds 60",
        "send_message",
    ] {
        assert!(start.contains(needle), "{needle} missing from {start}");
    }
    let joined = text(
        s.get_prompt(get(
            "join_team",
            json!({"invite_code": "7KQ2-M9XD-4HTP-0R3C"}),
        ))
        .await
        .expect("join_team"),
    );
    assert!(
        joined.contains("join_conversation") && joined.contains("7KQ2-M9XD-4HTP-0R3C"),
        "{joined}"
    );
    let review = text(
        s.get_prompt(get("review_work", json!({"teammate": "frontend"})))
            .await
            .expect("review_work"),
    );
    assert!(review.contains("action_type review"), "{review}");
    // A missing argument or an unknown prompt is a JSON-RPC invalid-params error.
    for bad in [
        get("join_team", json!({})),
        get("no_such_prompt", json!({})),
    ] {
        match s.get_prompt(bad).await {
            Err(rmcp::service::ServiceError::McpError(e)) => {
                assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS, "{e:?}");
            }
            other => panic!("expected invalid params, got {other:?}"),
        }
    }
    s.stop().await;
}

/// A client that forwards `notifications/resources/updated` to a channel.
#[derive(Clone)]
pub(crate) struct Watcher(mpsc::UnboundedSender<String>);

impl ClientHandler for Watcher {
    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.0.send(params.uri);
    }
}

/// Spawns `mcp-bridge serve` with a [`Watcher`] client.
pub(crate) async fn watched(
    env: &TestEnv,
) -> (
    RunningService<RoleClient, Watcher>,
    mpsc::UnboundedReceiver<String>,
    tokio::process::Child,
) {
    let mut child = piped_serve(env);
    let (stdout, stdin) = (child.stdout.take().unwrap(), child.stdin.take().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    let client = tokio::time::timeout(EVENT_TIMEOUT, Watcher(tx).serve((stdout, stdin)))
        .await
        .expect("handshake in time")
        .expect("handshake");
    (client, rx, child)
}

fn inbox_json(r: &rmcp::model::ReadResourceResult) -> Value {
    let v = serde_json::to_value(&r.contents[0]).unwrap();
    assert_eq!(v["uri"], "bridge://inbox");
    assert_eq!(v["mimeType"], "application/json");
    serde_json::from_str(v["text"].as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_resource_is_pushed_to_a_subscriber() {
    let env = TestEnv::new("teams_resource");
    let (client, mut updates, _child) = watched(&env).await;
    let other = env.server().await;
    let conv = Conv::create(&client).await;
    let resources = client.list_all_resources().await.expect("resources/list");
    assert_eq!(
        resources.iter().map(|r| r.uri.as_str()).collect::<Vec<_>>(),
        ["bridge://inbox"]
    );
    let read = client
        .read_resource(ReadResourceRequestParams::new("bridge://inbox"))
        .await
        .expect("read");
    assert_eq!(inbox_json(&read), json!({"unread": 0, "conversations": []}));

    #[allow(deprecated)]
    client
        .subscribe(SubscribeRequestParams::new("bridge://inbox"))
        .await
        .expect("resources/subscribe");
    // A message committed by another process is pushed.
    send(&other, &conv, "b", "first line\nsecond line").await;
    let uri = tokio::time::timeout(EVENT_TIMEOUT, updates.recv())
        .await
        .expect("a notification")
        .expect("open");
    assert_eq!(uri, "bridge://inbox");
    let read = client
        .read_resource(ReadResourceRequestParams::new("bridge://inbox"))
        .await
        .expect("read");
    let inbox = inbox_json(&read);
    assert_eq!(inbox["unread"], 1, "{inbox}");
    assert_eq!(
        inbox["conversations"][0]["first"][0]["first_line"],
        "first line…"
    );
    assert_eq!(inbox["conversations"][0]["role"], "backend");
    // Reading the resource marked nothing read.
    assert_eq!(
        contents(&ok(&call(&client, "check_messages", json!({})).await)),
        ["first line\nsecond line"]
    );
    send(&other, &conv, "b", "another").await;
    let uri = tokio::time::timeout(EVENT_TIMEOUT, updates.recv())
        .await
        .expect("a second notification")
        .expect("open");
    assert_eq!(uri, "bridge://inbox");
    // An unknown resource is refused.
    assert!(
        client
            .read_resource(ReadResourceRequestParams::new("bridge://other"))
            .await
            .is_err()
    );
    let _ = client.cancel().await;
    other.stop().await;
}

/// One JSON-RPC line to a raw `serve` process, in the stateless 2026-07-28
/// style (the protocol version in each request's `_meta`, no `initialize`).
pub fn stateless(id: i64, method: &str, mut params: Value) -> Vec<u8> {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    let mut line = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
        .to_string()
        .into_bytes();
    line.push(b'\n');
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_resource_is_pushed_through_subscriptions_listen() {
    let env = TestEnv::new("teams_listen");
    let mut serve = RawServe::spawn(&env);

    serve
        .send(&stateless(1, "tools/call", json!({"name": "create_conversation", "arguments": {"my_role": "lead", "partner_role": "dev"}})))
        .await;
    let created = serve.next().await;
    let created = &created["result"]["structuredContent"];
    let conv = Conv {
        id: created["conversation_id"].as_str().unwrap().to_owned(),
        a: created["session_a_token"].as_str().unwrap().to_owned(),
        b: created["session_b_token"].as_str().unwrap().to_owned(),
    };
    serve
        .send(&stateless(
            2,
            "subscriptions/listen",
            json!({"notifications": {"resourceSubscriptions": ["bridge://inbox"]}}),
        ))
        .await;
    let ack = serve.next().await;
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );
    assert_eq!(
        ack["params"]["notifications"]["resourceSubscriptions"],
        json!(["bridge://inbox"]),
        "{ack}"
    );

    let other = env.server().await;
    send(&other, &conv, "b", "pushed").await;
    let note = serve.next().await;
    assert_eq!(note["method"], "notifications/resources/updated", "{note}");
    assert_eq!(note["params"]["uri"], "bridge://inbox", "{note}");
    other.stop().await;
    serve.close().await;
}
