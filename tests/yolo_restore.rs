//! YOLO state that comes back from a file or the database, against real
//! `serve` processes and the CLI: a backup edited so an activation and an
//! approval last until the year 3000 (an acceptance run restored it and ran
//! an approved command long after its approval had lapsed), a stored
//! workspace the rules refuse, and `yolo status` after `restore --no-key`.

use std::path::Path;

use serde_json::json;

use crate::util::*;
use crate::util_cli::*;
use crate::yolo_util::*;

/// 3000-01-01 in microseconds since the epoch.
const YEAR_3000: i64 = 32_503_680_000_000_000;

/// A conversation with a confirmed `safe` activation in `ws` and an approved
/// `ls`; returns it with the approval token.
async fn approved_ls(env: &TestEnv, s: &Server, ws: &Path) -> (Conv, String) {
    let conv = Conv::create(s).await;
    activate(env, s, &conv, "safe", ws, json!({})).await;
    let token = approved(env, s, &conv, "ls").await;
    (conv, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_yolo_times_no_setting_allows() {
    let env = TestEnv::new("yolo-restore-times");
    if bwrap_missing()
        || env.sqlite_only(
            "YOLO rows in an SQLite backup file; an export-based backup \
             (PostgreSQL's) holds no YOLO state",
        )
    {
        return;
    }
    let s = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    approved_ls(&env, &s, &ws).await;
    s.stop().await;
    let day = 24 * 3600 * 1_000_000_i64;
    let now = mcp_bridge::domain::Timestamp::now().as_micros();
    let target = env.dir.join("restored").join("bridge.db");
    for (what, edit, says) in [
        (
            "activation",
            format!("UPDATE yolo_activations SET expires_at = {YEAR_3000}"),
            "YOLO activations ending more than ten years",
        ),
        (
            "approval",
            format!(
                "UPDATE yolo_proposals SET approval_expires_at = {YEAR_3000} WHERE state = 'approved'"
            ),
            "YOLO approvals ending more than ten years",
        ),
        (
            "future",
            format!("UPDATE yolo_proposals SET created_at = {}", now + 2 * day),
            "YOLO proposals created, decided or used more than a day from now",
        ),
    ] {
        let backup = env.dir.join(format!("{what}.db"));
        cli(&env, &["backup", backup.to_str().unwrap()]).await.ok();
        tamper(&backup, &edit);
        let line = cli_on(&env, &target, &["restore", backup.to_str().unwrap()])
            .await
            .fails(2, "cannot restore");
        assert!(line.contains(says), "{what}: {line}");
        assert!(!target.exists(), "{what}: the target was created");
    }
    // The same backup, untouched, restores.
    let backup = env.dir.join("plain.db");
    cli(&env, &["backup", backup.to_str().unwrap()]).await.ok();
    cli_on(&env, &target, &["restore", backup.to_str().unwrap()])
        .await
        .ok();
}

/// A workspace written into the database (a restored backup, an older
/// build) is held to `enable_yolo_mode`'s rules again: `/etc` runs nothing,
/// whatever approval stands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_workspace_the_rules_refuse_runs_nothing() {
    if bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo-stored-workspace");
    let s = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let (conv, token) = approved_ls(&env, &s, &ws).await;
    tamper(&env.db, "UPDATE yolo_activations SET workspace = '/etc'");
    let args = json!({"approval_token": token});
    let why = refusal(
        &execute(&s, &conv, "a", "ls", args).await,
        "command_refused",
    );
    assert!(why.contains("workspace-not-allowed"), "{why}");
    assert!(why.contains("/etc"), "{why}");
    let why = refusal(
        &execute(&s, &conv, "a", "cat hosts", json!({})).await,
        "command_refused",
    );
    assert!(why.contains("workspace-not-allowed"), "{why}");
    assert_eq!(
        env.count("SELECT count(*) FROM yolo_proposals WHERE state = 'used'"),
        0,
        "nothing ran"
    );
}

/// After a documented `restore --no-key`, commands sealed under the other
/// key file do not open: `yolo status` lists them marked (it failed with
/// exit 2), and no CLI error points to a server log it does not have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_status_lists_commands_that_do_not_open() {
    let env = TestEnv::new("yolo-status-nokey");
    if bwrap_missing() || env.sqlite_only("restore --no-key of an SQLite backup file") {
        return;
    }
    let s = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let conv = Conv::create(&s).await;
    activate(&env, &s, &conv, "safe", &ws, json!({})).await;
    let id = propose(&s, &conv, "a", "ls").await;
    s.stop().await;
    let backup = env.dir.join("plain.db");
    cli(&env, &["backup", backup.to_str().unwrap()]).await.ok();
    // Another database, with its own key file.
    let other = TestEnv::new("yolo-status-nokey-target");
    other.server().await.stop().await;
    let file = backup.to_str().unwrap();
    let restored = cli_on(&env, &other.db, &["restore", file, "--no-key", "--force"]).await;
    // The warning names what no longer opens, the tokens that sign in included.
    assert!(
        restored.stderr.contains("console and HTTP tokens"),
        "{}",
        restored.stderr
    );
    restored.ok();

    let text = cli_on(&env, &other.db, &["yolo", "status"]).await.ok();
    let row = text.lines().find(|l| l.contains(&id)).expect("listed");
    assert!(row.contains("does not open"), "{text}");
    let listed = cli_on(&env, &other.db, &["yolo", "status", "--json"])
        .await
        .json();
    let p = &listed["proposals"][0];
    assert_eq!(
        (p["id"].as_str(), &p["command"]),
        (Some(id.as_str()), &json!(null))
    );
    assert!(
        p["unreadable"].as_str().unwrap().contains("does not open"),
        "{p}"
    );
    // It cannot be approved (the human could not see what would run), but it
    // can be denied: a human cleaning up after the restore is not stuck
    // with it. Both used to exit 2.
    let refused = approve_refused(&other, &id).await;
    assert!(refused.contains("does not open"), "{refused}");
    let denied = cli_on(&env, &other.db, &["yolo", "deny", &id]).await.ok();
    assert!(
        denied.contains(&format!("Denied {id}")) && denied.contains("does not open"),
        "{denied}"
    );
    let listed = cli_on(&env, &other.db, &["yolo", "status", "--json"])
        .await
        .json();
    assert_eq!(listed["proposals"][0]["state"], "denied", "{listed}");
}
