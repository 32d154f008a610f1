//! Files the bridge reads are hostile too: an export file with ids that
//! would exhaust the id space, a backup with schema objects the bridge never
//! made, a database reached through a symlink, a path that is not a
//! database. Each test drives the real CLI and real `serve` processes.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::{Value, json};

use crate::util::*;
use crate::util_cli::*;

/// A JSON-lines export with one conversation `id` holding messages `ids`.
fn export_file(env: &TestEnv, name: &str, id: &str, ids: &[i64]) -> std::path::PathBuf {
    let mut lines = vec![
        json!({"format": "mcp-bridge-export", "version": 1, "layout": "jsonl"}),
        json!({"conversation": {"id": id, "created_at": "2026-01-31T12:00:00Z", "expires_at": live_until(),
            "participants": [{"side": "a", "role": "x", "status": null, "note": null, "status_at": null},
                             {"side": "b", "role": "y", "status": null, "note": null, "status_at": null}]}}),
    ];
    for (n, m) in ids.iter().enumerate() {
        lines.push(
            json!({"message": {"conversation_id": id, "id": m, "from": "a", "action_type": "info",
            "content": format!("imported {n}"), "files_involved": [],
            "created_at": format!("2026-01-31T12:00:{n:02}Z"), "unread_by": ["b"]}}),
        );
    }
    let path = env.dir.join(name);
    std::fs::write(
        &path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .expect("write export file");
    path
}

/// The session tokens of `id`, re-derived by `mcp-bridge tokens`.
async fn tokens(env: &TestEnv, id: &str) -> Conv {
    let t = cli(env, &["tokens", id, "--json"]).await.json();
    Conv {
        id: id.to_owned(),
        a: t["session_a_token"].as_str().expect("token a").to_owned(),
        b: t["session_b_token"].as_str().expect("token b").to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_import_can_make_later_sends_fail() {
    let env = TestEnv::new("hostile-import-ids");
    let s = env.server_with(NO_LIMITS).await;
    let first = Conv::create(&s).await;
    let second = Conv::create(&s).await;
    send(&s, &first, "a", "before").await;

    // An id of 2^63-1 (and anything above 2^53) is refused, naming the field,
    // and nothing is stored.
    for (name, id) in [("max.jsonl", i64::MAX), ("above.jsonl", (1 << 53) + 1)] {
        let file = export_file(&env, name, "conv_00000000000000e1", &[id]);
        let line = cli(&env, &["import", file.to_str().unwrap()])
            .await
            .fails(2, "`id` must be 1 to 9007199254740992");
        assert!(line.contains("message"), "{line}");
        assert_eq!(rows(&env, "conversations"), 2, "{name}");
    }

    // At the bound itself the import works, and every conversation, the
    // imported one included, can still send. Ids that high are numbered anew
    // (in order) rather than kept: kept, they left every later send an id
    // past 2^53, and the database's own export and backup could never be
    // imported or restored again (red team).
    let bound = 1_i64 << 53;
    let file = export_file(
        &env,
        "bound.jsonl",
        "conv_00000000000000e2",
        &[bound - 1, bound],
    );
    let said = cli(&env, &["import", file.to_str().unwrap(), "--json"])
        .await
        .json();
    assert_eq!(said["messages_added"], 2, "{said}");
    assert_eq!(said["messages_renumbered"], 2, "{said}");
    let imported = tokens(&env, "conv_00000000000000e2").await;
    let mut last = 0;
    for conv in [&first, &second, &imported] {
        for side in ["a", "b"] {
            let sent = send(&s, conv, side, "after the import").await;
            let id = sent["message_id"].as_i64().expect("message_id");
            assert!(id > last, "ids must keep increasing: {id} after {last}");
            last = id;
        }
    }
    assert!(last < 1 << 52, "an id near the bound was kept: {last}");
    // And the messages arrive.
    let inbox = contents(&check(&s, &imported, "b", json!({})).await);
    assert_eq!(inbox, ["imported 0", "imported 1", "after the import"]);
    // The database's own export imports again, into a fresh database.
    let out = env.dir.join("all.json");
    cli(
        &env,
        &["export", "--plaintext", "-o", out.to_str().unwrap()],
    )
    .await
    .ok();
    let fresh = env.dir.join("fresh").join("bridge.db");
    crate::util_cli::cli_on(&env, &fresh, &["import", out.to_str().unwrap()])
        .await
        .ok();
}

/// Runs `sql` on a copy-able database file with a plain connection.
fn sql(db: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(db).expect("open backup");
    conn.execute_batch(sql).expect("alter backup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_any_schema_object_the_bridge_did_not_create() {
    let env = TestEnv::new("hostile-restore-schema");
    if env.sqlite_only(
        "`restore` of an SQLite backup file with foreign triggers and views; \
         PostgreSQL databases are not restored from a file by the bridge",
    ) {
        return;
    }
    let populated = populate(&env).await;
    let before = message_ids(&env.db);
    let diversions = [
        (
            "trigger",
            "CREATE TABLE loot (content TEXT);
             CREATE TRIGGER divert AFTER INSERT ON messages BEGIN
               INSERT INTO loot VALUES (new.content); DELETE FROM messages WHERE id = new.id; END;",
            "trigger `divert`",
        ),
        (
            "view",
            "CREATE VIEW everything AS SELECT * FROM messages;",
            "view `everything`",
        ),
        (
            "index",
            "CREATE INDEX sneaky ON messages(content);",
            "index `sneaky`",
        ),
        (
            "altered table",
            "ALTER TABLE messages ADD COLUMN extra TEXT;",
            "table `messages`",
        ),
        (
            "huge id",
            "UPDATE messages SET id = 9223372036854775807 WHERE id = (SELECT max(id) FROM messages);",
            "message id",
        ),
    ];
    for (what, change, named) in diversions {
        let backup = env.dir.join(format!("{}.db", what.replace(' ', "-")));
        cli(&env, &["backup", backup.to_str().unwrap()]).await.ok();
        sql(&backup, change);
        let line = cli(&env, &["restore", backup.to_str().unwrap()])
            .await
            .fails(2, "cannot restore");
        assert!(line.contains(named), "{what}: {line}");
        // Nothing changed: no trigger, the same messages.
        assert_eq!(
            env.count("SELECT count(*) FROM sqlite_master WHERE type IN ('trigger', 'view')"),
            0,
            "{what}"
        );
        assert_eq!(message_ids(&env.db), before, "{what}");
    }
    // An untouched backup still restores, and sends work afterwards.
    let clean = env.dir.join("clean.db");
    cli(&env, &["backup", clean.to_str().unwrap()]).await.ok();
    cli(&env, &["restore", clean.to_str().unwrap()]).await.ok();
    let s = env.server_with(NO_LIMITS).await;
    send(&s, &populated.quiet, "a", "after the restore").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_delivery_lease_that_would_hide_an_inbox() {
    let env = TestEnv::new("hostile-restore-lease");
    if env.sqlite_only(
        "a delivery lease in an SQLite backup file; an export-based backup \
         (PostgreSQL's) holds no leases: `import` and `restore` store none",
    ) {
        return;
    }
    let populated = populate(&env).await;
    let before = message_ids(&env.db);
    let now = mcp_bridge::domain::Timestamp::now().as_micros();
    let day = 24 * 3600 * 1_000_000_i64;
    let target = env.dir.join("restored").join("bridge.db");
    // Leased for good (the red team's) or for two days: restored, either hid
    // the recipient's inbox, new messages too, until it ended.
    for (what, until) in [
        ("for good", 9_000_000_000_000_000_000),
        ("two days", now + 2 * day),
    ] {
        let backup = env.dir.join(format!("lease-{}.db", what.replace(' ', "-")));
        cli(&env, &["backup", backup.to_str().unwrap()]).await.ok();
        sql(
            &backup,
            &format!("UPDATE pending_deliveries SET lease_id = 1, lease_until = {until}"),
        );
        for db in [&env.db, &target] {
            let line = cli_on(&env, db, &["restore", backup.to_str().unwrap()])
                .await
                .fails(2, "cannot restore");
            assert!(
                line.contains("pending deliveries leased until after"),
                "{what}: {line}"
            );
        }
        assert_eq!(message_ids(&env.db), before, "{what}");
        assert!(!target.exists(), "{what}: the target was created");
    }
    // The lease of a take under way when the backup was made restores, and
    // its message comes again once the lease lapses.
    let backup = env.dir.join("lease-taken.db");
    cli(&env, &["backup", backup.to_str().unwrap()]).await.ok();
    sql(
        &backup,
        &format!(
            "UPDATE pending_deliveries SET lease_id = 1, lease_until = {}",
            now + 2_000_000
        ),
    );
    cli_on(&env, &target, &["restore", backup.to_str().unwrap()])
        .await
        .ok();
    let server = Server::spawn({
        let mut cmd = env.bridge();
        cmd.arg("serve").arg("--db").arg(&target);
        cmd
    })
    .await;
    let inbox = check(&server, &populated.busy, "a", json!({"wait_seconds": 10})).await;
    assert_eq!(contents(&inbox), ["thanks, building the list view"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_reached_through_a_symlink_is_one_database() {
    let env = TestEnv::new("hostile-symlink");
    let real = env.dir.join("real");
    std::fs::create_dir_all(&real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
    let real_db = real.join("bridge.db");
    let links = env.dir.join("links");
    std::fs::create_dir_all(&links).unwrap();
    let link_db = links.join("bridge.db");

    let direct = Server::spawn({
        let mut cmd = env.bridge();
        cmd.arg("serve").arg("--db").arg(&real_db);
        cmd
    })
    .await;
    std::os::unix::fs::symlink(&real_db, &link_db).unwrap();
    let linked = Server::spawn({
        let mut cmd = env.bridge();
        cmd.arg("serve").arg("--db").arg(&link_db);
        cmd
    })
    .await;
    // A token handed out by one server works on the other: one key.
    let conv = Conv::create(&direct).await;
    let waiting = {
        let peer = linked.peer();
        let conv = conv.clone();
        tokio::spawn(async move { check(&peer, &conv, "b", json!({"wait_seconds": 20})).await })
    };
    send(&direct, &conv, "a", "through the link").await;
    let woken = tokio::time::timeout(EVENT_TIMEOUT, waiting)
        .await
        .expect("the long-poll through the link was not woken")
        .expect("long-poll task");
    assert_eq!(contents(&woken), ["through the link"]);
    // Nothing was created beside the link.
    let beside: Vec<String> = std::fs::read_dir(&links)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(beside, ["bridge.db"], "files beside the link");
    // The management CLI resolves the link too.
    let listed = cli_on(&env, &link_db, &["list", "--json"]).await.json();
    assert_eq!(listed["conversations"][0]["id"], conv.id.as_str());
    let t = cli_on(&env, &link_db, &["tokens", &conv.id, "--json"])
        .await
        .json();
    assert_eq!(t["session_a_token"], conv.a.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_never_changes_the_mode_of_a_file_it_did_not_create() {
    let env = TestEnv::new("hostile-chmod");
    std::fs::create_dir_all(env.dir.join("files")).unwrap();
    // Not a database: refused, left exactly as it was.
    let notes = env.dir.join("files").join("notes.txt");
    std::fs::write(&notes, "my notes\n").unwrap();
    std::fs::set_permissions(&notes, std::fs::Permissions::from_mode(0o644)).unwrap();
    for args in [&["list"][..], &["import", "-"][..]] {
        let mut cmd = env.bridge();
        cmd.args(args).arg("--db").arg(&notes);
        let run = run_cmd(cmd, Some(b"{}")).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains("not an SQLite database"), "{run:?}");
    }
    let out = env
        .bridge()
        .arg("serve")
        .arg("--db")
        .arg(&notes)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an SQLite database"));
    assert_eq!(mode(&notes), 0o644);
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");

    // A real database that others can read: refused with the fix, not chmodded.
    if env.sqlite_only("the mode of the SQLite file; PostgreSQL's files are the server's") {
        return;
    }
    let s = env.server().await;
    Conv::create(&s).await;
    s.stop().await;
    std::fs::set_permissions(&env.db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let line = cli(&env, &["list"]).await.fails(2, "has mode 644");
    assert!(
        line.contains(&format!("chmod 600 {}", env.db.display())),
        "{line}"
    );
    assert_eq!(mode(&env.db), 0o644);
    let out = env
        .serve_command(&[])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(mode(&env.db), 0o644);
    std::fs::set_permissions(&env.db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let listed: Value = cli(&env, &["list", "--json"]).await.json();
    assert_eq!(listed["conversations"].as_array().unwrap().len(), 1);
}
