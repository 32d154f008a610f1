//! Authentication and expiry through real server processes: every wrong
//! credential gets the same `auth_failed` answer, an expired conversation
//! answers `conversation_expired`, and no refusal changes anything.

use std::time::Duration;

use serde_json::{Value, json};

use crate::util::*;

/// The four tools that take session credentials, with valid extra arguments.
fn session_calls() -> Vec<(&'static str, Value)> {
    vec![
        (
            "send_to_partner",
            json!({"message": "should never be stored"}),
        ),
        ("check_messages", json!({})),
        (
            "update_my_status",
            json!({"status": "blocked", "note": "should never be stored"}),
        ),
        ("check_partner_status", json!({})),
    ]
}

fn with_creds(conversation: &str, side: &str, token: &str, extra: &Value) -> Value {
    let mut args = json!({"conversation_id": conversation, "session_id": side, "token": token});
    merge(&mut args, extra.clone());
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_wrong_credential_gets_the_same_auth_failed_answer() {
    let env = TestEnv::new("auth_matrix");
    let s1 = env.server().await;
    let s2 = env.server().await;
    let conv = Conv::create(&s1).await;
    let other = Conv::create(&s2).await;
    let unknown = format!("conv_{}", random_hex(8));
    // A correctly signed token for a conversation that does not exist (as after
    // `cleanup`): only the server key can make one, so derive it with the key.
    let key = mcp_bridge::auth::ServerKey::load(&env.key_file()).expect("read the server key");
    let derive = |id: &str, side| {
        key.derive(
            &mcp_bridge::domain::ConversationId::parse(id).unwrap(),
            side,
        )
        .to_hex()
    };
    assert_eq!(
        derive(&conv.id, mcp_bridge::domain::Side::B),
        conv.b,
        "tokens are no longer derived this way; update the test"
    );
    let signed_for_unknown = derive(&unknown, mcp_bridge::domain::Side::A);
    let cases: Vec<(&str, String, &str, String)> = vec![
        ("wrong token", conv.id.clone(), "b", random_hex(32)),
        (
            "side a's token as side b",
            conv.id.clone(),
            "b",
            conv.a.clone(),
        ),
        (
            "side b's token as side a",
            conv.id.clone(),
            "a",
            conv.b.clone(),
        ),
        (
            "another conversation's token (same side)",
            conv.id.clone(),
            "b",
            other.b.clone(),
        ),
        (
            "another conversation's token (other side)",
            conv.id.clone(),
            "a",
            other.b.clone(),
        ),
        (
            "a token of this conversation in another one",
            other.id.clone(),
            "a",
            conv.a.clone(),
        ),
        ("unknown conversation", unknown.clone(), "a", conv.a.clone()),
        (
            "unknown conversation, validly signed token",
            unknown.clone(),
            "a",
            signed_for_unknown,
        ),
        (
            "unknown conversation, random token",
            unknown,
            "b",
            random_hex(32),
        ),
        (
            "upper-case copy of the other side's token",
            conv.id.clone(),
            "a",
            conv.b.to_uppercase(),
        ),
    ];
    let before = store_state(&env);
    let mut texts = std::collections::BTreeSet::new();
    for (what, conversation, side, token) in &cases {
        for (tool, extra) in session_calls() {
            // Alternate processes: one saw the conversations being created, the other did not.
            for server in [&s1, &s2] {
                let result =
                    call(server, tool, with_creds(conversation, side, token, &extra)).await;
                let body = tool_error(&result, "auth_failed");
                assert_eq!(
                    body.as_object().unwrap().len(),
                    2,
                    "{what}/{tool}: auth_failed must carry only code and message: {body}"
                );
                let text = body["message"].as_str().unwrap().to_owned();
                assert!(
                    !text.contains(token.as_str()) && !text.contains(conversation.as_str()),
                    "{what}/{tool}: the answer echoes the request: {text}"
                );
                texts.insert(text);
            }
        }
    }
    assert_eq!(
        texts.len(),
        1,
        "every auth failure must read the same: {texts:?}"
    );
    assert_eq!(
        store_state(&env),
        before,
        "a refused call changed the store"
    );

    // Nothing reached either side: inboxes are empty and no status was set.
    for side in ["a", "b"] {
        assert_eq!(
            check(&s2, &conv, side, json!({})).await,
            json!({"messages": [], "more": false})
        );
        let status = ok(&call(&s1, "check_partner_status", conv.args(side, json!({}))).await);
        assert_eq!(
            (status["status"].as_str(), status["note"].clone()),
            (Some("unknown"), Value::Null)
        );
    }
    assert_eq!(rows(&env, "messages"), 0);

    // The real tokens still work after all those refusals (no lock-out, no side effects).
    send(&s1, &conv, "a", "hello").await;
    assert_eq!(
        contents(&check(&s2, &conv, "b", json!({})).await),
        vec!["hello"]
    );
    s1.stop().await;
    s2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_conversation_answers_conversation_expired() {
    let env = TestEnv::new("expiry");
    // 4.8 s: the creation and one send must fit in it on a loaded machine.
    let ttl = [("MCP_BRIDGE_CONVERSATION_TTL_MINUTES", "0.08")];
    let s1 = env.server_with(&ttl).await;
    let s2 = env.server_with(&ttl).await;
    let created = ok(&call(
        &s1,
        "create_conversation",
        json!({"my_role": "writer", "partner_role": "reader"}),
    )
    .await);
    let conv = Conv {
        id: created["conversation_id"].as_str().unwrap().into(),
        a: created["session_a_token"].as_str().unwrap().into(),
        b: created["session_b_token"].as_str().unwrap().into(),
    };
    let expires: jiff::Timestamp = created["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .expect("expires_at is RFC 3339");
    let left = expires.duration_since(jiff::Timestamp::now()).as_secs_f64();
    assert!(
        (0.0..=4.9).contains(&left),
        "a 0.08-minute conversation should expire within 4.8 s, {left} s left"
    );

    // Works while alive (on the creator's process; the other one caches nothing yet).
    let sent = send(&s1, &conv, "a", "sent before expiry").await;
    assert!(sent["message_id"].is_i64());

    // Let the conversation's lifetime pass.
    tokio::time::sleep(Duration::from_secs_f64(left.max(0.0) + 0.3)).await;
    let before = store_state(&env);
    for server in [&s1, &s2] {
        for side in ["a", "b"] {
            for (tool, extra) in session_calls() {
                let mut args = conv.args(side, json!({}));
                merge(&mut args, extra);
                let body = tool_error(&call(server, tool, args).await, "conversation_expired");
                let text = body["message"].as_str().unwrap();
                assert!(
                    text.contains("expired") && !text.contains(conv.token(side)),
                    "{tool}: {text}"
                );
            }
        }
        // A wrong token on an expired conversation is still just auth_failed.
        tool_error(
            &call(
                server,
                "check_messages",
                with_creds(&conv.id, "b", &random_hex(32), &json!({})),
            )
            .await,
            "auth_failed",
        );
    }
    assert_eq!(
        store_state(&env),
        before,
        "a call on an expired conversation changed the store"
    );
    // The message sent before expiry was not handed out by any refused check.
    assert_eq!(rows(&env, "pending_deliveries"), 1);

    // New conversations on the same servers still work.
    let fresh = Conv::create(&s2).await;
    send(&s2, &fresh, "b", "still serving").await;
    assert_eq!(
        contents(&check(&s1, &fresh, "a", json!({})).await),
        vec!["still serving"]
    );
    s1.stop().await;
    s2.stop().await;
}
