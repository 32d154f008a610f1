//! `limits.max_database_mb` through real processes: a server whose database
//! is past its budget refuses what would store agent content (sends, new
//! conversations, status notes, invites) with `resource_limit`, storing
//! nothing but the denied audit record, while reads, inbox checks and plain
//! heartbeats keep working; once the operator frees space (`mcp-bridge
//! cleanup` of expired conversations) sends are accepted again. Runs on
//! SQLite, and on PostgreSQL under `MCP_BRIDGE_TEST_E2E_PG`.

use std::time::Duration;

use serde_json::json;

use crate::util::*;
use crate::util_cli::*;

/// 50 000-byte messages the filler sends: about 3.2 MB as stored (sealed
/// and base64-encoded), past any budget [`budget_mb`] picks.
const FILL: usize = 48;

/// How long a server uses its reading of the size, plus a margin.
const READING_LAPSES: Duration = Duration::from_millis(1_200);

/// The database's size as the bridge measures it.
fn database_size(env: &TestEnv) -> i64 {
    env.count(if env.pg_url().is_some() {
        "SELECT pg_database_size(current_database())"
    } else {
        "SELECT ((SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count())) * (SELECT page_size FROM pragma_page_size())"
    })
}

/// A budget in MiB with at least a MiB of room above the database's size
/// now: 1 MiB on a fresh SQLite file; on PostgreSQL, whose empty database
/// (its catalogs) already takes several, its size rounded down plus two.
fn budget_mb(env: &TestEnv) -> u32 {
    let size = database_size(env);
    if env.pg_url().is_none() {
        assert!(size < 512 << 10, "a fresh database of {size} bytes");
        return 1;
    }
    u32::try_from(size >> 20).expect("MiB") + 2
}

/// Asserts a `resource_limit` refusal for the budget of `limit` MiB.
fn over_budget(result: &rmcp::model::CallToolResult, limit: u32) {
    let body = tool_error(result, "resource_limit");
    let text = body["message"].as_str().expect("message");
    for part in [
        "the database's size in MiB (limits.max_database_mb)",
        &format!("limit of {limit}"),
        "retry later",
        "mcp-bridge cleanup",
    ] {
        assert!(
            text.contains(part),
            "the refusal should say {part:?}: {text}"
        );
    }
}

/// Audit records of `action` refused with `resource_limit` (the first
/// refusals of a kind are records of their own, not folded).
fn audited_refusals(env: &TestEnv, action: &str) -> i64 {
    env.count(&format!(
        "SELECT count(*) FROM audit_log WHERE action = '{action}' AND outcome = 'denied' AND code = 'resource_limit'"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_over_its_budget_refuses_new_content_until_cleanup_frees_space() {
    let env = TestEnv::new("storage_budget");
    // The filler: no rate limits, the default budget.
    let filler = env.server_with(&[("MCP_BRIDGE_RATE_LIMITS", "off")]).await;
    let budget = budget_mb(&env);
    let limit = budget.to_string();
    let server = env
        .server_with(&[("MCP_BRIDGE_LIMITS__MAX_DATABASE_MB", &limit)])
        .await;
    let kept = Conv::create(&server).await;
    // This send takes the server's first reading of the size: under.
    send(&server, &kept, "a", "before").await;

    let doomed = Conv::create(&filler).await;
    for i in 0..FILL {
        let text = format!("{i:03} {}", random_from("abcdefghij ", 49_990));
        send(&filler, &doomed, "a", &text).await;
    }
    let full = database_size(&env);
    assert!(
        full >= i64::from(budget) << 20,
        "{full} bytes are not over {budget} MiB"
    );
    // The server read the size before the filling: it lets calls through
    // on that reading for up to a second, then reads again.
    tokio::time::sleep(READING_LAPSES).await;

    let before = store_state(&env);
    let result = call(
        &server,
        "send_to_partner",
        kept.args("a", json!({"message": "over the budget"})),
    )
    .await;
    over_budget(&result, budget);
    over_budget(
        &call(
            &server,
            "send_message",
            kept.args("b", json!({"message": "to everyone"})),
        )
        .await,
        budget,
    );
    over_budget(
        &call(
            &server,
            "create_conversation",
            json!({"my_role": "dev", "partner_role": "ops"}),
        )
        .await,
        budget,
    );
    over_budget(
        &call(
            &server,
            "update_my_status",
            kept.args(
                "a",
                json!({"status": "working", "note": "a note is content"}),
            ),
        )
        .await,
        budget,
    );
    over_budget(
        &call(
            &server,
            "create_invite",
            kept.args("a", json!({"role": "reviewer"})),
        )
        .await,
        budget,
    );
    assert_eq!(store_state(&env), before, "a refused call stored something");
    wait_until("the refusals to be audited as denied", || {
        audited_refusals(&env, "send_to_partner") == 1
            && audited_refusals(&env, "create_conversation") == 1
            && audited_refusals(&env, "update_my_status") == 1
    })
    .await;

    // Reading goes on: the partner gets what was sent before, and nothing
    // of the refused sends; status checks and plain heartbeats work.
    assert_eq!(
        contents(&check(&server, &kept, "b", json!({})).await),
        ["before"]
    );
    assert_eq!(
        contents(&check(&server, &kept, "a", json!({})).await),
        Vec::<String>::new()
    );
    ok(&call(
        &server,
        "update_my_status",
        kept.args("b", json!({"status": "waiting"})),
    )
    .await);
    ok(&call(&server, "check_partner_status", kept.args("a", json!({}))).await);

    // The operator frees space: ends the filler's conversation, and
    // `cleanup` deletes it. SQLite keeps the file's length but its pages go
    // to the free list, which the size leaves out; PostgreSQL gives the
    // pages of a table that is now empty back with a VACUUM (autovacuum's
    // or, here, the operator's).
    cli(&env, &["end", &doomed.id]).await.ok();
    let cleaned = cli(&env, &["cleanup"]).await.ok();
    assert!(cleaned.contains(&doomed.id), "{cleaned}");
    if let Some(url) = env.pg_url() {
        crate::util_pg::sql(&url, "VACUUM");
    }
    let freed = database_size(&env);
    assert!(
        freed < i64::from(budget) << 20,
        "{freed} bytes after cleanup"
    );
    tokio::time::sleep(READING_LAPSES).await;
    send(&server, &kept, "a", "after cleanup").await;
    ok(&call(
        &server,
        "create_conversation",
        json!({"my_role": "dev", "partner_role": "ops"}),
    )
    .await);
    assert_eq!(
        contents(&check(&server, &kept, "b", json!({})).await),
        ["after cleanup"]
    );
    assert_audit_intact(&env, "after refusals and a cleanup");
    // The operator hears of it from the server: once over, once under again.
    let log = server.stop().await.stderr;
    let said = |text: &str| log.matches(text).count();
    assert_eq!(
        (
            said("the database holds limits.max_database_mb or more"),
            said("under limits.max_database_mb again")
        ),
        (1, 1),
        "{log}"
    );
    filler.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_budget_stops_start_up_naming_it() {
    let env = TestEnv::new("storage_budget_zero");
    let out = env
        .serve_command(&[("MCP_BRIDGE_LIMITS__MAX_DATABASE_MB", "0")])
        .output()
        .expect("run serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("limits.max_database_mb"), "{stderr}");
}
