//! A long-poll inside an MCP session runs in the session's task, not in its
//! HTTP request's: when the client goes away mid-wait, or its session is
//! deleted under it, the call must end (audited `cancelled`) instead of
//! taking the next message for a reader that is gone, which the partner
//! would then see only once its lease lapsed. Runs on the suite's store.

use serde_json::json;

use crate::util::*;
use crate::util_http::*;

use session_call as call;

/// Alice's MCP session on a server, with a conversation she created, and her
/// long-poll (side a) waiting in it.
struct Waiting {
    env: TestEnv,
    server: HttpServer,
    alice: String,
    session: String,
    id: String,
    a_token: String,
    b_token: String,
    waiter: tokio::task::JoinHandle<Answer>,
}

async fn waiting(name: &str) -> Waiting {
    let env = TestEnv::new(name);
    let alice = make_token(&env, "alice", "agent");
    let server = HttpServer::start(&env, &[], &[]).await;
    let session = open_session(&server.url, &alice).await;
    let created = answer_result(
        &call(
            &server.url,
            &alice,
            &session,
            "create_conversation",
            json!({"my_role": "writer", "partner_role": "reader"}),
        )
        .await,
    );
    let field = |name: &str| created[name].as_str().unwrap().to_owned();
    let (id, a_token, b_token) = (
        field("conversation_id"),
        field("session_a_token"),
        field("session_b_token"),
    );
    let (url, token, s) = (server.url.clone(), alice.clone(), session.clone());
    let waiter = tokio::spawn(async move {
        call(
            &url,
            &token,
            &s,
            "check_messages",
            json!({"wait_seconds": 30}),
        )
        .await
    });
    wait_check_started(&env, &id, "a").await;
    Waiting {
        env,
        server,
        alice,
        session,
        id,
        a_token,
        b_token,
        waiter,
    }
}

impl Waiting {
    /// Side b sends `text` to side a.
    async fn partner_sends(&self, text: &str) {
        let sent = stateless(
            &self.server.url,
            Some(&self.alice),
            5,
            "send_to_partner",
            json!({"conversation_id": self.id, "session_id": "b", "token": self.b_token,
                   "message": text}),
        )
        .await;
        answer_result(&sent);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_long_poll_ends_when_its_client_goes() {
    let w = waiting("http_gone").await;
    // Its client gives up mid-wait.
    w.waiter.abort();
    wait_check_cancelled(&w.env, &w.id, "a").await;

    // What the partner sends now is not taken by the call that was given up:
    // the session's next check gets it at once.
    w.partner_sends("after the client left").await;
    let read = answer_result(
        &call(
            &w.server.url,
            &w.alice,
            &w.session,
            "check_messages",
            json!({}),
        )
        .await,
    );
    assert_eq!(
        read["messages"][0]["content"],
        json!("after the client left"),
        "{read}"
    );
    let (status, stderr) = w.server.terminate().await;
    assert!(status.success(), "{stderr}");
}

/// A session deleted by its owner while a long-poll waits in it: rmcp ends
/// the call's stream without a reply, and the call used to wait on, take the
/// partner's next message for no one, and leave it to the real reader only
/// once its lease lapsed, 20 s later (red team). It now ends with the
/// stream, and the message goes to the next reader at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_long_poll_ends_when_its_session_is_deleted() {
    let mut w = waiting("http_gone_deleted").await;
    let ended = reqwest::Client::new()
        .delete(&w.server.url)
        .header("authorization", format!("Bearer {}", w.alice))
        .header("mcp-session-id", &w.session)
        .header("mcp-protocol-version", SESSION_VERSION)
        .send()
        .await
        .expect("DELETE");
    assert!(ended.status().is_success(), "{}", ended.status());
    // Its stream has ended; the partner sends at once (not after the call
    // was seen cancelled: the old call went on waiting for a few seconds).
    drop((&mut w.waiter).await);
    w.partner_sends("after the session ended").await;
    let read = answer_result(
        &stateless(
            &w.server.url,
            Some(&w.alice),
            6,
            "check_messages",
            json!({"conversation_id": w.id, "session_id": "a", "token": w.a_token}),
        )
        .await,
    );
    assert_eq!(
        read["messages"][0]["content"],
        json!("after the session ended"),
        "{read}"
    );
    wait_check_cancelled(&w.env, &w.id, "a").await;
    let (status, stderr) = w.server.terminate().await;
    assert!(status.success(), "{stderr}");
}
