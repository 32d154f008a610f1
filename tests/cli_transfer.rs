//! The commands that move data, against databases filled by real
//! `mcp-bridge serve` processes: `export` / `import` (round trip, idempotence,
//! merging, refusals, ids never reused). `backup` / `restore` are in
//! `cli_transfer_backup`.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::util::*;
use crate::util_cli::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_into_a_fresh_database_shows_the_same_and_twice_changes_nothing() {
    let env = TestEnv::new("cli_transfer");
    let p = populate(&env).await;
    let file = env.dir.join("export.json");
    let file_arg = file.to_str().unwrap();
    let said = cli(&env, &["export", "--plaintext", "-o", file_arg])
        .await
        .ok();
    assert_eq!(
        said,
        format!(
            "Exported 2 conversations (5 messages) to {file_arg} (format version 2; no tokens, no key; plaintext).\n"
        )
    );
    assert_eq!(mode(&file), 0o600);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        (&doc["format"], &doc["version"]),
        (&json!("mcp-bridge-export"), &json!(2))
    );
    let text = std::fs::read_to_string(&file).unwrap();
    for secret in [&p.busy.a, &p.busy.b, &p.quiet.a] {
        assert!(!text.contains(secret.as_str()), "a token was exported");
    }
    let busy = find(&doc, "conversations", &p.busy.id);
    assert_eq!(busy["messages"][3]["unread_by"], json!(["a"]));
    assert_eq!(busy["participants"][0]["status"], "working");
    cli(&env, &["export", "--plaintext", "-o", file_arg])
        .await
        .fails(1, "exists; add --force");
    let lines = cli(&env, &["export", "--plaintext", "--jsonl", &p.busy.id])
        .await
        .ok();
    assert_eq!(lines.lines().count(), 1 + 1 + 4);
    let jsonl = env.dir.join("export.jsonl");
    std::fs::write(&jsonl, &lines).unwrap();

    let fresh = env.dir.join("fresh").join("bridge.db");
    let run = cli_on(&env, &fresh, &["import", file_arg]).await;
    assert_eq!(
        run.stderr,
        format!(
            "mcp-bridge: created a new database at {}\n",
            fresh.display()
        )
    );
    assert_eq!(
        run.ok(),
        format!(
            "Imported {file_arg}: 2 conversations added, 0 updated, 0 already present; 5 messages added, 0 already present.\n"
        )
    );
    for conv in [&p.busy.id, &p.quiet.id] {
        let before = cli(&env, &["show", conv, "--json"]).await.json();
        assert_eq!(
            cli_on(&env, &fresh, &["show", conv, "--json"]).await.json(),
            before
        );
        let before = mask_relative(&cli(&env, &["show", conv]).await.ok());
        assert_eq!(
            mask_relative(&cli_on(&env, &fresh, &["show", conv]).await.ok()),
            before
        );
    }
    // The fresh database has its own key, so the same conversation has other
    // tokens there (on PostgreSQL every process of the test uses one key_file).
    if env.pg_url().is_none() {
        let tokens = cli_on(&env, &fresh, &["tokens", &p.busy.id, "--json"])
            .await
            .json();
        assert_ne!(tokens["session_a_token"], p.busy.a);
    }

    // Twice: nothing changes (but the audit trail records the attempt).
    let export_of = |db: PathBuf| {
        let env = &env;
        async move {
            let mut doc = cli_on(env, &db, &["export", "--plaintext"]).await.json();
            doc["exported_at"] = Value::Null;
            doc
        }
    };
    let snapshot = export_of(fresh.clone()).await;
    let second = cli_on(&env, &fresh, &["import", file_arg, "--json"])
        .await
        .json();
    assert_eq!(
        second,
        json!({"file": file_arg, "conversations_in_file": 2, "messages_in_file": 5, "conversations_added": 0,
               "conversations_updated": 0, "conversations_unchanged": 2, "messages_added": 0, "messages_skipped": 5,
               "messages_renumbered": 0, "redactions": 0})
    );
    let jsonl_again = cli_on(&env, &fresh, &["import", jsonl.to_str().unwrap(), "--json"])
        .await
        .json();
    assert_eq!(
        (
            &jsonl_again["messages_added"],
            &jsonl_again["conversations_unchanged"]
        ),
        (&json!(0), &json!(1))
    );
    assert_eq!(export_of(fresh.clone()).await, snapshot);
    let mut original = export_of(env.db.clone()).await;
    original["exported_at"] = Value::Null;
    assert_eq!(snapshot, original);

    // The conversation went on after the export: importing a newer export merges
    // the new message and the newer status, and keeps the rest.
    let server = env.server_with(NO_LIMITS).await;
    ok(&call(
        &server,
        "update_my_status",
        p.busy.args("b", json!({"status": "complete"})),
    )
    .await);
    let later = send(&server, &p.busy, "a", "one more thing").await;
    server.stop().await;
    let newer_export = env.dir.join("later.json");
    cli(
        &env,
        &[
            "export",
            "--plaintext",
            "-o",
            newer_export.to_str().unwrap(),
        ],
    )
    .await
    .ok();
    let merged = cli_on(
        &env,
        &fresh,
        &["import", newer_export.to_str().unwrap(), "--json"],
    )
    .await
    .json();
    assert_eq!(
        (
            &merged["conversations_updated"],
            &merged["conversations_unchanged"],
            &merged["messages_added"],
            &merged["messages_skipped"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(5))
    );
    let there = cli_on(&env, &fresh, &["show", &p.busy.id, "--json"])
        .await
        .json();
    assert_eq!(
        there,
        cli(&env, &["show", &p.busy.id, "--json"]).await.json()
    );
    assert_eq!(there["messages"][4]["id"], later["message_id"]);
    assert_eq!(
        there["conversation"]["participants"][1]["status"],
        "complete"
    );

    // Into a database whose ids are taken: the messages get new ids, in the same order.
    let other = TestEnv::new("cli_transfer_other");
    let mine = populate(&other).await;
    let merged = cli_on(&other, &other.db, &["import", file_arg, "--json"])
        .await
        .json();
    assert_eq!(
        (&merged["messages_added"], &merged["messages_renumbered"]),
        (&json!(5), &json!(5))
    );
    let moved = cli_on(&other, &other.db, &["show", &p.busy.id, "--json"])
        .await
        .json();
    let contents: Vec<&Value> = moved["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["content"])
        .collect();
    let expected: Vec<&Value> = busy["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["content"])
        .collect();
    assert_eq!(contents, expected);
    let ids: Vec<i64> = moved["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    let own_max = mine
        .sent
        .iter()
        .map(|s| s["message_id"].as_i64().unwrap())
        .max()
        .unwrap();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]) && ids[0] > own_max,
        "{ids:?}"
    );
    let again = cli_on(&other, &other.db, &["import", file_arg, "--json"])
        .await
        .json();
    assert_eq!(
        (&again["messages_added"], &again["messages_skipped"]),
        (&json!(0), &json!(5))
    );

    // A newer format version, a corrupt file, and a conflicting conversation are refused whole.
    let newer = env.dir.join("newer.json");
    std::fs::write(&newer, text.replacen("\"version\": 2", "\"version\": 3", 1)).unwrap();
    let empty = env.dir.join("never").join("bridge.db");
    cli_on(&env, &empty, &["import", newer.to_str().unwrap()])
        .await
        .fails(2, "format version 3, newer than version 2");
    assert!(!empty.exists(), "a refused import created a database");
    let corrupt = env.dir.join("corrupt.json");
    std::fs::write(&corrupt, text.replace("\"question\"", "\"gossip\"")).unwrap();
    let before = other.count("SELECT count(*) FROM messages");
    let line = cli_on(&other, &other.db, &["import", corrupt.to_str().unwrap()])
        .await
        .fails(2, "the export file is invalid");
    assert!(
        line.contains(&format!(
            "({}): message {}: `action_type`",
            p.busy.id, p.sent[1]["message_id"]
        )),
        "{line}"
    );
    let conflict = env.dir.join("conflict.json");
    std::fs::write(&conflict, text.replace("\"frontend dev\"", "\"impostor\"")).unwrap();
    cli_on(&other, &other.db, &["import", conflict.to_str().unwrap()])
        .await
        .fails(2, "already exists with other roles or times");
    assert_eq!(other.count("SELECT count(*) FROM messages"), before);
    let truncated = env.dir.join("truncated.json");
    std::fs::write(&truncated, &text.as_bytes()[..text.len() / 2]).unwrap();
    cli_on(&other, &other.db, &["import", truncated.to_str().unwrap()])
        .await
        .fails(2, "the export file is invalid");

    // Reading from stdin works too.
    let mut cmd = other.bridge();
    cmd.args(["import", "-", "--json", "--db"]).arg(&other.db);
    let piped = run_cmd(cmd, Some(lines.as_bytes())).await.json();
    assert_eq!(
        (&piped["file"], &piped["messages_skipped"]),
        (&json!("stdin"), &json!(4))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_never_reuses_an_id_even_when_kept_and_renumbered_ids_mix() {
    let env = TestEnv::new("cli_import_ids");
    populate(&env).await; // message ids 1 to 5
    let conversation = |id: &str| {
        json!({"conversation": {"id": id, "created_at": "2026-01-31T12:00:00Z", "expires_at": live_until(),
            "participants": [{"side": "a", "role": "x", "status": null, "note": null, "status_at": null},
                             {"side": "b", "role": "y", "status": null, "note": null, "status_at": null}]}})
    };
    let message = |conv: &str, id: i64, unread: &[&str]| {
        json!({"message": {"conversation_id": conv, "id": id, "from": "a", "action_type": "info", "content": format!("m{id}"),
            "files_involved": [], "created_at": format!("2026-01-31T12:00:{id:02}Z"), "unread_by": unread}})
    };
    // The first conversation's ids are taken here; the second's are free but
    // lie where a naive renumbering of the first would put its messages.
    let (x, y) = ("conv_00000000000000d1", "conv_00000000000000d2");
    let lines = [
        json!({"format": "mcp-bridge-export", "version": 1, "layout": "jsonl"}),
        conversation(x),
        message(x, 3, &[]),
        message(x, 4, &["b"]),
        conversation(y),
        message(y, 6, &[]),
        message(y, 7, &["b"]),
    ];
    let file = env.dir.join("mixed.jsonl");
    std::fs::write(
        &file,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    let said = cli(&env, &["import", file.to_str().unwrap(), "--json"])
        .await
        .json();
    assert_eq!(
        (&said["messages_added"], &said["messages_renumbered"]),
        (&json!(4), &json!(2))
    );
    let ids = |conv: &'static str| {
        let env = &env;
        async move {
            let shown = cli(env, &["show", conv, "--json"]).await.json();
            shown["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    (
                        m["id"].as_i64().unwrap(),
                        m["content"].as_str().unwrap().to_owned(),
                        m["read"].as_bool().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        ids(x).await,
        [(8, "m3".to_owned(), true), (9, "m4".to_owned(), false)]
    );
    assert_eq!(
        ids(y).await,
        [(6, "m6".to_owned(), true), (7, "m7".to_owned(), false)]
    );
    assert_eq!(message_ids(&env.db), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    let list = cli(&env, &["list", "--json"]).await.json();
    assert_eq!(
        find(&list, "conversations", x)["messages"],
        json!({"total": 2, "unread": {"a": 0, "b": 1}})
    );
}
