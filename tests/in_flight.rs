//! Messages in flight: handed to their reader in a reply and leased until
//! the reply's acknowledgement commits (half a second after it is written,
//! or 20 s later when it never got out). They are no longer waiting, so an
//! acceptance run found three things wrong for that half second: a hook run
//! right after the read reminded the agent of what it had just read (a
//! `Stop` hook kept it from stopping), `list_my_conversations` counted them
//! unread, and `limits.max_pending_messages` refused a send although the
//! recipient had read everything. A page whose lease lapses is queued again
//! and counts again: nothing is lost or hidden for longer than a lease.

use serde_json::{Value, json};

use crate::teams_cli::{inbox, under_shell};
use crate::util::*;
use crate::util_cli::*;
use crate::util_raw::RawServe;

/// What Claude Code sends a `Stop` hook.
const STOP: &[u8] = br#"{"hook_event_name":"Stop","session_id":"x"}"#;

fn vars(limit: &'static str) -> [(&'static str, &'static str); 2] {
    [
        ("MCP_BRIDGE_LIMITS__MAX_PENDING_MESSAGES", limit),
        ("MCP_BRIDGE_RATE_LIMITS", "off"),
    ]
}

/// `inbox --json` for the sessions of the test process's servers.
async fn waiting(env: &TestEnv) -> Value {
    run_cmd(inbox(env, &["--json"]), None).await.json()
}

/// Whether `a`'s send of `message` through `sender` is refused for a full inbox.
async fn refused_as_full(sender: &Server, conv: &Conv, message: &str) -> bool {
    let result = call(
        sender,
        "send_to_partner",
        conv.args("a", json!({"message": message})),
    )
    .await;
    refusal_code(&result).as_deref() == Some("resource_limit")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_just_read_is_not_waiting_for_hooks_counts_or_the_unread_bound() {
    let env = TestEnv::new("in_flight_read");
    // The sender runs under another client (a shell), so the hook, which
    // walks up from the test process, sees only the reader's seat.
    let sender = Server::spawn(under_shell(&env.serve_command(&vars("2")))).await;
    let conv = Conv::create(&sender).await;
    let reader = env.server_with(&vars("2")).await;
    for m in ["m1", "m2"] {
        send(&sender, &conv, "a", m).await;
    }
    assert!(
        refused_as_full(&sender, &conv, "m3").await,
        "the bound holds"
    );
    // Bind the reader's seat, and see the hook remind it.
    let listed = ok(&call(&reader, "list_my_conversations", conv.args("b", json!({}))).await);
    assert_eq!(listed["conversations"][0]["unread"], 2, "{listed}");
    let before = run_cmd(inbox(&env, &["--hook", "claude"]), Some(STOP))
        .await
        .ok();
    assert!(before.contains("\"block\""), "{before}");

    // The read, and at once what a hook on it, the agent and its partner see.
    assert_eq!(
        contents(&check(&reader, &conv, "b", json!({})).await),
        ["m1", "m2"]
    );
    let listed = ok(&call(&reader, "list_my_conversations", json!({})).await);
    assert_eq!(
        listed["conversations"][0]["unread"], 0,
        "what was just read counts as unread: {listed}"
    );
    let after = run_cmd(inbox(&env, &["--hook", "claude"]), Some(STOP))
        .await
        .ok();
    assert_eq!(after, "", "the Stop hook blocked for what was just read");
    assert!(
        !refused_as_full(&sender, &conv, "m3").await,
        "a send was refused although the recipient had read everything"
    );

    // What arrives next is waiting, and shown.
    wait_until("the read page's acknowledgement", || {
        env.count("SELECT count(*) FROM pending_deliveries") == 1
    })
    .await;
    assert_eq!(waiting(&env).await["unread"], 1);
    assert_eq!(
        contents(&check(&reader, &conv, "b", json!({})).await),
        ["m3"]
    );
    reader.stop().await;
    sender.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_in_flight_counts_again_once_its_lease_lapses_and_nothing_is_lost() {
    let env = TestEnv::new("in_flight_lapse");
    let sender = Server::spawn(under_shell(&env.serve_command(&vars("1")))).await;
    let conv = Conv::create(&sender).await;
    send(&sender, &conv, "a", "kept").await;
    assert!(refused_as_full(&sender, &conv, "early").await);

    // A reader (a child of the test process, so the hook shows its seat)
    // takes the page, and its client cancels the call as the reply crosses
    // it: the page is given up, and stays leased until its lease lapses.
    let mut reader = RawServe::spawn(&env);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}});
    reader.send(format!("{init}\n").as_bytes()).await;
    reader.answer(1).await;
    let check = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "check_messages", "arguments": conv.args("b", json!({}))}});
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": 2}});
    reader
        .send(
            format!("{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}}\n{check}\n")
                .as_bytes(),
        )
        .await;
    let page = reader.answer(2).await;
    assert_eq!(
        page["result"]["structuredContent"]["messages"][0]["content"], "kept",
        "{page}"
    );
    reader.send(format!("{cancel}\n").as_bytes()).await;

    // In flight: not waiting, not counted, not against the bound.
    let list = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "list_my_conversations", "arguments": {}}});
    reader.send(format!("{list}\n").as_bytes()).await;
    let listed = reader.answer(3).await;
    assert_eq!(
        listed["result"]["structuredContent"]["conversations"][0]["unread"], 0,
        "{listed}"
    );
    assert_eq!(
        waiting(&env).await,
        json!({"unread": 0, "conversations": []})
    );
    assert!(!refused_as_full(&sender, &conv, "next").await);
    assert_eq!(env.count("SELECT count(*) FROM pending_deliveries"), 2);

    // The lease lapses (as it does 20 s after a reply that never got out):
    // the page is waiting again, behind nothing, and counts again; the inbox
    // is over its bound by that one page and refuses sends until it is read.
    tamper(&env.db, "UPDATE pending_deliveries SET lease_until = 1");
    let shown = waiting(&env).await;
    assert_eq!(shown["unread"], 2, "{shown}");
    assert_eq!(shown["conversations"][0]["first"][0]["first_line"], "kept");
    assert!(refused_as_full(&sender, &conv, "over").await);
    let again = ok(&call(&sender, "check_messages", conv.args("b", json!({}))).await);
    assert_eq!(
        contents(&again),
        ["kept", "next"],
        "delivered again, in order"
    );
    reader.close().await;
    sender.stop().await;
}
