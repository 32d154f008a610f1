//! The message size limit (bytes, not characters) and rate limits counted in
//! the shared store across server processes.

use serde_json::json;

use crate::util::*;

const LIMIT: usize = 51_200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_size_limit_counts_bytes_and_never_echoes_the_message() {
    let env = TestEnv::new("size_limit");
    let s1 = env.server_with(&[("MCP_BRIDGE_RATE_LIMITS", "off")]).await;
    let s2 = env.server_with(&[("MCP_BRIDGE_RATE_LIMITS", "off")]).await;
    let conv = Conv::create(&s1).await;

    // Each text is padded with one repeated character to exactly `bytes` bytes.
    let marker = format!("unique-marker-{}", random_hex(12));
    let fill = |c: char, bytes: usize| {
        let mut text = marker.clone();
        while text.len() + c.len_utf8() <= bytes {
            text.push(c);
        }
        while text.len() < bytes {
            text.push('x');
        }
        assert_eq!(text.len(), bytes);
        text
    };
    let accepted = [
        fill('x', LIMIT),
        fill('é', LIMIT),
        fill('漢', LIMIT),
        fill('🦀', LIMIT),
    ];
    let refused = [
        fill('x', LIMIT + 1),
        fill('é', LIMIT + 1),
        fill('漢', LIMIT + 1),
        fill('🦀', LIMIT + 1),
        fill('🦀', 4 * (LIMIT / 4) + 4),
    ];
    // Far fewer characters than bytes: a character count would let these through.
    assert!(refused[3].chars().count() < LIMIT / 3);

    let before = store_state(&env);
    for (i, text) in refused.iter().enumerate() {
        let server = if i % 2 == 0 { &s1 } else { &s2 };
        let body = tool_error(
            &call(
                server,
                "send_to_partner",
                conv.args("a", json!({"message": text})),
            )
            .await,
            "message_too_large",
        );
        assert_eq!(
            (body["size"].as_u64(), body["limit"].as_u64()),
            (Some(text.len() as u64), Some(LIMIT as u64)),
            "{body}"
        );
        let rendered = body.to_string();
        assert!(
            !rendered.contains(&marker) && !rendered.contains("xxxxxxxx"),
            "the refusal echoes the message"
        );
        assert!(
            rendered.len() < 1_000,
            "the refusal is suspiciously long: {} bytes",
            rendered.len()
        );
    }
    assert_eq!(store_state(&env), before, "a refused message was stored");

    for (i, text) in accepted.iter().enumerate() {
        let server = if i % 2 == 0 { &s2 } else { &s1 };
        send(server, &conv, "a", text).await;
    }
    let inbox = check(&s2, &conv, "b", json!({})).await;
    assert_eq!(
        contents(&inbox),
        accepted.to_vec(),
        "messages at the limit must arrive intact"
    );
    s1.stop().await;
    s2.stop().await;
}

fn per_minute(n: &str) -> [(&'static str, String); 1] {
    [(
        "MCP_BRIDGE_RATE_LIMITS__SEND_TO_PARTNER__PER_MINUTE",
        n.to_owned(),
    )]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_hold_across_processes_and_per_side() {
    let env = TestEnv::new("rate_limits");
    let vars = per_minute("3");
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s1 = env.server_with(&vars).await;
    let s2 = env.server_with(&vars).await;
    let conv = Conv::create(&s1).await;
    let servers = [&s1, &s2];

    // Calls with a bad token are refused before they can spend anyone's quota.
    for i in 0..6 {
        let args = json!({"conversation_id": conv.id, "session_id": "a", "token": random_hex(32), "message": "spam"});
        tool_error(
            &call(servers[i % 2], "send_to_partner", args).await,
            "auth_failed",
        );
    }
    // Three sends pass, alternating between the two processes; the fourth is refused.
    for i in 0..3 {
        send(servers[i % 2], &conv, "a", &format!("a{i}")).await;
    }
    let before = store_state(&env);
    for server in [&s2, &s1] {
        let body = tool_error(
            &call(
                server,
                "send_to_partner",
                conv.args("a", json!({"message": "one too many"})),
            )
            .await,
            "rate_limited",
        );
        let retry = body["retry_after_s"]
            .as_u64()
            .unwrap_or_else(|| panic!("no retry_after_s in {body}"));
        // Counting 1 s buckets whole may refuse up to one bucket early, hence 61.
        assert!(
            (1..=61).contains(&retry),
            "retry_after_s {retry} outside the minute window"
        );
        assert_eq!(
            (body["window"].as_str(), body["limit"].as_u64()),
            (Some("minute"), Some(3)),
            "{body}"
        );
        let text = body["message"].as_str().unwrap();
        assert!(
            text.contains("minute") && text.contains(&retry.to_string()),
            "the refusal should name the window and the wait: {text}"
        );
    }
    // A process that found the quota full refuses the session's next sends
    // before reading their message (no parsing, no redaction of 50 KiB):
    // even one over the size limit is answered `rate_limited`.
    let huge = "key   ".repeat(10_000);
    tool_error(
        &call(
            &s1,
            "send_to_partner",
            conv.args("a", json!({"message": huge})),
        )
        .await,
        "rate_limited",
    );
    assert_eq!(
        store_state(&env),
        before,
        "a rate-limited message was stored"
    );

    // Side b's quota is its own, and reading is not limited by the send quota.
    for i in 0..3 {
        send(servers[(i + 1) % 2], &conv, "b", &format!("b{i}")).await;
    }
    tool_error(
        &call(
            &s1,
            "send_to_partner",
            conv.args("b", json!({"message": "b too many"})),
        )
        .await,
        "rate_limited",
    );
    assert_eq!(
        contents(&check(&s2, &conv, "b", json!({})).await),
        vec!["a0", "a1", "a2"]
    );
    assert_eq!(
        contents(&check(&s1, &conv, "a", json!({})).await),
        vec!["b0", "b1", "b2"]
    );

    // Another conversation on the same processes is not affected.
    let other = Conv::create(&s2).await;
    send(&s1, &other, "a", "fresh quota").await;
    s1.stop().await;
    s2.stop().await;

    // Turned off, the same small limit is ignored.
    let mut off = vars.clone();
    off.push(("MCP_BRIDGE_RATE_LIMITS", "off"));
    let s3 = env.server_with(&off).await;
    let s4 = env.server_with(&off).await;
    let unlimited = Conv::create(&s3).await;
    for i in 0..12 {
        send(
            if i % 2 == 0 { &s3 } else { &s4 },
            &unlimited,
            "a",
            &format!("u{i}"),
        )
        .await;
    }
    assert_eq!(
        messages(&check(&s4, &unlimited, "b", json!({})).await).len(),
        12
    );
    s3.stop().await;
    s4.stop().await;
}

#[tokio::test]
async fn the_default_send_limit_is_ten_per_minute() {
    let env = TestEnv::new("default_rate_limit");
    let s = env.server().await;
    let conv = Conv::create(&s).await;
    for i in 0..10 {
        send(&s, &conv, "a", &format!("m{i}")).await;
    }
    let body = tool_error(
        &call(
            &s,
            "send_to_partner",
            conv.args("a", json!({"message": "m10"})),
        )
        .await,
        "rate_limited",
    );
    assert_eq!(
        (body["window"].as_str(), body["limit"].as_u64()),
        (Some("minute"), Some(10))
    );
    // Polling is far more generous: 60 quick checks pass.
    for _ in 0..60 {
        check(&s, &conv, "b", json!({"limit": 1})).await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invites_are_rate_limited_per_session_across_processes() {
    // Each invite is a row kept until its conversation is cleaned up, so an
    // owner minting codes in a loop is held to the quota.
    let env = TestEnv::new("invite_rate_limit");
    let vars = [("MCP_BRIDGE_RATE_LIMITS__CREATE_INVITE__PER_MINUTE", "2")];
    let s1 = env.server_with(&vars).await;
    let s2 = env.server_with(&vars).await;
    let conv = Conv::create(&s1).await;
    let mint = |role: &str| conv.args("a", json!({"role": role, "as": "member"}));
    ok(&call(&s1, "create_invite", mint("qa1")).await);
    ok(&call(&s2, "create_invite", mint("qa2")).await);
    for server in [&s1, &s2] {
        let body = tool_error(
            &call(server, "create_invite", mint("qa3")).await,
            "rate_limited",
        );
        assert_eq!(
            (body["window"].as_str(), body["limit"].as_u64()),
            (Some("minute"), Some(2)),
            "{body}"
        );
    }
    assert_eq!(rows(&env, "invites"), 2, "a refused invite stored nothing");
    // Another seat's sends are not held up by the owner's invite quota.
    send(&s2, &conv, "b", "still talking").await;
    s1.stop().await;
    s2.stop().await;
}
