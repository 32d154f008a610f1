//! Team operations racing traffic through several `serve` processes on one
//! database. On PostgreSQL writers run in parallel, and two races were real
//! there: a member removed during a burst of sends kept messages queued
//! (and the database's own backups were then refused by `restore`), and an
//! operator's `end` deadlocked against joins (one of them failed `busy`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::teams::invite_for;
use crate::util::*;
use crate::util_cli::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_removed_during_a_burst_of_sends_has_nothing_queued() {
    let env = TestEnv::new("teams_race_remove");
    let owner = env.server_with(NO_LIMITS).await;
    let mut senders = Vec::new();
    for _ in 0..3 {
        senders.push(env.server_with(NO_LIMITS).await);
    }
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
        let mut tasks = Vec::new();
        for (n, creds) in members.iter().enumerate() {
            let (peer, stop, creds) = (senders[n].peer(), Arc::clone(&stop), creds.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let mut args = creds.clone();
                    merge(&mut args, json!({"message": format!("{n}-{i}")}));
                    // The sender removed meanwhile is refused; nothing else is.
                    let _ = call(&peer, "send_message", args).await;
                    i += 1;
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(20 + round * 15)).await;
        ok(&call(
            &owner.peer(),
            "remove_participant",
            conv.args("a", json!({"participant": "b"})),
        )
        .await);
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.unwrap();
        }
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
    let mut joiners = Vec::new();
    for _ in 0..6 {
        joiners.push(env.server_with(NO_LIMITS).await);
    }
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
