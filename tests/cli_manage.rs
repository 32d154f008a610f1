//! The inspection commands against databases filled by real `mcp-bridge
//! serve` processes: `list`, `show`, `tokens`, `redact --jsonl`, and the error
//! paths (`audit` is in `cli_audit.rs`, `cleanup` in `cli_cleanup.rs`).

use serde_json::{Value, json};

use crate::util::*;
use crate::util_cli::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_show_and_tokens_describe_what_the_servers_stored() {
    let env = TestEnv::new("cli_inspect");
    let p = populate(&env).await;
    // Everything below runs while another server keeps writing to a third conversation.
    let server = env.server_with(NO_LIMITS).await;
    let noisy = Conv::create_with_roles(&server, "noisy", "sink").await;
    let writer = Writer::start(&server, &noisy);
    writer.wait_for(3).await;

    let table = cli(&env, &["list"]).await.ok();
    let header = cells(table.lines().next().unwrap());
    assert_eq!(
        header,
        [
            "ID",
            "ROLES (A ↔ B)",
            "CREATED",
            "EXPIRES",
            "MESSAGES",
            "UNREAD A/B",
            "A STATUS",
            "B STATUS"
        ]
    );
    let busy = row(&table, &p.busy.id);
    assert_eq!(busy[1], "backend ↔ frontend dev");
    assert!(
        busy[2].ends_with("ago)") || busy[2].ends_with("(just now)"),
        "{busy:?}"
    );
    assert!(
        busy[3].contains("UTC (in 2 h 59 min)") || busy[3].contains("UTC (in 3 h)"),
        "{busy:?}"
    );
    assert_eq!((busy[4].as_str(), busy[5].as_str()), ("4", "1/0"));
    assert!(
        busy[6].starts_with("working, ") && busy[7].starts_with("waiting, "),
        "{busy:?}"
    );
    let quiet = row(&table, &p.quiet.id);
    assert_eq!(
        (quiet[1].as_str(), quiet[4].as_str(), quiet[5].as_str()),
        ("writer ↔ reviewer", "1", "0/1")
    );
    assert_eq!(
        (quiet[6].as_str(), quiet[7].as_str()),
        ("unknown", "unknown")
    );
    assert!(table.lines().any(|l| l.starts_with(&noisy.id)));
    assert!(table.ends_with("\n3 conversations\n"), "{table}");

    let list = cli(&env, &["list", "--json"]).await.json();
    assert_eq!(list["conversations"].as_array().unwrap().len(), 3);
    let busy = find(&list, "conversations", &p.busy.id);
    assert_eq!(
        busy["messages"],
        json!({"total": 4, "unread": {"a": 1, "b": 0}})
    );
    assert_eq!(busy["expired"], false);
    assert_eq!(busy["last_message_at"], p.sent[3]["created_at"]);
    let a = &busy["participants"][0];
    assert_eq!(
        (
            &a["side"],
            &a["role"],
            &a["status"],
            &a["note"],
            &a["alive"]
        ),
        (
            &json!("a"),
            &json!("backend"),
            &json!("working"),
            &json!("adding ?done"),
            &json!(true)
        )
    );
    assert!(
        a["seconds_since_heartbeat"]
            .as_u64()
            .is_some_and(|s| s < 60),
        "{a}"
    );
    let b = &busy["participants"][1];
    assert_eq!(
        (&b["role"], &b["status"], &b["note"]),
        (&json!("frontend dev"), &json!("waiting"), &Value::Null)
    );
    let created: jiff::Timestamp = busy["created_at"].as_str().unwrap().parse().unwrap();
    let expires: jiff::Timestamp = busy["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires.duration_since(created).as_secs(), 3 * 3600);
    let active = cli(&env, &["list", "--active", "--json"]).await.json();
    assert_eq!(active["conversations"].as_array().unwrap().len(), 3);

    // `show --json`: every message in order, with read state, exactly as sent.
    let shown = cli(&env, &["show", &p.busy.id, "--json"]).await.json();
    let ids: Vec<&Value> = p.sent.iter().map(|s| &s["message_id"]).collect();
    let msgs = shown["messages"].as_array().unwrap();
    assert_eq!(msgs.iter().map(|m| &m["id"]).collect::<Vec<_>>(), ids);
    assert_eq!(
        msgs[0],
        json!({
            "id": ids[0], "created_at": p.sent[0]["created_at"], "from": "a", "from_role": "backend", "to": ["b"],
            "action_type": "proposal", "read": true, "unread_by": [], "content": "POST /todos returns 201",
            "files_involved": ["api/routes.rs", "docs/api.md"],
        })
    );
    assert_eq!(
        msgs[1]["content"],
        "deploy key AWS_KEY_REDACTED is in the env"
    );
    assert_eq!(
        (&msgs[3]["read"], &msgs[3]["unread_by"], &msgs[3]["to"]),
        (&json!(false), &json!(["a"]), &json!(["a"]))
    );
    assert_eq!(
        shown["conversation"]["participants"][0]["note"],
        "adding ?done"
    );

    // `show`: the header, then each message with time, direction, type, state and its first lines.
    let c = &shown["conversation"];
    let part = |i: usize| &c["participants"][i];
    let message_head = |i: usize, dir: &str, kind: &str, state: &str| {
        format!(
            "#{}  {} (…)  {dir}  {kind}  {state}",
            msgs[i]["id"],
            absolute(&msgs[i]["created_at"])
        )
    };
    let expected = [
        format!("Conversation {}", p.busy.id),
        "  roles     a: backend   b: frontend dev".to_owned(),
        format!("  created   {} (…)", absolute(&c["created_at"])),
        format!("  expires   {} (…)", absolute(&c["expires_at"])),
        format!(
            "  status    a: working \"adding ?done\", heartbeat {} (…)",
            absolute(&part(0)["last_heartbeat"])
        ),
        format!(
            "            b: waiting, heartbeat {} (…)",
            absolute(&part(1)["last_heartbeat"])
        ),
        "  messages  4 (unread: a 1, b 0)".to_owned(),
        String::new(),
        message_head(0, "a (backend) → b (frontend dev)", "proposal", "read"),
        "  │ POST /todos returns 201".to_owned(),
        "    files: api/routes.rs, docs/api.md".to_owned(),
        String::new(),
        message_head(1, "b (frontend dev) → a (backend)", "question", "read"),
        "  │ deploy key AWS_KEY_REDACTED is in the env".to_owned(),
        String::new(),
        message_head(2, "a (backend) → b (frontend dev)", "answer", "read"),
        "  │ line one".to_owned(),
        "  │ line two".to_owned(),
        "  │ line three".to_owned(),
        "    … 2 more lines (--full shows all)".to_owned(),
        String::new(),
        message_head(3, "b (frontend dev) → a (backend)", "info", "unread"),
        "  │ thanks, building the list view".to_owned(),
    ]
    .join("\n")
        + "\n";
    let text = mask_relative(&cli(&env, &["show", &p.busy.id]).await.ok());
    assert_eq!(text, expected);
    let full = cli(&env, &["show", &p.busy.id, "--full"]).await.ok();
    assert!(
        full.contains("  │ line three\n  │ line four\n  │ line five\n")
            && !full.contains("more lines"),
        "{full}"
    );

    // `tokens`: the very tokens create_conversation handed out, with a warning on stderr.
    let run = cli(&env, &["tokens", &p.busy.id]).await;
    assert!(
        run.stderr
            .starts_with("warning: these are secret session tokens"),
        "{}",
        run.stderr
    );
    let out = run.ok();
    assert_eq!(row(&out, "a  "), ["a", "backend", p.busy.a.as_str()]);
    assert_eq!(row(&out, "b  "), ["b", "frontend dev", p.busy.b.as_str()]);
    assert!(
        out.starts_with(&format!("{}  expires ", p.busy.id)),
        "{out}"
    );
    let tokens = cli(&env, &["tokens", &p.quiet.id, "--json"]).await.json();
    assert_eq!(tokens["session_a_token"], p.quiet.a);
    assert_eq!(tokens["session_b_token"], p.quiet.b);
    assert_eq!(
        (&tokens["conversation_id"], &tokens["expired"]),
        (&json!(p.quiet.id), &json!(false))
    );

    // Every command above is audited; the tokens never are.
    let trail = cli(&env, &["audit", "--action", "tokens", "--json"])
        .await
        .json();
    let details: Vec<&Value> = trail["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["detail"])
        .collect();
    assert_eq!(
        details,
        [
            &json!(format!("tokens revealed for {}", p.busy.id)),
            &json!(format!("tokens revealed for {}", p.quiet.id))
        ]
    );
    let everything = cli(&env, &["audit", "--limit", "100000", "--json"])
        .await
        .ok();
    for secret in [&p.busy.a, &p.busy.b, &p.quiet.a, &p.quiet.b] {
        assert!(
            !everything.contains(secret.as_str()),
            "a token reached the audit trail"
        );
    }
    assert!(
        !everything.contains("POST /todos"),
        "message content reached the audit trail"
    );
    let actions: Vec<String> = serde_json::from_str::<Value>(&everything).unwrap()["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["actor"] == "cli")
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "list", "list", "list", "show", "show", "show", "tokens", "tokens", "audit"
        ]
    );

    // The chain verifies from one snapshot even while the server appends to it.
    let verified = cli(&env, &["audit", "--verify", "--json"]).await.json();
    assert_eq!(
        (&verified["intact"], &verified["fault"]),
        (&json!(true), &Value::Null)
    );
    assert_eq!(verified["records"], verified["head"]);
    writer.stop().await;
    server.stop().await;

    // Unknown conversations are refused with exit 1; malformed ids are usage errors (exit 2).
    let unknown = "conv_00000000000000ff";
    for cmd in ["show", "tokens", "export"] {
        cli(&env, &[cmd, unknown])
            .await
            .fails(1, &format!("unknown conversation {unknown}"));
    }
    let run = cli(&env, &["show", "conv_nope"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("\"conv_nope\" is not a conversation id"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_one_clear_line_and_a_closed_pipe_is_fine() {
    let env = TestEnv::new("cli_errors");
    let missing = env.dir.join("nowhere").join("bridge.db");
    for cmd in [
        &["list"][..],
        &["show", "conv_0123456789abcdef"],
        &["audit"],
        &["cleanup"],
        &["export"],
        &["backup", "x.db"],
    ] {
        cli_on(&env, &missing, cmd)
            .await
            .fails(2, &format!("no database at {}", missing.display()));
    }
    assert!(
        !missing.exists() && !missing.parent().unwrap().exists(),
        "a read command created a database"
    );

    populate(&env).await;
    let newer = copy_db(&env, "newer");
    if env.pg_url().is_some() {
        tamper(&newer, "UPDATE mcp_bridge_schema SET version = 99");
    } else {
        tamper(&newer, "PRAGMA user_version = 99");
    }
    cli_on(&env, &newer, &["list"])
        .await
        .fails(2, "newer than the");
    // A file that is no database: SQLite's case (a URL names no file).
    let garbage = env.dir.join("garbage").join("bridge.db");
    std::fs::create_dir_all(garbage.parent().unwrap()).unwrap();
    std::fs::write(&garbage, vec![b'x'; 4096]).unwrap();
    std::fs::copy(env.key_file(), garbage.with_file_name("bridge.key")).unwrap();
    cli_on(&env, &garbage, &["list"]).await.fails(
        2,
        "is not an SQLite database; mcp-bridge leaves it untouched",
    );

    // `mcp-bridge list | head -0`: the reader is gone before anything is written.
    let mut cmd = tokio::process::Command::from(env.bridge());
    cmd.args(["audit", "--limit", "1000", "--db"]).arg(&env.db);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for cmd in [
        "list", "show", "tokens", "audit", "cleanup", "export", "import", "backup", "restore",
        "redact",
    ] {
        let help = run_cmd(
            {
                let mut c = env.bridge();
                c.args([cmd, "--help"]);
                c
            },
            None,
        )
        .await
        .ok();
        assert!(
            help.contains("Example") && help.contains(&format!("mcp-bridge {cmd}")),
            "{cmd} --help:\n{help}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redact_jsonl_answers_one_line_per_line_in_order() {
    let env = TestEnv::new("cli_redact");
    let input = "{\"text\": \"key AKIAZ7QWERTYUIOPASDF here\"}\n\n{\"text\": \"nothing secret\"}\n{\"text\": \"password=hunter2hunter2\"}\n";
    let mut cmd = env.bridge();
    cmd.args(["redact", "--jsonl"]);
    let out = run_cmd(cmd, Some(input.as_bytes())).await.ok();
    assert_eq!(
        out,
        "{\"text\":\"key AWS_KEY_REDACTED here\"}\n\n{\"text\":\"nothing secret\"}\n{\"text\":\"password=PASSWORD_REDACTED\"}\n"
    );
    let mut cmd = env.bridge();
    cmd.args(["redact", "--jsonl"]);
    run_cmd(cmd, Some(b"{\"text\": \"ok\"}\n{\"txt\": 1}\n"))
        .await
        .fails(2, "line 2: expected {\"text\"");
    let mut cmd = env.bridge();
    cmd.arg("redact");
    let plain = run_cmd(cmd, Some(b"export AWS=AKIAZ7QWERTYUIOPASDF\n"))
        .await
        .ok();
    assert_eq!(plain, "export AWS=AWS_KEY_REDACTED\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_defuses_escape_sequences_and_labels_the_bridges_own_messages() {
    let env = TestEnv::new("cli_show_system");
    let file = env.dir.join("handmade.jsonl");
    let lines = [
        json!({"format": "mcp-bridge-export", "version": 1, "layout": "jsonl"}),
        json!({"conversation": {"id": "conv_00000000000000c1", "created_at": "2026-01-31T12:00:00Z", "expires_at": live_until(),
            "participants": [{"side": "a", "role": "ops", "status": null, "note": null, "status_at": null},
                             {"side": "b", "role": "dev", "status": "blocked", "note": "see \u{1b}]0;pwned\u{7}", "status_at": "2026-01-31T12:05:00Z"}]}}),
        json!({"message": {"conversation_id": "conv_00000000000000c1", "id": 7, "from": "a", "action_type": "request",
            "content": "clear \u{1b}[2J the screen", "files_involved": [], "created_at": "2026-01-31T12:01:00Z", "unread_by": []}}),
        json!({"message": {"conversation_id": "conv_00000000000000c1", "id": 8, "from": "system", "action_type": "system",
            "content": "exit 0 after 12 ms", "files_involved": [], "created_at": "2026-01-31T12:02:00Z", "unread_by": ["b"]}}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let said = cli(&env, &["import", file.to_str().unwrap(), "--json"])
        .await
        .json();
    assert_eq!(
        (
            &said["conversations_added"],
            &said["messages_added"],
            &said["messages_renumbered"]
        ),
        (&json!(1), &json!(2), &json!(0))
    );

    let shown = mask_relative(&cli(&env, &["show", "conv_00000000000000c1"]).await.ok());
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
        "{shown:?}"
    );
    assert!(
        shown.contains(
            "b: blocked \"see \\x1b]0;pwned\\x07\", heartbeat 2026-01-31 12:05:00 UTC (…)"
        ),
        "{shown}"
    );
    assert!(shown.contains("#7  2026-01-31 12:01:00 UTC (…)  a (ops) → b (dev)  request  read\n  │ clear \\x1b[2J the screen\n"), "{shown}");
    assert!(shown.contains("#8  2026-01-31 12:02:00 UTC (…)  bridge (system)  system  unread by b\n  │ exit 0 after 12 ms\n"), "{shown}");
    let json = cli(&env, &["show", "conv_00000000000000c1", "--json"])
        .await
        .json();
    assert_eq!(
        json["messages"][0]["content"], "clear \u{1b}[2J the screen",
        "JSON keeps the text as stored"
    );
    assert_eq!(
        (
            &json["messages"][1]["to"],
            &json["messages"][1]["unread_by"]
        ),
        (&Value::Null, &json!(["b"]))
    );
    let list = cli(&env, &["list", "--json"]).await.json();
    assert_eq!(
        list["conversations"][0]["messages"],
        json!({"total": 2, "unread": {"a": 0, "b": 1}})
    );
}
