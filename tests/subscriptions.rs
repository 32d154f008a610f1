//! `subscriptions/listen` (2026-07-28) over stdio: one connection holds a
//! bounded number of listens (each is a watch woken by every commit on the
//! database), and a cancelled one gives its place back.

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::teams_sessions::stateless;
use crate::util::*;

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
    let mut cmd = tokio::process::Command::from(env.serve_command(&[]));
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn serve");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || -> Value {
        let line = tokio::time::timeout(EVENT_TIMEOUT, lines.next_line())
            .await
            .expect("a line in time")
            .expect("read")
            .expect("the server is still there");
        serde_json::from_str(&line).expect("JSON")
    };

    for id in 1..=MAX_LISTENS {
        stdin.write_all(&listen(id)).await.unwrap();
        let ack = next().await;
        assert_eq!(
            ack["method"], "notifications/subscriptions/acknowledged",
            "{ack}"
        );
    }
    // rmcp acknowledges a listen before the server runs it; the refusal
    // is the answer to the request.
    stdin.write_all(&listen(100)).await.unwrap();
    let refused = loop {
        let v = next().await;
        if v["id"] == 100 {
            break v;
        }
    };
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("already listens 16"), "{refused}");

    // A cancelled listen gives its place back.
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                        "params": {"requestId": 1}});
    let mut line = cancel.to_string().into_bytes();
    line.push(b'\n');
    stdin.write_all(&line).await.unwrap();
    let mut accepted = false;
    for attempt in 0..50 {
        stdin.write_all(&listen(200 + attempt)).await.unwrap();
        // Accepted: an acknowledgement and no answer (the listen runs on);
        // refused: an answer with an error. A ping after it tells which.
        stdin
            .write_all(&stateless(300 + attempt, "ping", json!({})))
            .await
            .unwrap();
        let mut refused = false;
        loop {
            let v = next().await;
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
    stdin.write_all(&listen(400)).await.unwrap();
    let full = loop {
        let v = next().await;
        if v["id"] == 400 {
            break v;
        }
    };
    assert!(full.get("error").is_some(), "{full}");
    drop(stdin);
    let _ = tokio::time::timeout(EVENT_TIMEOUT, child.wait()).await;
}
