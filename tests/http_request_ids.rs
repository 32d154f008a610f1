//! Over HTTP, as on stdio (`request_ids`): a request that reuses the id of a
//! call still in progress in its MCP session is refused (rmcp's session
//! worker keys calls by id, and the second replaced the first, whose client
//! never got an answer), and the first call is answered as if nothing
//! happened. The same id in another session, or once the first call is
//! answered, is fine.

use std::time::Duration;

use serde_json::{Value, json};

use crate::util::*;
use crate::util_http::*;

use open_session as open;
use session_headers as headers;

async fn ask(
    url: &str,
    token: &str,
    session: &str,
    id: u64,
    method: &str,
    params: Value,
) -> Answer {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    post(url, Some(token), &headers(session), body.to_string()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_id_in_a_session_is_refused_and_the_first_call_is_answered() {
    let env = TestEnv::new("http_reused_id");
    let alice = make_token(&env, "alice", "agent");
    let server = HttpServer::start(&env, &[], &[]).await;
    let writer = env.server().await;
    let conv = Conv::create(&writer.peer()).await;
    let session = open(&server.url, &alice).await;

    let long_poll = || {
        let (url, token, session) = (server.url.clone(), alice.clone(), session.clone());
        let args = conv.args("b", json!({"wait_seconds": 60}));
        tokio::spawn(async move {
            ask(
                &url,
                &token,
                &session,
                7,
                "tools/call",
                json!({"name": "check_messages", "arguments": args}),
            )
            .await
        })
    };
    let mut waiting = long_poll();
    // The same id again while the long-poll waits. Until the long-poll has
    // reached the server a ping with id 7 is simply answered; once it has,
    // the ping is refused. (If the long-poll arrives while a ping holds the
    // id, the long-poll is the one refused: it is sent again.)
    let refused = {
        let mut tries = 0;
        loop {
            let answer = ask(&server.url, &alice, &session, 7, "ping", json!({})).await;
            if answer.status == 400 {
                break answer;
            }
            assert_eq!(answer.status, 200, "{}", answer.body);
            if waiting.is_finished() {
                let first = waiting.await.expect("the long-poll task");
                assert_eq!(
                    first.status, 400,
                    "the long-poll ended early: {}",
                    first.body
                );
                waiting = long_poll();
            }
            tries += 1;
            assert!(tries < 200, "the reused id was never refused");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let error: Value = serde_json::from_str(&refused.body).expect("JSON");
    assert_eq!(error["id"], 7, "{error}");
    assert_eq!(error["error"]["code"], -32600, "{error}");
    // Another session may use the id.
    let other = open(&server.url, &alice).await;
    assert_eq!(
        ask(&server.url, &alice, &other, 7, "ping", json!({}))
            .await
            .status,
        200
    );

    send(&writer.peer(), &conv, "a", "kept").await;
    let answer = waiting.await.expect("the long-poll task");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let message = answer.message();
    assert_eq!(message["id"], 7, "{message}");
    assert!(
        message.to_string().contains("kept"),
        "the first call is answered: {message}"
    );

    // The id is free once answered, and the page was delivered once.
    assert_eq!(
        ask(&server.url, &alice, &session, 7, "ping", json!({}))
            .await
            .status,
        200
    );
    wait_until("the acknowledgement", || {
        env.count("SELECT count(*) FROM pending_deliveries") == 0
    })
    .await;
    let again = check(&writer.peer(), &conv, "b", json!({})).await;
    assert!(messages(&again).is_empty(), "delivered twice: {again}");
    server.terminate().await;
}

/// A long-poll cancelled as its page is written (the cancel crossing the
/// reply, as `request_ids` on stdio): the client ignores that reply, so the
/// page must come again, not be acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_call_was_cancelled_as_it_was_written_comes_again() {
    let env = TestEnv::new("http_cancel_crossing");
    let alice = make_token(&env, "alice", "agent");
    let server = HttpServer::start(&env, &[], &[crate::request_ids::CROSSING_GRACE]).await;
    let writer = env.server().await;
    let conv = Conv::create(&writer.peer()).await;
    let session = open(&server.url, &alice).await;
    let waiting = {
        let (url, token, session) = (server.url.clone(), alice.clone(), session.clone());
        let args = conv.args("b", json!({"wait_seconds": 60}));
        tokio::spawn(async move {
            let params = json!({"name": "check_messages", "arguments": args});
            ask(&url, &token, &session, 3, "tools/call", params).await
        })
    };
    // Whether the long-poll waits by then or takes at once, its reply
    // carries the page.
    send(&writer.peer(), &conv, "a", "crossed").await;
    let answer = waiting.await.expect("the long-poll task");
    assert!(answer.body.contains("crossed"), "{}", answer.body);
    cancel(&server.url, &alice, &session, 3).await;
    crate::request_ids::given_up_and_delivered_again(&env, &writer, &conv).await;
    server.terminate().await;
}

/// The same when the page is there before the read: the read's reply is
/// written at once, and the settling of the session's earlier pages (25 ms
/// after a read arrives) took that very page too, acknowledging it before
/// the client's cancel came (CI, a loaded PostgreSQL pass). Only pages held
/// when the read arrived are settled by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_taken_at_once_then_cancelled_comes_again() {
    let env = TestEnv::new("http_cancel_at_once");
    let alice = make_token(&env, "alice", "agent");
    let server = HttpServer::start(&env, &[], &[crate::request_ids::CROSSING_GRACE]).await;
    let writer = env.server().await;
    let conv = Conv::create(&writer.peer()).await;
    let session = open(&server.url, &alice).await;
    send(&writer.peer(), &conv, "a", "crossed").await;
    let params = json!({"name": "check_messages",
        "arguments": conv.args("b", json!({"wait_seconds": 60}))});
    let answer = ask(&server.url, &alice, &session, 4, "tools/call", params).await;
    assert!(answer.body.contains("crossed"), "{}", answer.body);
    // Well past the read's settling moment.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    cancel(&server.url, &alice, &session, 4).await;
    crate::request_ids::given_up_and_delivered_again(&env, &writer, &conv).await;
    server.terminate().await;
}

/// Cancels call `id` of `session`, as the client's `notifications/cancelled`
/// `POST`, which the server takes (`202`).
async fn cancel(url: &str, token: &str, session: &str, id: u64) {
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": id, "reason": "the user pressed Esc"}});
    let noted = post(url, Some(token), &headers(session), cancel.to_string()).await;
    assert_eq!(noted.status, 202, "{}", noted.body);
}
