//! Delivery through real `mcp-bridge serve` processes sharing one database:
//! messages and heartbeats cross processes, exactly-once in-order
//! delivery under competing checkers, paging, and persistence across a restart.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::util::*;

const NO_LIMITS: &[(&str, &str)] = &[("MCP_BRIDGE_RATE_LIMITS", "off")];

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_and_status_cross_processes() {
    let env = TestEnv::new("messages_cross");
    let s1 = env.server().await;
    let s2 = env.server().await;

    let created = ok(&call(
        &s1,
        "create_conversation",
        json!({"my_role": "backend_developer", "partner_role": "frontend dev"}),
    )
    .await);
    let conv_id = created["conversation_id"].as_str().unwrap();
    assert!(
        conv_id.starts_with("conv_") && is_hex(&conv_id[5..], 16),
        "bad conversation id {conv_id}"
    );
    let (ta, tb) = (
        created["session_a_token"].as_str().unwrap(),
        created["session_b_token"].as_str().unwrap(),
    );
    assert!(
        is_hex(ta, 64) && is_hex(tb, 64) && ta != tb,
        "bad tokens in {created}"
    );
    let expires: jiff::Timestamp = created["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .expect("expires_at is RFC 3339");
    let hours = expires.duration_since(jiff::Timestamp::now()).as_secs_f64() / 3600.0;
    assert!(
        (2.9..=3.0).contains(&hours),
        "conversation should expire in 3 h, got {hours} h"
    );
    let conv = Conv {
        id: conv_id.into(),
        a: ta.into(),
        b: tb.into(),
    };

    // Before any heartbeat, the partner's status is unknown.
    let mut before = ok(&call(&s2, "check_partner_status", conv.args("b", json!({}))).await);
    let participants = before
        .as_object_mut()
        .and_then(|o| o.remove("participants"))
        .expect("participants");
    assert_eq!(
        before,
        json!({"partner_role": "backend_developer", "status": "unknown", "note": null, "last_heartbeat": null, "seconds_since_heartbeat": null, "alive": false})
    );
    assert_eq!(
        participants,
        json!([
            {"session_id": "a", "role": "backend_developer", "kind": "owner", "status": "unknown", "note": null, "seconds_since_heartbeat": null, "alive": false},
            {"session_id": "b", "role": "frontend dev", "kind": "member", "status": "unknown", "note": null, "seconds_since_heartbeat": null, "alive": false}
        ])
    );

    let sent = ok(&call(
        &s1,
        "send_to_partner",
        conv.args("a", json!({"message": "POST /todos returns 201", "action_type": "proposal", "files_involved": ["api/routes.rs", "docs/api.md"]})),
    )
    .await);
    assert_eq!(sent["redactions"], json!({}));
    let id = sent["message_id"].as_i64().expect("message_id");

    let inbox = check(&s2, &conv, "b", json!({})).await;
    assert_eq!(
        inbox,
        json!({"more": false, "messages": [{
            "id": id, "from_session": "a", "from_role": "backend_developer", "action_type": "proposal",
            "content": "POST /todos returns 201", "files_involved": ["api/routes.rs", "docs/api.md"],
            "created_at": sent["created_at"], "conversation_id": conv.id, "to": ["frontend dev"],
        }]})
    );
    // Delivered once: a second check (on either process) finds nothing.
    assert_eq!(
        check(&s1, &conv, "b", json!({})).await,
        json!({"messages": [], "more": false})
    );

    // The reply travels the other way, with the default action type.
    let reply = send(&s2, &conv, "b", "ack, building the list view").await;
    let inbox = check(&s1, &conv, "a", json!({})).await;
    let got = messages(&inbox);
    assert_eq!(got.len(), 1, "{inbox}");
    assert_eq!(got[0]["id"], reply["message_id"]);
    assert_eq!(
        (
            got[0]["from_session"].as_str(),
            got[0]["from_role"].as_str()
        ),
        (Some("b"), Some("frontend dev"))
    );
    assert_eq!(
        (
            got[0]["action_type"].as_str(),
            got[0]["files_involved"].clone()
        ),
        (Some("info"), json!([]))
    );
    assert!(
        reply["message_id"].as_i64().unwrap() > id,
        "ids must increase in send order"
    );

    // A heartbeat written by one process is read by the other.
    let updated = ok(&call(
        &s1,
        "update_my_status",
        conv.args("a", json!({"status": "working", "note": "adding ?done"})),
    )
    .await);
    assert_eq!(updated["status"], "working");
    let status = ok(&call(&s2, "check_partner_status", conv.args("b", json!({}))).await);
    assert_eq!(
        (
            status["status"].as_str(),
            status["note"].as_str(),
            status["alive"].as_bool()
        ),
        (Some("working"), Some("adding ?done"), Some(true))
    );
    assert_eq!(status["last_heartbeat"], updated["updated_at"]);
    assert!(
        status["seconds_since_heartbeat"]
            .as_u64()
            .is_some_and(|s| s <= 5),
        "{status}"
    );
    let mine = ok(&call(&s1, "check_partner_status", conv.args("a", json!({}))).await);
    assert_eq!(
        (mine["partner_role"].as_str(), mine["status"].as_str()),
        (Some("frontend dev"), Some("unknown"))
    );

    s1.stop().await;
    s2.stop().await;
}

/// One checker: long-polls side b's inbox until the sender is done and a check
/// started after that finds nothing. Returns every message it received.
async fn checker(server: Arc<Server>, conv: Conv, limit: u32, done: Arc<AtomicBool>) -> Vec<Value> {
    let mut received = Vec::new();
    loop {
        let finished = done.load(Ordering::SeqCst);
        let body = check(
            &server,
            &conv,
            "b",
            json!({"limit": limit, "wait_seconds": 0.2}),
        )
        .await;
        let page = messages(&body);
        assert!(page.len() <= limit as usize, "page larger than the limit");
        if page.is_empty() && finished {
            return received;
        }
        received.extend(page);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn competing_checkers_receive_each_message_exactly_once_in_order() {
    const COUNT: usize = 300;
    let env = TestEnv::new("exactly_once");
    let sender = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&sender).await;
    let done = Arc::new(AtomicBool::new(false));
    let mut checkers = Vec::new();
    for limit in [3, 17, 100] {
        let server = Arc::new(env.server_with(NO_LIMITS).await);
        let task = tokio::spawn(checker(
            Arc::clone(&server),
            conv.clone(),
            limit,
            Arc::clone(&done),
        ));
        checkers.push((server, task));
    }

    let mut sent = BTreeMap::new();
    let mut last = 0;
    for i in 0..COUNT {
        let text = format!("message {i} [{}] {}", random_hex(6), "x".repeat(i % 40));
        let id = send(&sender, &conv, "a", &text).await["message_id"]
            .as_i64()
            .unwrap();
        assert!(id > last, "message ids must increase in send order");
        last = id;
        sent.insert(id, text);
    }
    done.store(true, Ordering::SeqCst);

    let mut union = Vec::new();
    for (server, task) in checkers {
        let received = tokio::time::timeout(std::time::Duration::from_secs(60), task)
            .await
            .expect("checker finished")
            .expect("checker task");
        let ids: Vec<i64> = received.iter().map(|m| m["id"].as_i64().unwrap()).collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "one checker's messages are out of order: {ids:?}"
        );
        for m in &received {
            let id = m["id"].as_i64().unwrap();
            assert_eq!(
                m["content"].as_str(),
                sent.get(&id).map(String::as_str),
                "content of message {id}"
            );
            assert_eq!(
                m["from_session"], "a",
                "side b received its own message {id}"
            );
        }
        union.extend(ids);
        Arc::into_inner(server)
            .expect("checker released its server")
            .stop()
            .await;
    }
    assert_eq!(
        union.len(),
        COUNT,
        "messages delivered more than once or lost"
    );
    union.sort_unstable();
    assert_eq!(
        union,
        sent.keys().copied().collect::<Vec<_>>(),
        "the union of deliveries is not every message once"
    );

    // The sender never receives its own messages, and nothing is left pending.
    assert_eq!(
        check(&sender, &conv, "a", json!({})).await,
        json!({"messages": [], "more": false})
    );
    assert_eq!(rows(&env, "pending_deliveries"), 0);
    sender.stop().await;
}

#[tokio::test]
async fn limit_pages_the_inbox_and_more_says_what_is_left() {
    let env = TestEnv::new("paging");
    let s1 = env.server_with(NO_LIMITS).await;
    let s2 = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&s1).await;
    let mut ids = Vec::new();
    for i in 0..250 {
        ids.push(
            send(&s1, &conv, "a", &format!("page test {i}")).await["message_id"]
                .as_i64()
                .unwrap(),
        );
    }
    let mut got = Vec::new();
    for (expected, more) in [(100, true), (100, true), (50, false)] {
        let page = check(&s2, &conv, "b", json!({"limit": 100})).await;
        assert_eq!(
            (messages(&page).len(), page["more"].as_bool()),
            (expected, Some(more)),
            "page sizes"
        );
        got.extend(messages(&page).iter().map(|m| m["id"].as_i64().unwrap()));
    }
    assert_eq!(
        got, ids,
        "pages must continue where the last one stopped, in send order"
    );
    assert_eq!(
        check(&s2, &conv, "b", json!({"limit": 100})).await,
        json!({"messages": [], "more": false})
    );

    // Without a limit a page holds 100 messages.
    for i in 0..101 {
        send(&s2, &conv, "b", &format!("default page {i}")).await;
    }
    let page = check(&s1, &conv, "a", json!({})).await;
    assert_eq!(
        (messages(&page).len(), page["more"].as_bool()),
        (100, Some(true))
    );
    let page = check(&s1, &conv, "a", json!({"limit": 500})).await;
    assert_eq!(
        (contents(&page), page["more"].as_bool()),
        (vec!["default page 100".to_owned()], Some(false))
    );
    s1.stop().await;
    s2.stop().await;
}

#[tokio::test]
async fn messages_and_status_survive_a_restart() {
    let env = TestEnv::new("restart");
    let first = env.server().await;
    let conv = Conv::create(&first).await;
    let sent = send(&first, &conv, "a", "persisted across restarts").await;
    ok(&call(
        &first,
        "update_my_status",
        conv.args("a", json!({"status": "blocked", "note": "waiting on CI"})),
    )
    .await);
    first.stop().await;

    let second = env.server().await;
    let inbox = check(&second, &conv, "b", json!({})).await;
    assert_eq!(contents(&inbox), vec!["persisted across restarts"]);
    assert_eq!(messages(&inbox)[0]["id"], sent["message_id"]);
    let status = ok(&call(&second, "check_partner_status", conv.args("b", json!({}))).await);
    assert_eq!(
        (status["status"].as_str(), status["note"].as_str()),
        (Some("blocked"), Some("waiting on CI"))
    );
    // The tokens still work after the restart (the key file persisted), and ids keep increasing.
    let next = send(&second, &conv, "a", "after the restart").await;
    assert!(next["message_id"].as_i64() > sent["message_id"].as_i64());
    second.stop().await;
}

/// Servers launched together on a database that does not exist yet (a client
/// starting several agents at once) all start: whichever creates and migrates
/// it first, the others wait for it rather than fail with "busy".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_started_together_on_a_new_database_all_start() {
    const SERVERS: usize = 8;
    for round in 0..3 {
        let env = TestEnv::new(&format!("start_together_{round}"));
        let servers =
            futures_util::future::join_all((0..SERVERS).map(|_| env.server_with(NO_LIMITS))).await;
        for server in &servers {
            Conv::create(&server.peer()).await;
        }
        assert_eq!(
            env.count("SELECT count(*) FROM conversations"),
            i64::try_from(SERVERS).expect("count"),
            "round {round}"
        );
        for server in servers {
            server.stop().await;
        }
    }
}
