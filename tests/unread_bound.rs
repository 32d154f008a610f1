//! The bound on a recipient's unread messages (`limits.max_pending_messages`)
//! where it is cheap to get wrong. PostgreSQL checks it by message positions
//! (schema 9: 1, 2, 3, … within a conversation) and counts the inbox only
//! when the oldest unread message and the send are as many positions apart as
//! the limit; a position given twice, or one that skips messages, lets an
//! inbox grow past the limit unnoticed. Positions come from sends, imports,
//! the migration that gave existing messages theirs, and, during a rolling
//! upgrade, follow messages an older server wrote without one.

use serde_json::json;

use crate::teams::{Team, say};
use crate::teams_delivery::{read, texts};
use crate::util::*;
use crate::util_cli::{cli, tamper};
use crate::util_pg;

const LIMIT: &str = "5";

fn vars(limit: &'static str) -> [(&'static str, &'static str); 2] {
    [
        ("MCP_BRIDGE_LIMITS__MAX_PENDING_MESSAGES", limit),
        ("MCP_BRIDGE_RATE_LIMITS", "off"),
    ]
}

/// Asserts that `a`'s send of `message` is refused for `b`'s full inbox.
async fn assert_inbox_full(server: &Server, conv: &Conv, message: &str, limit: &str) {
    let result = call(
        server,
        "send_to_partner",
        conv.args("a", json!({"message": message})),
    )
    .await;
    let body = tool_error(&result, "resource_limit");
    let text = body["message"].as_str().expect("message");
    assert!(
        text.contains(&format!("limit of {limit}")),
        "should name the limit: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_imported_into_a_conversation_count_toward_its_unread_bound() {
    let env = TestEnv::new("unread_import");
    let server = env.server_with(&vars(LIMIT)).await;
    let conv = Conv::create(&server).await;
    for m in ["m0", "m1", "m2", "m3"] {
        send(&server, &conv, "a", m).await;
    }
    let file = env.dir.join("export.json");
    cli(
        &env,
        &["export", "--plaintext", "-o", file.to_str().unwrap()],
    )
    .await
    .ok();
    // The database loses the last two messages; the import brings them back
    // behind the two it still holds (with new ids: ids are never reused).
    tamper(
        &env.db,
        "DELETE FROM pending_deliveries WHERE message_id IN (SELECT id FROM messages WHERE id > (SELECT min(id) + 1 FROM messages));
         DELETE FROM messages WHERE id > (SELECT min(id) + 1 FROM messages);",
    );
    let report = cli(&env, &["import", file.to_str().unwrap(), "--json"])
        .await
        .json();
    assert_eq!(report["messages_added"], 2, "{report}");
    // b has four unread: one more fits, the next does not.
    send(&server, &conv, "a", "m4").await;
    assert_inbox_full(&server, &conv, "m5", LIMIT).await;
    let page = check(&server, &conv, "b", json!({})).await;
    assert_eq!(contents(&page), vec!["m0", "m1", "m2", "m3", "m4"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_are_given_to_old_messages_and_follow_messages_without_one() {
    let Some(env) = TestEnv::postgres("unread_positions") else {
        return;
    };
    let url = env.pg_url().expect("a PostgreSQL test");
    let positions = || -> Vec<Option<String>> {
        util_pg::rows(&url, "SELECT seq FROM messages ORDER BY id")
            .into_iter()
            .map(|mut row| row.remove(0))
            .collect()
    };
    let server = env.server_with(&vars("3")).await;
    let conv = Conv::create(&server).await;
    for m in ["m0", "m1", "m2"] {
        send(&server, &conv, "a", m).await;
    }
    server.stop().await;

    // The database as schema 8 left it: no positions. A server migrates it
    // and numbers the messages in their order.
    util_pg::sql(
        &url,
        "ALTER TABLE messages DROP COLUMN seq;
         DELETE FROM mcp_bridge_schema; INSERT INTO mcp_bridge_schema (version) VALUES (8);",
    );
    let server = env.server_with(&vars("3")).await;
    let some = |n: &str| Some(n.to_owned());
    assert_eq!(positions(), vec![some("1"), some("2"), some("3")]);

    // m2 as an older server (during a rolling upgrade) would have written it.
    util_pg::sql(
        &url,
        "UPDATE messages SET seq = NULL WHERE id = (SELECT max(id) FROM messages)",
    );
    let page = check(&server, &conv, "b", json!({"limit": 1})).await;
    assert_eq!(contents(&page), vec!["m0"]);
    wait_until("the page to be acknowledged", || {
        env.count("SELECT count(*) FROM pending_deliveries") == 2
    })
    .await;
    // The next message counts every message before it, so it is 4th, not 3rd.
    send(&server, &conv, "a", "m3").await;
    assert_eq!(positions().last(), Some(&some("4")));
    // b has m1, m2 and m3 unread: full.
    assert_inbox_full(&server, &conv, "m4", "3").await;
    server.stop().await;
}

/// In a team, the bound is per recipient: a full inbox refuses the sends
/// that would queue to it and no others. On PostgreSQL a send reads every
/// inbox's oldest position before it knows its recipients (the conversation
/// comes in the same flight), so an inbox it does not write to must not
/// count, and one it does must.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_inbox_in_a_team_refuses_only_the_sends_that_would_queue_to_it() {
    let t = Team::start("unread_team", &vars("3")).await;
    for m in ["q0", "q1", "q2"] {
        say(&t.a, m, json!({"to": "qa"})).await;
    }
    // The observer got copies of all three: it reads them, so only qa is full.
    assert_eq!(
        texts(&read(&t.e).await),
        ["q0", "q1", "q2"],
        "the observer's copies"
    );
    wait_until("the observer's page to be acknowledged", || {
        t.env
            .count("SELECT count(*) FROM pending_deliveries WHERE recipient = 'e'")
            == 0
    })
    .await;
    say(&t.a, "for frontend", json!({"to": "frontend"})).await;
    for to in [
        json!({"to": "qa"}),
        json!({"to": ["docs", "qa"]}),
        json!({}),
    ] {
        let mut args = json!({"message": "no room"});
        args.as_object_mut()
            .expect("object")
            .extend(to.as_object().expect("object").clone());
        let result = call(&t.a, "send_message", args).await;
        let body = tool_error(&result, "resource_limit");
        assert!(
            body["message"]
                .as_str()
                .expect("message")
                .contains("limit of 3"),
            "{to}: {body}"
        );
    }
    // qa reads: its inbox has room again once the page is acknowledged.
    assert_eq!(texts(&read(&t.c).await), ["q0", "q1", "q2"]);
    wait_until("qa's page to be acknowledged", || {
        t.env
            .count("SELECT count(*) FROM pending_deliveries WHERE recipient = 'c'")
            == 0
    })
    .await;
    say(&t.a, "q3", json!({"to": "qa"})).await;
    assert_eq!(texts(&read(&t.c).await), ["q3"]);
    let b_got = ok(&call(&t.b, "check_messages", t.b_args(json!({}))).await);
    assert_eq!(contents(&b_got), ["for frontend"]);
    t.stop().await;
}
