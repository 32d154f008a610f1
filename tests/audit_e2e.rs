//! The audit trail as written by real server processes: one record per tool
//! call (refusals included), a hash chain that holds across processes, and no
//! token or message text in any column.

use serde_json::json;

use crate::util::*;

/// (action, code) of one expected record; `None` means success.
type Expected = (&'static str, Option<&'static str>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_audited_once_without_content_or_tokens() {
    let env = TestEnv::new("audit");
    let vars = [("MCP_BRIDGE_RATE_LIMITS__SEND_TO_PARTNER__PER_MINUTE", "2")];
    let s1 = env.server_with(&vars).await;
    let s2 = env.server_with(&vars).await;
    let mut expected: Vec<Expected> = Vec::new();
    let marker = format!("confidential-body-{}", random_hex(10));
    let bodies = [
        format!("{marker} first"),
        format!("{marker} second"),
        format!("{marker} too large {}", "y".repeat(51_200)),
    ];
    let note = format!("private-note-{}", random_hex(10));
    let bad_token = random_hex(32);

    let conv = Conv::create(&s1).await;
    expected.push(("create_conversation", None));
    send(&s1, &conv, "a", &bodies[0]).await;
    expected.push(("send_to_partner", None));
    let bad = json!({"conversation_id": conv.id, "session_id": "a", "token": bad_token, "message": bodies[1]});
    tool_error(&call(&s2, "send_to_partner", bad).await, "auth_failed");
    expected.push(("send_to_partner", Some("auth_failed")));
    tool_error(
        &call(
            &s1,
            "send_to_partner",
            conv.args("a", json!({"message": bodies[2]})),
        )
        .await,
        "message_too_large",
    );
    expected.push(("send_to_partner", Some("message_too_large")));
    invalid_params(
        try_call(
            &s2,
            "send_to_partner",
            conv.args("a", json!({"message": bodies[1], "urgent": true})),
        )
        .await,
        "extra field",
    );
    expected.push(("send_to_partner", Some("invalid_params")));
    invalid_params(
        try_call(
            &s2,
            "check_messages",
            conv.args("b", json!({"wait_seconds": 61})),
        )
        .await,
        "wait 61",
    );
    expected.push(("check_messages", Some("invalid_params")));
    invalid_params(
        try_call(
            &s1,
            "create_conversation",
            json!({"my_role": 1, "partner_role": "b"}),
        )
        .await,
        "role type",
    );
    expected.push(("create_conversation", Some("invalid_params")));
    assert_eq!(
        contents(&check(&s2, &conv, "b", json!({})).await),
        vec![bodies[0].clone()]
    );
    expected.push(("check_messages", None));
    check(&s2, &conv, "b", json!({})).await; // empty: a read, audited later in a batch
    expected.push(("check_messages", None));
    check(&s1, &conv, "a", json!({"wait_seconds": 0.3})).await; // an empty long-poll
    expected.push(("check_messages", None));
    ok(&call(
        &s1,
        "update_my_status",
        conv.args("a", json!({"status": "working", "note": note})),
    )
    .await);
    expected.push(("update_my_status", None));
    ok(&call(&s2, "check_partner_status", conv.args("b", json!({}))).await);
    expected.push(("check_partner_status", None));
    tool_error(
        &call(
            &s1,
            "check_partner_status",
            conv.args("b", json!({"token": bad_token})),
        )
        .await,
        "auth_failed",
    );
    expected.push(("check_partner_status", Some("auth_failed")));
    send(&s2, &conv, "a", &bodies[1]).await;
    expected.push(("send_to_partner", None));
    tool_error(
        &call(
            &s1,
            "send_to_partner",
            conv.args("a", json!({"message": bodies[1]})),
        )
        .await,
        "rate_limited",
    );
    expected.push(("send_to_partner", Some("rate_limited")));
    let unknown = json!({"conversation_id": format!("conv_{}", random_hex(8)), "session_id": "b", "token": conv.b});
    tool_error(&call(&s2, "check_messages", unknown).await, "auth_failed");
    expected.push(("check_messages", Some("auth_failed")));

    // Records of calls that write nothing are appended a moment later or at
    // exit: read the trail once both servers have exited.
    s1.stop().await;
    s2.stop().await;
    type Row = (
        i64,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        String,
    );
    let records: Vec<Row> = env
        .query("SELECT seq, action, outcome, code, conversation_id, side, prev_hash, hash FROM audit_log WHERE seq < 9223372036854775807 ORDER BY seq")
        .into_iter()
        .map(|r| {
            let text = |i: usize| r[i].clone().unwrap_or_else(|| panic!("NULL in column {i}"));
            (
                text(0).parse().expect("seq"),
                text(1),
                text(2),
                r[3].clone(),
                r[4].clone(),
                r[5].clone(),
                text(6),
                text(7),
            )
        })
        .collect();

    let mut got: Vec<(String, Option<String>)> =
        records.iter().map(|r| (r.1.clone(), r.3.clone())).collect();
    let mut want: Vec<(String, Option<String>)> = expected
        .iter()
        .map(|(a, c)| ((*a).to_owned(), c.map(str::to_owned)))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "one audit record per call, with its code");
    for (seq, action, outcome, code, conversation, side, _, _) in &records {
        assert_eq!(
            outcome == "ok",
            code.is_none(),
            "record {seq} ({action}): outcome {outcome} with code {code:?}"
        );
        if action != "create_conversation" && code.as_deref() != Some("auth_failed") {
            assert_eq!(
                conversation.as_deref(),
                Some(conv.id.as_str()),
                "record {seq} ({action}) names no conversation"
            );
            assert!(
                matches!(side.as_deref(), Some("a" | "b")),
                "record {seq} ({action}) names no side"
            );
        }
    }

    // The chain: consecutive sequence numbers, each record linked to the one
    // before, and the head naming the last one — across both processes' writes.
    for (i, pair) in records.windows(2).enumerate() {
        assert_eq!(
            pair[1].0,
            pair[0].0 + 1,
            "gap in the audit sequence after record {}",
            pair[0].0
        );
        assert_eq!(
            pair[1].6, pair[0].7,
            "record {} does not chain to record {} ({i})",
            pair[1].0, pair[0].0
        );
    }
    assert_eq!(records[0].0, 1);
    let head = env.query("SELECT count, hash FROM audit_log WHERE seq = 9223372036854775807");
    let (head_count, head_hash): (i64, String) = (
        head[0][0]
            .as_deref()
            .expect("count")
            .parse()
            .expect("count"),
        head[0][1].clone().expect("hash"),
    );
    assert_eq!(
        (head_count, head_hash),
        (records.len() as i64, records.last().unwrap().7.clone())
    );

    // No token, message text or note in any column of any row.
    let forbidden = [
        conv.a.as_str(),
        conv.b.as_str(),
        bad_token.as_str(),
        marker.as_str(),
        note.as_str(),
        "first",
        "second",
        "yyyyyyyy",
    ];
    let mut seen = 0;
    // Every column as text (blobs as the UTF-8 they hold).
    for row in env.query("SELECT * FROM audit_log") {
        seen += 1;
        for (i, text) in row.into_iter().enumerate() {
            let Some(text) = text else { continue };
            for secret in forbidden {
                assert!(
                    !text.to_lowercase().contains(&secret.to_lowercase()),
                    "audit column {i} holds {secret:?}: {text}"
                );
            }
        }
    }
    assert_eq!(
        seen,
        records.len() + 1,
        "every record (and the head) was checked"
    );
    // The tokens are nowhere in the database at all (they are derived, never stored).
    for (path, bytes) in env.raw_db_bytes() {
        for token in [&conv.a, &conv.b] {
            assert!(
                !bytes.windows(64).any(|w| w == token.as_bytes()),
                "{} holds a session token",
                path.display()
            );
        }
    }
}
