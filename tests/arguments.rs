//! Arguments that break a tool's schema come back as JSON-RPC `invalid params`
//! errors and change nothing; hostile but valid text (SQL metacharacters,
//! every kind of Unicode) is stored and delivered verbatim.

use serde_json::{Value, json};

use crate::util::*;

/// A value that must never be echoed back in an error text.
const SECRET_VALUE: &str = "AKIAZ7QWERTY2XCVB5NM-hunter2";
/// A secret that looks like a name (lowercase letters only).
const PASSPHRASE: &str = "correcthorsebatterystaple";

/// Every schema-breaking variant of every tool's arguments.
fn bad_calls(conv: &Conv) -> Vec<(&'static str, &'static str, Value)> {
    let creds = |extra: Value| conv.args("a", extra);
    let without = |field: &str, extra: Value| {
        let mut v = creds(extra);
        v.as_object_mut().unwrap().remove(field);
        v
    };
    let long_role = "r".repeat(65);
    vec![
        // create_conversation
        (
            "create_conversation",
            "extra field",
            json!({"my_role": "a", "partner_role": "b", "admin": true}),
        ),
        (
            "create_conversation",
            "wrong type",
            json!({"my_role": 5, "partner_role": "b"}),
        ),
        (
            "create_conversation",
            "missing partner_role",
            json!({"my_role": "a"}),
        ),
        ("create_conversation", "no arguments", json!({})),
        (
            "create_conversation",
            "over-long role",
            json!({"my_role": long_role, "partner_role": "b"}),
        ),
        (
            "create_conversation",
            "empty role",
            json!({"my_role": "a", "partner_role": ""}),
        ),
        (
            "create_conversation",
            "role outside the pattern",
            json!({"my_role": "a; DROP TABLE x", "partner_role": "b"}),
        ),
        (
            "create_conversation",
            "a role that passes for the bridge",
            json!({"my_role": "a", "partner_role": "System"}),
        ),
        // send_to_partner
        (
            "send_to_partner",
            "extra field",
            creds(json!({"message": "hi", "priority": "high"})),
        ),
        (
            "send_to_partner",
            "wrong type (message)",
            creds(json!({"message": 42})),
        ),
        (
            "send_to_partner",
            "wrong type (files)",
            creds(json!({"message": "hi", "files_involved": "src/lib.rs"})),
        ),
        (
            "send_to_partner",
            "wrong type (secret in session_id)",
            creds(json!({"message": "hi", "session_id": SECRET_VALUE})),
        ),
        (
            "send_to_partner",
            "secret in backticks as action_type",
            creds(json!({"message": "hi", "action_type": format!("`{SECRET_VALUE}`")})),
        ),
        (
            "send_to_partner",
            "passphrase as action_type",
            creds(json!({"message": "hi", "action_type": PASSPHRASE})),
        ),
        (
            "send_to_partner",
            "secret in quotes as a field name",
            creds(json!({"message": "hi", format!("\"{SECRET_VALUE}`"): 1})),
        ),
        (
            "send_to_partner",
            "out-of-enum action_type",
            creds(json!({"message": "hi", "action_type": "shout"})),
        ),
        (
            "send_to_partner",
            "reserved action_type",
            creds(json!({"message": "hi", "action_type": "system"})),
        ),
        (
            "send_to_partner",
            "two-letter session_id",
            creds(json!({"message": "hi", "session_id": "ab"})),
        ),
        (
            "send_to_partner",
            "empty message",
            creds(json!({"message": ""})),
        ),
        ("send_to_partner", "missing message", creds(json!({}))),
        (
            "send_to_partner",
            "token without session_id",
            without("session_id", json!({"message": "hi"})),
        ),
        (
            "send_to_partner",
            "over-long path",
            creds(json!({"message": "hi", "files_involved": ["p".repeat(4097)]})),
        ),
        (
            "send_to_partner",
            "empty path",
            creds(json!({"message": "hi", "files_involved": [""]})),
        ),
        (
            "send_to_partner",
            "too many paths",
            creds(json!({"message": "hi", "files_involved": vec!["f.rs"; 101]})),
        ),
        (
            "send_to_partner",
            "malformed conversation id",
            creds(json!({"message": "hi", "conversation_id": "conv_XYZ"})),
        ),
        (
            "send_to_partner",
            "short token",
            creds(json!({"message": "hi", "token": "ab".repeat(31)})),
        ),
        (
            "send_to_partner",
            "non-hex token",
            creds(json!({"message": "hi", "token": "zz".repeat(32)})),
        ),
        // check_messages
        (
            "check_messages",
            "wait_seconds 61",
            creds(json!({"wait_seconds": 61})),
        ),
        (
            "check_messages",
            "wait_seconds -1",
            creds(json!({"wait_seconds": -1})),
        ),
        (
            "check_messages",
            "wait_seconds 1e308",
            creds(json!({"wait_seconds": 1e308})),
        ),
        (
            "check_messages",
            "wait_seconds as a string",
            creds(json!({"wait_seconds": SECRET_VALUE})),
        ),
        ("check_messages", "limit 0", creds(json!({"limit": 0}))),
        ("check_messages", "limit 501", creds(json!({"limit": 501}))),
        ("check_messages", "limit -1", creds(json!({"limit": -1}))),
        (
            "check_messages",
            "fractional limit",
            creds(json!({"limit": 1.5})),
        ),
        (
            "check_messages",
            "extra field",
            creds(json!({"peek": true})),
        ),
        (
            "check_messages",
            "upper-case session_id",
            creds(json!({"session_id": "A"})),
        ),
        // update_my_status
        (
            "update_my_status",
            "out-of-enum status",
            creds(json!({"status": "sleeping"})),
        ),
        (
            "update_my_status",
            "over-long note",
            creds(json!({"status": "working", "note": "n".repeat(501)})),
        ),
        (
            "update_my_status",
            "missing status",
            creds(json!({"note": "hi"})),
        ),
        (
            "update_my_status",
            "extra field",
            creds(json!({"status": "working", "mood": "happy"})),
        ),
        // check_partner_status
        (
            "check_partner_status",
            "extra field",
            creds(json!({"verbose": true})),
        ),
        (
            "check_partner_status",
            "token without conversation_id",
            without("conversation_id", json!({})),
        ),
        (
            "check_partner_status",
            "wrong type (conversation_id)",
            creds(json!({"conversation_id": 123})),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_violations_are_json_rpc_errors_and_store_nothing() {
    let env = TestEnv::new("bad_arguments");
    let s1 = env.server_with(&[("MCP_BRIDGE_RATE_LIMITS", "off")]).await;
    let s2 = env.server_with(&[("MCP_BRIDGE_RATE_LIMITS", "off")]).await;
    let conv = Conv::create(&s1).await;
    let before = store_state(&env);
    let mut failures = Vec::new();
    for (i, (tool, what, args)) in bad_calls(&conv).into_iter().enumerate() {
        let server = if i % 2 == 0 { &s1 } else { &s2 };
        match try_call(server, tool, args).await {
            Err(rmcp::service::ServiceError::McpError(e))
                if e.code == rmcp::model::ErrorCode::INVALID_PARAMS =>
            {
                assert!(
                    !e.message.contains(SECRET_VALUE) && !e.message.contains(PASSPHRASE),
                    "{tool} / {what}: the error echoes the value: {}",
                    e.message
                );
            }
            other => failures.push(format!(
                "{tool} / {what}: expected JSON-RPC -32602, got {other:?}"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} schema violations were not JSON-RPC invalid-params errors:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        store_state(&env),
        before,
        "a refused call changed the store"
    );

    // An unknown tool is a protocol error too.
    let unknown = try_call(&s1, "delete_everything", json!({})).await;
    assert!(
        matches!(unknown, Err(rmcp::service::ServiceError::McpError(_))),
        "unknown tool: {unknown:?}"
    );

    // The servers are still healthy and the conversation is untouched.
    send(&s2, &conv, "a", "still fine").await;
    assert_eq!(
        contents(&check(&s1, &conv, "b", json!({})).await),
        vec!["still fine"]
    );
    s1.stop().await;
    s2.stop().await;
}

#[tokio::test]
async fn the_edges_of_every_range_are_accepted() {
    let env = TestEnv::new("range_edges");
    let s = env.server_with(&[("MCP_BRIDGE_RATE_LIMITS", "off")]).await;
    let role = "R".repeat(64);
    let conv = Conv::create_with_roles(&s, &role, "a b_c-D 9").await;
    // 100 paths (the most), one of the longest length, within 16 KiB in all.
    let mut files: Vec<String> = (0..99)
        .map(|i| format!("{i:02}/{}", "p".repeat(117)))
        .collect();
    files.push("q".repeat(4096));
    let sent = ok(&call(
        &s,
        "send_to_partner",
        conv.args(
            "a",
            json!({"message": "x", "files_involved": files, "action_type": "ack"}),
        ),
    )
    .await);
    let inbox = check(&s, &conv, "b", json!({"limit": 500, "wait_seconds": 0})).await;
    let got = &messages(&inbox)[0];
    assert_eq!(
        (got["id"].clone(), got["from_role"].as_str()),
        (sent["message_id"].clone(), Some(role.as_str()))
    );
    assert_eq!(got["files_involved"], json!(files));
    assert_eq!(
        check(&s, &conv, "b", json!({"limit": 1, "wait_seconds": 60.0e-3})).await["messages"],
        json!([])
    );
    let note = "n".repeat(500);
    ok(&call(
        &s,
        "update_my_status",
        conv.args("a", json!({"status": "complete", "note": note})),
    )
    .await);
    assert_eq!(
        ok(&call(&s, "check_partner_status", conv.args("b", json!({}))).await)["note"],
        note.as_str()
    );
    // Tokens may be retyped in upper case.
    let upper =
        json!({"conversation_id": conv.id, "session_id": "b", "token": conv.b.to_uppercase()});
    ok(&call(&s, "check_partner_status", upper).await);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_metacharacters_and_unicode_travel_verbatim() {
    let env = TestEnv::new("verbatim");
    let s1 = env.server_with(&[("MCP_BRIDGE_RATE_LIMITS", "off")]).await;
    let s2 = env.server_with(&[("MCP_BRIDGE_RATE_LIMITS", "off")]).await;
    let conv = Conv::create(&s1).await;
    let texts = [
        "'; DROP TABLE messages; --",
        "\" OR 1=1 --",
        "Robert'); DROP TABLE participants;-- %_ \\ `x` $1 ?1 :name",
        "emoji 🦀🔥 family 👩‍👩‍👧‍👦 flag 🇺🇦 skin 👍🏽",
        "CJK 漢字かなカナ 한국어 中文",
        "RTL עברית العربية \u{202E}desrever\u{202C} mixed",
        "combining e\u{301} a\u{308} Z\u{324}\u{354}\u{367}\u{311}\u{343} zero\u{200B}width",
        "controls tab\there\r\nnew line \u{1} \u{7f} and a NUL \u{0} inside",
        "\u{FEFF}BOM and \u{FFFD} replacement and 𝕄𝕒𝕥𝕙 and \u{10FFFF}",
    ];
    let files = [
        "src/'; DROP TABLE messages; --.rs",
        "docs/漢字/🦀.md",
        "a/\" OR 1=1 --/b",
    ];
    let mut ids = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let server = if i % 2 == 0 { &s1 } else { &s2 };
        let sent = ok(&call(
            server,
            "send_to_partner",
            conv.args("a", json!({"message": text, "files_involved": files})),
        )
        .await);
        assert_eq!(sent["redactions"], json!({}), "{text:?} was redacted");
        ids.push(sent["message_id"].clone());
    }
    let inbox = check(&s2, &conv, "b", json!({})).await;
    assert_eq!(contents(&inbox), texts.to_vec());
    for m in messages(&inbox) {
        assert_eq!(m["files_involved"], json!(files));
    }
    assert_eq!(
        messages(&inbox)
            .iter()
            .map(|m| m["id"].clone())
            .collect::<Vec<_>>(),
        ids
    );

    // Stored sealed (never as given: encryption at rest), one row each, and
    // every table is still there.
    let stored: Vec<String> = env
        .query("SELECT content FROM messages ORDER BY id")
        .into_iter()
        .map(|r| r[0].clone().expect("content"))
        .collect();
    assert_eq!(stored.len(), texts.len());
    assert!(stored.iter().all(|s| s.starts_with("s1.")), "{stored:?}");
    assert_eq!(
        (rows(&env, "conversations"), rows(&env, "participants")),
        (1, 2)
    );
    // Leased pages leave the inbox once their replies are acknowledged.
    wait_until("every page acknowledged", || {
        rows(&env, "pending_deliveries") == 0
    })
    .await;

    // Notes come back verbatim too.
    let note = "status '; DROP TABLE participants; -- 漢字 🦀 \u{202E}x";
    ok(&call(
        &s1,
        "update_my_status",
        conv.args("b", json!({"status": "waiting", "note": note})),
    )
    .await);
    assert_eq!(
        ok(&call(&s2, "check_partner_status", conv.args("a", json!({}))).await)["note"],
        note
    );
    s1.stop().await;
    s2.stop().await;
}
