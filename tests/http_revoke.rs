//! `mcp-bridge http-token revoke` cuts off what the token's holder still has
//! open, not only its new requests: a stateless long-poll waiting in the
//! server ends with `401`, a long-poll inside an MCP session ends with a
//! JSON-RPC error, the session's SSE stream ends and the session with it —
//! on every server of the database, since the revoke is another process.
//! A call cut off takes nothing: what is sent afterwards is not delivered to
//! it, and a valid reader gets it at once, once. Other tokens' calls keep
//! waiting. Runs on the suite's store.

use std::time::Duration;

use serde_json::{Value, json};

use crate::util::*;
use crate::util_http::*;

/// Upper bound for a cut-off call to end: only to keep a failure from hanging.
const CUT_OFF: Duration = Duration::from_secs(15);

/// Revokes the named token through the CLI, as an operator would.
pub(crate) fn revoke(env: &TestEnv, name: &str) {
    let out = env
        .bridge()
        .args(["http-token", "revoke", name, "--db"])
        .arg(&env.db)
        .output()
        .expect("run http-token revoke");
    assert!(
        out.status.success(),
        "http-token revoke: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A request with `token` and MCP's headers, with no deadline of its own.
fn request(method: reqwest::Method, url: &str, token: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("Bearer {token}"))
}

/// The whole answer of `request`, read in a task of its own (headers and
/// body: a stateless long-poll's headers come with its answer).
fn in_background(request: reqwest::RequestBuilder) -> tokio::task::JoinHandle<Answer> {
    tokio::spawn(async move {
        let response = request.send().await.expect("HTTP request");
        read_rest(response).await
    })
}

/// What is left of `response`, read until the server ends it.
async fn read_rest(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    Answer {
        status,
        headers,
        body,
    }
}

/// A stream whose headers have arrived (the server holds it), its body read
/// in a task of its own until the server ends it.
async fn opened(request: reqwest::RequestBuilder) -> tokio::task::JoinHandle<Answer> {
    let response = tokio::time::timeout(EVENT_TIMEOUT, request.send())
        .await
        .expect("the stream opens in time")
        .expect("HTTP request");
    assert_eq!(response.status().as_u16(), 200, "the stream opens");
    tokio::spawn(read_rest(response))
}

/// A stateless long-poll of `side` of `conv` as `bearer`, waiting up to 45 s.
fn stateless_wait(
    url: &str,
    bearer: &str,
    conv: &Value,
    side: &str,
) -> tokio::task::JoinHandle<Answer> {
    let args = json!({
        "conversation_id": conv["conversation_id"],
        "session_id": side,
        "token": conv[format!("session_{side}_token")],
        "wait_seconds": 45,
    });
    let mut builder = request(reqwest::Method::POST, url, bearer)
        .header("mcp-name", "check_messages")
        .body(stateless_call(2, "check_messages", args));
    for (k, v) in STATELESS_HEADERS {
        builder = builder.header(*k, *v);
    }
    in_background(builder)
}

/// A long-poll inside MCP session `session` (its seat), waiting up to 45 s;
/// its response stream is open once this returns.
async fn session_wait(url: &str, bearer: &str, session: &str) -> tokio::task::JoinHandle<Answer> {
    let body = json!({
        "jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {"name": "check_messages", "arguments": {"wait_seconds": 45}}
    });
    let mut builder = request(reqwest::Method::POST, url, bearer).body(body.to_string());
    for (k, v) in session_headers(session) {
        builder = builder.header(k, v);
    }
    opened(builder).await
}

/// The session's own SSE stream (`GET`), open once this returns.
async fn session_stream(url: &str, bearer: &str, session: &str) -> tokio::task::JoinHandle<Answer> {
    let mut builder =
        request(reqwest::Method::GET, url, bearer).header("accept", "text/event-stream");
    for (k, v) in session_headers(session) {
        builder = builder.header(k, v);
    }
    opened(builder).await
}

/// The answer of `call` once it has ended, which it must within [`CUT_OFF`].
async fn ended(what: &str, call: tokio::task::JoinHandle<Answer>) -> Answer {
    tokio::time::timeout(CUT_OFF, call)
        .await
        .unwrap_or_else(|_| panic!("{what} is still open {CUT_OFF:?} after the revoke"))
        .expect("request task")
}

/// A conversation made statelessly as `bearer`: its id and both seats' tokens.
async fn conversation(url: &str, bearer: &str) -> Value {
    let made = stateless(
        url,
        Some(bearer),
        1,
        "create_conversation",
        json!({"my_role": "writer", "partner_role": "reader"}),
    )
    .await;
    answer_result(&made)
}

/// `side` of `conv` sends `text`, as `bearer`.
async fn send(url: &str, bearer: &str, conv: &Value, side: &str, text: &str) {
    let args = json!({
        "conversation_id": conv["conversation_id"],
        "session_id": side,
        "token": conv[format!("session_{side}_token")],
        "message": text,
    });
    answer_result(&stateless(url, Some(bearer), 3, "send_to_partner", args).await);
}

/// What `side` of `conv` reads at once (no wait), as `bearer`.
async fn read_now(url: &str, bearer: &str, conv: &Value, side: &str) -> Vec<String> {
    let args = json!({
        "conversation_id": conv["conversation_id"],
        "session_id": side,
        "token": conv[format!("session_{side}_token")],
    });
    let page = answer_result(&stateless(url, Some(bearer), 4, "check_messages", args).await);
    contents(&page)
}

/// Waits until `n` long-polls of `side` of `conv` have spent their quota:
/// they are waiting in the server.
async fn waiting(env: &TestEnv, conv: &Value, side: &str, n: i64) {
    let id = conv["conversation_id"].as_str().expect("conversation id");
    let sql = format!(
        "SELECT coalesce(sum(count), 0) FROM rate_buckets WHERE conversation_id = '{id}'
           AND side = '{side}' AND class = 'check_messages' AND \"window\" = 'minute'"
    );
    wait_until("the long-poll to wait", || env.count(&sql) == n).await;
}

/// A stateless long-poll cut off before its answer began gets `401`, as a
/// new request with the token would.
fn assert_refused(answer: &Answer) {
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert!(
        answer.header("www-authenticate").contains("invalid_token"),
        "{:?}",
        answer.headers
    );
}

/// A long-poll whose response stream had begun ends with a JSON-RPC error,
/// no page.
fn assert_ended_with_error(answer: &Answer) {
    assert_eq!(answer.status, 200, "{}", answer.body);
    let message = answer.message();
    assert!(message["error"].is_object(), "{}", answer.body);
    assert!(message["result"].is_null(), "{}", answer.body);
}

/// The session `session` made on `url` as `bearer`, with a conversation
/// whose seat `a` it is bound to; that conversation.
async fn bound_session(url: &str, bearer: &str) -> (String, Value) {
    let session = open_session(url, bearer).await;
    let created = answer_result(
        &session_call(
            url,
            bearer,
            &session,
            "create_conversation",
            json!({"my_role": "writer", "partner_role": "reader"}),
        )
        .await,
    );
    (session, created)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_tokens_stateless_long_poll_ends_and_takes_nothing() {
    let env = TestEnv::new("http_revoke_stateless");
    let alice = make_token(&env, "alice", "agent");
    let bob = make_token(&env, "bob", "agent");
    let server = HttpServer::start(&env, &[], &[]).await;
    let conv = conversation(&server.url, &bob).await;

    let alice_waits = stateless_wait(&server.url, &alice, &conv, "a");
    let bob_waits = stateless_wait(&server.url, &bob, &conv, "b");
    waiting(&env, &conv, "a", 1).await;
    waiting(&env, &conv, "b", 1).await;

    revoke(&env, "alice");
    assert_refused(&ended("alice's long-poll", alice_waits).await);
    let id = conv["conversation_id"].as_str().unwrap();
    let cancelled = format!(
        "SELECT count(*) FROM audit_log WHERE conversation_id = '{id}'
           AND side = 'a' AND action = 'check_messages' AND code = 'cancelled'"
    );
    wait_until("the call cut off to be audited as cancelled", || {
        env.count(&cancelled) == 1
    })
    .await;

    // Bob's long-poll waits on; what is sent to alice's seat now is not
    // delivered to her and is there, once, for a valid reader.
    send(&server.url, &bob, &conv, "b", "after the revoke").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !bob_waits.is_finished(),
        "another token's long-poll waits on"
    );
    assert_eq!(
        read_now(&server.url, &bob, &conv, "a").await,
        ["after the revoke"]
    );
    assert!(read_now(&server.url, &bob, &conv, "a").await.is_empty());
    send(&server.url, &bob, &conv, "a", "for bob").await;
    let woken = ended("bob's long-poll", bob_waits).await;
    assert_eq!(contents(&answer_result(&woken)), ["for bob"]);

    let again = stateless(&server.url, Some(&alice), 5, "check_messages", json!({})).await;
    assert_refused(&again);
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains(&alice), "a token is never logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_tokens_session_its_long_poll_and_stream_end() {
    let env = TestEnv::new("http_revoke_session");
    let alice = make_token(&env, "alice", "agent");
    let bob = make_token(&env, "bob", "agent");
    let server = HttpServer::start(&env, &[], &[]).await;
    let (session, conv) = bound_session(&server.url, &alice).await;
    assert_eq!(env.count("SELECT count(*) FROM mcp_sessions"), 1);
    let (bob_session, bob_conv) = bound_session(&server.url, &bob).await;

    let stream = session_stream(&server.url, &alice, &session).await;
    let long_poll = session_wait(&server.url, &alice, &session).await;
    let bob_waits = session_wait(&server.url, &bob, &bob_session).await;
    waiting(&env, &conv, "a", 1).await;
    waiting(&env, &bob_conv, "a", 1).await;

    revoke(&env, "alice");
    assert_ended_with_error(&ended("the session's long-poll", long_poll).await);
    let closed = ended("the session's SSE stream", stream).await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    let id = conv["conversation_id"].as_str().unwrap();
    let cancelled = format!(
        "SELECT count(*) FROM audit_log WHERE conversation_id = '{id}'
           AND side = 'a' AND action = 'check_messages' AND code = 'cancelled'"
    );
    wait_until(
        "the call in the session to end, audited as cancelled",
        || env.count(&cancelled) == 1,
    )
    .await;

    // The session is over: refused to its owner, unknown to anyone else,
    // gone from the database.
    send(&server.url, &bob, &conv, "b", "after the revoke").await;
    let owner = session_call(&server.url, &alice, &session, "check_messages", json!({})).await;
    assert_eq!(owner.status, 401, "{}", owner.body);
    let other = session_call(&server.url, &bob, &session, "check_messages", json!({})).await;
    assert_eq!(other.status, 404, "{}", other.body);
    wait_until("the session to be forgotten", || {
        env.count("SELECT count(*) FROM mcp_sessions WHERE owner <> '(ended)'") == 1
    })
    .await;

    assert!(
        !bob_waits.is_finished(),
        "another token's long-poll waits on"
    );
    assert_eq!(
        read_now(&server.url, &bob, &conv, "a").await,
        ["after the revoke"]
    );
    assert!(read_now(&server.url, &bob, &conv, "a").await.is_empty());
    send(&server.url, &bob, &bob_conv, "b", "for bob").await;
    let woken = ended("bob's long-poll", bob_waits).await;
    assert_eq!(contents(&answer_result(&woken)), ["for bob"]);
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_reaches_every_server_on_the_database() {
    let env = TestEnv::new("http_revoke_servers");
    let alice = make_token(&env, "alice", "agent");
    let bob = make_token(&env, "bob", "agent");
    let one = HttpServer::start(&env, &[], &[]).await;
    let two = HttpServer::start(&env, &[], &[]).await;
    let first = conversation(&one.url, &bob).await;
    let (session, second) = bound_session(&two.url, &alice).await;

    let on_one = stateless_wait(&one.url, &alice, &first, "a");
    let on_two = session_wait(&two.url, &alice, &session).await;
    let bob_on_two = stateless_wait(&two.url, &bob, &first, "b");
    waiting(&env, &first, "a", 1).await;
    waiting(&env, &second, "a", 1).await;
    waiting(&env, &first, "b", 1).await;

    revoke(&env, "alice");
    assert_refused(&ended("the long-poll on the first server", on_one).await);
    assert_ended_with_error(&ended("the session's long-poll on the second server", on_two).await);

    send(&two.url, &bob, &first, "b", "first, after the revoke").await;
    send(&one.url, &bob, &second, "b", "second, after the revoke").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !bob_on_two.is_finished(),
        "another token's long-poll waits on"
    );
    for url in [&one.url, &two.url] {
        let moved = session_call(url, &alice, &session, "check_messages", json!({})).await;
        assert_eq!(moved.status, 401, "{}", moved.body);
    }
    assert_eq!(
        read_now(&one.url, &bob, &first, "a").await,
        ["first, after the revoke"]
    );
    assert_eq!(
        read_now(&one.url, &bob, &second, "a").await,
        ["second, after the revoke"]
    );
    for conv in [&first, &second] {
        assert!(read_now(&two.url, &bob, conv, "a").await.is_empty());
    }
    send(&one.url, &bob, &first, "a", "for bob").await;
    let woken = ended("bob's long-poll", bob_on_two).await;
    assert_eq!(contents(&answer_result(&woken)), ["for bob"]);
    for server in [one, two] {
        let (status, stderr) = server.terminate().await;
        assert!(status.success(), "{stderr}");
    }
}

/// `http-token` refusals exit 1 and are audited as denied, like other
/// commands' (they exited 2 and left no record); a bad name is a usage
/// error, said once (it was said twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_token_refusals_exit_1_and_are_audited() {
    use crate::util_cli::cli;
    let env = TestEnv::new("http_token_refusals");
    make_token(&env, "alice", "agent");
    cli(&env, &["http-token", "create", "alice"])
        .await
        .fails(1, "an HTTP token named \"alice\" exists");
    revoke(&env, "alice");
    for args in [
        &["http-token", "revoke", "alice"][..],
        &["http-token", "revoke", "nobody"],
    ] {
        cli(&env, args).await.fails(1, "no active HTTP token named");
    }
    cli(&env, &["http-token", "create", "alice"])
        .await
        .fails(1, "names are never reused, even once revoked");
    let line = cli(&env, &["http-token", "create", "bad name!"])
        .await
        .fails(2, "`name` must be");
    assert_eq!(line.matches("`name` must be").count(), 1, "{line}");
    // (Verifying links PostgreSQL's staged records into the chain first.)
    cli(&env, &["audit", "--verify"]).await.ok();
    let denied = |action: &str, code: &str| {
        env.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = '{action}' AND outcome = 'denied' AND code = '{code}'"
        ))
    };
    assert_eq!(denied("http_token_create", "conflict"), 2);
    assert_eq!(denied("http_token_revoke", "not_found"), 2);
}
