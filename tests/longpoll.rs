//! Long-polls across processes: woken by another process's commit, empty after
//! the wait, and cancellable (by the request or by the client going away)
//! without marking anything read.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::*;

/// Audit records of `check_messages` calls by `side` of `conv` that ended with `code`.
fn audited(env: &TestEnv, conv: &Conv, side: &str, code: &str) -> i64 {
    env.count(&format!(
        "SELECT count(*) FROM audit_log WHERE conversation_id = '{}' AND side = '{}' AND action = 'check_messages' AND code = '{}'",
        plain(&conv.id),
        plain(side),
        plain(code)
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_wakes_when_another_process_commits() {
    let env = TestEnv::new("longpoll_wake");
    let s1 = env.server().await;
    let s2 = env.server().await;
    let conv = Conv::create(&s1).await;

    let waiting = {
        let (peer, args) = (s2.peer(), conv.args("b", json!({"wait_seconds": 10})));
        tokio::spawn(async move {
            let body = ok(&call(&peer, "check_messages", args).await);
            (Instant::now(), body)
        })
    };
    wait_until("the long-poll to start", || {
        polls_started(&env, &conv, "b") == 1
    })
    .await;
    // Let the poll settle into its wait, so the send below really has to wake it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "the long-poll returned before anything was sent"
    );

    let sent_at = Instant::now();
    let sent = send(&s1, &conv, "a", "wake up").await;
    let (returned_at, body) = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("long-poll returned")
        .expect("task");
    let latency = returned_at.duration_since(sent_at);
    assert!(
        latency < Duration::from_secs(5),
        "the long-poll took {latency:?} to deliver"
    );
    assert_eq!(contents(&body), vec!["wake up"]);
    assert_eq!(messages(&body)[0]["id"], sent["message_id"]);
    assert_eq!(body["more"], false);

    // A message already waiting is returned at once.
    send(&s1, &conv, "a", "already there").await;
    let started = Instant::now();
    assert_eq!(
        contents(&check(&s2, &conv, "b", json!({"wait_seconds": 30})).await),
        vec!["already there"]
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // A long-poll with nothing arriving returns an empty page after its wait.
    let started = Instant::now();
    let empty = check(&s2, &conv, "b", json!({"wait_seconds": 1})).await;
    let waited = started.elapsed();
    assert_eq!(empty, json!({"messages": [], "more": false}));
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "waited {waited:?} for a 1 s long-poll"
    );
    // The sender's own message never wakes the sender.
    let started = Instant::now();
    let own = tokio::spawn({
        let (peer, args) = (s1.peer(), conv.args("a", json!({"wait_seconds": 1})));
        async move { ok(&call(&peer, "check_messages", args).await) }
    });
    send(&s2, &conv, "a", "from a, for b").await;
    assert_eq!(own.await.unwrap(), json!({"messages": [], "more": false}));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "side a's poll returned early on its own message"
    );
    s1.stop().await;
    s2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_long_poll_marks_nothing_read() {
    let env = TestEnv::new("longpoll_cancel");
    let s1 = env.server().await;
    let s2 = env.server().await;
    let conv = Conv::create(&s1).await;

    // The client cancels the request (rmcp sends notifications/cancelled when
    // the call's future is dropped) but stays connected.
    let poll = {
        let (peer, args) = (s2.peer(), conv.args("b", json!({"wait_seconds": 30})));
        tokio::spawn(async move { try_call(&peer, "check_messages", args).await })
    };
    wait_until("the long-poll to start", || {
        polls_started(&env, &conv, "b") == 1
    })
    .await;
    poll.abort();
    assert!(poll.await.is_err_and(|e| e.is_cancelled()));
    wait_until("the server to record the cancelled poll", || {
        audited(&env, &conv, "b", "cancelled") == 1
    })
    .await;

    send(&s1, &conv, "a", "after the cancel").await;
    assert_eq!(
        contents(&check(&s2, &conv, "b", json!({})).await),
        vec!["after the cancel"]
    );
    s1.stop().await;
    s2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_exits_promptly_when_its_client_goes_away_mid_poll() {
    let env = TestEnv::new("longpoll_disconnect");
    let s1 = env.server().await;
    let leaving = env.server().await;
    let pid = leaving.pid();
    let conv = Conv::create(&s1).await;

    let poll = {
        let (peer, args) = (leaving.peer(), conv.args("b", json!({"wait_seconds": 30})));
        tokio::spawn(async move { try_call(&peer, "check_messages", args).await })
    };
    wait_until("the long-poll to start", || {
        polls_started(&env, &conv, "b") == 1
    })
    .await;

    // Closing the client closes the server's stdin; it must exit on its own,
    // long before the 30 s poll would end.
    let started = Instant::now();
    let stopped = leaving.stop_within(Duration::from_secs(3)).await;
    assert!(
        stopped.status.success(),
        "server {pid} exited with {:?}:\n{}",
        stopped.status,
        stopped.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the server took {:?} to exit",
        started.elapsed()
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "server {pid} is still around"
    );
    let answer = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("the pending call ends")
        .expect("task");
    assert!(
        answer.is_err(),
        "the abandoned poll should not have produced a result: {answer:?}"
    );

    // A message sent now goes to the next checker: the abandoned poll took nothing.
    send(&s1, &conv, "a", "for whoever checks next").await;
    let next = env.server().await;
    assert_eq!(
        contents(&check(&next, &conv, "b", json!({"wait_seconds": 5})).await),
        vec!["for whoever checks next"]
    );
    s1.stop().await;
    next.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_ends_when_its_conversation_expires() {
    let env = TestEnv::new("longpoll_expiry");
    // A 3 s lifetime. An expiry commits nothing, so no change wakes a wait
    // for it: the long-poll used to notice only at the next wake-up of
    // unknown scope, about 15 s into its wait.
    let server = env
        .server_with(&[("MCP_BRIDGE_CONVERSATION_TTL_MINUTES", "0.05")])
        .await;
    let conv = Conv::create(&server).await;
    let started = Instant::now();
    let args = conv.args("b", json!({"wait_seconds": 45}));
    let result = tokio::time::timeout(
        Duration::from_secs(60),
        call(&server, "check_messages", args),
    )
    .await
    .expect("the long-poll ended");
    tool_error(&result, "conversation_expired");
    let took = started.elapsed();
    // Loose: the expiry is 3 s away, the old wait ended after about 15 s.
    assert!(
        took < Duration::from_secs(10),
        "the long-poll outlived its conversation by {took:?}"
    );
    server.stop().await;
}
