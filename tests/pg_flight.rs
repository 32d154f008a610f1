//! On PostgreSQL a write's last statements go out in one flight with its
//! `COMMIT` (`Write::defer` in `src/store/postgres/db.rs`): a message's
//! insert, a page's lease. One that fails there must undo the whole call,
//! not commit what went before it. A trigger makes them fail on the server.
//! Skipped, with the reason printed, when no PostgreSQL is available.

use serde_json::json;

use crate::util::{
    Conv, TestEnv, assert_audit_intact, call, check, contents, send, store_state, tool_error,
};
use crate::util_pg;

/// Makes every `op` on `table` fail on the server, as trigger `name`.
fn refuse(url: &str, name: &str, op: &str, table: &str) {
    util_pg::sql(
        url,
        &format!(
            "CREATE OR REPLACE FUNCTION refuse_for_test() RETURNS trigger LANGUAGE plpgsql
                 AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
             CREATE TRIGGER {name} BEFORE {op} ON {table}
                 FOR EACH ROW EXECUTE FUNCTION refuse_for_test()"
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_that_fails_with_the_commit_undoes_the_whole_call() {
    let Some(env) = TestEnv::postgres("pg_flight") else {
        return;
    };
    let url = env.pg_url().expect("a PostgreSQL test");
    let server = env.server().await;
    let conv = Conv::create(&server).await;
    send(&server, &conv, "a", "first").await;
    let before = store_state(&env);

    // The message's insert fails in the commit's flight: the send is refused
    // and leaves nothing, not even its deliveries.
    refuse(&url, "refuse_insert", "INSERT", "messages");
    let refused = call(
        &server,
        "send_to_partner",
        conv.args("a", json!({"message": "never stored"})),
    )
    .await;
    tool_error(&refused, "internal_error");
    assert_eq!(store_state(&env), before, "a failed send changed the store");
    util_pg::sql(&url, "DROP TRIGGER refuse_insert ON messages");

    // The page's lease fails in the commit's flight: the check is refused,
    // and the message is neither lost nor held by a lease nobody has.
    refuse(&url, "refuse_lease", "UPDATE", "pending_deliveries");
    let refused = call(&server, "check_messages", conv.args("b", json!({}))).await;
    tool_error(&refused, "internal_error");
    assert_eq!(
        store_state(&env),
        before,
        "a failed check changed the store"
    );
    util_pg::sql(&url, "DROP TRIGGER refuse_lease ON pending_deliveries");
    assert_eq!(
        contents(&check(&server, &conv, "b", json!({})).await),
        ["first"]
    );

    // Both work again, and the trail holds together.
    send(&server, &conv, "a", "second").await;
    assert_eq!(
        contents(&check(&server, &conv, "b", json!({})).await),
        ["second"]
    );
    server.stop().await;
    let _ = assert_audit_intact(&env, "after calls that failed with their commit");
}
