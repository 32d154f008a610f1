//! `end` stops YOLO mode with the conversation, in the same transaction:
//! the activation is revoked and every approval not yet redeemed is
//! withdrawn, so no command starts once `end` has committed. Before, an
//! approval redeemed a moment after `end` (its call authorized a moment
//! before) still ran its command, on both stores.

use std::collections::BTreeMap;

use serde_json::json;

use crate::util::*;
use crate::util_calls::refusal_code;
use crate::util_cli::cli;
use crate::yolo_util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_revokes_the_activation_and_withdraws_every_approval() {
    if bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo_end");
    let s = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let conv = Conv::create(&s).await;
    activate(&env, &s, &conv, "safe", &ws, json!({})).await;
    let pending = propose(&s, &conv, "a", "ls").await;
    let token = approved(&env, &s, &conv, "ls -la").await;
    cli(&env, &["end", &conv.id]).await.ok();
    assert_eq!(activation_state(&env, &conv.id).as_deref(), Some("revoked"));
    assert_eq!(proposal_state(&env, &pending), "denied");
    assert_eq!(
        env.count("SELECT count(*) FROM yolo_proposals WHERE state IN ('pending', 'approved')"),
        0
    );
    let refused = execute(&s, &conv, "a", "ls -la", json!({"approval_token": token})).await;
    assert_eq!(
        refusal_code(&refused).as_deref(),
        Some("conversation_expired")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_redeemed_while_end_runs_either_run_before_it_or_not_at_all() {
    if bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo_end_race");
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(env.server_with(&[YOLO_ON]).await);
    }
    let ws = workspace(&env, "ws");
    let conv = Conv::create(&servers[0]).await;
    activate(&env, &servers[0], &conv, "safe", &ws, json!({})).await;
    let mut approvals = Vec::new();
    for n in 0..6 {
        std::fs::write(ws.join(format!("f{n}")), "").unwrap();
        let command = format!("ls -la f{n}");
        let token = approved(&env, &servers[0], &conv, &command).await;
        approvals.push((command, token));
    }
    let runs = approvals.iter().enumerate().map(|(n, (command, token))| {
        let peer = servers[n % servers.len()].peer();
        let args = conv.args("a", json!({"command": command, "approval_token": token}));
        async move { call(&peer, "execute_command", args).await }
    });
    let end = ["end", conv.id.as_str()];
    let (ended, results) = tokio::join!(cli(&env, &end), futures_util::future::join_all(runs));
    ended.ok();
    let mut outcomes = BTreeMap::new();
    for result in &results {
        let outcome = match refusal_code(result) {
            None => ok(result)["status"].as_str().unwrap_or("?").to_owned(),
            Some(code) => code,
        };
        *outcomes.entry(outcome).or_insert(0) += 1;
    }
    for outcome in outcomes.keys() {
        assert!(
            // `yolo_not_active`: redeemed before the end, which then revoked
            // the mode before the command started (after its git snapshot).
            [
                "completed",
                "conversation_expired",
                "approval_invalid",
                "yolo_not_active"
            ]
            .contains(&outcome.as_str()),
            "{outcomes:?}"
        );
    }
    // What ran was redeemed before the end; everything else was withdrawn,
    // or redeemed and stopped before it started.
    let used = env.count("SELECT count(*) FROM yolo_proposals WHERE state = 'used'");
    let redeemed = ["completed", "yolo_not_active"]
        .iter()
        .map(|o| outcomes.get(*o).copied().unwrap_or(0))
        .sum::<i64>();
    assert_eq!(used, redeemed, "{outcomes:?}");
    assert_eq!(
        env.count("SELECT count(*) FROM yolo_proposals WHERE state = 'approved'"),
        0
    );
}
