//! The keyed audit chain against someone who can write the database file but
//! does not hold `bridge.key`: cutting records off the end (or all of them)
//! and rewriting the head, deleting the head, and what a server does when it
//! finds such a trail; then retention pruning, which `audit --verify` must
//! still prove intact, and which must never destroy evidence. Everything runs
//! through real `serve` processes and the real CLI.

use std::path::Path;

use serde_json::{Value, json};

use crate::util::*;
use crate::util_cli::*;

/// The row of the chain head in `audit_log`.
pub(crate) const HEAD: &str = "9223372036854775807";

/// `mcp-bridge audit --verify --json` on `db`: the exit code and the report.
pub(crate) async fn verify(env: &TestEnv, db: &Path) -> (i32, Value) {
    let run = cli_on(env, db, &["audit", "--verify", "--json"]).await;
    let report =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {run:?}"));
    (run.code, report)
}

/// The kind of the first fault `audit --verify` finds in `db`.
async fn fault(env: &TestEnv, db: &Path) -> (String, i64) {
    let (code, report) = verify(env, db).await;
    assert_eq!(code, 1, "expected a broken trail: {report}");
    assert_eq!(report["intact"], false, "{report}");
    let kind = report["fault"]["kind"].as_str().expect("kind").to_owned();
    (kind, report["fault"]["seq"].as_i64().expect("seq"))
}

/// The newest record the bridge wrote about its own chain (`audit_chain`)
/// in `db`: its `seq`, `actor`, `code` and `count`.
pub(crate) async fn chain_note(env: &TestEnv, db: &Path) -> [Value; 4] {
    let listed = cli_on(env, db, &["audit", "--action", "audit_chain", "--json"])
        .await
        .json();
    let noted = &listed["records"][0];
    ["seq", "actor", "code", "count"].map(|k| noted[k].clone())
}

/// The newest record's `seq` in `db`.
pub(crate) fn last_seq(db: &Path) -> i64 {
    count_in(
        db,
        &format!("SELECT max(seq) FROM audit_log WHERE seq < {HEAD}"),
    )
}

/// Runs `sql` (one integer result) on `db`, read-only.
fn env_count(db: &Path, sql: &str) -> i64 {
    count_in(db, sql)
}

fn micros_now() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since.as_micros()).expect("micros fit")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cutting_the_trail_and_rewriting_its_head_is_reported_without_the_key() {
    let env = TestEnv::new("chain_cut");
    populate(&env).await;
    let (code, intact) = verify(&env, &env.db).await;
    assert_eq!((code, &intact["intact"]), (0, &json!(true)), "{intact}");
    assert_eq!(
        intact["keyed_from"], 1,
        "a new database is keyed throughout"
    );
    let last = last_seq(&env.db);
    assert!(last >= 10, "{intact}");

    // The newest record deleted and the head pointed at the one before it
    // (its seq and hash copied in): the unkeyed chain accepted exactly this.
    let cut_off = |name: &str| {
        let db = copy_db(&env, name);
        tamper(
            &db,
            &format!(
                "DELETE FROM audit_log WHERE seq = {last};
                 UPDATE audit_log SET count = {prev}, hash = (SELECT hash FROM audit_log WHERE seq = {prev}) WHERE seq = {HEAD};",
                prev = last - 1
            ),
        );
        db
    };
    let cut = cut_off("cut");
    let seen = cut_off("seen");
    assert_eq!(fault(&env, &cut).await.0, "head_forged");
    let text = cli_on(&env, &seen, &["audit", "--verify"]).await;
    assert_eq!(text.code, 1);
    assert!(
        text.stdout
            .starts_with("audit trail BROKEN: the chain head does not match its signature"),
        "{}",
        text.stdout
    );

    // Every record deleted and the head reset to that of an empty trail.
    let reset = copy_db(&env, "reset");
    tamper(
        &reset,
        &format!(
            "DELETE FROM audit_log WHERE seq < {HEAD};
             UPDATE audit_log SET count = 0, hash = '{}' WHERE seq = {HEAD};",
            "0".repeat(64)
        ),
    );
    assert_eq!(fault(&env, &reset).await.0, "head_forged");

    // Every record deleted, the head left alone: all of them are named.
    let emptied = copy_db(&env, "emptied");
    tamper(
        &emptied,
        &format!("DELETE FROM audit_log WHERE seq < {HEAD}"),
    );
    let (code, report) = verify(&env, &emptied).await;
    assert_eq!(code, 1);
    assert_eq!(
        (&report["fault"]["kind"], &report["fault"]["seq"]),
        (&json!("removed"), &json!(1))
    );
    assert!(
        report["fault"]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "records 1 to {last} were removed from the end of the trail"
            )),
        "{report}"
    );

    // The head deleted too: nothing to compare with, which is itself the finding.
    let wiped = copy_db(&env, "wiped");
    tamper(&wiped, "DELETE FROM audit_log");
    assert_eq!(fault(&env, &wiped).await.0, "head_missing");

    // (Each verification appends its own record; on a forged head that
    // append is the first to find it and note it, see below.)
    assert_eq!(fault(&env, &cut).await, ("tampered".to_owned(), last));

    // A server on a cut trail keeps serving, and writes down that it found
    // the head forged before going on: the tampering stays on record.
    let served = cut_off("served");
    let mut serve = env.bridge();
    serve.arg("serve").arg("--db").arg(&served);
    let s = Server::spawn(serve).await;
    let conv = Conv::create(&s).await;
    send(&s, &conv, "a", "still working").await;
    let stopped = s.stop().await;
    assert!(
        stopped.stderr.contains("chain head was tampered with"),
        "{}",
        stopped.stderr
    );
    assert_eq!(fault(&env, &served).await, ("tampered".to_owned(), last));
    assert_eq!(
        chain_note(&env, &served).await,
        [
            json!(last),
            json!("bridge"),
            json!("head_forged"),
            json!(last - 1)
        ]
    );
    // Its calls were served and recorded after the note.
    let calls = env_count(
        &served,
        &format!(
            "SELECT count(*) FROM audit_log WHERE seq > {last} AND action IN ('create_conversation', 'send_to_partner') AND outcome = 'ok'"
        ),
    );
    assert_eq!(calls, 2);

    // Checking the chain needs the key, and says so when it is missing
    // (on PostgreSQL the key file is the setting's, never beside it).
    let line = if env.pg_url().is_some() {
        let missing = env.dir.join("missing").join("bridge.key");
        let missing = missing.to_str().unwrap();
        cli_with(
            &env,
            &cut,
            &[("MCP_BRIDGE_KEY_FILE", missing)],
            &["audit", "--verify"],
        )
        .await
    } else {
        std::fs::remove_file(cut.with_file_name("bridge.key")).expect("remove key");
        cli_on(&env, &cut, &["audit", "--verify"]).await
    }
    .fails(2, "bridge.key");
    assert!(line.contains("signs the audit trail"), "{line}");

    // The untouched original still verifies.
    assert_eq!(verify(&env, &env.db).await.0, 0);
}

/// Runs `mcp-bridge ARGS --db <db>` with `vars`.
async fn cli_with(env: &TestEnv, db: &Path, vars: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = env.bridge();
    cmd.args(args).arg("--db").arg(db);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    run_cmd(cmd, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_old_records_and_verify_still_proves_the_rest() {
    let env = TestEnv::new("chain_retention");
    let s = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&s).await;
    for i in 0..5 {
        send(&s, &conv, "a", &format!("old {i}")).await;
    }
    s.stop().await;
    let old = last_seq(&env.db);
    let boundary_us = micros_now();
    // Retention is measured from each record's own time: let these age by a
    // margin larger than the time a cleanup takes to start, even on a
    // loaded machine.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let s = env.server_with(NO_LIMITS).await;
    for i in 0..3 {
        send(&s, &conv, "b", &format!("new {i}")).await;
    }
    s.stop().await;
    let untouched = copy_db(&env, "untouched");
    // A retention that puts the cutoff at the boundary as the command starts
    // (computed afresh each time, so the cutoff never drifts into the new records).
    let retention = || format!("{:.12}", (micros_now() - boundary_us) as f64 / 86_400e6);
    let cleanup = |db: std::path::PathBuf, args: &'static [&'static str]| {
        let env = &env;
        let days = retention();
        async move {
            cli_with(
                env,
                &db,
                &[("MCP_BRIDGE_AUDIT__RETENTION_DAYS", &days)],
                args,
            )
            .await
        }
    };

    // A dry run says what would go and removes nothing.
    let rows_before = rows(&env, "audit_log");
    let dry = cleanup(env.db.clone(), &["cleanup", "--dry-run", "--json"])
        .await
        .json();
    assert_eq!(
        dry["audit_pruned"],
        json!({"records": old, "first_kept": old + 1}),
        "{dry}"
    );
    assert_eq!(
        rows(&env, "audit_log"),
        rows_before + 1,
        "only the dry run's own record"
    );

    let done = cleanup(env.db.clone(), &["cleanup", "--json"]).await.json();
    assert_eq!(
        done["audit_pruned"],
        json!({"records": old, "first_kept": old + 1})
    );
    let first: i64 = env.count(&format!(
        "SELECT min(seq) FROM audit_log WHERE seq < {HEAD}"
    ));
    assert_eq!(first, old + 1);

    // What is left verifies, and the report says what was pruned.
    let (code, report) = verify(&env, &env.db).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["pruned"]["records"], old);
    assert_eq!(report["pruned"]["first_kept"], old + 1);
    let text = cli(&env, &["audit", "--verify"]).await.ok();
    assert!(
        text.contains(&format!(
            "{old} older records were pruned for retention (through "
        )),
        "{text}"
    );
    let cleanups = cli(&env, &["audit", "--action", "cleanup", "--json"])
        .await
        .json();
    let detail = cleanups["records"][1]["detail"].as_str().expect("detail");
    assert!(detail.ends_with(&format!("audit_pruned={old}")), "{detail}");

    // A second cleanup finds nothing more to prune.
    let again = cleanup(env.db.clone(), &["cleanup", "--json"]).await.json();
    assert_eq!(again["audit_pruned"], Value::Null, "{again}");

    // Tampering after pruning is still caught: the oldest kept record removed…
    let below = copy_db(&env, "below");
    tamper(
        &below,
        &format!("DELETE FROM audit_log WHERE seq = {}", old + 1),
    );
    assert_eq!(fault(&env, &below).await, ("removed".to_owned(), old + 1));
    // …or the checkpoint edited to hide more records.
    let hidden = copy_db(&env, "hidden");
    tamper(
        &hidden,
        &format!(
            "UPDATE audit_log SET detail = replace(detail, '\"records\":{old}', '\"records\":1') WHERE seq = {HEAD}"
        ),
    );
    assert_eq!(fault(&env, &hidden).await.0, "head_forged");

    // Pruning never destroys evidence: with an old record altered, nothing goes.
    tamper(
        &untouched,
        "UPDATE audit_log SET outcome = 'denied' WHERE seq = 2",
    );
    let refused = cleanup(untouched.clone(), &["cleanup"]).await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stdout
            .contains("Audit records were not pruned: the audit trail is not intact at record 2"),
        "{}",
        refused.stdout
    );
    assert_eq!(
        count_in(
            &untouched,
            &format!("SELECT min(seq) FROM audit_log WHERE seq < {HEAD}")
        ),
        1
    );
    assert_eq!(fault(&env, &untouched).await, ("altered".to_owned(), 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trail_written_before_the_key_keeps_verifying_after_the_upgrade() {
    use mcp_bridge::audit::{AuditDraft, AuditKey, AuditRecord, ChainRules, GENESIS_HASH};
    use mcp_bridge::domain::Timestamp;

    // A schema-2 database as the previous release left it: records sealed
    // with plain SHA-256, the head holding only the last seq and hash.
    let env = TestEnv::new("chain_upgrade");
    if env.sqlite_only(
        "an SQLite file of schema 2, from before the keyed chain; the PostgreSQL \
         store was born keyed, so there is no older PostgreSQL trail to upgrade",
    ) {
        return;
    }
    std::fs::create_dir_all(env.db.parent().unwrap()).unwrap();
    let old = rusqlite::Connection::open(&env.db).unwrap();
    old.execute_batch(include_str!("../migrations/sqlite/0001_init.sql"))
        .unwrap();
    old.execute_batch(include_str!("../migrations/sqlite/0002_yolo.sql"))
        .unwrap();
    old.pragma_update(None, "user_version", 2).unwrap();
    // The key is irrelevant below the switch-over point: the legacy rule is unkeyed.
    let legacy = ChainRules::new(AuditKey::from_bytes(&[0; 32]), i64::MAX);
    let mut prev = GENESIS_HASH.to_owned();
    for seq in 1..=3 {
        let r = AuditRecord::seal(
            seq,
            Timestamp::from_micros(micros_now() - 1_000 + seq),
            AuditDraft::new("cli", "list"),
            prev.clone(),
            &legacy,
        );
        old.execute(
            "INSERT INTO audit_log (seq, at, actor, action, outcome, prev_hash, hash) VALUES (?1, ?2, 'cli', 'list', 'ok', ?3, ?4)",
            rusqlite::params![r.seq, r.at.as_micros(), r.prev_hash, r.hash],
        )
        .unwrap();
        prev = r.hash;
    }
    old.execute(
        &format!("INSERT INTO audit_log (seq, at, actor, action, outcome, count, prev_hash, hash) VALUES ({HEAD}, 0, 'head', 'head', 'ok', 3, '', ?1)"),
        [&prev],
    )
    .unwrap();
    drop(old);
    make_private(&env.db);

    // The new release opens it (migrating it) and goes on with keyed records.
    let s = env.server().await;
    let conv = Conv::create(&s).await;
    send(&s, &conv, "a", "after the upgrade").await;
    s.stop().await;
    let (code, report) = verify(&env, &env.db).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["keyed_from"], 4, "{report}");
    assert_eq!(report["records"], 5, "{report}");

    // The records from before the switch-over are still checked, by their own rule…
    let altered = copy_db(&env, "altered");
    tamper(
        &altered,
        "UPDATE audit_log SET action = 'tokens' WHERE seq = 2",
    );
    assert_eq!(fault(&env, &altered).await, ("altered".to_owned(), 2));
    // …and moving the switch-over point (to pass forged records off as old
    // ones) breaks the head's signature.
    let moved = copy_db(&env, "moved");
    tamper(
        &moved,
        &format!("UPDATE audit_log SET detail = '{{\"keyed_from\":99}}' WHERE seq = {HEAD}"),
    );
    assert_eq!(fault(&env, &moved).await.0, "head_forged");
}

/// Calls that write nothing are audited in batches (one head read and one
/// signed head per batch, not per record): bursts of concurrent empty checks,
/// with a write after each, leave a trail that verifies with one record per call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_of_calls_that_write_nothing_are_appended_in_batches_that_verify() {
    let env = TestEnv::new("chain_batches");
    let s = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&s).await;
    for round in 0..3 {
        let checks = (0..100).map(|_| check(&s, &conv, "b", json!({})));
        let pages = futures_util::future::join_all(checks).await;
        // The previous round's message, delivered once.
        let delivered: usize = pages.iter().map(|p| messages(p).len()).sum();
        assert_eq!(delivered, usize::from(round > 0));
        send(&s, &conv, "a", &format!("round {round}")).await;
    }
    s.stop().await;
    let (code, report) = verify(&env, &env.db).await;
    assert_eq!(code, 0, "{report}");
    // The create, 300 checks and 3 sends.
    assert_eq!(report["records"], 304, "{report}");
}
