//! A stateless long-poll waits in the bearer check, before rmcp builds its
//! request (`transport::http::park`), and is served as any other: woken by a
//! send through another server, it gets the message once; its quota is spent
//! once; what it cannot wait for (a wrong token, a spent rate limit) is
//! answered at once; a client that gives up leaves a `cancelled` record;
//! SIGTERM ends its wait with an empty page. (What parking
//! saves, memory, is measured by `benches/http.rs`.)

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::*;
use crate::util_http::*;

const TOKEN: &str = "shared-token-0123456789abcdef";

/// `check_messages` for `side` with `extra` arguments, stateless, through `server`.
async fn check_on(server: &HttpServer, conv: &Value, side: &str, extra: Value) -> Value {
    let mut args = seat(conv, side);
    merge(&mut args, extra);
    stateless(&server.url, Some(TOKEN), 7, "check_messages", args)
        .await
        .message()
}

/// A long-poll of `side` through `url`, waiting up to 30 s, in a task of its own.
fn waiting(url: &str, conv: &Value, side: &str) -> tokio::task::JoinHandle<Value> {
    let mut args = seat(conv, side);
    args["wait_seconds"] = json!(30);
    let url = url.to_owned();
    tokio::spawn(async move {
        stateless(&url, Some(TOKEN), 2, "check_messages", args)
            .await
            .message()
    })
}

/// `a` sends `text` through `url`.
async fn send_via(url: &str, conv: &Value, text: &str) {
    let args = json!({
        "conversation_id": conv["conversation_id"],
        "session_id": "a",
        "token": conv["session_a_token"],
        "message": text,
    });
    let sent = stateless(url, Some(TOKEN), 3, "send_to_partner", args).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
}

/// What `waiter` answers once `text` is sent through `url` (its result).
async fn woken_by(
    waiter: tokio::task::JoinHandle<Value>,
    url: &str,
    conv: &Value,
    text: &str,
) -> Value {
    tokio::time::sleep(Duration::from_millis(300)).await;
    send_via(url, conv, text).await;
    let page = tokio::time::timeout(EVENT_TIMEOUT, waiter)
        .await
        .expect("woken well before its wait ends")
        .expect("waiter");
    page["result"]["structuredContent"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_long_poll_is_served_as_any_other() {
    let env = TestEnv::new("http_park");
    let vars = [
        ("MCP_BRIDGE_HTTP_TOKEN", TOKEN),
        ("MCP_BRIDGE_RATE_LIMITS__CHECK_MESSAGES__PER_MINUTE", "4"),
    ];
    let one = HttpServer::start(&env, &[], &vars).await;
    let two = HttpServer::start(&env, &[], &vars).await;
    let conv = created(&one).await;

    // 1. Parked on one server, woken by a send through the other.
    let page = woken_by(waiting(&one.url, &conv, "b"), &two.url, &conv, "hello").await;
    assert_eq!(contents(&page), ["hello"], "{page}");

    // 1b. Woken by a send through its own server: a wake-up that names the
    //     inbox (on PostgreSQL, a send through any server names it), so the
    //     call takes at once, while its authorization is read.
    let page = woken_by(waiting(&one.url, &conv, "b"), &one.url, &conv, "again").await;
    assert_eq!(contents(&page), ["again"], "{page}");
    assert_eq!(page["messages"][0]["to"], json!(["reader"]), "{page}");

    // 2. A wait that lapses answers empty (each message was delivered once).
    let started = Instant::now();
    let page = check_on(&two, &conv, "b", json!({"wait_seconds": 1})).await;
    assert!(started.elapsed() >= Duration::from_millis(900), "it waited");
    assert_eq!(
        page["result"]["structuredContent"]["messages"],
        json!([]),
        "{page}"
    );

    // 3. Each call spent its quota once: one more of the four a minute
    //    passes, the fifth is refused at once, long-poll or not.
    let page = check_on(&one, &conv, "b", json!({"wait_seconds": 0.2})).await;
    assert_ne!(page["result"]["isError"], true, "{page}");
    let started = Instant::now();
    let refused = check_on(&one, &conv, "b", json!({"wait_seconds": 30})).await;
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    assert!(refused.to_string().contains("rate_limited"), "{refused}");
    assert!(started.elapsed() < EVENT_TIMEOUT, "refused at once");

    // 4. A wrong token is refused at once too, not after the wait.
    let started = Instant::now();
    let mut wrong = conv.clone();
    wrong["session_a_token"] = json!("ab".repeat(32));
    let refused = check_on(&two, &wrong, "a", json!({"wait_seconds": 30})).await;
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    assert!(refused.to_string().contains("auth_failed"), "{refused}");
    assert!(started.elapsed() < EVENT_TIMEOUT, "refused at once");

    // 5. A client that gives up while its call is parked leaves one
    //    `cancelled` record, as one given up while it is served does.
    let id = conv["conversation_id"].as_str().expect("id").to_owned();
    let waiter = waiting(&two.url, &conv, "a");
    wait_check_started(&env, &id, "a").await;
    waiter.abort();
    wait_check_cancelled(&env, &id, "a").await;

    // 6. SIGTERM ends a parked wait with an empty page.
    let waiter = waiting(&two.url, &conv, "a");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, stderr) = two.terminate().await;
    assert!(status.success(), "{stderr}");
    let page = waiter.await.expect("waiter");
    assert_eq!(
        page["result"]["structuredContent"]["messages"],
        json!([]),
        "{page}"
    );
    let (status, stderr) = one.terminate().await;
    assert!(status.success(), "{stderr}");
}

/// An operator's `mcp-bridge end` ends the long-polls waiting in the
/// conversation over HTTP at once — one parked before rmcp (stateless) and
/// one inside an MCP session (not parked) — with `conversation_expired`,
/// well before their 45 s waits would lapse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_conversation_ends_its_http_long_polls() {
    let env = TestEnv::new("http_park_end");
    let server = HttpServer::start(&env, &[], &[("MCP_BRIDGE_HTTP_TOKEN", TOKEN)]).await;
    let conv = created(&server).await;
    let id = conv["conversation_id"].as_str().expect("id").to_owned();

    let [parked, in_session] = long_polls(&server, &conv).await;
    wait_check_started(&env, &id, "b").await;
    wait_check_started(&env, &id, "a").await;

    crate::util_cli::cli(&env, &["end", &id]).await.ok();
    ended_expired(parked, in_session, EVENT_TIMEOUT).await;
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
}

/// A conversation that expires on its own (a 3 s lifetime here) ends the
/// long-polls waiting in it at its expiry, parked or in a session, with
/// `conversation_expired`. An expiry commits nothing, so no change woke
/// them: they ended at the next wake-up of unknown scope, about 15 s in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_expiring_ends_its_http_long_polls() {
    let env = TestEnv::new("http_park_expiry");
    let vars = [
        ("MCP_BRIDGE_HTTP_TOKEN", TOKEN),
        ("MCP_BRIDGE_CONVERSATION_TTL_MINUTES", "0.05"),
    ];
    let server = HttpServer::start(&env, &[], &vars).await;
    let conv = created(&server).await;
    let started = Instant::now();
    let [parked, in_session] = long_polls(&server, &conv).await;
    ended_expired(parked, in_session, Duration::from_secs(60)).await;
    // Loose: the expiry is 3 s away, the old waits ended after about 15 s.
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "the long-polls outlived their conversation by {took:?}"
    );
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
}

/// Two 45 s long-polls in `conv`: side b's parked (stateless), side a's in
/// an MCP session.
async fn long_polls(server: &HttpServer, conv: &Value) -> [tokio::task::JoinHandle<Answer>; 2] {
    let parked = {
        let (url, mut args) = (server.url.clone(), seat(conv, "b"));
        args["wait_seconds"] = json!(45);
        tokio::spawn(async move { stateless(&url, Some(TOKEN), 2, "check_messages", args).await })
    };
    let session = open_session(&server.url, TOKEN).await;
    let in_session = {
        let (url, mut args) = (server.url.clone(), seat(conv, "a"));
        args["wait_seconds"] = json!(45);
        tokio::spawn(
            async move { session_call(&url, TOKEN, &session, "check_messages", args).await },
        )
    };
    [parked, in_session]
}

/// Both [`long_polls`] end, within `within`, with a `conversation_expired` error.
async fn ended_expired(
    parked: tokio::task::JoinHandle<Answer>,
    in_session: tokio::task::JoinHandle<Answer>,
    within: Duration,
) {
    for (how, waiter) in [("parked", parked), ("in a session", in_session)] {
        let answer = tokio::time::timeout(within, waiter)
            .await
            .unwrap_or_else(|_| panic!("the long-poll {how} ends with its conversation"))
            .expect("waiter");
        let message = answer.message();
        assert_eq!(message["result"]["isError"], true, "{how}: {message}");
        assert!(
            message.to_string().contains("conversation_expired"),
            "{how}: {message}"
        );
    }
}

/// A conversation between `a` and `b` created through `server` (its result).
async fn created(server: &HttpServer) -> Value {
    let args = json!({"my_role": "writer", "partner_role": "reader"});
    let created = stateless(&server.url, Some(TOKEN), 1, "create_conversation", args)
        .await
        .message();
    created["result"]["structuredContent"].clone()
}

/// The credentials of `side` in `conv`, as tool arguments.
fn seat(conv: &Value, side: &str) -> Value {
    json!({
        "conversation_id": conv["conversation_id"],
        "session_id": side,
        "token": conv[format!("session_{side}_token")],
    })
}
