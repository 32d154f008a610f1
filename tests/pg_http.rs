//! Two `mcp-bridge serve --http` processes on different ports and one
//! PostgreSQL database behave as one service, with rmcp's HTTP client on
//! each: a named bearer token made once works on both, a long-poll on one is
//! woken by a send on the other, 16 concurrent writers across both lose and
//! duplicate nothing, and a server killed mid-burst loses nothing it
//! acknowledged; stateless calls go to either host, an older protocol's
//! session bound to nothing stays on its own (`404` elsewhere; a bound one
//! moves, see `http_sessions_shared`). Skipped, with the reason
//! printed, when no PostgreSQL is available (see `util_pg`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::util::*;
use crate::util_http::*;

const NO_LIMITS: &[(&str, &str)] = &[
    ("MCP_BRIDGE_RATE_LIMITS", "off"),
    ("MCP_BRIDGE_LIMITS__MAX_PENDING_MESSAGES", "10000"),
];

/// Two servers on one database, and the bearer token both accept.
async fn two_servers(env: &TestEnv) -> (HttpServer, HttpServer, String) {
    let token = make_token(env, "agents", "agent");
    let one = HttpServer::start(env, &[], NO_LIMITS).await;
    let two = HttpServer::start(env, &[], NO_LIMITS).await;
    assert_ne!(one.url, two.url);
    (one, two, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_http_servers_wake_each_other_and_share_sixteen_writers() {
    let Some(env) = TestEnv::postgres("pg_http_two") else {
        return;
    };
    let (one, two, token) = two_servers(&env).await;
    let a = one.client(Some(&token)).await;
    let b = two.client(Some(&token)).await;

    // A long-poll on the second server, woken by a send on the first.
    let conv = Conv::create(a.peer()).await;
    let waiting = {
        let (peer, conv) = (b.peer().clone(), conv.clone());
        tokio::spawn(async move { check(&peer, &conv, "b", json!({"wait_seconds": 60})).await })
    };
    // Give the poll time to start waiting (with rate limits off nothing
    // counts it); had the send come first, the poll would simply find it.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    send(a.peer(), &conv, "a", "across servers over http").await;
    let got = tokio::time::timeout(EVENT_TIMEOUT, waiting)
        .await
        .expect("the long-poll is woken by the other server's commit")
        .expect("task");
    assert_eq!(contents(&got), ["across servers over http"]);

    // 16 writers, 8 on each server; the two writers of a conversation are on
    // different servers.
    let mut clients = Vec::new();
    for w in 0..16 {
        let server = if w % 2 == 0 { &one } else { &two };
        clients.push(server.client(Some(&token)).await);
    }
    let mut convs = Vec::new();
    for _ in 0..8 {
        convs.push(Conv::create(a.peer()).await);
    }
    const PER: usize = 30;
    let peers = clients.iter().map(|c| c.peer().clone()).collect();
    write_concurrently(peers, &convs, PER).await;
    for (i, conv) in convs.iter().enumerate() {
        let reader = if i % 2 == 0 { &b } else { &a };
        let got = drain_all(reader.peer(), conv, "b").await;
        assert_two_writers_exactly_once(&got, i, PER);
    }
    drop((a, b, clients));
    for server in [one, two] {
        let (status, stderr) = server.terminate().await;
        assert!(status.success(), "{stderr}");
    }
    assert_audit_intact(&env, "after 480 sends over two HTTP servers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_server_killed_mid_burst_loses_nothing_acknowledged() {
    let Some(env) = TestEnv::postgres("pg_http_killed") else {
        return;
    };
    let (doomed, survivor, token) = two_servers(&env).await;
    let writer = doomed.client(Some(&token)).await;
    let reader = survivor.client(Some(&token)).await;
    let conv = Conv::create(reader.peer()).await;
    let acked = Arc::new(Mutex::new(Vec::new()));
    let burst = {
        let (peer, conv, acked) = (writer.peer().clone(), conv.clone(), Arc::clone(&acked));
        tokio::spawn(async move {
            for k in 0.. {
                let text = format!("m{k}");
                // rmcp's HTTP client may keep retrying a vanished server:
                // a call without an answer in time counts as not acknowledged.
                let answer = tokio::time::timeout(
                    EVENT_TIMEOUT,
                    try_call(
                        &peer,
                        "send_to_partner",
                        conv.args("a", json!({"message": text})),
                    ),
                )
                .await;
                match answer {
                    Ok(Ok(r)) if r.is_error != Some(true) => {
                        acked.lock().expect("lock").push(text);
                    }
                    _ => return,
                }
            }
        })
    };
    wait_until("50 acknowledged sends", || {
        acked.lock().expect("lock").len() >= 50
    })
    .await;
    doomed.signal(libc::SIGKILL);
    tokio::time::timeout(2 * EVENT_TIMEOUT, burst)
        .await
        .expect("the burst ends")
        .expect("task");
    let acked = acked.lock().expect("lock").clone();
    let got = drain_all(reader.peer(), &conv, "b").await;
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "duplicates: {got:?}");
    assert_eq!(
        &got[..acked.len()],
        &acked[..],
        "acknowledged messages in order"
    );
    assert!(
        got.len() <= acked.len() + 1,
        "only the call in flight may land unacknowledged"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM messages"),
        i64::try_from(got.len()).unwrap(),
        "every stored message was delivered"
    );
    drop((writer, reader));
    let (status, stderr) = survivor.terminate().await;
    assert!(status.success(), "{stderr}");
    assert_audit_intact(&env, "after an HTTP server was killed");
}

/// What the README's load-balancer notes promise: a stateless request is
/// served by either host; an older protocol's session bound to nothing
/// lives on the host that opened it, and another host answers `404`, so the
/// client opens a new session there (as the MCP specification requires).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_stay_on_their_host_and_stateless_calls_go_anywhere() {
    let Some(env) = TestEnv::postgres("pg_http_affinity") else {
        return;
    };
    let (one, two, token) = two_servers(&env).await;
    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "affinity", "version": "1"}}
    })
    .to_string();
    let accept = ("accept", "application/json, text/event-stream");
    let opened = post(&one.url, Some(&token), &[accept], init.clone()).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    let session = opened.header("mcp-session-id").to_owned();
    assert!(!session.is_empty());
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string();
    let headers = [
        accept,
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    let here = post(&one.url, Some(&token), &headers, list.clone()).await;
    assert_eq!(here.status, 200, "{}", here.body);
    let elsewhere = post(&two.url, Some(&token), &headers, list).await;
    assert_eq!(elsewhere.status, 404, "{}", elsewhere.body);
    let reopened = post(&two.url, Some(&token), &[accept], init).await;
    assert_eq!(reopened.status, 200, "{}", reopened.body);

    // Stateless: created on one host, used on the other.
    let created = stateless(
        &one.url,
        Some(&token),
        3,
        "create_conversation",
        json!({"my_role": "writer", "partner_role": "reader"}),
    )
    .await;
    let result = created.message()["result"]["structuredContent"].clone();
    let sent = stateless(
        &two.url,
        Some(&token),
        4,
        "send_to_partner",
        json!({"conversation_id": result["conversation_id"], "session_id": "a",
               "token": result["session_a_token"], "message": "from the other host",
               "action_type": "info"}),
    )
    .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(
        sent.message()["result"]["isError"] != json!(true),
        "{}",
        sent.body
    );
}
