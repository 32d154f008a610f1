//! `mcp-bridge cleanup` against a database filled by real `mcp-bridge serve`
//! processes: expired conversations go, the audit trail stays.

use serde_json::{Value, json};

use crate::util::*;
use crate::util_cli::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_removes_expired_conversations_and_keeps_the_audit_trail() {
    let env = TestEnv::new("cli_cleanup");
    // Conversations made by this server expire after 2.4 s.
    let short = env
        .server_with(&[("MCP_BRIDGE_CONVERSATION_TTL_MINUTES", "0.04")])
        .await;
    let normal = env.server_with(NO_LIMITS).await;
    let doomed = Conv::create_with_roles(&short, "old", "older").await;
    let kept = Conv::create(&normal).await;
    let first = send(&short, &doomed, "a", "soon gone").await;
    let last = send(&short, &doomed, "b", "also gone").await;
    send(&normal, &kept, "a", "still here").await;
    short.stop().await;
    let deadline = std::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        let list = cli(&env, &["list", "--json"]).await.json();
        if find(&list, "conversations", &doomed.id)["expired"] == true {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the conversation never expired"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let table = cli(&env, &["list"]).await.ok();
    assert!(
        row(&table, &doomed.id)[3].starts_with("expired ("),
        "{table}"
    );
    assert!(
        table.ends_with("\n2 conversations (1 expired; `mcp-bridge cleanup` removes them)\n"),
        "{table}"
    );
    let active = cli(&env, &["list", "--active", "--json"]).await.json();
    let ids: Vec<&Value> = active["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, [&json!(kept.id)]);
    cli(&env, &["tokens", &doomed.id])
        .await
        .fails(1, "expired at");
    let forced = cli(&env, &["tokens", &doomed.id, "--force", "--json"])
        .await
        .json();
    assert_eq!(
        (&forced["session_a_token"], &forced["expired"]),
        (&json!(doomed.a), &json!(true))
    );

    let dry = cli(&env, &["cleanup", "--dry-run"]).await.ok();
    let dry_lines: Vec<&str> = dry.lines().collect();
    assert_eq!(
        dry_lines[0],
        "Would remove 1 expired conversation with 2 messages:"
    );
    assert_eq!(
        cells(dry_lines[1]),
        ["ID", "ROLES", "EXPIRED", "MESSAGES", "UNREAD"]
    );
    let doomed_row = cells(dry_lines[2]);
    assert_eq!(
        (
            doomed_row[0].as_str(),
            doomed_row[1].as_str(),
            doomed_row[3].as_str(),
            doomed_row[4].as_str()
        ),
        (doomed.id.as_str(), "old ↔ older", "2", "2")
    );
    assert!(dry.contains("Dry run: nothing was deleted."), "{dry}");
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM messages WHERE conversation_id = '{}'",
            doomed.id
        )),
        2
    );

    let done = cli(&env, &["cleanup", "--json"]).await.json();
    assert_eq!(done["dry_run"], false);
    assert_eq!(
        (&done["removed_conversations"], &done["removed_messages"]),
        (&json!(1), &json!(2))
    );
    assert!(done["removed_rate_buckets"].as_u64().unwrap() > 0, "{done}");
    assert_eq!(
        done["removed_mcp_sessions"],
        json!(0),
        "none stored over stdio"
    );
    assert_eq!(done["conversations"][0]["id"], doomed.id);
    assert_eq!(
        done["conversations"][0]["roles"],
        json!({"a": "old", "b": "older"})
    );
    for table in [
        "conversations",
        "participants",
        "messages",
        "pending_deliveries",
        "rate_buckets",
    ] {
        let column = if table == "conversations" {
            "id"
        } else {
            "conversation_id"
        };
        assert_eq!(
            env.count(&format!(
                "SELECT count(*) FROM {table} WHERE {column} = '{}'",
                doomed.id
            )),
            0,
            "{table}"
        );
    }
    // The next id stays above the removed ones: SQLite keeps a floor in
    // `meta`, PostgreSQL draws ids from a sequence that never goes back.
    let floor = if env.pg_url().is_some() {
        env.count("SELECT last_value FROM message_ids")
    } else {
        env.count("SELECT value FROM meta WHERE key = 'message_id_floor'")
    };
    assert!(
        floor >= last["message_id"].as_i64().unwrap(),
        "floor {floor}"
    );
    cli(&env, &["show", &doomed.id])
        .await
        .fails(1, "unknown conversation");
    cli(&env, &["show", &kept.id]).await.ok();

    // The audit trail keeps the removed conversation's history and records the cleanup.
    let history = cli(&env, &["audit", &doomed.id, "--json"]).await.json();
    let actions: Vec<&Value> = history["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["action"])
        .collect();
    assert_eq!(
        actions[..3],
        [
            &json!("create_conversation"),
            &json!("send_to_partner"),
            &json!("send_to_partner")
        ]
    );
    let cleanups = cli(&env, &["audit", "--action", "cleanup", "--json"])
        .await
        .json();
    let details: Vec<&Value> = cleanups["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["detail"])
        .collect();
    assert_eq!(details.len(), 2);
    assert!(
        details[0]
            .as_str()
            .unwrap()
            .starts_with("dry-run conversations=1 messages=2 rate_buckets=")
    );
    assert!(
        details[1]
            .as_str()
            .unwrap()
            .starts_with("conversations=1 messages=2 rate_buckets=")
    );
    cli(&env, &["audit", "--verify"]).await.ok();

    // Ids are never handed out again.
    let next = send(&normal, &kept, "b", "after cleanup").await;
    assert!(next["message_id"].as_i64().unwrap() > last["message_id"].as_i64().unwrap());
    assert!(first["message_id"].as_i64().unwrap() < last["message_id"].as_i64().unwrap());
    normal.stop().await;
    let again = cli(&env, &["cleanup"]).await.ok();
    assert_eq!(again, "No expired conversations; nothing removed.\n");
}
