//! Servers on one database with different shared tokens
//! (`MCP_BRIDGE_HTTP_TOKEN`) are different identities: an MCP session
//! opened with one is not taken over with the other (red team: both were
//! the one identity "(shared)", so a client holding only the second token
//! took over a session bound on the first server). With the same shared
//! token, a session still moves between the servers.

use serde_json::json;

use crate::util::*;
use crate::util_http::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_belongs_to_the_shared_token_that_opened_it() {
    let env = TestEnv::new("http_shared_tokens");
    let (first, second) = (
        "first-shared-token-0123456789",
        "second-shared-token-987654321",
    );
    let one = HttpServer::start(&env, &[], &[("MCP_BRIDGE_HTTP_TOKEN", first)]).await;
    let two = HttpServer::start(&env, &[], &[("MCP_BRIDGE_HTTP_TOKEN", second)]).await;
    let same = HttpServer::start(&env, &[], &[("MCP_BRIDGE_HTTP_TOKEN", first)]).await;

    let session = open_session(&one.url, first).await;
    let created = session_call(
        &one.url,
        first,
        &session,
        "create_conversation",
        json!({"my_role": "writer", "partner_role": "reader"}),
    )
    .await;
    let conversation = answer_result(&created)["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The other shared token: the session does not exist for it.
    let taken = session_call(
        &two.url,
        second,
        &session,
        "list_my_conversations",
        json!({}),
    )
    .await;
    assert_eq!(taken.status, 404, "{}", taken.body);
    assert!(!taken.body.contains(&conversation), "{}", taken.body);

    // The same shared token on another server: the session moves, with its seat.
    let moved = session_call(
        &same.url,
        first,
        &session,
        "list_my_conversations",
        json!({}),
    )
    .await;
    assert!(
        answer_result(&moved).to_string().contains(&conversation),
        "{}",
        moved.body
    );
}
