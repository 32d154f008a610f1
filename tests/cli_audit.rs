//! `mcp-bridge audit` against databases filled by real `mcp-bridge serve`
//! processes: listing and filtering, the seed's positional form, and
//! `--verify` against three kinds of tampering made in the database itself.

use serde_json::{Value, json};

use crate::util::*;
use crate::util_cli::*;

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
    for zero in [&["audit", "--limit", "0"][..], &["audit", "0"]] {
        cli(&env, zero).await.fails(2, "at least 1 record");
    }
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
