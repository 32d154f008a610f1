//! The SQLite file's `backup` / `restore` commands, against databases filled
//! by real `mcp-bridge serve` processes: a backup during a write burst, a
//! restore onto a database in use, and from a damaged file (`export` /
//! `import` are in `cli_transfer`).

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::util::*;
use crate::util_cli::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_during_a_write_burst_restores_every_acknowledged_message() {
    let env = TestEnv::new("cli_backup");
    if env.sqlite_only(
        "the online copy of the SQLite file; PostgreSQL's export-based backups \
         are tested in backup_export::",
    ) {
        return;
    }
    let p = populate(&env).await;
    let server = env.server_with(NO_LIMITS).await;
    let writer = Writer::start(&server, &p.quiet);
    writer.wait_for(20).await;
    let acked_before = writer.acked();
    let file = env.dir.join("backups").join("bridge-backup.db");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let out = cli(&env, &["backup", file.to_str().unwrap()]).await.ok();
    let acked_during = writer.acked();
    let during = cli(&env, &["export", "--plaintext", &p.quiet.id])
        .await
        .json();
    let exported: Vec<i64> = during["conversations"][0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    let all_acked = writer.stop().await;
    server.stop().await;
    assert!(
        out.starts_with(&format!("Backed up {} (", env.db.display())),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "to {}; the key is in {}.key.",
            file.display(),
            file.display()
        )),
        "{out}"
    );
    let key_file = PathBuf::from(format!("{}.key", file.display()));
    assert_eq!((mode(&file), mode(&key_file)), (0o600, 0o600));
    assert_eq!(
        std::fs::read(&key_file).unwrap(),
        std::fs::read(env.db.with_file_name("bridge.key")).unwrap()
    );
    assert!(
        !PathBuf::from(format!("{}-wal", file.display())).exists(),
        "a backup is one file"
    );
    assert!(
        acked_during.len() > acked_before.len(),
        "the server kept writing during the backup"
    );

    let target = env.dir.join("restored").join("bridge.db");
    let said = cli_on(&env, &target, &["restore", file.to_str().unwrap()])
        .await
        .ok();
    assert!(
        said.starts_with(&format!("Restored {} (", file.display())),
        "{said}"
    );
    assert!(
        said.ends_with(&format!(
            "into {}, with its key in {}.\n",
            target.display(),
            target.with_file_name("bridge.key").display()
        )),
        "{said}"
    );
    let conn = open_read_only(&target);
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    let restored = message_ids(&target);
    let original = message_ids(&env.db);
    for id in p
        .sent
        .iter()
        .map(|s| s["message_id"].as_i64().unwrap())
        .chain(acked_before.iter().copied())
    {
        assert!(
            restored.contains(&id),
            "acknowledged message {id} is missing from the backup"
        );
    }
    // One consistent snapshot: exactly the first messages, none skipped.
    assert_eq!(restored[..], original[..restored.len()]);
    assert!(restored.len() >= original.len() - (all_acked.len() - acked_before.len()));
    let quiet_ids: Vec<i64> = std::iter::once(p.sent.len() as i64 + 1)
        .chain(all_acked.iter().copied())
        .collect();
    assert_eq!(
        exported[..],
        quiet_ids[..exported.len()],
        "an export is one snapshot too"
    );
    assert!(exported.len() > acked_before.len());
    // The key came along: the restored database derives the same tokens.
    let tokens = cli_on(&env, &target, &["tokens", &p.busy.id, "--json"])
        .await
        .json();
    assert_eq!(tokens["session_b_token"], p.busy.b);
    cli_on(&env, &target, &["audit", "--verify"]).await.ok();
    let restores = cli_on(&env, &target, &["audit", "--action", "restore", "--json"])
        .await
        .json();
    assert_eq!(restores["records"].as_array().unwrap().len(), 1);
    assert_eq!(restores["records"][0]["actor"], "cli");

    // A backup never overwrites by accident.
    cli(&env, &["backup", file.to_str().unwrap()])
        .await
        .fails(1, "exists; add --force");
    let json = cli(
        &env,
        &["backup", file.to_str().unwrap(), "--force", "--json"],
    )
    .await
    .json();
    assert_eq!(json["backup"], json!(file));
    assert!(json["bytes"].as_u64().unwrap() >= 1024 * json["pages"].as_u64().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_database_in_use_and_checks_the_backup_first() {
    let env = TestEnv::new("cli_restore");
    if env.sqlite_only(
        "the online copy of the SQLite file; PostgreSQL's export-based backups \
         are tested in backup_export::",
    ) {
        return;
    }
    let p = populate(&env).await;
    let file = env.dir.join("backup.db");
    cli(&env, &["backup", file.to_str().unwrap()]).await.ok();

    // A live server on another database.
    let live = TestEnv::new("cli_restore_live");
    let server = live.server_with(NO_LIMITS).await;
    let theirs = Conv::create(&server).await;
    let line = cli_on(&env, &live.db, &["restore", file.to_str().unwrap()])
        .await
        .fails(1, "is in use by process");
    assert!(
        line.contains(&format!("in use by process {} ", server.pid())),
        "{line}"
    );
    let list = cli_on(&env, &live.db, &["list", "--json"]).await.json();
    find(&list, "conversations", &theirs.id);
    let denied = cli_on(&env, &live.db, &["audit", "--action", "restore", "--json"])
        .await
        .json();
    let denied = &denied["records"][0];
    assert_eq!(
        (&denied["actor"], &denied["outcome"], &denied["code"]),
        (&json!("cli"), &json!("denied"), &json!("in_use"))
    );

    // --force restores under the running server, which then serves the restored data.
    let run = cli_on(
        &env,
        &live.db,
        &["restore", file.to_str().unwrap(), "--force"],
    )
    .await;
    assert!(run.stderr.contains("restart them"), "{}", run.stderr);
    run.ok();
    let list = cli_on(&env, &live.db, &["list", "--json"]).await.json();
    let ids: Vec<&Value> = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, [&json!(p.busy.id), &json!(p.quiet.id)]);
    let fresh = Conv::create(&server).await;
    assert!(
        cli_on(&env, &live.db, &["show", &fresh.id])
            .await
            .ok()
            .contains("backend")
    );
    server.stop().await;
    let forced = cli_on(&env, &live.db, &["audit", "--action", "restore", "--json"])
        .await
        .json();
    assert_eq!(
        forced["records"][0]["detail"],
        "forced over a database in use"
    );

    // Stopped: restore goes ahead without --force.
    let again = cli_on(
        &env,
        &live.db,
        &["restore", file.to_str().unwrap(), "--json"],
    )
    .await
    .json();
    assert_eq!(again["forced"], false);
    cli_on(&env, &live.db, &["show", &fresh.id])
        .await
        .fails(1, "unknown conversation");

    // A damaged backup is refused before anything is touched.
    let damaged = env.dir.join("damaged.db");
    let mut bytes = std::fs::read(&file).unwrap();
    let page = 1024;
    let pages = bytes.len() / page;
    for b in &mut bytes[(pages / 2) * page..(pages / 2 + 2) * page] {
        *b = 0x5a;
    }
    std::fs::write(&damaged, &bytes).unwrap();
    std::fs::copy(
        format!("{}.key", file.display()),
        format!("{}.key", damaged.display()),
    )
    .unwrap();
    let line = cli_on(&env, &live.db, &["restore", damaged.to_str().unwrap()])
        .await
        .fails(2, "cannot restore");
    assert!(
        line.contains("integrity check") || line.contains("not a readable database"),
        "{line}"
    );
    let garbage = env.dir.join("garbage.db");
    std::fs::write(
        &garbage,
        "this is not a database, just text that is long enough to look like a header...",
    )
    .unwrap();
    cli_on(&env, &live.db, &["restore", garbage.to_str().unwrap()])
        .await
        .fails(2, "is not a readable database");
    let keyless = env.dir.join("keyless.db");
    std::fs::copy(&file, &keyless).unwrap();
    cli_on(&env, &live.db, &["restore", keyless.to_str().unwrap()])
        .await
        .fails(2, "add --no-key");
    let list = cli_on(&env, &live.db, &["list", "--json"]).await.json();
    assert_eq!(
        list["conversations"].as_array().unwrap().len(),
        2,
        "a refused restore changed the database"
    );
    let kept = cli_on(
        &env,
        &live.db,
        &["restore", keyless.to_str().unwrap(), "--no-key", "--json"],
    )
    .await
    .json();
    assert_eq!(kept["key"], Value::Null);
}

/// A key file serves every database in its directory (or under one
/// `key_file`): a restore never overwrites another key there for a database
/// that does not exist yet, and keeps the one it replaces over an existing
/// database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_never_destroys_a_key_another_database_uses() {
    let env = TestEnv::new("cli_restore_key");
    if env.sqlite_only(
        "the SQLite file's key beside it; PostgreSQL's export-based restores adopt \
         a key only where none is (backup_export::)",
    ) {
        return;
    }
    populate(&env).await;
    let file = env.dir.join("backup.db");
    cli(&env, &["backup", file.to_str().unwrap()]).await.ok();

    let live = TestEnv::new("cli_restore_key_live");
    let server = live.server_with(NO_LIMITS).await;
    let theirs = Conv::create(&server).await;
    server.stop().await;
    let key = live.db.with_file_name("bridge.key");
    let live_key = std::fs::read(&key).unwrap();

    // Beside the live database, into a new one: refused, nothing written.
    let scratch = live.db.with_file_name("scratch.db");
    let line = cli_on(&env, &scratch, &["restore", file.to_str().unwrap()])
        .await
        .fails(1, "already holds another key");
    assert!(line.contains("nothing was changed"), "{line}");
    assert_eq!(std::fs::read(&key).unwrap(), live_key);
    assert!(!scratch.exists(), "a refused restore created {scratch:?}");
    cli_on(&env, &live.db, &["show", &theirs.id]).await.ok();
    cli_on(&env, &live.db, &["audit", "--verify"]).await.ok();

    // Over the live database itself: its key is replaced, the old one kept.
    let run = cli_on(&env, &live.db, &["restore", file.to_str().unwrap()]).await;
    assert!(run.stderr.contains("held another key"), "{}", run.stderr);
    run.ok();
    let kept: Vec<PathBuf> = std::fs::read_dir(key.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("bridge.key.replaced-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read(&kept[0]).unwrap(), live_key);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&kept[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_ne!(std::fs::read(&key).unwrap(), live_key);
    cli_on(&env, &live.db, &["audit", "--verify"]).await.ok();

    // The same key again: nothing more to keep.
    cli_on(&env, &live.db, &["restore", file.to_str().unwrap()])
        .await
        .ok();
    let kept_now = std::fs::read_dir(key.parent().unwrap())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .to_string_lossy()
                .contains(".replaced-")
        })
        .count();
    assert_eq!(kept_now, 1);
}
