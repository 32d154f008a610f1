//! The management CLI against databases filled by real `mcp-bridge serve`
//! processes: `list`, `show`, `tokens`, `audit` (with `--verify` against three
//! kinds of tampering made in the database file), `cleanup`, `export` /
//! `import`, `backup` / `restore` (during a write burst, and against a
//! database in use), `redact --jsonl`, and the error paths.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::util::*;
use crate::util_cli::*;

/// `2026-01-31 12:00:00 UTC` for an RFC 3339 time, as the CLI prints it.
fn absolute(rfc3339: &Value) -> String {
    let ts: jiff::Timestamp = rfc3339.as_str().expect("a time").parse().expect("RFC 3339");
    ts.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The cells of a table row (columns are separated by at least two spaces).
fn cells(line: &str) -> Vec<String> {
    regex::Regex::new(r"\s{2,}")
        .unwrap()
        .split(line.trim())
        .map(str::to_owned)
        .collect()
}

/// The row of `table` that starts with `key`.
fn row(table: &str, key: &str) -> Vec<String> {
    let line = table
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no row {key} in:\n{table}"));
    cells(line)
}

fn find<'v>(list: &'v Value, key: &str, id: &str) -> &'v Value {
    list[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {list}"))
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {list}"))
}

/// The message ids stored in a database file.
fn message_ids(db: &Path) -> Vec<i64> {
    let conn = open_read_only(db);
    let mut stmt = conn.prepare("SELECT id FROM messages ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

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

/// Copies a stopped database (and its key) into `dir`, returning the copy's path.
fn copy_db(env: &TestEnv, dir: &str) -> PathBuf {
    let target = env.dir.join(dir);
    std::fs::create_dir_all(&target).unwrap();
    std::fs::copy(&env.db, target.join("bridge.db")).unwrap();
    std::fs::copy(
        env.db.with_file_name("bridge.key"),
        target.join("bridge.key"),
    )
    .unwrap();
    target.join("bridge.db")
}

fn tamper(db: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
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
    let (prev_hash, at): (String, i64) = open_read_only(&inserted)
        .query_row("SELECT hash, at FROM audit_log WHERE seq = 3", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let fake = mcp_bridge::audit::AuditRecord::seal(
        4,
        mcp_bridge::domain::Timestamp::from_micros(at + 1),
        mcp_bridge::audit::AuditDraft::new("cli", "cleanup"),
        prev_hash,
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
    let last: i64 = open_read_only(&truncated)
        .query_row(
            "SELECT max(seq) FROM audit_log WHERE seq < 9223372036854775807",
            [],
            |r| r.get(0),
        )
        .unwrap();
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
    let floor = env.count("SELECT value FROM meta WHERE key = 'message_id_floor'");
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
async fn export_then_import_into_a_fresh_database_shows_the_same_and_twice_changes_nothing() {
    let env = TestEnv::new("cli_transfer");
    let p = populate(&env).await;
    let file = env.dir.join("export.json");
    let file_arg = file.to_str().unwrap();
    let said = cli(&env, &["export", "-o", file_arg]).await.ok();
    assert_eq!(
        said,
        format!(
            "Exported 2 conversations (5 messages) to {file_arg} (format version 1; no tokens, no key).\n"
        )
    );
    assert_eq!(mode(&file), 0o600);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        (&doc["format"], &doc["version"]),
        (&json!("mcp-bridge-export"), &json!(1))
    );
    let text = std::fs::read_to_string(&file).unwrap();
    for secret in [&p.busy.a, &p.busy.b, &p.quiet.a] {
        assert!(!text.contains(secret.as_str()), "a token was exported");
    }
    let busy = find(&doc, "conversations", &p.busy.id);
    assert_eq!(busy["messages"][3]["unread_by"], json!(["a"]));
    assert_eq!(busy["participants"][0]["status"], "working");
    cli(&env, &["export", "-o", file_arg])
        .await
        .fails(1, "exists; add --force");
    let lines = cli(&env, &["export", "--jsonl", &p.busy.id]).await.ok();
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
    // The fresh database has its own key, so the same conversation has other tokens there.
    let tokens = cli_on(&env, &fresh, &["tokens", &p.busy.id, "--json"])
        .await
        .json();
    assert_ne!(tokens["session_a_token"], p.busy.a);

    // Twice: nothing changes (but the audit trail records the attempt).
    let export_of = |db: PathBuf| {
        let env = &env;
        async move {
            let mut doc = cli_on(env, &db, &["export"]).await.json();
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
    let source = cli(&env, &["show", &p.busy.id, "--json"]).await.json();
    let expected: Vec<&Value> = source["messages"]
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
    std::fs::write(&newer, text.replacen("\"version\": 1", "\"version\": 2", 1)).unwrap();
    let empty = env.dir.join("never").join("bridge.db");
    cli_on(&env, &empty, &["import", newer.to_str().unwrap()])
        .await
        .fails(2, "format version 2, newer than version 1");
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
async fn backup_during_a_write_burst_restores_every_acknowledged_message() {
    let env = TestEnv::new("cli_backup");
    let p = populate(&env).await;
    let server = env.server_with(NO_LIMITS).await;
    let writer = Writer::start(&server, &p.quiet);
    writer.wait_for(20).await;
    let acked_before = writer.acked();
    let file = env.dir.join("backups").join("bridge-backup.db");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let out = cli(&env, &["backup", file.to_str().unwrap()]).await.ok();
    let acked_during = writer.acked();
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
    tamper(&newer, "PRAGMA user_version = 99");
    cli_on(&env, &newer, &["list"])
        .await
        .fails(2, "newer than the");
    let garbage = env.dir.join("garbage").join("bridge.db");
    std::fs::create_dir_all(garbage.parent().unwrap()).unwrap();
    std::fs::write(&garbage, vec![b'x'; 4096]).unwrap();
    std::fs::copy(
        env.db.with_file_name("bridge.key"),
        garbage.with_file_name("bridge.key"),
    )
    .unwrap();
    cli_on(&env, &garbage, &["list"])
        .await
        .fails(2, "cannot open database");

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
