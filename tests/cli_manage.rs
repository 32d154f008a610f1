//! The inspection and upkeep commands against databases filled by real
//! `mcp-bridge serve` processes: `list`, `show`, `tokens`, `audit` (with
//! `--verify` against three kinds of tampering made in the database file),
//! `cleanup`, `redact --jsonl`, and the error paths.

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
        "    POST /todos returns 201".to_owned(),
        "    files: api/routes.rs, docs/api.md".to_owned(),
        String::new(),
        message_head(1, "b (frontend dev) → a (backend)", "question", "read"),
        "    deploy key AWS_KEY_REDACTED is in the env".to_owned(),
        String::new(),
        message_head(2, "a (backend) → b (frontend dev)", "answer", "read"),
        "    line one".to_owned(),
        "    line two".to_owned(),
        "    line three".to_owned(),
        "    … 2 more lines (--full shows all)".to_owned(),
        String::new(),
        message_head(3, "b (frontend dev) → a (backend)", "info", "unread"),
        "    thanks, building the list view".to_owned(),
    ]
    .join("\n")
        + "\n";
    let text = mask_relative(&cli(&env, &["show", &p.busy.id]).await.ok());
    assert_eq!(text, expected);
    let full = cli(&env, &["show", &p.busy.id, "--full"]).await.ok();
    assert!(
        full.contains("    line three\n    line four\n    line five\n")
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
async fn audit_lists_filters_and_keeps_the_seed_positional_form() {
    let env = TestEnv::new("cli_audit");
    let p = populate(&env).await;

    let all = cli(&env, &["audit", "--json", "--limit", "1000"])
        .await
        .json();
    let records = all["records"].as_array().unwrap().clone();
    let seqs: Vec<i64> = records.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "newest last, no gaps"
    );
    let first = &records[0];
    assert_eq!(
        (&first["actor"], &first["action"], &first["outcome"]),
        (&json!("mcp"), &json!("create_conversation"), &json!("ok"))
    );
    for key in [
        "at",
        "conversation_id",
        "side",
        "code",
        "bytes",
        "count",
        "detail",
        "prev_hash",
        "hash",
    ] {
        assert!(first.get(key).is_some(), "no {key} in {first}");
    }

    // The seed's `audit CONV LIMIT`: the newest LIMIT records of that conversation, newest last.
    let table = cli(&env, &["audit", &p.busy.id, "3"]).await.ok();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        cells(lines[0]),
        [
            "SEQ",
            "TIME",
            "ACTOR",
            "ACTION",
            "CONVERSATION",
            "SIDE",
            "OUTCOME",
            "DETAIL"
        ]
    );
    let rows: Vec<Vec<String>> = lines[1..4].iter().map(|l| cells(l)).collect();
    assert_eq!(lines[4], "(the newest 3; --limit N shows more)");
    assert_eq!(
        rows.iter()
            .map(|r| (r[3].as_str(), r[4].as_str(), r[5].as_str(), r[6].as_str()))
            .collect::<Vec<_>>(),
        [
            ("send_to_partner", p.busy.id.as_str(), "b", "ok"),
            ("update_my_status", p.busy.id.as_str(), "a", "ok"),
            ("update_my_status", p.busy.id.as_str(), "b", "ok"),
        ]
    );
    assert_eq!(rows[1][7], "count=0 status=working");
    assert!(rows[0][0].parse::<i64>().unwrap() < rows[2][0].parse::<i64>().unwrap());
    let positional = cli(&env, &["audit", "2", "--json"]).await.json();
    assert_eq!(positional["records"].as_array().unwrap().len(), 2);
    let newest = cli(&env, &["audit", "--json", "--limit", "3"]).await.json();
    assert_eq!(
        newest["records"][2]["action"], "audit",
        "the previous audit command is the newest record"
    );

    let sends = cli(
        &env,
        &[
            "audit",
            "--action",
            "send_to_partner",
            "--json",
            "--limit",
            "100",
        ],
    )
    .await
    .json();
    let sends = sends["records"].as_array().unwrap();
    assert_eq!(sends.len(), 5);
    assert!(
        sends
            .iter()
            .all(|r| r["action"] == "send_to_partner" && r["bytes"].as_i64().unwrap() > 0)
    );
    assert_eq!(sends[1]["detail"], "redactions=aws_access_key_id:1");
    let future = cli(&env, &["audit", "--since", "2999-01-01"]).await.ok();
    assert_eq!(future, "No audit records match.\n");
    let recent = cli(
        &env,
        &["audit", "--since", "1h", "--json", "--limit", "1000"],
    )
    .await
    .json();
    assert!(recent["records"].as_array().unwrap().len() > records.len());
    let dated = cli(
        &env,
        &[
            "audit",
            "--since",
            "2000-01-01T00:00:00Z",
            "--action",
            "create_conversation",
            "--json",
        ],
    )
    .await
    .json();
    assert_eq!(dated["records"].as_array().unwrap().len(), 2);

    let usage = cli(&env, &["audit", "--since", "yesterday"]).await;
    assert_eq!(usage.code, 2);
    assert!(
        usage.stderr.contains("\"yesterday\" is not a time"),
        "{}",
        usage.stderr
    );
    cli(&env, &["audit", "banana"])
        .await
        .fails(2, "neither a conversation id");
    cli(&env, &["audit", "5", "--limit", "3"])
        .await
        .fails(2, "not both");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_catches_records_altered_inserted_and_removed_in_the_file() {
    let env = TestEnv::new("cli_verify");
    populate(&env).await;
    let intact = cli(&env, &["audit", "--verify"]).await.ok();
    let n = regex::Regex::new(r"^audit trail intact: (\d+) records, every hash matches and the chain head is record (\d+)\n$")
        .unwrap()
        .captures(&intact)
        .unwrap_or_else(|| panic!("unexpected: {intact}"));
    assert_eq!(n[1], n[2]);
    assert!(n[1].parse::<i64>().unwrap() >= 11);

    // Altered: one field of record 5.
    let altered = copy_db(&env, "altered");
    tamper(
        &altered,
        "UPDATE audit_log SET outcome = 'denied' WHERE seq = 5",
    );
    let run = cli_on(&env, &altered, &["audit", "--verify"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.starts_with(
            "audit trail BROKEN: record 5 was altered: its hash does not match its contents"
        ),
        "{}",
        run.stdout
    );
    let json = cli_on(&env, &altered, &["audit", "--verify", "--json"]).await;
    assert_eq!(json.code, 1);
    let json: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        (
            &json["intact"],
            &json["fault"]["kind"],
            &json["fault"]["seq"]
        ),
        (&json!(false), &json!("altered"), &json!(5))
    );

    // Removed: record 6 deleted.
    let removed = copy_db(&env, "removed");
    tamper(&removed, "DELETE FROM audit_log WHERE seq = 6");
    let run = cli_on(&env, &removed, &["audit", "--verify"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .starts_with("audit trail BROKEN: record 6 was removed"),
        "{}",
        run.stdout
    );

    // Inserted: a well-formed forged record put in as record 4, the later ones renumbered.
    let inserted = copy_db(&env, "inserted");
    let prev_hash = query_in(&inserted, "SELECT hash FROM audit_log WHERE seq = 3")
        .remove(0)
        .remove(0)
        .expect("hash");
    let at = count_in(&inserted, "SELECT at FROM audit_log WHERE seq = 3");
    // Sealed with the real key, as only someone holding bridge.key could.
    let key = mcp_bridge::auth::ServerKey::load(&env.key_file()).unwrap();
    let fake = mcp_bridge::audit::AuditRecord::seal(
        4,
        mcp_bridge::domain::Timestamp::from_micros(at + 1),
        mcp_bridge::audit::AuditDraft::new("cli", "cleanup"),
        prev_hash,
        &mcp_bridge::audit::ChainRules::keyed(mcp_bridge::audit::AuditKey::derive(&key)),
    );
    tamper(
        &inserted,
        &format!(
            "UPDATE audit_log SET seq = -seq WHERE seq >= 4 AND seq < 9223372036854775807;
             UPDATE audit_log SET seq = 1 - seq WHERE seq < 0;
             INSERT INTO audit_log (seq, at, actor, action, outcome, prev_hash, hash) VALUES (4, {}, 'cli', 'cleanup', 'ok', '{}', '{}');",
            fake.at.as_micros(),
            fake.prev_hash,
            fake.hash
        ),
    );
    let run = cli_on(&env, &inserted, &["audit", "--verify"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .starts_with("audit trail BROKEN: record 4 was inserted"),
        "{}",
        run.stdout
    );

    // Removed from the end: the newest record gone, the head left as it was.
    let truncated = copy_db(&env, "truncated");
    let last = count_in(
        &truncated,
        "SELECT max(seq) FROM audit_log WHERE seq < 9223372036854775807",
    );
    tamper(
        &truncated,
        &format!("DELETE FROM audit_log WHERE seq = {last}"),
    );
    let run = cli_on(&env, &truncated, &["audit", "--verify"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.starts_with(&format!(
            "audit trail BROKEN: record {last} was removed from the end of the trail"
        )),
        "{}",
        run.stdout
    );

    // The untouched original still verifies.
    cli(&env, &["audit", "--verify"]).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_removes_expired_conversations_and_keeps_the_audit_trail() {
    let env = TestEnv::new("cli_cleanup");
    // Conversations made by this server expire after 2.4 s.
    let short = env
        .server_with(&[("MCP_BRIDGE_CONVERSATION_TTL_MINUTES", "0.04")])
        .await;
    let normal = env.server_with(NO_LIMITS).await;
    let doomed = Conv::create_with_roles(&short, "old", "older").await;
    let kept = Conv::create(&normal).await;
    let first = send(&short, &doomed, "a", "soon gone").await;
    let last = send(&short, &doomed, "b", "also gone").await;
    send(&normal, &kept, "a", "still here").await;
    short.stop().await;
    let deadline = std::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        let list = cli(&env, &["list", "--json"]).await.json();
        if find(&list, "conversations", &doomed.id)["expired"] == true {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the conversation never expired"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let table = cli(&env, &["list"]).await.ok();
    assert!(
        row(&table, &doomed.id)[3].starts_with("expired ("),
        "{table}"
    );
    assert!(
        table.ends_with("\n2 conversations (1 expired; `mcp-bridge cleanup` removes them)\n"),
        "{table}"
    );
    let active = cli(&env, &["list", "--active", "--json"]).await.json();
    let ids: Vec<&Value> = active["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, [&json!(kept.id)]);
    cli(&env, &["tokens", &doomed.id])
        .await
        .fails(1, "expired at");
    let forced = cli(&env, &["tokens", &doomed.id, "--force", "--json"])
        .await
        .json();
    assert_eq!(
        (&forced["session_a_token"], &forced["expired"]),
        (&json!(doomed.a), &json!(true))
    );

    let dry = cli(&env, &["cleanup", "--dry-run"]).await.ok();
    let dry_lines: Vec<&str> = dry.lines().collect();
    assert_eq!(
        dry_lines[0],
        "Would remove 1 expired conversation with 2 messages:"
    );
    assert_eq!(
        cells(dry_lines[1]),
        ["ID", "ROLES", "EXPIRED", "MESSAGES", "UNREAD"]
    );
    let doomed_row = cells(dry_lines[2]);
    assert_eq!(
        (
            doomed_row[0].as_str(),
            doomed_row[1].as_str(),
            doomed_row[3].as_str(),
            doomed_row[4].as_str()
        ),
        (doomed.id.as_str(), "old ↔ older", "2", "2")
    );
    assert!(dry.contains("Dry run: nothing was deleted."), "{dry}");
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM messages WHERE conversation_id = '{}'",
            doomed.id
        )),
        2
    );

    let done = cli(&env, &["cleanup", "--json"]).await.json();
    assert_eq!(done["dry_run"], false);
    assert_eq!(
        (&done["removed_conversations"], &done["removed_messages"]),
        (&json!(1), &json!(2))
    );
    assert!(done["removed_rate_buckets"].as_u64().unwrap() > 0, "{done}");
    assert_eq!(done["conversations"][0]["id"], doomed.id);
    assert_eq!(
        done["conversations"][0]["roles"],
        json!({"a": "old", "b": "older"})
    );
    for table in [
        "conversations",
        "participants",
        "messages",
        "pending_deliveries",
        "rate_buckets",
    ] {
        let column = if table == "conversations" {
            "id"
        } else {
            "conversation_id"
        };
        assert_eq!(
            env.count(&format!(
                "SELECT count(*) FROM {table} WHERE {column} = '{}'",
                doomed.id
            )),
            0,
            "{table}"
        );
    }
    // The next id stays above the removed ones: SQLite keeps a floor in
    // `meta`, PostgreSQL draws ids from a sequence that never goes back.
    let floor = if env.pg_url().is_some() {
        env.count("SELECT last_value FROM message_ids")
    } else {
        env.count("SELECT value FROM meta WHERE key = 'message_id_floor'")
    };
    assert!(
        floor >= last["message_id"].as_i64().unwrap(),
        "floor {floor}"
    );
    cli(&env, &["show", &doomed.id])
        .await
        .fails(1, "unknown conversation");
    cli(&env, &["show", &kept.id]).await.ok();

    // The audit trail keeps the removed conversation's history and records the cleanup.
    let history = cli(&env, &["audit", &doomed.id, "--json"]).await.json();
    let actions: Vec<&Value> = history["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["action"])
        .collect();
    assert_eq!(
        actions[..3],
        [
            &json!("create_conversation"),
            &json!("send_to_partner"),
            &json!("send_to_partner")
        ]
    );
    let cleanups = cli(&env, &["audit", "--action", "cleanup", "--json"])
        .await
        .json();
    let details: Vec<&Value> = cleanups["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["detail"])
        .collect();
    assert_eq!(details.len(), 2);
    assert!(
        details[0]
            .as_str()
            .unwrap()
            .starts_with("dry-run conversations=1 messages=2 rate_buckets=")
    );
    assert!(
        details[1]
            .as_str()
            .unwrap()
            .starts_with("conversations=1 messages=2 rate_buckets=")
    );
    cli(&env, &["audit", "--verify"]).await.ok();

    // Ids are never handed out again.
    let next = send(&normal, &kept, "b", "after cleanup").await;
    assert!(next["message_id"].as_i64().unwrap() > last["message_id"].as_i64().unwrap());
    assert!(first["message_id"].as_i64().unwrap() < last["message_id"].as_i64().unwrap());
    normal.stop().await;
    let again = cli(&env, &["cleanup"]).await.ok();
    assert_eq!(again, "No expired conversations; nothing removed.\n");
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
        json!({"conversation": {"id": "conv_00000000000000c1", "created_at": "2026-01-31T12:00:00Z", "expires_at": "2999-01-01T00:00:00Z",
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
    assert!(shown.contains("#7  2026-01-31 12:01:00 UTC (…)  a (ops) → b (dev)  request  read\n    clear \\x1b[2J the screen\n"), "{shown}");
    assert!(shown.contains("#8  2026-01-31 12:02:00 UTC (…)  bridge (system)  system  unread by b\n    exit 0 after 12 ms\n"), "{shown}");
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
