//! Withdrawing YOLO mode stops a command that is already running: `yolo
//! revoke` and `end`, from the operator's terminal (another process), kill
//! the command's whole process group within about a second, and the run is
//! reported as interrupted. Before, the command ran on to its end or its
//! timeout (up to 600 s) after the human had pulled the plug.

use serde_json::json;

use crate::util::*;
use crate::util_cli::cli;
use crate::util_random::random_from;
use crate::yolo_util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_revoke_interrupts_a_running_command() {
    if bwrap_missing() {
        return;
    }
    let (env, s, conv, body) = interrupted_by("yolo_interrupt_revoke", Stop::Revoke).await;
    assert_interrupted(&env, &body);
    // The partner learns it was cut short, and why.
    let report = messages(&check(&s, &conv, "b", json!({})).await);
    let text = report[0]["content"].as_str().expect("a report");
    assert!(
        text.contains("interrupted: YOLO mode was revoked"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_interrupts_a_running_command() {
    if bwrap_missing() {
        return;
    }
    let (env, _s, _conv, body) = interrupted_by("yolo_interrupt_end", Stop::End).await;
    assert_interrupted(&env, &body);
}

/// A run killed after about the watch's interval, not its timeout, and
/// audited as interrupted.
fn assert_interrupted(env: &TestEnv, body: &serde_json::Value) {
    assert_eq!(body["status"], "completed", "{body}");
    assert_eq!(body["interrupted"], true, "{body}");
    assert_eq!(body["timed_out"], false, "{body}");
    assert_eq!(body["exit_code"], json!(null), "{body}");
    let ms = body["duration_ms"].as_u64().expect("duration");
    assert!(ms < 60_000, "ran {ms} ms: not interrupted but ended");
    let trail = audit_text(env);
    assert!(
        trail
            .lines()
            .any(|l| l.contains("ran proposal=") && l.contains("interrupted")),
        "{trail}"
    );
}

enum Stop {
    Revoke,
    End,
}

/// Starts a command that would sleep for 5 minutes, stops YOLO mode as
/// `stop` says once it runs, and returns the call's result once all of the
/// command's processes are gone.
async fn interrupted_by(name: &str, stop: Stop) -> (TestEnv, Server, Conv, serde_json::Value) {
    let env = TestEnv::new(name);
    let s = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let conv = Conv::create(&s).await;
    activate(&env, &s, &conv, "yolo", &ws, json!({"timeout_s": 300})).await;
    // A unique duration marks this test's process in /proc.
    let marker = format!("303.{}", random_from("123456789", 8));
    let command = format!("sh -c 'sleep {marker} & wait'");
    let token = approved(&env, &s, &conv, &command).await;
    let running = {
        let peer = s.peer();
        let args = conv.args("a", json!({"command": command, "approval_token": token}));
        tokio::spawn(async move { call(&peer, "execute_command", args).await })
    };
    let sleeping = format!("sleep {marker}");
    wait_until("the command to run", || command_lines().contains(&sleeping)).await;
    match stop {
        Stop::Revoke => {
            let out = yolo_plain(&env, &["revoke", &conv.id]);
            assert!(out.status.success(), "{out:?}");
        }
        Stop::End => {
            cli(&env, &["end", &conv.id]).await.ok();
        }
    }
    let result = tokio::time::timeout(EVENT_TIMEOUT, running)
        .await
        .expect("the command was not interrupted")
        .expect("the call's task");
    all_gone(&marker, "the revocation").await;
    let body = ok(&result);
    (env, s, conv, body)
}

/// The git snapshot before a command runs the repository's filters, the
/// agent's code too: `yolo revoke` while it runs stops it, and the approved
/// command never starts (before, it started seconds after the revoke had
/// returned, red team).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mode_revoked_during_the_snapshot_runs_nothing() {
    if bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo_interrupt_snapshot");
    let s = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let marker = format!("304.{}", random_from("123456789", 8));
    git(&ws, &["init", "-q"]);
    git(
        &ws,
        &[
            "config",
            "filter.slow.clean",
            &format!("sleep {marker}; cat"),
        ],
    );
    std::fs::write(ws.join(".gitattributes"), "*.txt filter=slow\n").expect("write");
    std::fs::write(ws.join("a.txt"), "a\n").expect("write");
    let conv = Conv::create(&s).await;
    activate(&env, &s, &conv, "yolo", &ws, json!({"timeout_s": 300})).await;
    let command = "touch ran.txt";
    let token = approved(&env, &s, &conv, command).await;
    let running = {
        let peer = s.peer();
        let args = conv.args("a", json!({"command": command, "approval_token": token}));
        tokio::spawn(async move { call(&peer, "execute_command", args).await })
    };
    let sleeping = format!("sleep {marker}");
    wait_until("the snapshot's filter to run", || {
        command_lines().contains(&sleeping)
    })
    .await;
    let out = yolo_plain(&env, &["revoke", &conv.id]);
    assert!(out.status.success(), "{out:?}");
    let result = tokio::time::timeout(EVENT_TIMEOUT, running)
        .await
        .expect("the snapshot was not stopped")
        .expect("the call's task");
    tool_error(&result, "yolo_not_active");
    all_gone(&marker, "the revocation").await;
    assert!(
        !ws.join("ran.txt").exists(),
        "the command ran after the revoke"
    );
}
