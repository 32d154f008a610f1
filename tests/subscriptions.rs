//! `subscriptions/listen` (2026-07-28) over stdio: one connection holds a
//! bounded number of listens (each is a watch woken by every commit on the
//! database), and a cancelled one gives its place back.

use serde_json::json;

use crate::teams_sessions::stateless;
use crate::util::*;
use crate::util_raw::RawServe;

/// Listens one connection may hold (the bridge's `MAX_LISTENS`).
const MAX_LISTENS: i64 = 16;

fn listen(id: i64) -> Vec<u8> {
    stateless(
        id,
        "subscriptions/listen",
        json!({"notifications": {"resourceSubscriptions": ["bridge://inbox"]}}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_holds_a_bounded_number_of_listens() {
    let env = TestEnv::new("listen_cap");
    let mut serve = RawServe::spawn(&env);

    for id in 1..=MAX_LISTENS {
        serve.send(&listen(id)).await;
        let ack = serve.next().await;
        assert_eq!(
            ack["method"], "notifications/subscriptions/acknowledged",
            "{ack}"
        );
    }
    // rmcp acknowledges a listen before the server runs it; the refusal
    // is the answer to the request.
    serve.send(&listen(100)).await;
    let refused = serve.answer(100).await;
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("already listens 16"), "{refused}");

    // A cancelled listen gives its place back.
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                        "params": {"requestId": 1}});
    let mut line = cancel.to_string().into_bytes();
    line.push(b'\n');
    serve.send(&line).await;
    let mut accepted = false;
    for attempt in 0..50 {
        serve.send(&listen(200 + attempt)).await;
        // Accepted: an acknowledgement and no answer (the listen runs on);
        // refused: an answer with an error. A ping after it tells which.
        serve
            .send(&stateless(300 + attempt, "ping", json!({})))
            .await;
        let mut refused = false;
        loop {
            let v = serve.next().await;
            if v["id"] == 200 + attempt && v.get("error").is_some() {
                refused = true;
            }
            if v["id"] == 300 + attempt {
                break;
            }
        }
        if !refused {
            accepted = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(accepted, "a listen is accepted again once one is cancelled");
    // And that one took the freed place: the connection is full again.
    serve.send(&listen(400)).await;
    let full = serve.answer(400).await;
    assert!(full.get("error").is_some(), "{full}");
    serve.close().await;
}
