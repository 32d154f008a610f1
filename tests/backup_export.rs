//! Export-based backups, the kind a PostgreSQL database gets: `backup FILE`
//! writes a sealed export of every conversation with its key as `FILE.key`;
//! `restore FILE` puts it back into either kind of database, replacing the
//! conversations there, and refuses damaged or foreign files without changing
//! anything.

use serde_json::{Value, json};

use crate::util::*;
use crate::util_cli::*;

/// Conversation ids of `list --json`, sorted.
async fn listed(env: &TestEnv, db: &std::path::Path) -> Vec<String> {
    let list = cli_on(env, db, &["list", "--json"]).await.json();
    let mut ids: Vec<String> = list["conversations"]
        .as_array()
        .unwrap_or_else(|| panic!("no conversations in {list}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_backup_restores_its_conversations_over_newer_ones_with_their_tokens() {
    let Some(env) = TestEnv::postgres("backup_export") else {
        return;
    };
    let p = populate(&env).await;
    let file = env.dir.join("backups").join("bridge.backup");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let file_arg = file.to_str().unwrap();
    let said = cli(&env, &["backup", file_arg]).await.ok();
    assert!(
        said.contains("2 conversations, 5 messages; an export-based backup"),
        "{said}"
    );
    assert!(!said.contains("password"), "{said}");
    let key_file = env.dir.join("backups").join("bridge.backup.key");
    assert_eq!((mode(&file), mode(&key_file)), (0o600, 0o600));
    let text = std::fs::read_to_string(&file).unwrap();
    for plain in [
        "POST /todos",
        "building the list view",
        &p.busy.a,
        &p.busy.b,
    ] {
        assert!(!text.contains(plain), "the backup shows {plain:?}");
    }
    let before = cli(&env, &["show", &p.busy.id, "--json"]).await.json();
    let mut ids_before = listed(&env, &env.db).await;

    // Life goes on after the backup: a new conversation, more messages.
    let server = env.server_with(NO_LIMITS).await;
    let newer = Conv::create(&server).await;
    let late = send(&server, &p.busy, "a", "sent after the backup").await;
    let late_id = late["message_id"].as_i64().unwrap();

    // Replacing conversations is never done by accident.
    cli(&env, &["restore", file_arg])
        .await
        .fails(1, "holds 3 conversations; restoring");
    assert_eq!(listed(&env, &env.db).await.len(), 3);

    let said = cli(&env, &["restore", file_arg, "--force"]).await.ok();
    assert_eq!(
        said,
        format!(
            "Restored {file_arg} (an export-based backup) into {}: 2 conversations and 5 messages, replacing the 3 it held.\n",
            env.db.display()
        )
    );
    ids_before.sort();
    assert_eq!(listed(&env, &env.db).await, ids_before);
    assert_eq!(
        cli(&env, &["show", &p.busy.id, "--json"]).await.json(),
        before,
        "the conversation is as it was at the backup"
    );
    // The running server serves the restored data: the old tokens work (same
    // key file), the unread message is delivered again, the newer conversation
    // is gone, and a new message gets an id above every id used before.
    let inbox = check(&server, &p.busy, "a", json!({})).await;
    assert_eq!(contents(&inbox), ["thanks, building the list view"]);
    let gone = call(&server, "check_messages", newer.args("a", json!({}))).await;
    tool_error(&gone, "auth_failed");
    let next = send(&server, &p.busy, "b", "after the restore").await;
    assert!(next["message_id"].as_i64().unwrap() > late_id, "{next}");
    server.stop().await;

    let restores = cli(&env, &["audit", "--action", "restore", "--json"])
        .await
        .json();
    let records = restores["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "the refusal and the restore: {restores}");
    assert!(
        records.iter().any(|r| r["detail"]
            .as_str()
            .unwrap_or("")
            .contains("conversations_removed=3")),
        "{restores}"
    );
    cli(&env, &["audit", "--verify"]).await.ok();
}

/// Asserts that the database still holds its two conversations, `conv` as `before`.
async fn unchanged(env: &TestEnv, conv: &str, before: &Value) {
    let now = cli(env, &["show", conv, "--json"]).await.json();
    assert_eq!(&now, before, "the database changed");
    assert_eq!(listed(env, &env.db).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_foreign_or_sqlite_backup_changes_nothing_on_postgres() {
    let Some(env) = TestEnv::postgres("backup_export_bad") else {
        return;
    };
    let p = populate(&env).await;
    let file = env.dir.join("bridge.backup");
    let file_arg = file.to_str().unwrap();
    cli(&env, &["backup", file_arg]).await.ok();
    let before = cli(&env, &["show", &p.busy.id, "--json"]).await.json();
    // One altered character inside the sealed document.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    let sealed = doc["sealed"].as_str().unwrap().to_owned();
    let mid = sealed.len() / 2;
    let flipped = if &sealed[mid..=mid] == "A" { "B" } else { "A" };
    doc["sealed"] = json!(format!("{}{flipped}{}", &sealed[..mid], &sealed[mid + 1..]));
    let altered = env.dir.join("altered.backup");
    std::fs::write(&altered, doc.to_string()).unwrap();
    std::fs::copy(
        env.dir.join("bridge.backup.key"),
        env.dir.join("altered.backup.key"),
    )
    .unwrap();
    let why = cli(&env, &["restore", altered.to_str().unwrap(), "--force"])
        .await
        .fails(2, "the sealed export was altered or is damaged");
    assert!(!why.contains(&sealed[..40]), "{why}");
    unchanged(&env, &p.busy.id, &before).await;

    // The key file of another bridge: an SQLite database of its own.
    let other_db = env.dir.join("other").join("bridge.db");
    let sqlite = |args: &[&str]| {
        let mut cmd = env.bridge();
        cmd.env_remove("MCP_BRIDGE_KEY_FILE")
            .args(args)
            .arg("--db")
            .arg(&other_db);
        run_cmd(cmd, None)
    };
    let plain = env.dir.join("plain.json");
    cli(
        &env,
        &["export", "--plaintext", "-o", plain.to_str().unwrap()],
    )
    .await
    .ok();
    sqlite(&["import", plain.to_str().unwrap()]).await.ok();
    let foreign = env.dir.join("foreign.backup");
    std::fs::copy(&file, &foreign).unwrap();
    std::fs::copy(
        other_db.with_file_name("bridge.key"),
        env.dir.join("foreign.backup.key"),
    )
    .unwrap();
    cli(&env, &["restore", foreign.to_str().unwrap(), "--force"])
        .await
        .fails(2, "sealed with the key file whose fingerprint is");
    unchanged(&env, &p.busy.id, &before).await;

    // An SQLite file backup cannot go into PostgreSQL; export/import can.
    let sqlite_backup = env.dir.join("sqlite.backup");
    sqlite(&["backup", sqlite_backup.to_str().unwrap()])
        .await
        .ok();
    cli(
        &env,
        &["restore", sqlite_backup.to_str().unwrap(), "--force"],
    )
    .await
    .fails(
        2,
        "cannot restore an SQLite database file into a PostgreSQL database",
    );
    unchanged(&env, &p.busy.id, &before).await;

    // Not a backup at all.
    let junk = env.dir.join("junk.backup");
    std::fs::write(&junk, "{\"format\": \"something else\"}").unwrap();
    std::fs::copy(
        env.dir.join("bridge.backup.key"),
        env.dir.join("junk.backup.key"),
    )
    .unwrap();
    cli(&env, &["restore", junk.to_str().unwrap(), "--force"])
        .await
        .fails(2, "the export file is invalid");
    unchanged(&env, &p.busy.id, &before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_backup_moves_into_a_new_sqlite_database_with_its_key() {
    let Some(env) = TestEnv::postgres("backup_export_move") else {
        return;
    };
    let p = populate(&env).await;
    let file = env.dir.join("bridge.backup");
    cli(&env, &["backup", file.to_str().unwrap()]).await.ok();
    let target = env.dir.join("moved").join("bridge.db");
    // Without the shared key file of the PostgreSQL deployment, the new
    // database's key file is the backup's.
    let mut cmd = env.bridge();
    cmd.env_remove("MCP_BRIDGE_KEY_FILE")
        .args(["restore", file.to_str().unwrap(), "--db"])
        .arg(&target);
    let said = run_cmd(cmd, None).await.ok();
    assert!(said.contains("2 conversations and 5 messages."), "{said}");
    assert!(
        said.contains("Its key file is now this database's"),
        "{said}"
    );
    assert_eq!(
        std::fs::read(target.with_file_name("bridge.key")).unwrap(),
        std::fs::read(env.pg_key_file()).unwrap()
    );
    for conv in [&p.busy.id, &p.quiet.id] {
        assert_eq!(
            cli_on(&env, &target, &["show", conv, "--json"])
                .await
                .json(),
            cli(&env, &["show", conv, "--json"]).await.json()
        );
    }
    // The backup's key came along: the same tokens work on the new database.
    let mut cmd = env.bridge();
    cmd.env_remove("MCP_BRIDGE_KEY_FILE")
        .arg("serve")
        .arg("--db")
        .arg(&target);
    let server = Server::spawn(cmd).await;
    let inbox = check(&server, &p.busy, "a", json!({})).await;
    assert_eq!(contents(&inbox), ["thanks, building the list view"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_export_with_its_key_restores_over_an_sqlite_database_keeping_ids_unique() {
    let env = TestEnv::new("backup_export_sqlite");
    let p = populate(&env).await;
    // A sealed export with the key file beside it is an export-based backup.
    let file = env.dir.join("snapshot.export");
    let file_arg = file.to_str().unwrap();
    cli(&env, &["export", "-o", file_arg]).await.ok();
    let key = match env.pg_url() {
        Some(_) => env.pg_key_file(),
        None => env.db.with_file_name("bridge.key"),
    };
    std::fs::copy(&key, env.dir.join("snapshot.export.key")).unwrap();
    let before = cli(&env, &["show", &p.busy.id, "--json"]).await.json();

    let server = env.server_with(NO_LIMITS).await;
    Conv::create(&server).await;
    let late = send(&server, &p.busy, "b", "after the export").await["message_id"]
        .as_i64()
        .unwrap();
    cli(&env, &["restore", file_arg])
        .await
        .fails(1, "holds 3 conversations");
    let said = cli(&env, &["restore", file_arg, "--force"]).await.ok();
    assert!(
        said.ends_with("2 conversations and 5 messages, replacing the 3 it held.\n"),
        "{said}"
    );
    assert_eq!(
        cli(&env, &["show", &p.busy.id, "--json"]).await.json(),
        before
    );
    // Restored messages keep their ids; new ones go above every id used before.
    let next = send(&server, &p.busy, "a", "after the restore").await["message_id"]
        .as_i64()
        .unwrap();
    assert!(next > late, "{next} <= {late}");
    assert_eq!(
        contents(&check(&server, &p.busy, "b", json!({})).await),
        ["after the restore"]
    );
    server.stop().await;
    cli(&env, &["audit", "--verify"]).await.ok();
}
