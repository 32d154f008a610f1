//! A long-poll inside an MCP session runs in the session's task, not in its
//! HTTP request's: when the client goes away mid-wait, the call must end
//! (audited `cancelled`) instead of taking the next message for a reader
//! that is gone, which the partner would then see only once its lease
//! lapsed. Runs on the suite's store.

use serde_json::json;

use crate::util::*;
use crate::util_http::*;

use session_call as call;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_long_poll_ends_when_its_client_goes() {
    let env = TestEnv::new("http_gone");
    let alice = make_token(&env, "alice", "agent");
    let server = HttpServer::start(&env, &[], &[]).await;
    let session = open_session(&server.url, &alice).await;
    let created = answer_result(
        &call(
            &server.url,
            &alice,
            &session,
            "create_conversation",
            json!({"my_role": "writer", "partner_role": "reader"}),
        )
        .await,
    );
    let id = created["conversation_id"].as_str().unwrap().to_owned();
    let b_token = created["session_b_token"].as_str().unwrap().to_owned();

    // Side a waits inside its session; its client gives up mid-wait.
    let (url, token, s) = (server.url.clone(), alice.clone(), session.clone());
    let waiter = tokio::spawn(async move {
        call(
            &url,
            &token,
            &s,
            "check_messages",
            json!({"wait_seconds": 30}),
        )
        .await
    });
    wait_check_started(&env, &id, "a").await;
    waiter.abort();
    wait_check_cancelled(&env, &id, "a").await;

    // What the partner sends now is not taken by the call that was given up:
    // the session's next check gets it at once.
    let sent = stateless(
        &server.url,
        Some(&alice),
        5,
        "send_to_partner",
        json!({"conversation_id": id, "session_id": "b", "token": b_token,
               "message": "after the client left"}),
    )
    .await;
    answer_result(&sent);
    let read =
        answer_result(&call(&server.url, &alice, &session, "check_messages", json!({})).await);
    assert_eq!(
        read["messages"][0]["content"],
        json!("after the client left"),
        "{read}"
    );
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
}

/// A session deleted by its owner while a long-poll waits in it: rmcp ends
/// the call's stream without a reply, and the call used to wait on, take the
/// partner's next message for no one, and leave it to the real reader only
/// once its lease lapsed, 20 s later (red team). It now ends with the
/// stream, and the message goes to the next reader at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_long_poll_ends_when_its_session_is_deleted() {
    let env = TestEnv::new("http_gone_deleted");
    let alice = make_token(&env, "alice", "agent");
    let server = HttpServer::start(&env, &[], &[]).await;
    let session = open_session(&server.url, &alice).await;
    let created = answer_result(
        &call(
            &server.url,
            &alice,
            &session,
            "create_conversation",
            json!({"my_role": "writer", "partner_role": "reader"}),
        )
        .await,
    );
    let id = created["conversation_id"].as_str().unwrap().to_owned();
    let a_token = created["session_a_token"].as_str().unwrap().to_owned();
    let b_token = created["session_b_token"].as_str().unwrap().to_owned();

    let (url, token, s) = (server.url.clone(), alice.clone(), session.clone());
    let waiter = tokio::spawn(async move {
        call(
            &url,
            &token,
            &s,
            "check_messages",
            json!({"wait_seconds": 30}),
        )
        .await
    });
    wait_check_started(&env, &id, "a").await;
    let ended = reqwest::Client::new()
        .delete(&server.url)
        .header("authorization", format!("Bearer {alice}"))
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", SESSION_VERSION)
        .send()
        .await
        .expect("DELETE");
    assert!(ended.status().is_success(), "{}", ended.status());
    // Its stream has ended; the partner sends at once (not after the call
    // was seen cancelled: the old call went on waiting for a few seconds).
    drop(waiter.await);
    let sent = stateless(
        &server.url,
        Some(&alice),
        5,
        "send_to_partner",
        json!({"conversation_id": id, "session_id": "b", "token": b_token,
               "message": "after the session ended"}),
    )
    .await;
    answer_result(&sent);
    let read = answer_result(
        &stateless(
            &server.url,
            Some(&alice),
            6,
            "check_messages",
            json!({"conversation_id": id, "session_id": "a", "token": a_token}),
        )
        .await,
    );
    assert_eq!(
        read["messages"][0]["content"],
        json!("after the session ended"),
        "{read}"
    );
    wait_check_cancelled(&env, &id, "a").await;
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
}
