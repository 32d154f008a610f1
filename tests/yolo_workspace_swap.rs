//! A YOLO workspace is checked again before every run, not only when it is
//! asked for: an approved command in one conversation's writable workspace
//! that swaps another conversation's (nested) workspace for a symlink to the
//! bridge's data directory makes that conversation's next command run
//! nothing — before, it ran with the database, key and passphrase hash in
//! reach, and a command could approve itself in the database.

use serde_json::json;

use crate::util::*;
use crate::yolo_util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_swapped_for_a_symlink_runs_nothing() {
    if bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo-swap");
    let s = env.server_with(&[YOLO_ON]).await;
    let data = data_dir(&env);
    let proj = workspace(&env, "proj");
    let sub = workspace(&env, "proj/sub");
    let (outer, inner) = (Conv::create(&s).await, Conv::create(&s).await);
    activate(&env, &s, &outer, "yolo", &proj, json!({})).await;
    activate(&env, &s, &inner, "safe", &sub, json!({})).await;

    let swap = format!("rmdir sub && ln -s {} sub", data.display());
    let body = run(&env, &s, &outer, &swap).await;
    assert_eq!(body["exit_code"], 0, "{body}");
    assert!(sub.is_symlink(), "the swap happened on the host");

    let token = approved(&env, &s, &inner, "ls -la").await;
    let result = execute(&s, &inner, "a", "ls -la", json!({"approval_token": token})).await;
    let why = refusal(&result, "command_refused");
    assert!(
        why.contains("workspace-changed") || why.contains("now leads to"),
        "{why}"
    );
    assert!(why.contains(&data.display().to_string()), "{why}");
    assert!(!why.contains("bridge.key"), "{why}");
}
