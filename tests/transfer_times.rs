//! Times in an import file (or an export-based backup) that the tools could
//! never have written: a heartbeat or a joining in the future, a joining or
//! a message before the conversation was created, an expiry further away
//! than `conversation_ttl_minutes`, a status after the participant's removal.
//! A heartbeat dated 2999 showed its
//! participant alive forever, and no later real status could replace it.
//! Each is refused naming the field, and nothing changes.

use std::path::Path;

use serde_json::{Value, json};

use crate::util::*;
use crate::util_cli::*;
use crate::util_state::query_in;

/// The conversations with their times, and their participants with theirs.
fn times(db: &Path) -> Vec<Vec<Option<String>>> {
    let mut rows = query_in(
        db,
        "SELECT id, CAST(created_at AS TEXT), CAST(expires_at AS TEXT) FROM conversations ORDER BY id",
    );
    rows.extend(query_in(
        db,
        "SELECT conversation_id, side, status, CAST(status_at AS TEXT), CAST(joined_at AS TEXT)
         FROM participants ORDER BY 1, 2",
    ));
    rows.extend(query_in(
        db,
        "SELECT CAST(id AS TEXT), CAST(created_at AS TEXT) FROM messages ORDER BY id",
    ));
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_and_restore_refuse_times_the_tools_could_never_write() {
    let env = TestEnv::new("transfer_times");
    let p = populate(&env).await;
    let file = cli(&env, &["export", "--plaintext", &p.busy.id])
        .await
        .json();
    let before = times(&env.db);
    let future = "2999-01-01T00:00:00Z";
    let past = "2001-01-01T00:00:00Z";
    let edit = |change: &dyn Fn(&mut Value)| {
        let mut f = file.clone();
        change(&mut f["conversations"][0]);
        f
    };
    // A status 8 minutes after the removal (each within the clock skew of
    // now and of the creation): the tools refuse a removed seat's status.
    let minutes = |m: i64| {
        mcp_bridge::domain::Timestamp::now()
            .plus_micros(m * 60 * 1_000_000)
            .to_rfc3339()
    };
    let (removed, status_after) = (minutes(-4), minutes(4));
    let cases = [
        (
            edit(&|c| {
                let b = &mut c["participants"][1];
                b["removed_at"] = json!(removed);
                b["status"] = json!("working");
                b["status_at"] = json!(status_after);
            }),
            "side b: `removed_at` is before its last status (`status_at`)",
        ),
        (
            edit(&|c| c["participants"][0]["status_at"] = json!(future)),
            "side a: `status_at` is in the future",
        ),
        (
            edit(&|c| c["participants"][0]["status_at"] = json!(past)),
            "side a: `status_at` is before the participant joined",
        ),
        (
            edit(&|c| c["participants"][1]["joined_at"] = json!(future)),
            "side b: `joined_at` is in the future",
        ),
        (
            edit(&|c| c["participants"][1]["joined_at"] = json!(past)),
            "side b: `joined_at` is before the conversation was created",
        ),
        (
            edit(&|c| c["messages"][0]["created_at"] = json!(past)),
            "`created_at` is before the conversation was created",
        ),
        (
            edit(&|c| c["messages"][0]["created_at"] = json!(future)),
            "`created_at` is in the future",
        ),
        (
            edit(&|c| c["expires_at"] = json!("2999-12-31T23:59:59Z")),
            "`expires_at` is more than conversation_ttl_minutes (180) from now",
        ),
    ];
    for (n, (content, text)) in cases.iter().enumerate() {
        let path = env.dir.join(format!("bad-{n}.json"));
        std::fs::write(&path, serde_json::to_vec(content).unwrap()).unwrap();
        let path = path.to_str().unwrap();
        let line = cli(&env, &["import", path]).await.fails(2, text);
        assert!(line.contains("the export file is invalid"), "{line}");
        let line = cli(&env, &["restore", path, "--no-key", "--force"])
            .await
            .fails(2, text);
        assert!(line.contains("cannot restore"), "{line}");
        assert_eq!(times(&env.db), before, "{text}: the database changed");
        // Nor is a new database left behind.
        let fresh = env.dir.join(format!("fresh-{n}")).join("bridge.db");
        cli_on(&env, &fresh, &["import", path]).await.fails(2, text);
        assert!(!fresh.exists(), "{text}: a database was created");
    }

    // An expiry two days away is what a bridge whose conversations live that
    // long writes: it imports where `conversation_ttl_minutes` is as long.
    let two_days = mcp_bridge::domain::Timestamp::now()
        .plus_micros(2 * 24 * 3600 * 1_000_000)
        .to_rfc3339();
    let long = edit(&|c| c["expires_at"] = json!(two_days));
    let path = env.dir.join("long.json");
    std::fs::write(&path, serde_json::to_vec(&long).unwrap()).unwrap();
    let fresh = env.dir.join("long").join("bridge.db");
    cli_on(&env, &fresh, &["import", path.to_str().unwrap()])
        .await
        .fails(
            2,
            "`expires_at` is more than conversation_ttl_minutes (180)",
        );
    let mut cmd = env.bridge();
    cmd.env("MCP_BRIDGE_CONVERSATION_TTL_MINUTES", "4320")
        .args(["import", path.to_str().unwrap(), "--db"])
        .arg(&fresh);
    run_cmd(cmd, None).await.ok();
    assert_eq!(
        cli_on(&env, &fresh, &["show", &p.busy.id, "--json"])
            .await
            .json()["conversation"]["expires_at"],
        json!(two_days)
    );
}
