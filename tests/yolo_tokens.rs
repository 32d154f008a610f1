//! YOLO approval tokens end to end: a token works once, for the one command it
//! was issued for, in its own conversation, before it expires — and two server
//! processes racing with the same token run the command exactly once.

use std::time::Duration;

use serde_json::json;

use crate::util::*;
use crate::yolo_util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_tokens_work_once_for_one_command_in_one_conversation_until_they_expire() {
    if bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo-tokens");
    let s1 = env.server_with(&[YOLO_ON]).await;
    let s2 = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    std::fs::write(ws.join("a.txt"), "hello\n").expect("write");
    let conv = Conv::create(&s1).await;
    let other = Conv::create(&s2).await;
    activate(&env, &s1, &conv, "safe", &ws, json!({})).await;
    activate(&env, &s2, &other, "safe", &ws, json!({})).await;
    let command = "cat a.txt";
    let token = approved(&env, &s1, &conv, command).await;
    let with = |t: &str| json!({"approval_token": t});

    // A token for another command: any difference in the text counts.
    for wrong in ["cat  a.txt", "cat a.txt ", "cat ./a.txt", "ls"] {
        let m = refusal(
            &execute(&s2, &conv, "a", wrong, with(&token)).await,
            "approval_invalid",
        );
        assert!(m.contains("different command"), "{wrong:?}: {m}");
    }
    // A token from another conversation, for the very same command.
    let m = refusal(
        &execute(&s2, &other, "a", command, with(&token)).await,
        "approval_invalid",
    );
    assert!(m.contains("another conversation"), "{m}");
    // A well-formed token nobody issued.
    let forged = format!("apv_{}", random_hex(16));
    let m = refusal(
        &execute(&s1, &conv, "a", command, with(&forged)).await,
        "approval_invalid",
    );
    assert!(m.contains("not valid"), "{m}");

    // None of that spent it: the right call runs, once.
    let body = ok(&execute(&s1, &conv, "a", command, with(&token)).await);
    assert_eq!(body["status"], "completed", "{body}");
    assert_eq!(body["stdout"], "hello\n");
    for server in [&s1, &s2] {
        let m = refusal(
            &execute(server, &conv, "a", command, with(&token)).await,
            "approval_used",
        );
        assert!(m.contains("already used"), "{m}");
    }
    // The partner side may not redeem it either (same conversation, other side).
    refusal(
        &execute(&s2, &conv, "b", command, with(&token)).await,
        "approval_used",
    );

    // An approval that expires (the approving human's config sets its lifetime).
    let proposal = propose(&s1, &conv, "a", "wc -l a.txt").await;
    let short = [("MCP_BRIDGE_YOLO__APPROVAL_MINUTES", "0.01")];
    let expiring = approve(&env, &proposal, &short).await;
    let expires_at: i64 = env
        .value(&format!(
            "SELECT approval_expires_at FROM yolo_proposals WHERE id = '{}'",
            plain(&proposal)
        ))
        .expect("expiry")
        .parse()
        .expect("expiry in µs");
    let now = jiff::Timestamp::now().as_microsecond();
    let left = u64::try_from(expires_at - now).unwrap_or(0);
    assert!(left <= 600_000, "approval lives {left} µs, not 0.6 s");
    // Letting time pass is the point here.
    tokio::time::sleep(Duration::from_micros(left) + Duration::from_millis(50)).await;
    let m = refusal(
        &execute(&s2, &conv, "a", "wc -l a.txt", with(&expiring)).await,
        "approval_expired",
    );
    assert!(m.contains("expired"), "{m}");
    assert_eq!(proposal_state(&env, &proposal), "approved");

    // Exactly one command ran: the partner got one report, nobody else any.
    let reports = messages(&check(&s2, &conv, "b", json!({})).await);
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(messages(&check(&s2, &other, "b", json!({})).await).is_empty());
    let codes: Vec<String> = wait_audit(&env, &conv.id, 9, |r| {
        r.0 == "execute_command" && r.1 == "denied"
    })
    .await
    .into_iter()
    .filter_map(|r| r.2)
    .collect();
    let mut want = vec!["approval_invalid"; 5];
    want.extend(["approval_used"; 3]);
    want.push("approval_expired");
    assert_eq!(codes, want);
    let crossed = wait_audit(&env, &other.id, 1, |r| {
        r.2.as_deref() == Some("approval_invalid")
    })
    .await;
    assert_eq!(crossed.len(), 1);
    let audit = audit_text(&env);
    for secret in [&token, &expiring, &forged] {
        assert!(
            !audit.contains(secret.as_str()),
            "a token leaked into audit_log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn yolo_two_processes_racing_with_one_token_run_the_command_once() {
    if bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo-race");
    let s1 = env.server_with(&[YOLO_ON]).await;
    let s2 = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let conv = Conv::create(&s1).await;
    activate(&env, &s1, &conv, "yolo", &ws, json!({})).await;
    for round in 0..3 {
        let command = format!("echo ran-{round} >> runs.txt");
        let token = approved(&env, &s1, &conv, &command).await;
        let args = conv.args("a", json!({"command": command, "approval_token": token}));
        let (p1, p2) = (s1.peer(), s2.peer());
        let (a1, a2) = (args.clone(), args);
        let (r1, r2) = tokio::join!(
            tokio::spawn(async move { call(&p1, "execute_command", a1).await }),
            tokio::spawn(async move { call(&p2, "execute_command", a2).await })
        );
        let results = [r1.expect("task"), r2.expect("task")];
        let winners: Vec<_> = results
            .iter()
            .filter(|r| r.is_error != Some(true))
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        assert_eq!(ok(winners[0])["exit_code"], 0);
        let loser = results
            .iter()
            .find(|r| r.is_error == Some(true))
            .expect("loser");
        tool_error(loser, "approval_used");
    }
    let runs = std::fs::read_to_string(ws.join("runs.txt")).expect("runs.txt");
    assert_eq!(runs, "ran-0\nran-1\nran-2\n");
    let reports = messages(&check(&s2, &conv, "b", json!({})).await);
    assert_eq!(reports.len(), 3, "{reports:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_a_new_activation_request_voids_earlier_approvals() {
    if bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo-rerequest");
    let s = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let other = workspace(&env, "other");
    std::fs::write(other.join("a.txt"), "other workspace\n").expect("write");
    let conv = Conv::create(&s).await;
    activate(&env, &s, &conv, "safe", &ws, json!({})).await;
    let token = approved(&env, &s, &conv, "cat a.txt").await;
    let pending = propose(&s, &conv, "a", "ls").await;

    // The agent asks again, for more power somewhere else, and a human confirms
    // that: the approval given for safe mode in `ws` must not run there.
    activate(&env, &s, &conv, "yolo", &other, json!({})).await;
    let with = json!({"approval_token": token});
    refusal(
        &execute(&s, &conv, "a", "cat a.txt", with).await,
        "approval_invalid",
    );
    assert_eq!(proposal_state(&env, &pending), "denied");
    approve_refused(&env, &pending).await;
    assert!(messages(&check(&s, &conv, "b", json!({})).await).is_empty());
}
