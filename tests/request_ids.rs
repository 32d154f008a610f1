//! A client that reuses the id of a call still in progress (found by a
//! hostile-client probe): rmcp keys calls by id, so the second call used to
//! replace the first, whose reply — a long-poll's page — was lost, and a
//! later reply with that id acknowledged the page. The reused id is refused
//! now, and the first call is answered as if nothing happened.

use std::io::{BufRead, BufReader, Write};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_id_is_refused_and_the_first_call_keeps_its_page() {
    let env = TestEnv::new("reused_id");
    let writer = env.server().await;
    let conv = Conv::create(&writer.peer()).await;

    let mut reader = env.raw_server();
    let mut stdin = reader.stdin.take().expect("stdin");
    let stdout = BufReader::new(reader.stdout.take().expect("stdout"));
    // Lines are read on a thread of their own, so waiting has a deadline.
    let (lines_tx, lines) = mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if let Ok(value) = serde_json::from_str(&line)
                && lines_tx.send(value).is_err()
            {
                return;
            }
        }
    });
    let next = |what: &str| {
        lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no line for {what}"))
    };
    let mut say = |line: Value| {
        writeln!(stdin, "{line}").expect("write");
        stdin.flush().expect("flush");
    };
    say(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "reuser", "version": "1"}}}),
    );
    next("the initialize answer");
    say(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    say(
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "check_messages", "arguments": conv.args("b", json!({"wait_seconds": 30}))}}),
    );
    // The same id again while the long-poll waits.
    say(json!({"jsonrpc": "2.0", "id": 7, "method": "ping"}));
    let refused = next("the reused id's answer");
    assert_eq!(refused["id"], 7, "{refused}");
    assert_eq!(refused["error"]["code"], -32600, "{refused}");

    send(&writer.peer(), &conv, "a", "kept").await;
    let answer = next("the long-poll's answer");
    assert_eq!(answer["id"], 7, "{answer}");
    let text = answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        text.contains("kept"),
        "the first call keeps its page: {answer}"
    );

    // The id is free once answered, and the page was acknowledged once.
    say(json!({"jsonrpc": "2.0", "id": 7, "method": "ping"}));
    assert_eq!(next("a ping with the freed id")["result"], json!({}));
    wait_until("the acknowledgement", || {
        env.count("SELECT count(*) FROM pending_deliveries") == 0
    })
    .await;
    let again = check(&writer.peer(), &conv, "b", json!({})).await;
    assert!(messages(&again).is_empty(), "delivered twice: {again}");
    drop(stdin);
    let _ = reader.wait();
    writer.stop().await;
}
