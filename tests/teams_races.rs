//! Team operations racing traffic through several `serve` processes on one
//! database. On PostgreSQL writers run in parallel, and these races were real
//! there: a member removed during a burst of sends kept messages queued
//! (and the database's own backups were then refused by `restore`), an
//! operator's `end` deadlocked against joins, and `cleanup` and `restore`
//! against calls still arriving (one side failed `busy`). An invite made
//! while `end` ran still joined, on both stores.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::teams::invite_for;
use crate::util::*;
use crate::util_cli::*;

/// `n` servers on `env`'s database, without rate limits, started together.
async fn servers(env: &TestEnv, n: usize) -> Vec<Server> {
    futures_util::future::join_all((0..n).map(|_| env.server_with(NO_LIMITS))).await
}

/// Calls `tool` with `args` through `peer` until `stop`; the codes of the
/// refusals it met (`None` for none).
fn keep_calling(
    peer: rmcp::service::Peer<rmcp::RoleClient>,
    tool: &'static str,
    args: serde_json::Value,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut codes = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            if let Some(code) = refusal_code(&call(&peer, tool, args.clone()).await) {
                codes.push(code);
            }
        }
        codes
    })
}

/// Stops the callers and checks that they met nothing but `allowed`.
async fn stop_callers(
    stop: &AtomicBool,
    callers: Vec<tokio::task::JoinHandle<Vec<String>>>,
    allowed: &[&str],
) {
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        for code in caller.await.unwrap() {
            assert!(allowed.contains(&code.as_str()), "a call got {code}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_removed_during_a_burst_of_sends_has_nothing_queued() {
    let env = TestEnv::new("teams_race_remove");
    let owner = env.server_with(NO_LIMITS).await;
    let senders = servers(&env, 3).await;
    for round in 0..8u64 {
        let conv = Conv::create(&owner).await;
        let mut members = vec![conv.args("b", json!({}))];
        for (i, role) in ["cee", "dee"].into_iter().enumerate() {
            let code = invite_for(&owner, &conv, role).await;
            let joined = ok(&call(
                &senders[i].peer(),
                "join_conversation",
                json!({"invite_code": code}),
            )
            .await);
            members.push(crate::teams::creds_of(&joined));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let callers = members
            .iter()
            .enumerate()
            .map(|(n, creds)| {
                let mut args = creds.clone();
                merge(&mut args, json!({"message": format!("from {n}")}));
                keep_calling(senders[n].peer(), "send_message", args, Arc::clone(&stop))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(20 + round * 15)).await;
        ok(&call(
            &owner.peer(),
            "remove_participant",
            conv.args("a", json!({"participant": "b"})),
        )
        .await);
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The sender removed meanwhile is refused; nothing else is.
        stop_callers(&stop, callers, &["auth_failed"]).await;
        let left = env.count(&format!(
            "SELECT count(*) FROM pending_deliveries WHERE conversation_id = '{}' AND recipient = 'b'",
            conv.id
        ));
        assert_eq!(left, 0, "round {round}: messages queued for the removed b");
    }
    // So the database's own backup restores (it refuses an inbox for a removed seat).
    let file = env.dir.join("after.backup");
    cli(&env, &["backup", file.to_str().unwrap()]).await.ok();
    cli(&env, &["restore", file.to_str().unwrap(), "--force"])
        .await
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_racing_joins_neither_deadlocks_nor_fails() {
    let env = TestEnv::new("teams_race_end");
    let owner = env.server_with(NO_LIMITS).await;
    let joiners = servers(&env, 6).await;
    for round in 0..30 {
        let conv = Conv::create(&owner).await;
        let mut codes = Vec::new();
        for i in 0..joiners.len() {
            codes.push(invite_for(&owner, &conv, &format!("r{i}")).await);
        }
        let joins = joiners.iter().zip(codes).map(|(server, code)| {
            let peer = server.peer();
            async move { call(&peer, "join_conversation", json!({"invite_code": code})).await }
        });
        let end = ["end", conv.id.as_str()];
        let (ended, joined) = tokio::join!(cli(&env, &end), futures_util::future::join_all(joins));
        ended.ok();
        for result in &joined {
            let code = refusal_code(result);
            assert!(
                matches!(code.as_deref(), None | Some("invite_invalid")),
                "round {round}: a join racing `end` got {code:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_and_restore_racing_calls_neither_deadlock_nor_fail() {
    let env = TestEnv::new("teams_race_cleanup");
    let servers = servers(&env, 4).await;
    let ended = ["conversation_expired", "auth_failed"];
    for round in 0..3 {
        let stop = Arc::new(AtomicBool::new(false));
        let mut convs = Vec::new();
        let mut callers = Vec::new();
        for n in 0..3 {
            let conv = Conv::create(&servers[0]).await;
            for (i, (side, tool)) in [("a", "send_to_partner"), ("b", "check_messages")]
                .into_iter()
                .enumerate()
            {
                let peer = servers[(n + i) % servers.len()].peer();
                let args = conv.args(side, json!({"message": "x"}));
                let args = if tool == "check_messages" {
                    conv.args(side, json!({}))
                } else {
                    args
                };
                callers.push(keep_calling(peer, tool, args, Arc::clone(&stop)));
            }
            convs.push(conv);
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        for conv in &convs {
            cli(&env, &["end", &conv.id]).await.ok();
        }
        // The calls still arriving for the ended conversations get refused
        // while cleanup deletes them; before, cleanup deadlocked with them.
        let cleaned = cli(&env, &["cleanup"]).await;
        assert_eq!(cleaned.code, 0, "round {round}: {}", cleaned.stderr);
        stop_callers(&stop, callers, &ended).await;
        assert_eq!(env.count("SELECT count(*) FROM conversations"), 0);
    }

    // A restore while agents send into a conversation it replaces.
    let kept = Conv::create(&servers[0]).await;
    let file = env.dir.join("race.backup");
    cli(&env, &["backup", file.to_str().unwrap()]).await.ok();
    let stop = Arc::new(AtomicBool::new(false));
    let callers = (0..3)
        .map(|n| {
            let args = kept.args(["a", "b"][n % 2], json!({"message": "during"}));
            keep_calling(
                servers[n].peer(),
                "send_to_partner",
                args,
                Arc::clone(&stop),
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let restored = cli(&env, &["restore", file.to_str().unwrap(), "--force"]).await;
    assert_eq!(restored.code, 0, "{}", restored.stderr);
    // Sends after the restore find the conversation as the backup had it.
    stop_callers(&stop, callers, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_created_while_end_ran_does_not_join() {
    let env = TestEnv::new("teams_race_end_invite");
    let owner = env.server_with(NO_LIMITS).await;
    let joiner = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&owner).await;
    let code = invite_for(&owner, &conv, "late").await;
    cli(&env, &["end", &conv.id]).await.ok();
    // As if the invite had been written just after `end` expired the others:
    // its own expiry is still ahead, the conversation's is not.
    crate::util_cli::tamper(&env.db, "UPDATE invites SET expires_at = 9000000000000000");
    let refused = call(&joiner, "join_conversation", json!({"invite_code": code})).await;
    assert_eq!(refusal_code(&refused).as_deref(), Some("invite_invalid"));
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM participants WHERE conversation_id = '{}'",
            conv.id
        )),
        2,
        "no seat was added"
    );
}
