//! What a real `serve` writes to its log when an agent goes away mid-call:
//! nothing at ERROR. rmcp logs a reply it cannot write to a gone client at
//! ERROR ("failed to send pending response during drain"), which an
//! acceptance run counted dozens of times per run of ordinary clients.

use std::process::Stdio;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_during_a_long_poll_is_no_error_in_the_log() {
    let env = TestEnv::new("log-gone-client");
    let mut cmd = tokio::process::Command::from(env.serve_command(&[]));
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn serve");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut err = child.stderr.take().unwrap();
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text).await;
        text
    });
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "create_conversation", "arguments": {"my_role": "lead", "partner_role": "dev"}}}),
    ];
    for m in &messages {
        stdin.write_all(format!("{m}\n").as_bytes()).await.unwrap();
    }
    for id in [1, 2] {
        loop {
            let line = tokio::time::timeout(EVENT_TIMEOUT, lines.next_line())
                .await
                .expect("an answer in time")
                .unwrap()
                .expect("the server answers");
            if serde_json::from_str::<serde_json::Value>(&line).unwrap()["id"] == id {
                break;
            }
        }
    }
    let poll = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "check_messages", "arguments": {"wait_seconds": 2}}});
    stdin
        .write_all(format!("{poll}\n").as_bytes())
        .await
        .unwrap();
    wait_until("the long-poll to start", || {
        env.count("SELECT coalesce(sum(count), 0) FROM rate_buckets WHERE class = 'check_messages'")
            > 0
    })
    .await;
    // The agent goes away: its end of stdout closes, then stdin. The server
    // ends the long-poll and fails to write its reply (a broken pipe).
    drop(lines);
    drop(stdin);
    let status = tokio::time::timeout(EVENT_TIMEOUT, child.wait())
        .await
        .expect("the server exits")
        .unwrap();
    assert!(status.success(), "{status:?}");
    let log = stderr.await.unwrap();
    assert!(log.contains("serving MCP on stdio"), "{log}");
    assert!(!log.contains("ERROR"), "{log}");
}
