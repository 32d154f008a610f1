//! What a single misbehaving client can do to the audit trail and the shared
//! quotas, through real `serve` processes and the real CLI: a flood of refused
//! calls adds a bounded number of records whose counts add up exactly; one
//! client process cannot spend the database-wide conversation quota alone;
//! refused `execute_command` calls leave no command text in the trail; and a
//! command holding a secret is refused, never stored and never shown.

use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use serde_json::{Value, json};

use crate::util::*;
use crate::util_cli::*;
use crate::yolo_util::*;

/// Records one refusal key may add per 10 s window: ten on their own and one
/// summary of the rest (the bridge's `RECORDED_PER_WINDOW` + 1).
const RECORDS_PER_WINDOW: i64 = 11;

/// Audit records (not the head) with `code`, optionally of one conversation.
fn records_with(env: &TestEnv, conv: Option<&str>, code: &str) -> i64 {
    let conv_filter = conv.map_or(String::new(), |c| {
        format!(" AND conversation_id = '{}'", plain(c))
    });
    env.count(&format!(
        "SELECT count(*) FROM audit_log WHERE code = '{}'{conv_filter}
           AND seq < 9223372036854775807",
        plain(code)
    ))
}

/// Windows a burst that lasted `elapsed` can touch (one more for a partial one at each end).
fn windows(elapsed: Duration) -> i64 {
    i64::try_from(elapsed.as_secs() / 10).unwrap_or(i64::MAX) + 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bad_token_calls_adds_a_bounded_number_of_records_with_an_exact_count() {
    const CALLS: usize = 8_000;
    const RANDOM_IDS: usize = 1_000;
    let env = TestEnv::new("refusal_flood");
    // No rate limits: every call is refused as auth_failed, none as rate_limited.
    let s = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&s).await;
    let peer = s.peer();
    let started = Instant::now();
    let answers: Vec<Value> = stream::iter(0..CALLS + RANDOM_IDS)
        .map(|i| {
            let peer = peer.clone();
            // The last calls name random (well-formed) conversations, as a
            // client trying to defeat the folding would.
            let id = if i < CALLS {
                conv.id.clone()
            } else {
                format!("conv_{}", random_hex(8))
            };
            async move {
                let args = json!({"conversation_id": id, "session_id": "a",
                                  "token": random_hex(32), "message": "let me in"});
                tool_error(&call(&peer, "send_to_partner", args).await, "auth_failed")
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let elapsed = started.elapsed();
    assert_eq!(answers.len(), CALLS + RANDOM_IDS);
    // The last windows' summaries are appended when the server exits.
    s.stop().await;

    assert_eq!(
        refused_calls(&env, Some(&conv.id), "auth_failed"),
        CALLS as i64,
        "every refused call is counted, exactly once"
    );
    assert_eq!(
        refused_calls(&env, None, "auth_failed"),
        (CALLS + RANDOM_IDS) as i64
    );
    let on_conv = records_with(&env, Some(&conv.id), "auth_failed");
    let bound = RECORDS_PER_WINDOW * windows(elapsed);
    assert!(
        on_conv <= bound,
        "{on_conv} records for {CALLS} refusals in {elapsed:?} (bound {bound})"
    );
    // Client-chosen ids: at most 256 keys are tracked, the rest share one.
    let all = records_with(&env, None, "auth_failed");
    assert!(
        all <= on_conv + 256 + RECORDS_PER_WINDOW * windows(elapsed),
        "{all} records in all"
    );
    let row = env
        .query(&format!(
            "SELECT count, bytes, detail FROM audit_log WHERE conversation_id = '{}' AND detail LIKE 'repeated=%' ORDER BY seq LIMIT 1",
            plain(&conv.id)
        ))
        .pop()
        .expect("a summary record");
    let number = |v: &Option<String>| -> i64 { v.as_deref().expect("a number").parse().unwrap() };
    let summary: (i64, i64, String) = (
        number(&row[0]),
        number(&row[1]),
        row[2].clone().expect("detail"),
    );
    assert_eq!(
        summary.1,
        summary.0 * "let me in".len() as i64,
        "{summary:?}"
    );
    assert!(
        summary
            .2
            .starts_with(&format!("repeated={} first_at=", summary.0)),
        "{summary:?}"
    );
    eprintln!(
        "refusal flood: {} refused calls in {elapsed:?} left {all} audit records",
        CALLS + RANDOM_IDS
    );
    assert_audit_intact(&env, "after the flood");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folded_refusals_are_appended_when_their_window_ends_not_only_at_exit() {
    let env = TestEnv::new("refusal_window");
    let s = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&s).await;
    let stranger = json!({"conversation_id": conv.id, "session_id": "b",
                          "token": random_hex(32), "wait_seconds": 0});
    for _ in 0..30 {
        tool_error(
            &call(&s, "check_messages", stranger.clone()).await,
            "auth_failed",
        );
    }
    // The first ten are recorded at once, the other twenty when the 10 s
    // window ends, by the running server.
    let deadline = Instant::now() + Duration::from_secs(30);
    while refused_calls(&env, Some(&conv.id), "auth_failed") < 30 {
        assert!(
            Instant::now() < deadline,
            "the window's summary never came: {} refusals on record",
            refused_calls(&env, Some(&conv.id), "auth_failed")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(records_with(&env, Some(&conv.id), "auth_failed"), 11);
    s.stop().await;
    assert_eq!(refused_calls(&env, Some(&conv.id), "auth_failed"), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_process_cannot_use_up_the_conversation_quota() {
    let env = TestEnv::new("quota_per_process");
    let vars = [
        ("MCP_BRIDGE_LIMITS__CONVERSATIONS_PER_HOUR", "6"),
        ("MCP_BRIDGE_RATE_LIMITS__UNAUTHENTICATED__PER_HOUR", "3"),
    ];
    let greedy = env.server_with(&vars).await;
    let other = env.server_with(&vars).await;
    for _ in 0..3 {
        Conv::create(&greedy).await;
    }
    let create = json!({"my_role": "dev", "partner_role": "ops"});
    let body = tool_error(
        &call(&greedy, "create_conversation", create.clone()).await,
        "rate_limited",
    );
    assert_eq!(
        (&body["window"], &body["limit"]),
        (&json!("hour"), &json!(3))
    );
    assert!(body["retry_after_s"].as_u64().unwrap() > 0, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("from this client process"), "{message}");
    // Another client still gets its share of the database-wide quota.
    let mine = Conv::create(&other).await;
    Conv::create(&other).await;
    Conv::create(&other).await;
    assert_eq!(rows(&env, "conversations"), 6);

    // A third client finds the database-wide quota full; its failed
    // authentications spend its own per-process quota too, while a caller
    // with a valid token is never held back by it.
    let strict = env
        .server_with(&[
            ("MCP_BRIDGE_LIMITS__CONVERSATIONS_PER_HOUR", "6"),
            ("MCP_BRIDGE_RATE_LIMITS__UNAUTHENTICATED__PER_MINUTE", "2"),
        ])
        .await;
    tool_error(
        &call(&strict, "create_conversation", create).await,
        "resource_limit",
    );
    let bad = |n: u8| json!({"conversation_id": mine.id, "session_id": "b", "token": format!("{n:02x}").repeat(32)});
    tool_error(
        &call(&strict, "check_messages", bad(1)).await,
        "auth_failed",
    );
    let limited = tool_error(
        &call(&strict, "check_messages", bad(2)).await,
        "rate_limited",
    );
    assert_eq!(limited["window"], "minute");
    check(&strict, &mine, "b", json!({})).await;
    for s in [greedy, other, strict] {
        s.stop().await;
    }
    assert_eq!(rows(&env, "conversations"), 6);
    // Every refusal is audited.
    assert_eq!(refused_calls(&env, None, "rate_limited"), 2);
    assert_eq!(refused_calls(&env, None, "resource_limit"), 1);
    assert_eq!(refused_calls(&env, None, "auth_failed"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_execute_command_calls_leave_no_command_text_in_the_trail() {
    let env = TestEnv::new("command_text");
    let s = env.server_with(&[YOLO_ON]).await;
    let conv = Conv::create(&s).await;
    let marker = format!("marker{}", random_hex(8));
    let command = format!("cat notes-{marker}.txt");
    let stranger = json!({"conversation_id": conv.id, "session_id": "a",
                          "token": random_hex(32), "command": command});
    tool_error(&call(&s, "execute_command", stranger).await, "auth_failed");
    tool_error(
        &execute(&s, &conv, "a", &command, json!({})).await,
        "yolo_not_active",
    );
    s.stop().await;
    let audit = audit_text(&env);
    assert!(
        !audit.contains(&marker),
        "client text in the trail:\n{audit}"
    );
    let rows: Vec<(i64, String)> = env
        .query("SELECT bytes, detail FROM audit_log WHERE action = 'execute_command' ORDER BY seq")
        .into_iter()
        .map(|r| {
            let bytes = r[0].as_deref().expect("bytes").parse().expect("a number");
            (bytes, r[1].clone().expect("detail"))
        })
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let digest = regex::Regex::new(r"^command_digest=[0-9a-f]{16}$").unwrap();
    for (bytes, detail) in &rows {
        assert_eq!(*bytes, command.len() as i64);
        assert!(digest.is_match(detail), "{detail}");
    }
    assert_eq!(rows[0].1, rows[1].1, "the same text gives the same digest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_in_a_command_is_refused_and_never_stored_or_shown() {
    let env = TestEnv::new("command_secret");
    let s = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let conv = Conv::create(&s).await;
    activate(&env, &s, &conv, "safe", &ws, json!({})).await;
    let key = format!(
        "AKIA{}",
        random_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    );
    let command = format!("grep -rn {key} .");
    for extra in [json!({}), json!({"dry_run": true})] {
        let text = refusal(
            &execute(&s, &conv, "a", &command, extra).await,
            "command_refused",
        );
        assert!(
            text.starts_with("command refused (rule secret_in_command): it holds what looks like a secret (aws_access_key_id)"),
            "{text}"
        );
        assert!(!text.contains(&key), "{text}");
    }
    assert_eq!(rows(&env, "yolo_proposals"), 0, "nothing was stored");

    // A proposal an older version stored with the secret in it: shown
    // redacted, and approval refuses to show it at all.
    tamper(
        &env.db,
        &format!(
            "INSERT INTO yolo_proposals (id, conversation_id, side, command, mode, created_at, state)
             VALUES ('prop_00000000000000aa', '{}', 'a', '{command}', 'safe', 0, 'pending')",
            conv.id
        ),
    );
    // (Plaintext opens only where the upgrade found it: as an older build left it.)
    as_if_not_yet_upgraded(&env.db);
    let status = yolo_plain(&env, &["status", "--json"]);
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(!status.contains(&key), "{status}");
    let shown: Value = serde_json::from_str(&status).expect("status JSON");
    assert_eq!(
        shown["proposals"][0]["command"],
        "grep -rn AWS_KEY_REDACTED ."
    );
    let transcript = approve_refused(&env, "prop_00000000000000aa").await;
    assert!(
        transcript.contains("holds what looks like a secret") && !transcript.contains(&key),
        "{transcript}"
    );
    let denied = yolo_plain(&env, &["deny", "prop_00000000000000aa"]);
    let denied = String::from_utf8_lossy(&denied.stdout).into_owned();
    assert!(
        denied.contains("AWS_KEY_REDACTED") && !denied.contains(&key),
        "{denied}"
    );
    s.stop().await;
    assert!(!audit_text(&env).contains(&key));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_reads_are_limited_per_client_so_a_flood_adds_few_records() {
    let env = TestEnv::new("overview_quota");
    let vars = [("MCP_BRIDGE_RATE_LIMITS__OVERVIEW__PER_MINUTE", "5")];
    let greedy = env.server_with(&vars).await;
    let other = env.server_with(&vars).await;
    // Not even a conversation is needed to read the (empty) overview.
    for _ in 0..5 {
        ok(&call(&greedy, "list_my_conversations", json!({})).await);
    }
    let body = tool_error(
        &call(&greedy, "list_my_conversations", json!({})).await,
        "rate_limited",
    );
    assert_eq!(
        (&body["window"], &body["limit"]),
        (&json!("minute"), &json!(5))
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("from this client process") && message.contains("rate_limits.overview"),
        "{message}"
    );
    // The inbox resource is the same kind of read, on the same quota.
    let refused = greedy
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "bridge://inbox",
        ))
        .await
        .expect_err("refused");
    assert!(refused.to_string().contains("rate_limited"), "{refused}");
    // A flood adds a bounded number of records; another client is not held back.
    let flood: Vec<_> = stream::iter(0..300)
        .map(|_| call(&greedy, "list_my_conversations", json!({})))
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(flood.iter().all(|r| r.is_error == Some(true)));
    ok(&call(&other, "list_my_conversations", json!({})).await);
    greedy.stop().await;
    other.stop().await;
    let listed = env.count(
        "SELECT count(*) FROM audit_log WHERE action = 'list_my_conversations'
           AND outcome = 'ok'",
    );
    assert_eq!(listed, 6, "five of one client and one of the other");
    let refusals = env.count(
        "SELECT count(*) FROM audit_log WHERE action IN ('list_my_conversations', 'inbox')
           AND code = 'rate_limited'",
    );
    assert!(
        refusals <= 2 * 2 * RECORDS_PER_WINDOW,
        "{refusals} records for 302 refusals"
    );
    let counted = env.count(
        "SELECT coalesce(sum(CASE WHEN detail LIKE 'repeated=%' THEN count ELSE 1 END), 0)
           FROM audit_log WHERE action IN ('list_my_conversations', 'inbox')
           AND code = 'rate_limited'",
    );
    assert_eq!(counted, 302, "every refusal counted once");
}
