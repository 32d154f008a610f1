//! The streamable HTTP transport end to end: real `mcp-bridge serve --http`
//! processes and rmcp's HTTP client (sessions, 2025-06-18/2025-11-25) or raw
//! stateless 2026-07-28 requests. Every tool works; a long-poll is woken by
//! a send from another client; a delivered page is acknowledged once its
//! response is written; each MCP session has its own bound credentials and a
//! stateless request has none; SIGTERM ends waiting long-polls empty, lets
//! calls finish and exits cleanly.

use serde_json::json;

use crate::util::*;
use crate::util_http::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_over_http_with_long_poll_and_acknowledgement() {
    let env = TestEnv::new("http_tools");
    let token = make_token(&env, "agents", "agent");
    let server = HttpServer::start(&env, &[], &[]).await;
    let a = server.client(Some(&token)).await;
    let b = server.client(Some(&token)).await;
    let info = a.peer_info().expect("server info");
    eprintln!("negotiated {:?}", info.protocol_version);

    let tools = a.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for tool in [
        "create_conversation",
        "send_to_partner",
        "check_messages",
        "update_my_status",
        "check_partner_status",
    ] {
        assert!(names.contains(&tool), "{tool} missing from {names:?}");
    }

    let conv = Conv::create(a.peer()).await;
    let (peer_b, conv_b) = (b.peer().clone(), conv.clone());
    let waiting =
        tokio::spawn(
            async move { check(&peer_b, &conv_b, "b", json!({"wait_seconds": 30})).await },
        );
    wait_until("b's long-poll to start", || {
        polls_started(&env, &conv, "b") == 1
    })
    .await;
    send(a.peer(), &conv, "a", "hello over http").await;
    let got = tokio::time::timeout(EVENT_TIMEOUT, waiting)
        .await
        .expect("the long-poll is woken")
        .expect("task");
    assert_eq!(contents(&got), ["hello over http"]);
    // The page was leased and is acknowledged once the response is written.
    wait_until("the page to be acknowledged", || {
        rows(&env, "pending_deliveries") == 0
    })
    .await;
    assert!(messages(&check(b.peer(), &conv, "b", json!({})).await).is_empty());

    let status = ok(&call(
        b.peer(),
        "update_my_status",
        conv.args("b", json!({"status": "working", "note": "on it"})),
    )
    .await);
    assert_eq!(status["status"], "working");
    let partner = ok(&call(a.peer(), "check_partner_status", conv.args("a", json!({}))).await);
    assert_eq!(partner["status"], "working");
    assert_eq!(partner["alive"], true);

    // Session a created the conversation, so it is bound to it; b's MCP
    // session named seat b with its token, so it is bound to that; a third
    // session that did neither is bound to nothing: it is told what to pass.
    ok(&call(a.peer(), "send_to_partner", json!({"message": "bound"})).await);
    let c = server.client(Some(&token)).await;
    let unbound = tool_error(
        &call(c.peer(), "send_to_partner", json!({"message": "not bound"})).await,
        "invalid_argument",
    );
    assert!(
        unbound["message"]
            .as_str()
            .unwrap_or_default()
            .contains("session_id \"b\""),
        "{unbound}"
    );
    let last = ok(&call(b.peer(), "check_messages", json!({})).await);
    assert_eq!(contents(&last), ["bound"]);
    // A seat learned from a call's own credentials is this host's only: it
    // is not stored (a write per session a client opens, outside the
    // storage budget); only a's session, which created, is.
    assert_eq!(
        env.count("SELECT count(*) FROM mcp_sessions WHERE owner <> '(ended)'"),
        1
    );

    drop((a, b, c));
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "exit {status:?}\n{stderr}");
    assert!(!stderr.contains(&token), "the token leaked to stderr");
    assert_audit_intact(&env, "after the HTTP session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_requests_carry_their_own_credentials() {
    let env = TestEnv::new("http_stateless");
    let token = "shared-token-0123456789abcdef";
    let server = HttpServer::start(&env, &[], &[("MCP_BRIDGE_HTTP_TOKEN", token)]).await;
    let created = stateless(
        &server.url,
        Some(token),
        1,
        "create_conversation",
        json!({"my_role": "writer", "partner_role": "reader"}),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(
        created.header("mcp-session-id").is_empty(),
        "a stateless request got a session"
    );
    let result = created.message()["result"].clone();
    let conv = result["structuredContent"].clone();
    let id = conv["conversation_id"].as_str().expect("id").to_owned();
    let token_a = conv["session_a_token"].as_str().expect("token").to_owned();

    // The next request is a new server: no credentials are remembered.
    let unbound = stateless(
        &server.url,
        Some(token),
        2,
        "send_to_partner",
        json!({"message": "hi"}),
    )
    .await;
    let unbound = unbound.message();
    assert_eq!(unbound["result"]["isError"], true, "{unbound}");
    assert_eq!(
        unbound["result"]["_meta"]["mcp-bridge/error"]["code"], "invalid_argument",
        "{unbound}"
    );

    let sent = stateless(
        &server.url,
        Some(token),
        3,
        "send_to_partner",
        json!({"conversation_id": id, "session_id": "a", "token": token_a, "message": "hi"}),
    )
    .await
    .message();
    assert_eq!(sent["result"]["isError"], false, "{sent}");
    assert_eq!(
        sent["result"]["structuredContent"]["message_id"], 1,
        "{sent}"
    );
    assert_eq!(rows(&env, "messages"), 1);
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_waiting_long_polls_empty_and_exits_cleanly() {
    let env = TestEnv::new("http_shutdown");
    let token = make_token(&env, "agents", "agent");
    let server = HttpServer::start(&env, &[], &[]).await;
    let a = server.client(Some(&token)).await;
    let conv = Conv::create(a.peer()).await;
    send(a.peer(), &conv, "a", "before shutdown").await;
    let b = server.client(Some(&token)).await;
    // Take the one message, then wait for more.
    assert_eq!(
        contents(&check(b.peer(), &conv, "b", json!({})).await),
        ["before shutdown"]
    );
    let (peer_b, conv_b) = (b.peer().clone(), conv.clone());
    let waiting =
        tokio::spawn(
            async move { check(&peer_b, &conv_b, "b", json!({"wait_seconds": 60})).await },
        );
    wait_until("the long-poll to start", || {
        polls_started(&env, &conv, "b") == 2
    })
    .await;
    let stopping = tokio::spawn(server.terminate());
    let ended = tokio::time::timeout(EVENT_TIMEOUT, waiting)
        .await
        .expect("the long-poll ends at shutdown")
        .expect("task");
    assert!(messages(&ended).is_empty(), "{ended}");
    let (status, stderr) = stopping.await.expect("task");
    assert!(status.success(), "exit {status:?}\n{stderr}");
    // The delivered message was acknowledged, and nothing else is pending.
    assert_eq!(rows(&env, "pending_deliveries"), 0);
    assert_eq!(rows(&env, "messages"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bearer_token_has_its_own_quota_of_unauthenticated_calls() {
    let env = TestEnv::new("http_quota");
    let first = make_token(&env, "first", "agent");
    let second = make_token(&env, "second", "agent");
    let capped = [("MCP_BRIDGE_RATE_LIMITS__UNAUTHENTICATED__PER_MINUTE", "3")];
    let server = HttpServer::start(&env, &[], &capped).await;
    let a = server.client(Some(&first)).await;
    for _ in 0..3 {
        Conv::create(a.peer()).await;
    }
    let refused = call(
        a.peer(),
        "create_conversation",
        json!({"my_role": "left", "partner_role": "right"}),
    )
    .await;
    let refused = tool_error(&refused, "rate_limited");
    assert!(
        refused.to_string().contains("bearer token"),
        "the refusal names its scope: {refused}"
    );
    // Another token's clients are not held back by the first one's calls,
    // although they share the server process.
    let b = server.client(Some(&second)).await;
    Conv::create(b.peer()).await;
    drop((a, b));
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_right_after_a_delivered_page_sees_the_rest() {
    let env = TestEnv::new("http_recheck");
    let token = "shared-token-0123456789abcdef";
    let server = HttpServer::start(
        &env,
        &[],
        &[
            ("MCP_BRIDGE_HTTP_TOKEN", token),
            ("MCP_BRIDGE_RATE_LIMITS", "off"),
        ],
    )
    .await;
    let created = stateless(
        &server.url,
        Some(token),
        1,
        "create_conversation",
        json!({"my_role": "writer", "partner_role": "reader"}),
    )
    .await
    .message();
    let conv = created["result"]["structuredContent"].clone();
    let creds = |side: &str| {
        json!({
            "conversation_id": conv["conversation_id"],
            "session_id": side,
            "token": conv[format!("session_{side}_token")],
        })
    };
    let mut id = 2;
    for round in 0..20 {
        for n in 0..2 {
            let mut args = creds("a");
            merge(&mut args, json!({"message": format!("{round}.{n}")}));
            stateless(&server.url, Some(token), id, "send_to_partner", args).await;
            id += 1;
        }
        // Each page is acknowledged only once written; the next check, sent
        // the moment the first answer arrived, still gets the second message.
        for n in 0..2 {
            let mut args = creds("b");
            merge(&mut args, json!({"limit": 1}));
            let page = stateless(&server.url, Some(token), id, "check_messages", args)
                .await
                .message();
            id += 1;
            let got = contents(&page["result"]["structuredContent"]);
            assert_eq!(got, [format!("{round}.{n}")], "round {round}: {page}");
        }
    }
    // The last page's acknowledgement commits after its response was written.
    wait_until("the last page to be acknowledged", || {
        rows(&env, "pending_deliveries") == 0
    })
    .await;
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
}

/// A stateless `subscriptions/listen` is served by a fresh instance bound to
/// no conversation: it could never hear anything, and it held its connection
/// open past every limit (one token used up a server's descriptors, red
/// team). It is refused at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stateless_listen_that_can_hear_nothing_is_refused_at_once() {
    let env = TestEnv::new("http_stateless_listen");
    let token = make_token(&env, "agents", "agent");
    let server = HttpServer::start(&env, &[], &[]).await;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "subscriptions/listen",
        "params": {"notifications": {"resourceSubscriptions": ["bridge://inbox"]},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {}}}});
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "subscriptions/listen"),
    ];
    let answer = tokio::time::timeout(
        EVENT_TIMEOUT,
        post(&server.url, Some(&token), &headers, body.to_string()),
    )
    .await
    .expect("the listen was held open");
    assert!(
        answer.body.contains("holds no conversation"),
        "{}: {}",
        answer.status,
        answer.body
    );
    // Only the refusal: rmcp used to acknowledge the subscription first, so
    // a client took it for a live one (acceptance run).
    let refusal: serde_json::Value = serde_json::from_str(&answer.body)
        .unwrap_or_else(|e| panic!("one JSON-RPC error expected ({e}): {}", answer.body));
    assert_eq!(
        (refusal["id"].clone(), refusal["error"]["code"].clone()),
        (json!(1), json!(-32600)),
        "{refusal}"
    );
    server.terminate().await;
}
