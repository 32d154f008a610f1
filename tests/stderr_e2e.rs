//! Servers logging at debug level through a whole session, failures included,
//! never write a token, a message text or a redacted secret to stderr.

use serde_json::json;

use crate::redaction_e2e::samples;
use crate::util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_logs_hold_no_tokens_messages_or_secrets() {
    let env = TestEnv::new("stderr");
    let vars = [
        ("MCP_BRIDGE_LOG", "debug"),
        ("MCP_BRIDGE_RATE_LIMITS__SEND_TO_PARTNER__PER_MINUTE", "12"),
    ];
    let s1 = env.server_with(&vars).await;
    let s2 = env.server_with(&vars).await;
    let conv = Conv::create(&s1).await;
    let marker = format!("plain-body-{}", random_hex(8));
    let note = format!("note-text-{}", random_hex(8));
    let bad_token = random_hex(32);
    let samples = samples();
    let mut forbidden: Vec<String> = vec![
        conv.a.clone(),
        conv.b.clone(),
        bad_token.clone(),
        marker.clone(),
        note.clone(),
    ];
    for s in &samples {
        forbidden.extend(s.secrets.iter().cloned());
    }

    // A normal session: messages (with secrets), a long-poll, heartbeats.
    send(&s1, &conv, "a", &format!("{marker} hello")).await;
    for s in &samples[..4] {
        send(&s2, &conv, "a", &s.text).await;
    }
    let poll = tokio::spawn({
        let (peer, args) = (s1.peer(), conv.args("b", json!({"wait_seconds": 5})));
        async move { ok(&call(&peer, "check_messages", args).await) }
    });
    assert!(!messages(&poll.await.unwrap()).is_empty());
    ok(&call(
        &s2,
        "update_my_status",
        conv.args(
            "b",
            json!({"status": "blocked", "note": format!("{note} {}", samples[6].text)}),
        ),
    )
    .await);
    ok(&call(&s1, "check_partner_status", conv.args("a", json!({}))).await);

    // Failures of every kind, carrying secrets where a careless log would print them.
    let bad = json!({"conversation_id": conv.id, "session_id": "b", "token": bad_token, "message": format!("{marker} {}", samples[7].text)});
    tool_error(&call(&s2, "send_to_partner", bad).await, "auth_failed");
    let huge = format!("{marker} {} {}", samples[5].text, "z".repeat(52_000));
    tool_error(
        &call(
            &s1,
            "send_to_partner",
            conv.args("a", json!({"message": huge})),
        )
        .await,
        "message_too_large",
    );
    let wrong_type = conv.args("b", json!({"wait_seconds": samples[6].secrets[0]}));
    invalid_params(
        try_call(&s2, "check_messages", wrong_type).await,
        "secret in wait_seconds",
    );
    let extra = conv.args(
        "a",
        json!({"message": marker, "password": samples[4].secrets[0]}),
    );
    invalid_params(
        try_call(&s1, "send_to_partner", extra).await,
        "secret in an unknown field",
    );
    let bad_enum = conv.args("a", json!({"status": bad_token, "note": note}));
    invalid_params(
        try_call(&s2, "update_my_status", bad_enum).await,
        "token as a status",
    );
    for s in &samples[4..] {
        let _ = call(
            &s1,
            "send_to_partner",
            conv.args("b", json!({"message": s.text})),
        )
        .await;
    }
    let mut limited = 0;
    for _ in 0..12 {
        let result = call(
            &s2,
            "send_to_partner",
            conv.args("b", json!({"message": marker})),
        )
        .await;
        limited += usize::from(result.is_error == Some(true));
    }
    assert!(
        limited > 0,
        "the session should include rate-limit refusals"
    );

    let mut stderr = s1.stop().await.stderr;
    stderr.push_str(&s2.stop().await.stderr);
    assert!(
        stderr.contains("serving MCP on stdio"),
        "stderr was not captured:\n{stderr}"
    );
    for secret in &forbidden {
        assert!(
            !stderr.contains(secret.as_str()),
            "stderr holds {secret:?}:\n{stderr}"
        );
    }
}
