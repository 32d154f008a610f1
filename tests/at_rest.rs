//! Encryption at rest, end to end: what real `mcp-bridge serve` processes
//! store is sealed (a marker never reaches the database or WAL bytes), a
//! copied database without its key reveals nothing, `key rotate` runs online
//! under two servers and survives being killed, `key_file` keeps the key apart
//! from the database, and a tampered or moved value is a clear error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::util::*;
use crate::util_cli::*;
use crate::yolo_util::{YOLO_ON, activate, bwrap_missing, run, workspace};

/// A word no redaction rule touches, unique to the test run.
fn marker() -> String {
    format!("canary{}", random_from("abcdefghijklmnopqrstuvwxyz", 12))
}

/// Fails if `needle` occurs in the database file or its WAL.
fn assert_absent_from_files(env: &TestEnv, needle: &str, when: &str) {
    for (path, bytes) in env.raw_db_bytes() {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{when}: {} holds {needle:?} in plaintext",
            path.display()
        );
    }
}

/// Runs `mcp-bridge ARGS --db DB` with extra environment variables.
async fn cli_env(env: &TestEnv, db: &Path, vars: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = env.bridge();
    cmd.args(args).arg("--db").arg(db);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    run_cmd(cmd, None).await
}

/// `key status --json` of `db`.
async fn key_status(env: &TestEnv) -> Value {
    cli(env, &["key", "status", "--json"]).await.json()
}

/// Checks `side`'s inbox until nothing more comes; returns id → content.
async fn drain(
    server: &Server,
    conv: &Conv,
    side: &str,
    into: &mut BTreeMap<i64, String>,
    expect_at_least: usize,
) {
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        let body = check(server, conv, side, json!({"limit": 500})).await;
        for m in messages(&body) {
            let id = m["id"].as_i64().expect("id");
            let content = m["content"].as_str().expect("content").to_owned();
            assert!(
                into.insert(id, content).is_none(),
                "message {id} delivered twice"
            );
        }
        if into.len() >= expect_at_least && body["more"] == json!(false) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{side}: {} of {expect_at_least} messages after {EVENT_TIMEOUT:?}",
            into.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_notes_files_and_commands_are_sealed_in_the_files_yet_arrive_intact() {
    if bwrap_missing() {
        return;
    }
    let env = TestEnv::new("at_rest_sealed");
    let m = marker();
    let vars = [YOLO_ON, NO_LIMITS[0]];
    let s1 = env.server_with(&vars).await;
    let s2 = env.server_with(&vars).await;
    let conv = Conv::create(&s1).await;

    let text = format!("the {m} report is done");
    let file = format!("src/{m}.rs");
    ok(&call(
        &s1,
        "send_to_partner",
        conv.args("a", json!({"message": text, "files_involved": [file]})),
    )
    .await);
    let inbox = check(&s2, &conv, "b", json!({})).await;
    let got = messages(&inbox);
    assert_eq!(got.len(), 1, "{inbox}");
    assert_eq!(got[0]["content"], json!(text));
    assert_eq!(got[0]["files_involved"], json!([file]));

    let note = format!("reviewing {m}");
    ok(&call(
        &s2,
        "update_my_status",
        conv.args("b", json!({"status": "working", "note": note})),
    )
    .await);
    let status = ok(&call(&s1, "check_partner_status", conv.args("a", json!({}))).await);
    assert_eq!(status["note"], json!(note));

    // A proposed command and its output (sent to the partner as a system message).
    let ws = workspace(&env, "ws");
    std::fs::write(ws.join(format!("{m}.txt")), "x").unwrap();
    activate(&env, &s1, &conv, "safe", &ws, json!({})).await;
    let command = format!("ls {m}.txt");
    let ran = run(&env, &s1, &conv, &command).await;
    assert!(
        ran["stdout"].as_str().unwrap_or_default().contains(&m),
        "{ran}"
    );
    let inbox = check(&s2, &conv, "b", json!({})).await;
    assert!(
        contents(&inbox).iter().any(|c| c.contains(&m)),
        "the run's output reaches the partner: {inbox}"
    );

    assert_absent_from_files(&env, &m, "servers running");
    s1.stop().await;
    s2.stop().await;
    assert_absent_from_files(&env, &m, "servers stopped");
    assert_eq!(
        env.count("SELECT count(*) FROM yolo_proposals WHERE command LIKE 's1.%'"),
        1
    );

    // With the key, the management commands read it all back.
    let shown = cli(&env, &["show", &conv.id, "--json"]).await.ok();
    assert!(shown.contains(&text) && shown.contains(&note), "{shown}");
    let status = key_status(&env).await;
    assert_eq!(status["plaintext"], 0, "{status}");
    assert_eq!(status["epochs"], json!([1]), "{status}");
    assert_eq!(
        status["sealed"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_database_or_export_without_its_key_reveals_nothing() {
    let env = TestEnv::new("at_rest_stolen");
    let m = marker();
    let server = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&server).await;
    send(&server, &conv, "a", &format!("deploy notes: {m}")).await;
    ok(&call(
        &server,
        "update_my_status",
        conv.args("a", json!({"status": "working", "note": m})),
    )
    .await);
    server.stop().await;
    let export = env.dir.join("export.json");
    let said = cli(&env, &["export", "-o", export.to_str().unwrap()])
        .await
        .ok();
    assert!(
        said.contains("sealed: only a bridge with the key file"),
        "{said}"
    );
    let sealed_text = std::fs::read_to_string(&export).unwrap();
    assert!(!sealed_text.contains(&m), "the export is plaintext");
    assert_eq!(
        serde_json::from_str::<Value>(&sealed_text).unwrap()["format"],
        "mcp-bridge-export-sealed"
    );

    // The database file alone, in a directory without its key. A PostgreSQL
    // database is no file to copy: its copy is a dump, which `secrets::`
    // searches for the plaintext.
    if env.pg_url().is_none() {
        let stolen_dir = env.dir.join("stolen");
        std::fs::create_dir_all(&stolen_dir).unwrap();
        let stolen = stolen_dir.join("bridge.db");
        std::fs::copy(&env.db, &stolen).unwrap();
        for args in [
            &["show", conv.id.as_str(), "--json"][..],
            &["export", "--plaintext"],
            &["list"],
        ] {
            let run = cli_on(&env, &stolen, args).await;
            assert_eq!(run.code, 2, "{args:?}: {run:?}");
            assert!(run.stderr.contains("key file is needed"), "{}", run.stderr);
            assert!(!run.stdout.contains(&m) && !run.stderr.contains(&m));
        }
        // With some other key file the values still do not open: a clear error.
        std::fs::write(
            stolen_dir.join("bridge.key"),
            format!("{}\n", random_hex(32)),
        )
        .unwrap();
        set_private(&stolen_dir.join("bridge.key"));
        for args in [
            &["show", conv.id.as_str(), "--json"][..],
            &["export", "--plaintext"],
        ] {
            let run = cli_on(&env, &stolen, args).await;
            assert_eq!(run.code, 2, "{args:?}: {run:?}");
            assert!(
                run.stderr.contains("does not open") && run.stderr.contains("another key file"),
                "{}",
                run.stderr
            );
            assert!(!run.stdout.contains(&m) && !run.stderr.contains(&m));
        }
    }
    // The sealed export does not import without its key file, and says why,
    // leaving no database behind. Each target's key file is named the way it
    // defaults beside an SQLite file, so the same holds when every process
    // of the test has key_file set (on PostgreSQL).
    let other_dir = env.dir.join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let other = other_dir.join("bridge.db");
    let other_key = other_dir.join("bridge.key");
    let other_vars = [("MCP_BRIDGE_KEY_FILE", other_key.to_str().unwrap())];
    cli_env(
        &env,
        &other,
        &other_vars,
        &["import", export.to_str().unwrap()],
    )
    .await
    .fails(2, "it is sealed with a key file, and there is none at");
    std::fs::write(
        other_dir.join("bridge.key"),
        format!("{}\n", random_hex(32)),
    )
    .unwrap();
    set_private(&other_dir.join("bridge.key"));
    cli_env(
        &env,
        &other,
        &other_vars,
        &["import", export.to_str().unwrap()],
    )
    .await
    .fails(2, "sealed with the key file whose fingerprint is");
    assert!(!other.exists(), "a database was left behind");
    // Into a fresh database that has the same key file, it imports.
    let fresh_dir = env.dir.join("fresh");
    std::fs::create_dir_all(&fresh_dir).unwrap();
    std::fs::copy(env.key_file(), fresh_dir.join("bridge.key")).unwrap();
    let fresh = fresh_dir.join("bridge.db");
    let fresh_key = fresh_dir.join("bridge.key");
    let fresh_vars = [("MCP_BRIDGE_KEY_FILE", fresh_key.to_str().unwrap())];
    cli_env(
        &env,
        &fresh,
        &fresh_vars,
        &["import", export.to_str().unwrap()],
    )
    .await
    .ok();
    let shown = cli_env(&env, &fresh, &fresh_vars, &["show", &conv.id, "--json"])
        .await
        .ok();
    assert!(shown.contains(&m), "{shown}");
}

fn set_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_or_moved_value_is_a_clear_error_and_the_server_keeps_serving() {
    let env = TestEnv::new("at_rest_tamper");
    let server = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&server).await;
    let first = send(&server, &conv, "a", "first").await["message_id"]
        .as_i64()
        .unwrap();
    let second = send(&server, &conv, "a", "second").await["message_id"]
        .as_i64()
        .unwrap();
    let original = env
        .value(&format!("SELECT content FROM messages WHERE id = {first}"))
        .expect("the first message");
    // Move the second message's sealed text into the first row.
    tamper(
        &env.db,
        &format!(
            "UPDATE messages SET content = (SELECT content FROM messages WHERE id = {second}) WHERE id = {first}"
        ),
    );
    let refused = call(&server, "check_messages", conv.args("b", json!({}))).await;
    tool_error(&refused, "internal_error");
    let run = cli(&env, &["show", &conv.id]).await;
    let line = run.fails(2, "does not open");
    assert!(line.contains(&format!("row {first}")), "{line}");
    assert!(!line.contains("second"), "{line}");
    // Put the first back and flip one character of the second's ciphertext
    // instead (PostgreSQL keeps the text as BYTEA holding UTF-8).
    let flip = if env.pg_url().is_some() {
        "overlay(content placing CASE substring(content from 21 for 1) WHEN 'A'::bytea THEN 'B'::bytea ELSE 'A'::bytea END from 21 for 1)"
    } else {
        "substr(content, 1, 20) || CASE substr(content, 21, 1) WHEN 'A' THEN 'B' ELSE 'A' END || substr(content, 22)"
    };
    tamper(
        &env.db,
        &format!(
            "UPDATE messages SET content = '{original}' WHERE id = {first};
             UPDATE messages SET content = {flip} WHERE id = {second}"
        ),
    );
    let refused = call(&server, "check_messages", conv.args("b", json!({}))).await;
    tool_error(&refused, "internal_error");
    let line = cli(&env, &["show", &conv.id])
        .await
        .fails(2, "does not open");
    assert!(line.contains(&format!("row {second}")), "{line}");
    // The server is still up and everything else works.
    let status = ok(&call(&server, "check_partner_status", conv.args("b", json!({}))).await);
    assert_eq!(status["status"], "unknown");
    // A rotation stops at the damaged row, names it, and leaves the rest readable.
    let line = cli(&env, &["key", "rotate"])
        .await
        .fails(2, "the rotation stopped");
    assert!(line.contains(&format!("row {second}")), "{line}");
    // Nothing was retired: the first message still opens.
    assert_eq!(key_status(&env).await["epochs"], json!([1, 2]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotate_under_two_busy_servers_loses_nothing_and_a_killed_rotation_finishes_on_rerun() {
    let env = TestEnv::new("at_rest_rotate");
    let s1 = env.server_with(NO_LIMITS).await;
    let s2 = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&s1).await;
    let mut sent_before = Vec::new();
    for n in 0..30 {
        let side = if n % 2 == 0 { "a" } else { "b" };
        sent_before.push(send(&s2, &conv, side, &format!("before {n}")).await);
    }
    ok(&call(
        &s1,
        "update_my_status",
        conv.args("a", json!({"status": "working", "note": "rotating"})),
    )
    .await);
    // A value from before encryption at rest: plaintext, read as it is once
    // the upgrade has found it (servers restarted on the upgraded database).
    s1.stop().await;
    s2.stop().await;
    let legacy = sent_before[0]["message_id"].as_i64().unwrap();
    let content = unsealed(&env.db, "legacy plaintext");
    tamper(
        &env.db,
        &format!("UPDATE messages SET content = {content}, files = '[]' WHERE id = {legacy}"),
    );
    as_if_not_yet_upgraded(&env.db);
    // (An empty file list is stored as `[]` either way: not counted.)
    let status = key_status(&env).await;
    assert_eq!(status["plaintext"], 1, "{status}");
    assert_eq!(status["plaintext_opens"], true, "{status}");
    let s1 = env.server_with(NO_LIMITS).await;
    let s2 = env.server_with(NO_LIMITS).await;

    // Rotate three times while one server writes and the other reads.
    let writer = Writer::start(&s1, &conv);
    writer.wait_for(5).await;
    let mut received_a = BTreeMap::new();
    let mut received_b = BTreeMap::new();
    for round in 0..3 {
        let rotated = cli(&env, &["key", "rotate", "--batch", "7", "--json"])
            .await
            .json();
        assert_eq!(
            rotated["kept_epochs"],
            json!([]),
            "round {round}: {rotated}"
        );
        assert_eq!(rotated["retired_epochs"], json!([round + 1]), "{rotated}");
        assert_eq!(rotated["epoch"], json!(round + 2), "{rotated}");
        if round == 0 {
            assert_eq!(rotated["were_plaintext"], 1, "{rotated}");
        }
        // The other server reads what was sealed under the new key meanwhile.
        drain(&s2, &conv, "a", &mut received_a, 0).await;
        drain(&s2, &conv, "b", &mut received_b, 0).await;
    }
    let acked = writer.stop().await;
    send(&s2, &conv, "a", "after the rotations").await;
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        drain(&s2, &conv, "a", &mut received_a, 0).await;
        drain(&s1, &conv, "b", &mut received_b, 0).await;
        if rows(&env, "pending_deliveries") == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "inboxes never emptied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let all: BTreeMap<i64, String> = received_a.into_iter().chain(received_b).collect();
    for id in &acked {
        let content = all
            .get(id)
            .unwrap_or_else(|| panic!("acked message {id} lost"));
        assert!(content.starts_with("burst message "), "{id}: {content:?}");
    }
    assert_eq!(
        all.get(&legacy).map(String::as_str),
        Some("legacy plaintext")
    );
    assert_eq!(all.len(), 31 + acked.len());
    let status = key_status(&env).await;
    assert_eq!(status["epochs"], json!([4]), "{status}");
    assert_eq!(status["plaintext"], 0, "{status}");
    assert_eq!(status["plaintext_opens"], false, "{status}");
    assert_eq!(status["sealed"].as_array().unwrap().len(), 1, "{status}");
    assert_eq!(status["sealed"][0]["epoch"], 4, "{status}");

    // Killed after two batches: both epochs stay, everything stays readable.
    let killed = cli_env(
        &env,
        &env.db,
        &[("MCP_BRIDGE_TEST_ROTATE_ABORT_AFTER", "2")],
        &["key", "rotate", "--batch", "5"],
    )
    .await;
    assert_ne!(killed.code, 0, "{killed:?}");
    let status = key_status(&env).await;
    assert_eq!(status["epochs"], json!([4, 5]), "{status}");
    let by_epoch: Vec<i64> = status["sealed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["epoch"].as_i64().unwrap())
        .collect();
    assert_eq!(by_epoch, [4, 5], "half re-sealed: {status}");
    cli(&env, &["show", &conv.id, "--json"]).await.ok();
    send(&s1, &conv, "b", "during a broken rotation").await;
    let inbox = check(&s2, &conv, "a", json!({})).await;
    assert_eq!(contents(&inbox), ["during a broken rotation"]);
    // Run again: a new epoch, every value on it, the old salts gone.
    let rotated = cli(&env, &["key", "rotate", "--json"]).await.json();
    assert_eq!(rotated["epoch"], 6, "{rotated}");
    assert_eq!(rotated["retired_epochs"], json!([4, 5]), "{rotated}");
    let status = key_status(&env).await;
    assert_eq!(status["epochs"], json!([6]), "{status}");
    assert_eq!(status["sealed"][0]["epoch"], 6, "{status}");
    assert_eq!(status["sealed"].as_array().unwrap().len(), 1, "{status}");
    let shown = cli(&env, &["show", &conv.id, "--json"]).await.json();
    assert!(shown.to_string().contains("legacy plaintext"), "{shown}");
    s1.stop().await;
    s2.stop().await;
    // Audited with counts only; the chain is intact.
    assert_eq!(
        env.count("SELECT count(*) FROM audit_log WHERE action = 'key_rotate' AND outcome = 'ok' AND detail LIKE 'epoch=%'"),
        4
    );
    assert_audit_intact(&env, "after the rotations");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_file_apart_from_the_database_is_used_by_every_server_and_command() {
    let env = TestEnv::new("at_rest_key_file");
    if env.sqlite_only(
        "the default key file beside the SQLite file versus key_file; a PostgreSQL \
         database has no beside, so every PostgreSQL test already runs on key_file",
    ) {
        return;
    }
    let key: PathBuf = env.dir.join("secure").join("keys").join("bridge.key");
    let key_arg = key.to_str().unwrap();
    let by_env = [("MCP_BRIDGE_KEY_FILE", key_arg)];
    let config = env.dir.join("bridge.toml");
    std::fs::write(&config, format!("key_file = {:?}\n", key_arg)).unwrap();

    let s1 = env.server_with(&[by_env[0], NO_LIMITS[0]]).await;
    let mut cmd = env.serve_command(NO_LIMITS);
    cmd.arg("--config").arg(&config);
    let s2 = Server::spawn(cmd).await;
    let conv = Conv::create(&s1).await;
    // s2 read the same key through its config file: b's token works there.
    send(&s2, &conv, "b", "same key, other process").await;
    assert_eq!(
        contents(&check(&s1, &conv, "a", json!({})).await),
        ["same key, other process"]
    );
    assert!(
        !env.db.with_file_name("bridge.key").exists(),
        "a key was made beside the database"
    );
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(key.parent().unwrap()), 0o700);

    let tokens = cli_env(&env, &env.db, &by_env, &["tokens", &conv.id, "--json"])
        .await
        .json();
    assert_eq!(tokens["session_a_token"], json!(conv.a));
    // Without the setting, the database alone opens nothing.
    cli(&env, &["show", &conv.id])
        .await
        .fails(2, "key file is needed");
    // A relative key_file is refused, naming the setting.
    cli_env(
        &env,
        &env.db,
        &[("MCP_BRIDGE_KEY_FILE", "keys/bridge.key")],
        &["list"],
    )
    .await
    .fails(2, "key_file");
    // backup copies that key file; doctor checks it.
    let backup = env.dir.join("bridge-backup.db");
    cli_env(
        &env,
        &env.db,
        &by_env,
        &["backup", backup.to_str().unwrap()],
    )
    .await
    .ok();
    assert_eq!(
        std::fs::read(env.dir.join("bridge-backup.db.key")).unwrap(),
        std::fs::read(&key).unwrap()
    );
    let doctor = cli_env(&env, &env.db, &by_env, &["doctor"]).await;
    assert!(
        doctor
            .stdout
            .contains(&format!("{} is private (mode 600)", key.display())),
        "{}",
        doctor.stdout
    );
    s1.stop().await;
    s2.stop().await;
}
