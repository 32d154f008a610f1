//! On PostgreSQL a write stages its audit records and a linker moves them
//! into the chain (`src/store/postgres/linker.rs`). These tests read the
//! staging table itself, which the other tests' queries fold into the trail
//! (`util_pg`): a live server links on its own, a one-shot command before it
//! exits, and whatever a dead process left is linked by the next one.
//! Skipped, with the reason printed, when no PostgreSQL is available.

use crate::util::{Conv, TestEnv, assert_audit_intact, send, wait_until};
use crate::util_pg;

/// Rows still staged, read without folding them into the trail.
fn staged(env: &TestEnv) -> i64 {
    let url = env.pg_url().expect("a PostgreSQL test");
    util_pg::sql(&url, "SELECT count(*) FROM audit_pending")
        .parse()
        .expect("a count")
}

/// Records of `action` in the chain itself, staged ones not counted.
fn linked(env: &TestEnv, action: &str) -> i64 {
    let url = env.pg_url().expect("a PostgreSQL test");
    // The table named with its schema: the `audit_log` that `util_pg`
    // defines to fold staged rows in cannot shadow it.
    util_pg::sql(
        &url,
        &format!(
            "SELECT count(*) FROM (TABLE public.audit_log) chain WHERE action = '{action}' AND seq < 9223372036854775807"
        ),
    )
    .parse()
    .expect("a count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_server_links_its_records_with_no_reader_asking() {
    let Some(env) = TestEnv::postgres("pg_link_live") else {
        return;
    };
    let server = env.server().await;
    let conv = Conv::create(&server).await;
    for i in 0..5 {
        send(&server, &conv, "a", &format!("linked {i}")).await;
    }
    // Nobody reads the trail: the server's own linker must empty the stage.
    wait_until("a running server to link its audit records", || {
        staged(&env) == 0
    })
    .await;
    assert_eq!(linked(&env, "send_to_partner"), 5);
    server.stop().await;
    let _ = assert_audit_intact(&env, "after the server linked its own records");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_links_before_it_exits_and_the_next_process_links_a_dead_ones() {
    let Some(env) = TestEnv::postgres("pg_link_dead") else {
        return;
    };
    let server = env.server().await;
    let conv = Conv::create(&server).await;
    server.stop().await;
    assert_eq!(staged(&env), 0, "a stopped server links what it staged");

    // A one-shot command records itself and exits: nothing stays staged,
    // with no server left to link it.
    let list = env
        .bridge()
        .args(["list", "--json", "--db"])
        .arg(&env.db)
        .output()
        .expect("run list");
    assert!(list.status.success(), "{list:?}");
    assert_eq!(staged(&env), 0, "the command left its record staged");
    assert_eq!(linked(&env, "list"), 1);

    // What a process killed between its commit and its linker's pass leaves
    // behind, made by hand: the next process to open the database links it.
    let url = env.pg_url().expect("a PostgreSQL test");
    util_pg::sql(
        &url,
        &format!(
            "INSERT INTO audit_pending (at, actor, action, conversation_id, side, outcome, bytes)
             VALUES (1, 'mcp', 'send_to_partner', '{}', 'a', 'ok', 4)",
            conv.id
        ),
    );
    let server = env.server().await;
    assert_eq!(staged(&env), 0, "a starting server links what was staged");
    assert_eq!(linked(&env, "send_to_partner"), 1);
    server.stop().await;
    let _ = assert_audit_intact(&env, "after linking a dead process's records");
}
