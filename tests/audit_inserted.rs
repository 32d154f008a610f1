//! A record inserted past the signed chain head, by someone who can write the
//! database but does not hold `bridge.key`: its `seq` is the one the next
//! append would take. Servers and the CLI must go on serving (the acceptance
//! run's finding: every tool call answered `conflict: UNIQUE constraint
//! failed: audit_log.seq`, and `list`/`show` exited 2), and `audit --verify`
//! must still name the inserted record. Runs on PostgreSQL too, where the
//! linker appends the staged records.

use serde_json::json;

use crate::audit_chain::{HEAD, chain_note, last_seq, verify};
use crate::util::*;
use crate::util_cli::*;

/// `audit --verify --json` on `db`, which must find the trail broken: the
/// first fault's kind, `seq` and message.
async fn fault(env: &TestEnv, db: &std::path::Path) -> (String, i64, String) {
    let (code, report) = verify(env, db).await;
    assert_eq!(code, 1, "expected a broken trail: {report}");
    let fault = &report["fault"];
    let text = |k: &str| fault[k].as_str().unwrap_or_default().to_owned();
    (
        text("kind"),
        fault["seq"].as_i64().unwrap_or(0),
        text("message"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_inserted_after_the_head_is_reported_and_serving_goes_on() {
    let env = TestEnv::new("chain_inserted");
    populate(&env).await;
    let db = copy_db(&env, "inserted");
    let last = last_seq(&db);
    // The newest record copied into the next `seq`, as one SQL statement
    // with write access to the database could.
    tamper(
        &db,
        &format!(
            "INSERT INTO audit_log (seq, at, actor, action, conversation_id, side, outcome, code, bytes, count, detail, prev_hash, hash)
             SELECT seq + 1, at, actor, action, conversation_id, side, outcome, code, bytes, count, detail, prev_hash, hash
             FROM audit_log WHERE seq = {last}"
        ),
    );

    let mut serve = env.bridge();
    serve.arg("serve").arg("--db").arg(&db);
    let s = Server::spawn(serve).await;
    let conv = Conv::create(&s).await;
    send(&s, &conv, "a", "still working").await;
    s.stop().await;

    // Reading commands work (they append their own records too).
    let listed = cli_on(&env, &db, &["list"]).await.ok();
    assert!(listed.contains(&conv.id), "{listed}");
    let shown = cli_on(&env, &db, &["show", &conv.id]).await.ok();
    assert!(shown.contains("still working"), "{shown}");

    // The copy is the record named, not the one it copies.
    let (kind, seq, message) = fault(&env, &db).await;
    assert_eq!((kind.as_str(), seq), ("inserted", last + 1), "{message}");
    assert!(
        message.contains("a copy of the record before it"),
        "{message}"
    );

    // The first append after it wrote down what it found, then went on.
    assert_eq!(
        chain_note(&env, &db).await,
        [
            json!(last + 2),
            json!("bridge"),
            json!("records_after_head"),
            json!(last)
        ]
    );
    let served = count_in(
        &db,
        &format!(
            "SELECT count(*) FROM audit_log WHERE seq > {} AND seq < {HEAD} AND action IN ('create_conversation', 'send_to_partner', 'list', 'show') AND outcome = 'ok'",
            last + 2
        ),
    );
    assert_eq!(served, 4);

    // Deleting the copy afterwards leaves a gap, which is reported instead.
    tamper(
        &db,
        &format!("DELETE FROM audit_log WHERE seq = {}", last + 1),
    );
    let (kind, seq, message) = fault(&env, &db).await;
    assert_eq!((kind.as_str(), seq), ("removed", last + 1), "{message}");
}
