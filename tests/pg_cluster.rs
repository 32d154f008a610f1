//! Several real `mcp-bridge serve` processes on one PostgreSQL database
//! behave as one service: concurrent writers lose and duplicate nothing, a
//! long-poll is woken by a commit on another server, and a server killed in
//! the middle of a burst loses nothing it acknowledged. Skipped, with the
//! reason printed, when no PostgreSQL is available (see `util_pg`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::util::{
    Conv, EVENT_TIMEOUT, Server, TestEnv, assert_audit_intact, assert_two_writers_exactly_once,
    call, check, contents, drain_all, ok, send, try_call, write_concurrently,
};

const NO_LIMITS: &[(&str, &str)] = &[
    ("MCP_BRIDGE_RATE_LIMITS", "off"),
    ("MCP_BRIDGE_LIMITS__MAX_PENDING_MESSAGES", "10000"),
];

/// 16 writers over 4 servers, two of them sharing each conversation: every
/// message delivered exactly once, each writer's in its order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_writers_over_four_servers_lose_and_duplicate_nothing() {
    let Some(env) = TestEnv::postgres("pg_sixteen_writers") else {
        return;
    };
    let mut servers = Vec::new();
    for _ in 0..4 {
        servers.push(env.server_with(NO_LIMITS).await);
    }
    let mut convs = Vec::new();
    for _ in 0..8 {
        convs.push(Conv::create(&servers[0]).await);
    }
    const PER: usize = 40;
    write_concurrently(
        (0..16).map(|w| servers[w % 4].peer()).collect(),
        &convs,
        PER,
    )
    .await;
    for (i, conv) in convs.iter().enumerate() {
        let got = drain_all(&servers[(i + 1) % 4], conv, "b").await;
        assert_two_writers_exactly_once(&got, i, PER);
    }
    for s in servers {
        s.stop().await;
    }
    let _ = assert_audit_intact(&env, "after 640 concurrent sends");
}

/// A long-poll on `one` returns `text` once `two` stores it.
pub(crate) async fn assert_long_poll_woken_across(one: &Server, two: &Server, text: &str) {
    let conv = Conv::create(one).await;
    let waiting = {
        let peer = one.peer();
        let conv = conv.clone();
        tokio::spawn(async move {
            ok(&call(
                &peer,
                "check_messages",
                conv.args("b", json!({"wait_seconds": 60})),
            )
            .await)
        })
    };
    send(two, &conv, "a", text).await;
    let body = tokio::time::timeout(EVENT_TIMEOUT, waiting)
        .await
        .expect("the long-poll returned once the message was stored")
        .expect("task");
    assert_eq!(contents(&body), [text]);
}

/// A long-poll on one server returns the message a second server stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_woken_by_a_commit_on_another_server() {
    let Some(env) = TestEnv::postgres("pg_long_poll") else {
        return;
    };
    let (one, two) = (env.server().await, env.server().await);
    assert_long_poll_woken_across(&one, &two, "across servers").await;
    one.stop().await;
    two.stop().await;
}

/// A server SIGKILLed while its client sends as fast as it can: every
/// message it acknowledged is delivered (through another server) exactly
/// once; at most the one call in flight may also have landed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_burst_loses_nothing_acknowledged() {
    let Some(env) = TestEnv::postgres("pg_killed_mid_burst") else {
        return;
    };
    let doomed = env.server_with(NO_LIMITS).await;
    let reader = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&reader).await;
    let acked = Arc::new(Mutex::new(Vec::new()));
    let burst = {
        let (peer, conv, acked) = (doomed.peer(), conv.clone(), Arc::clone(&acked));
        tokio::spawn(async move {
            for k in 0.. {
                let text = format!("m{k}");
                let answer = try_call(
                    &peer,
                    "send_to_partner",
                    conv.args("a", json!({"message": text})),
                )
                .await;
                match answer {
                    Ok(r) if r.is_error != Some(true) => acked.lock().expect("lock").push(text),
                    _ => return,
                }
            }
        })
    };
    crate::util::wait_until("50 acknowledged sends", || {
        acked.lock().expect("lock").len() >= 50
    })
    .await;
    // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
    let pid = i32::try_from(doomed.pid()).expect("pid");
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    tokio::time::timeout(EVENT_TIMEOUT, burst)
        .await
        .expect("the burst ends")
        .expect("task");
    let acked = acked.lock().expect("lock").clone();
    let got = drain_all(&reader, &conv, "b").await;
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "duplicates: {got:?}");
    assert_eq!(
        &got[..acked.len()],
        &acked[..],
        "acknowledged messages in order"
    );
    assert!(
        got.len() <= acked.len() + 1,
        "only the call in flight may land unacknowledged"
    );
    let stored = crate::util_pg::sql(&env.db.to_string_lossy(), "SELECT count(*) FROM messages");
    assert_eq!(
        stored,
        got.len().to_string(),
        "every stored message was delivered"
    );
    drop(doomed);
    reader.stop().await;
    let _ = assert_audit_intact(&env, "after a server was killed");
}

/// The management commands work on a PostgreSQL database by URL, and move
/// its data to an SQLite file and back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_commands_work_on_postgres_and_move_data_to_sqlite() {
    let Some(env) = TestEnv::postgres("pg_management") else {
        return;
    };
    let server = env.server().await;
    let conv = Conv::create(&server).await;
    send(&server, &conv, "a", "kept across the move").await;
    server.stop().await;
    let run = |args: &[&str]| {
        let out = env
            .bridge()
            .args(args)
            .arg("--db")
            .arg(&env.db)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let listed: serde_json::Value = serde_json::from_str(&run(&["list", "--json"])).expect("json");
    assert!(listed.to_string().contains(&conv.id), "{listed}");
    // Encryption at rest by URL: a rotation moves every value to epoch 2.
    let rotated: serde_json::Value =
        serde_json::from_str(&run(&["key", "rotate", "--json"])).expect("json");
    assert_eq!(rotated["epoch"], 2, "{rotated}");
    assert_eq!(rotated["retired_epochs"], json!([1]), "{rotated}");
    assert!(
        rotated["database"]
            .as_str()
            .is_some_and(|d| d.starts_with("postgres")),
        "the database is named by its URL: {rotated}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&run(&["key", "status", "--json"])).expect("json");
    assert_eq!(status["current_epoch"], 2, "{status}");
    assert_eq!(status["plaintext"], 0, "{status}");
    let shown = run(&["show", &conv.id, "--json"]);
    assert!(shown.contains("kept across the move"), "{shown}");
    run(&["cleanup", "--dry-run"]);
    let file = env.dir.join("export.json");
    run(&["export", "-o", &file.to_string_lossy()]);
    // Into an SQLite file, which serves the conversation with the same key.
    let sqlite = env.dir.join("moved").join("bridge.db");
    let import = env
        .bridge()
        .args(["import", &file.to_string_lossy(), "--db"])
        .arg(&sqlite)
        .output()
        .expect("import");
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    std::fs::copy(env.pg_key_file(), sqlite.with_file_name("bridge.key")).expect("copy key");
    let moved = crate::util::Server::spawn({
        let mut cmd = env.bridge();
        cmd.arg("serve").arg("--db").arg(&sqlite);
        cmd
    })
    .await;
    assert_eq!(
        contents(&check(&moved, &conv, "b", json!({})).await),
        vec!["kept across the move"]
    );
    moved.stop().await;
    // `backup` on PostgreSQL writes an export-based backup (see backup_export::).
    let backup = env
        .bridge()
        .args([
            "backup",
            &env.dir.join("b.backup").to_string_lossy(),
            "--db",
        ])
        .arg(&env.db)
        .output()
        .expect("backup");
    assert!(backup.status.success(), "{backup:?}");
    assert!(
        String::from_utf8_lossy(&backup.stdout).contains("an export-based backup"),
        "{backup:?}"
    );
    let _ = assert_audit_intact(&env, "after management commands");
}

/// The `LISTEN` connections of servers on this test's database, by backend pid.
fn listeners(env: &TestEnv) -> Vec<String> {
    crate::util_pg::listeners(&env.db.to_string_lossy())
}

/// When a server's `LISTEN` connection is cut, it connects again (and its
/// long-polls re-check), and wake-ups from other servers keep arriving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listen_connection_is_reestablished() {
    let Some(env) = TestEnv::postgres("pg_listen_reconnect") else {
        return;
    };
    let (one, two) = (env.server().await, env.server().await);
    let conv = Conv::create(&one).await;
    // The first long-poll starts the server's listener.
    check(&one, &conv, "b", json!({"wait_seconds": 1})).await;
    let mut first = Vec::new();
    crate::util::wait_until("the listener is up", || {
        first = listeners(&env);
        first.len() == 1
    })
    .await;
    let url = env.db.to_string_lossy().into_owned();
    crate::util_pg::sql(&url, &format!("SELECT pg_terminate_backend({})", first[0]));
    crate::util::wait_until("a new listener replaces the cut one", || {
        let now = listeners(&env);
        now.len() == 1 && now != first
    })
    .await;
    let waiting = {
        let peer = one.peer();
        let conv = conv.clone();
        tokio::spawn(async move {
            ok(&call(
                &peer,
                "check_messages",
                conv.args("b", json!({"wait_seconds": 60})),
            )
            .await)
        })
    };
    send(&two, &conv, "a", "after the reconnect").await;
    let body = tokio::time::timeout(EVENT_TIMEOUT, waiting)
        .await
        .expect("the long-poll returned")
        .expect("task");
    assert_eq!(contents(&body), vec!["after the reconnect"]);
    one.stop().await;
    two.stop().await;
}
