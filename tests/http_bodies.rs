//! What `/mcp` of a real `serve --http` answers to bodies that are not one
//! JSON-RPC message (`-32700` for what is not JSON, `-32600` for JSON that
//! is no JSON-RPC message: a batch, a bare value, JSON nested 10 000 deep),
//! and to an `Mcp-Session-Id` on a request of the stateless protocol, which
//! has no sessions: ignored, as the 2026-07-28 transport asks, so it neither
//! stores a session of that id nor collides with a real session.

use serde_json::{Value, json};

use crate::util::*;
use crate::util_http::*;

/// POSTs `body` as a stateless call would be sent; the answer.
async fn send(url: &str, token: &str, body: impl Into<reqwest::Body>) -> Answer {
    let mut headers = STATELESS_HEADERS.to_vec();
    headers.push(("mcp-name", "create_conversation"));
    post(url, Some(token), &headers, body).await
}

/// The JSON-RPC error code and id of a `400` answer.
fn error_of(answer: &Answer) -> (i64, Value) {
    assert_eq!(answer.status, 400, "{}", answer.body);
    let message = answer.message();
    let code = message["error"]["code"].as_i64().expect("an error code");
    (code, message["id"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_json_rpc_get_the_error_they_are() {
    let env = TestEnv::new("http_bodies");
    let agent = make_token(&env, "agent-1", "agent");
    let server = HttpServer::start(&env, &[], &[]).await;
    let call = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "create_conversation", "arguments": {"my_role": "left", "partner_role": "right"},
                   "_meta": stateless_meta()}
    });

    // Not JSON: a parse error.
    for text in [
        "hello",
        "{\"jsonrpc\": \"2.0\", \"id\": 1,",
        "\u{feff}{}",
        "{'a': 1}",
    ] {
        let answer = send(&server.url, &agent, text.to_owned()).await;
        assert_eq!(error_of(&answer), (-32700, Value::Null), "{text}");
    }
    // Nor is invalid UTF-8 in a string, a number out of range or a lone
    // surrogate (each read as JSON but no JSON-RPC request before, -32600;
    // stdio says -32700 for them).
    let call_text = call.to_string();
    let mut bad_utf8 = call_text.replacen("\"left\"", "\"\u{1}\"", 1).into_bytes();
    let at = bad_utf8.iter().position(|&b| b == 1).expect("marker");
    bad_utf8[at] = 0xff;
    for body in [
        bad_utf8,
        call_text.replacen("\"left\"", "1e999", 1).into_bytes(),
        call_text
            .replacen("\"left\"", "\"\\ud800\"", 1)
            .into_bytes(),
    ] {
        let answer = send(&server.url, &agent, body.clone()).await;
        let shown = String::from_utf8_lossy(&body).into_owned();
        assert_eq!(error_of(&answer), (-32700, Value::Null), "{shown}");
    }
    // JSON, but no JSON-RPC message: an invalid request, with the id when
    // there is a usable one.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_in_a_call = json!({
        "jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {"name": "create_conversation", "arguments": {"my_role": "left", "partner_role": "right"},
                   "_meta": stateless_meta()}
    })
    .to_string()
    .replacen("\"left\"", &format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)), 1);
    for (text, id) in [
        ("{\"foo\": 1}".to_owned(), Value::Null),
        ("42".to_owned(), Value::Null),
        ("\"ping\"".to_owned(), Value::Null),
        ("null".to_owned(), Value::Null),
        ("[]".to_owned(), Value::Null),
        (format!("[{call},{call}]"), Value::Null),
        (
            json!({"jsonrpc": "1.0", "id": 7, "method": "ping"}).to_string(),
            json!(7),
        ),
        (json!({"id": "a", "method": "ping"}).to_string(), json!("a")),
        (
            json!({"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"}).to_string(),
            Value::Null,
        ),
        (deep, Value::Null),
        (deep_in_a_call, json!(9)),
        // A key given twice (here in a tool's arguments, where serde keeps
        // the last): refused whole, as on stdio.
        (
            call.to_string().replacen(
                "\"partner_role\"",
                "\"my_role\":\"run\",\"partner_role\"",
                1,
            ),
            json!(1),
        ),
    ] {
        let answer = send(&server.url, &agent, text.clone()).await;
        let shown: String = text.chars().take(60).collect();
        assert_eq!(error_of(&answer), (-32600, id), "{shown}");
        if text.starts_with("[{") {
            assert!(answer.body.contains("batch"), "{}", answer.body);
        }
    }
    // A served method whose params are not an object: invalid params, as on
    // stdio (it used to be -32600).
    for (text, id) in [
        (
            json!({"jsonrpc": "2.0", "id": 11, "method": "tools/call", "params": ["create_conversation"]}),
            json!(11),
        ),
        (
            json!({"jsonrpc": "2.0", "id": "p", "method": "ping", "params": 5}),
            json!("p"),
        ),
    ] {
        let answer = send(&server.url, &agent, text.to_string()).await;
        assert_eq!(error_of(&answer), (-32602, id), "{text}");
    }
    assert_eq!(rows(&env, "conversations"), 0, "nothing ran");

    // The server lives on (no stack overflow on the deep ones) and serves.
    let answer = send(&server.url, &agent, call.to_string()).await;
    answer_result(&answer);
    // The answer holds session tokens: no cache may store it (rmcp said `no-cache`).
    assert_eq!(answer.header("cache-control"), "no-store");
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_id_on_a_stateless_request_is_ignored() {
    let env = TestEnv::new("http_stateless_session_id");
    let alice = make_token(&env, "alice", "agent");
    let mallory = make_token(&env, "mallory", "agent");
    let server = HttpServer::start(&env, &[], &[]).await;
    let create = json!({"my_role": "left", "partner_role": "right"});

    // A made-up id: served statelessly, no id echoed, no session stored
    // under it (a stateless call used to store one as it bound a seat).
    let mut headers = STATELESS_HEADERS.to_vec();
    headers.extend([
        ("mcp-name", "create_conversation"),
        ("mcp-session-id", "made-up-session"),
    ]);
    let body = stateless_call(1, "create_conversation", create.clone());
    let answer = post(&server.url, Some(&alice), &headers, body.clone()).await;
    answer_result(&answer);
    assert_eq!(
        answer.header("mcp-session-id"),
        "",
        "no session id is echoed"
    );
    assert_eq!(env.count("SELECT count(*) FROM mcp_sessions"), 0);
    // The same id and request id at once are two stateless calls, not a
    // reuse within a session.
    let (one, two) = tokio::join!(
        post(&server.url, Some(&alice), &headers, body.clone()),
        post(&server.url, Some(&alice), &headers, body.clone()),
    );
    answer_result(&one);
    answer_result(&two);

    // Alice's real session (of an older protocol) is stored once it binds a
    // seat; a stateless request of Mallory's naming its id is served as any
    // stateless request (not 404 for naming a session held here), and
    // leaves Alice's session as it was.
    let session = open_session(&server.url, &alice).await;
    let created = session_call(
        &server.url,
        &alice,
        &session,
        "create_conversation",
        create.clone(),
    )
    .await;
    answer_result(&created);
    assert_eq!(env.count("SELECT count(*) FROM mcp_sessions"), 1);
    let mut headers = STATELESS_HEADERS.to_vec();
    headers.extend([
        ("mcp-name", "create_conversation"),
        ("mcp-session-id", session.as_str()),
    ]);
    let answer = post(&server.url, Some(&mallory), &headers, body).await;
    answer_result(&answer);
    assert_eq!(env.count("SELECT count(*) FROM mcp_sessions"), 1);
    assert_eq!(
        env.count("SELECT count(*) FROM mcp_sessions WHERE owner = 'alice'"),
        1
    );
    let listed = session_call(
        &server.url,
        &alice,
        &session,
        "list_my_conversations",
        json!({}),
    )
    .await;
    answer_result(&listed);
    // An older protocol's request with an unknown id is still a 404.
    let ping = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}).to_string();
    let answer = post(
        &server.url,
        Some(&alice),
        &session_headers("made-up-session"),
        ping,
    )
    .await;
    assert_eq!(answer.status, 404, "{}", answer.body);

    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
}
