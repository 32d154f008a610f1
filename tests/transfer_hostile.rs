//! Hostile inputs to `import` and `restore`, through the real binary: files
//! that are not regular files (a FIFO with no writer, a device), a backup
//! whose key file belongs to another database or whose contents were altered,
//! and export files that describe what the tools could never do (an owner
//! removed, a removal in the future, an observer sending, a copy for a
//! session that was not addressed, more unread messages than the limit).
//! Each refusal must name the problem and change nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::util::*;
use crate::util_cli::*;
use crate::util_state::query_in;

/// Everything a refused command must leave as it was: participants (with
/// their removals), message ids and pending deliveries.
fn state(db: &Path) -> Vec<Vec<Option<String>>> {
    let mut rows = query_in(
        db,
        "SELECT conversation_id, side, role, CAST(removed_at AS TEXT) FROM participants ORDER BY 1, 2",
    );
    rows.extend(query_in(
        db,
        "SELECT CAST(id AS TEXT), conversation_id FROM messages ORDER BY id",
    ));
    rows.extend(query_in(
        db,
        "SELECT conversation_id, recipient, CAST(message_id AS TEXT) FROM pending_deliveries ORDER BY 1, 2, 3",
    ));
    rows
}

/// Runs the CLI on `db`, failing the test instead of hanging.
async fn bounded(env: &TestEnv, db: &Path, args: &[&str]) -> Run {
    tokio::time::timeout(Duration::from_secs(60), cli_on(env, db, args))
        .await
        .unwrap_or_else(|_| panic!("{args:?} hung"))
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_and_restore_refuse_what_is_not_a_regular_file() {
    let env = TestEnv::new("transfer_hostile_files");
    populate(&env).await;
    let before = state(&env.db);
    let fifo = env.dir.join("export.fifo");
    mkfifo(&fifo);
    let fifo = fifo.to_str().unwrap();
    let dir = env.dir.to_str().unwrap();
    for command in ["import", "restore"] {
        for path in [fifo, "/dev/zero", dir] {
            bounded(&env, &env.db, &[command, path])
                .await
                .fails(2, "it is not a regular file");
        }
    }
    assert_eq!(
        state(&env.db),
        before,
        "a refused file changed the database"
    );
    // A cause is named once, not once per layer.
    let keyless = env.dir.join("keyless.db");
    std::fs::write(&keyless, "{}").unwrap();
    let missing = env.dir.join("missing.db");
    for path in [&missing, &keyless] {
        let line = bounded(&env, &env.db, &["restore", path.to_str().unwrap()])
            .await
            .fails(2, "No such file or directory");
        assert_eq!(line.matches("os error 2").count(), 1, "{line}");
    }
}

/// A database-file backup of the test's database, with its key file.
async fn file_backup(env: &TestEnv) -> PathBuf {
    let file = env.dir.join("backups").join("bridge-backup.db");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    cli(env, &["backup", file.to_str().unwrap()]).await.ok();
    file
}

/// A copy of `backup` (and its key file) named `name`, changed by `sql`.
fn altered(backup: &Path, name: &str, sql: &str) -> PathBuf {
    let copy = backup.with_file_name(name);
    std::fs::copy(backup, &copy).unwrap();
    let key = PathBuf::from(format!("{}.key", copy.display()));
    std::fs::copy(format!("{}.key", backup.display()), &key).unwrap();
    if !sql.is_empty() {
        tamper(&copy, sql);
    }
    copy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_checks_the_backup_with_its_key_file_before_replacing_anything() {
    let env = TestEnv::new("transfer_hostile_restore");
    if env.sqlite_only(
        "database-file backups; an export-based backup opens only with its own key (backup_export::)",
    ) {
        return;
    }
    let p = populate(&env).await;
    let backup = file_backup(&env).await;
    // The target: another database, with a key file of its own.
    let other = TestEnv::new("transfer_hostile_target");
    let target = other.db.clone();
    let server = other.server_with(NO_LIMITS).await;
    Conv::create(&server).await;
    server.stop().await;
    let target_key = std::fs::read(other.key_file()).unwrap();
    let before = state(&target);

    let wrong_key = altered(&backup, "wrong-key.db", "");
    std::fs::copy(other.key_file(), format!("{}.key", wrong_key.display())).unwrap();
    let busy = &p.busy.id;
    let cases = [
        (wrong_key, 1, "does not verify with its key file"),
        (
            altered(
                &backup,
                "sealed.db",
                "UPDATE messages SET content = (SELECT content FROM messages ORDER BY id DESC LIMIT 1) \
                 WHERE id = (SELECT min(id) FROM messages)",
            ),
            1,
            "does not open or decode with its key file",
        ),
        (
            altered(
                &backup,
                "audit.db",
                "UPDATE audit_log SET detail = 'x' WHERE seq = 2",
            ),
            1,
            "record 2 was altered",
        ),
        (
            altered(
                &backup,
                "owner-b.db",
                "UPDATE participants SET kind = 'owner' WHERE side = 'b'",
            ),
            2,
            "kind does not fit their side",
        ),
        (
            altered(
                &backup,
                "side.db",
                "UPDATE participants SET side = 'zz' WHERE side = 'b'",
            ),
            2,
            "side is not one lowercase letter",
        ),
        (
            altered(
                &backup,
                "orphan.db",
                &format!(
                    "INSERT INTO pending_deliveries (conversation_id, recipient, message_id) VALUES ('{busy}', 'b', 424242)"
                ),
            ),
            2,
            "pending deliveries of a message that does not exist",
        ),
    ];
    for (file, code, text) in cases {
        let line = bounded(&other, &target, &["restore", file.to_str().unwrap()])
            .await
            .fails(code, text);
        assert!(line.contains("cannot restore"), "{line}");
        assert_eq!(state(&target), before, "{text}: the target changed");
        assert_eq!(
            std::fs::read(other.key_file()).unwrap(),
            target_key,
            "{text}: the target's key file changed"
        );
    }
    // Nothing is left of the staged copies, and the genuine backup restores.
    let out = bounded(&other, &target, &["restore", backup.to_str().unwrap()])
        .await
        .ok();
    assert!(out.contains("with its key in"), "{out}");
    let leftovers: Vec<_> = std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".restore-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let shown = cli_on(&other, &target, &["show", busy, "--json"])
        .await
        .json();
    assert_eq!(shown["conversation"]["id"], json!(busy), "{shown}");
    cli_on(&other, &target, &["audit", "--verify"]).await.ok();
}

/// The plaintext export (JSON layout) of conversation `id`.
async fn exported(env: &TestEnv, id: &str) -> Value {
    cli(env, &["export", "--plaintext", id]).await.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_refuses_what_the_tools_could_never_do() {
    let env = TestEnv::new("transfer_hostile_import");
    let p = populate(&env).await;
    let before = state(&env.db);
    let file = exported(&env, &p.busy.id).await;
    let future = "2999-01-01T00:00:00Z";
    let edit = |change: &dyn Fn(&mut Value)| {
        let mut f = file.clone();
        change(&mut f["conversations"][0]);
        f
    };
    let cases = [
        (
            edit(&|c| c["participants"][0]["removed_at"] = json!("2026-01-01T00:00:00Z")),
            "side a: the owner cannot be removed",
        ),
        (
            edit(&|c| c["participants"][1]["removed_at"] = json!(future)),
            "side b: `removed_at` is in the future",
        ),
        (
            edit(&|c| c["participants"][1]["removed_at"] = json!("2001-01-01T00:00:00Z")),
            "side b: `removed_at` is before the participant joined",
        ),
        (
            edit(&|c| {
                c["participants"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"side": "c", "role": "watcher", "kind": "observer",
                        "status": null, "note": null, "status_at": null}));
                c["messages"][0]["from"] = json!("c");
                c["messages"][0]["unread_by"] = json!([]);
            }),
            "an observer (observers cannot send)",
        ),
        (
            edit(&|c| {
                c["participants"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"side": "c", "role": "qa", "kind": "member",
                        "status": null, "note": null, "status_at": null}));
                c["messages"][0]["to"] = json!(["c"]);
                c["messages"][0]["unread_by"] = json!(["b"]);
            }),
            "`unread_by` holds b, which is not in `to`",
        ),
        (
            edit(&|c| {
                c["messages"][0]["to"] = json!([]);
                c["messages"][0]["unread_by"] = json!([]);
            }),
            "`to` names nobody",
        ),
        (
            // More active members than `teams.max_participants` (16) admits.
            edit(&|c| {
                let people = c["participants"].as_array_mut().unwrap();
                for side in 'c'..='q' {
                    people.push(json!({"side": side.to_string(), "role": format!("r{side}"),
                        "kind": "member", "status": null, "note": null, "status_at": null}));
                }
            }),
            "17 active participants, more than teams.max_participants (16) allows",
        ),
    ];
    for (n, (content, text)) in cases.into_iter().enumerate() {
        let path = env.dir.join(format!("bad-{n}.json"));
        std::fs::write(&path, serde_json::to_vec(&content).unwrap()).unwrap();
        let line = cli(&env, &["import", path.to_str().unwrap()])
            .await
            .fails(2, text);
        assert!(line.contains("the export file is invalid"), "{line}");
        assert_eq!(state(&env.db), before, "{text}: the database changed");
    }
    // The owner still owns the conversation.
    let shown = cli(&env, &["show", &p.busy.id, "--json"]).await.json();
    let owner = &shown["conversation"]["participants"][0];
    assert_eq!(owner["removed_at"], Value::Null, "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_refuses_more_unread_messages_than_the_pending_limit() {
    let env = TestEnv::new("transfer_hostile_pending");
    populate(&env).await;
    let before = state(&env.db);
    let id = "conv_00000000000000cc";
    let message = |n: i64| {
        json!({"id": 1_000_000 + n, "from": "a", "action_type": "info", "content": format!("m{n}"),
            "files_involved": [], "created_at": "2026-01-31T12:00:00Z", "unread_by": ["b"]})
    };
    let file = |count: i64| {
        json!({"format": "mcp-bridge-export", "version": 1, "conversations": [{
            "id": id, "created_at": "2026-01-31T12:00:00Z", "expires_at": live_until(),
            "participants": [{"side": "a", "role": "x", "status": null, "note": null, "status_at": null},
                             {"side": "b", "role": "y", "status": null, "note": null, "status_at": null}],
            "messages": (1..=count).map(message).collect::<Vec<_>>()}]})
    };
    // The default limit is 10 000 unread messages per session.
    let path = env.dir.join("many.json");
    std::fs::write(&path, serde_json::to_vec(&file(10_001)).unwrap()).unwrap();
    cli(&env, &["import", path.to_str().unwrap()]).await.fails(
        2,
        "side b has 10001 unread messages, more than limits.max_pending_messages (10000)",
    );
    assert_eq!(
        state(&env.db),
        before,
        "a refused import changed the database"
    );
    // Into a database that does not exist yet: refused before it is created.
    let fresh = env.dir.join("fresh").join("bridge.db");
    cli_on(&env, &fresh, &["import", path.to_str().unwrap()])
        .await
        .fails(2, "more than limits.max_pending_messages (10000)");
    assert!(!fresh.exists(), "a refused import created a database");
    std::fs::write(&path, serde_json::to_vec(&file(3)).unwrap()).unwrap();
    cli(&env, &["import", path.to_str().unwrap()]).await.ok();
    let shown = cli(&env, &["show", id, "--json"]).await.json();
    assert_eq!(
        shown["messages"].as_array().map(Vec::len),
        Some(3),
        "{shown}"
    );
}
