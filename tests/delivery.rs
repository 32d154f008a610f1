//! Delivery that survives its reader's death, and bounded sizes (issue 11).
//!
//! A reader whose server process dies after taking a page but before the
//! reply reaches its client must not lose that page: the next reader gets the
//! same messages, with the same ids, in order — once. Each message (text and
//! paths together) and each reply are bounded in bytes.

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use serde_json::json;

use crate::util::*;

/// A message big enough that three of them overflow a pipe's buffer.
fn bulky(n: usize) -> String {
    format!("{n}:{}", "x".repeat(45_000))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_killed_before_its_reply_is_written_loses_nothing() {
    let env = TestEnv::new("reader_killed");
    let writer = env.server().await;
    let conv = Conv::create(&writer.peer()).await;

    // A reader whose client never reads its replies: the server takes the
    // page, then blocks writing it into a full pipe, as a process killed at
    // that moment would have left it.
    let mut reader = env.raw_server();
    let mut stdin = reader.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(reader.stdout.take().expect("stdout"));
    let lines = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "stalled", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    ];
    for line in &lines {
        writeln!(stdin, "{line}").expect("write");
    }
    let mut handshake = String::new();
    stdout.read_line(&mut handshake).expect("initialize answer");
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "check_messages", "arguments": conv.args("b", json!({"wait_seconds": 30}))}});
    writeln!(stdin, "{call}").expect("write");
    stdin.flush().expect("flush");

    let mut ids = Vec::new();
    for n in 0..3 {
        let sent = send(&writer.peer(), &conv, "a", &bulky(n)).await;
        ids.push(sent["message_id"].as_i64().expect("id"));
    }
    // The long-poll woke for the first message and leased what had arrived
    // by then (one message, or more on a slow machine); the rest queue
    // behind that lease.
    wait_until("the reader's page to be leased", || {
        env.count("SELECT count(*) FROM pending_deliveries WHERE lease_id IS NOT NULL") >= 1
    })
    .await;
    // Not acknowledged: the reply is still stuck in the pipe.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.count("SELECT count(*) FROM pending_deliveries"), 3);
    reader.kill().expect("SIGKILL the reader");
    reader.wait().expect("reaped");

    // The next reader gets the same page once the lease lapses.
    let next = env.server().await;
    let page = check(&next.peer(), &conv, "b", json!({"wait_seconds": 40})).await;
    let got: Vec<i64> = messages(&page)
        .iter()
        .map(|m| m["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(got, ids, "redelivered with the same ids, in order");
    assert_eq!(
        contents(&page),
        (0..3).map(bulky).collect::<Vec<_>>(),
        "redelivered unchanged"
    );
    // Its written reply was acknowledged: nothing comes a second time.
    wait_until("the acknowledgement", || {
        env.count("SELECT count(*) FROM pending_deliveries") == 0
    })
    .await;
    let again = check(&writer.peer(), &conv, "b", json!({})).await;
    assert!(messages(&again).is_empty(), "delivered twice: {again}");
    writer.stop().await;
    next.stop().await;
}

#[tokio::test]
async fn a_written_reply_is_acknowledged_and_the_next_check_sees_later_messages() {
    let env = TestEnv::new("acknowledged");
    let s = env.server().await;
    let peer = s.peer();
    let conv = Conv::create(&peer).await;
    for round in 0..5 {
        send(&peer, &conv, "a", &format!("m{round}")).await;
        // Asked again at once, by the same process: its own lease must not
        // hide the next message, nor the previous one come back.
        let got = check(&peer, &conv, "b", json!({})).await;
        assert_eq!(contents(&got), [format!("m{round}")]);
    }
    let got = check(&peer, &conv, "b", json!({})).await;
    assert!(messages(&got).is_empty());
    wait_until("every page acknowledged", || {
        env.count("SELECT count(*) FROM pending_deliveries") == 0
    })
    .await;
    s.stop().await;
}

#[tokio::test]
async fn paths_count_towards_a_message_and_replies_are_paged_by_size() {
    let env = TestEnv::new("sizes");
    let s = env.server_with(&[("MCP_BRIDGE_RATE_LIMITS", "off")]).await;
    let peer = s.peer();
    let conv = Conv::create(&peer).await;

    // 100 paths of 4 096 four-byte characters used to make a 1.7 MB message.
    let path = "𝔵".repeat(4096);
    let files: Vec<&str> = vec![path.as_str(); 100];
    let answer = try_call(
        &peer,
        "send_to_partner",
        conv.args("a", json!({"message": "hi", "files_involved": files})),
    )
    .await;
    let message = invalid_params(answer, "paths over 16 KiB together");
    assert!(message.contains("16384"), "{message}");
    assert_eq!(
        env.count("SELECT count(*) FROM messages"),
        0,
        "nothing stored"
    );

    // 30 messages of 50 000 bytes: one reply carries at most 1 MiB of them.
    for n in 0..30 {
        send(&peer, &conv, "a", &format!("{n:02}{}", "y".repeat(49_998))).await;
    }
    let first = check(&peer, &conv, "b", json!({"limit": 500})).await;
    let page = messages(&first);
    assert_eq!(page.len(), 20, "1 MiB holds 20 messages of 50 000 bytes");
    assert_eq!(first["more"], true);
    let rest = check(&peer, &conv, "b", json!({"limit": 500})).await;
    assert_eq!(messages(&rest).len(), 10);
    assert_eq!(rest["more"], false);
    let order: Vec<String> = page
        .iter()
        .chain(messages(&rest).iter())
        .map(|m| m["content"].as_str().expect("text")[..2].to_owned())
        .collect();
    let expected: Vec<String> = (0..30).map(|n| format!("{n:02}")).collect();
    assert_eq!(order, expected);

    // Control characters count as JSON writes them (six bytes each): five
    // messages of 50 000 of them fill a page at three, where counted as one
    // byte each they all went out in one reply many times the bound.
    for n in 0..5 {
        send(
            &peer,
            &conv,
            "a",
            &format!("{n:02}{}", "\u{1}".repeat(49_998)),
        )
        .await;
    }
    let escaped = check(&peer, &conv, "b", json!({"limit": 500})).await;
    assert_eq!(messages(&escaped).len(), 3, "1 MiB holds three as JSON");
    assert_eq!(escaped["more"], true);
    assert_eq!(
        messages(&check(&peer, &conv, "b", json!({"limit": 500})).await).len(),
        2
    );
    s.stop().await;
}
