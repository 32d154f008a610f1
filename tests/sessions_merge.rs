//! A server process bound to several conversations reads them in one
//! `check_messages` (no conversation named): through the real binary, its
//! pages hold the oldest messages waiting in any of them, in send order, and
//! a partner that keeps one conversation's inbox full cannot hold back the
//! others (`service::merge`).

use serde_json::json;

use crate::util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_session_reads_its_conversations_in_send_order() {
    let env = TestEnv::new("sessions_merge");
    let no_limits = [("MCP_BRIDGE_RATE_LIMITS", "off")];
    let reader = env.server_with(&no_limits).await;
    let partners = env.server_with(&no_limits).await;
    let busy = Conv::create(&reader).await;
    let quiet = Conv::create(&reader).await;
    let page = |limit: u32| {
        let reader = reader.peer();
        async move { ok(&call(&reader, "check_messages", json!({"limit": limit})).await) }
    };

    for n in 1..=6 {
        let to = if n % 2 == 1 { &busy } else { &quiet };
        send(&partners, to, "b", &n.to_string()).await;
    }
    for n in 1..=4 {
        assert_eq!(contents(&page(1).await), [n.to_string()]);
    }
    assert_eq!(contents(&page(3).await), ["5", "6"]);

    // The busy partner keeps more than a page waiting; the quiet one's
    // message comes on the page its age gives it.
    for n in 0..120 {
        send(&partners, &busy, "b", &format!("busy {n}")).await;
    }
    send(&partners, &quiet, "b", "quiet").await;
    let first = contents(&page(100).await);
    assert!(!first.contains(&"quiet".to_owned()), "{first:?}");
    for n in 120..220 {
        send(&partners, &busy, "b", &format!("busy {n}")).await;
    }
    let second = page(100).await;
    assert_eq!(second["more"], true, "{second}");
    let second = contents(&second);
    assert_eq!(
        second[19..22],
        ["busy 119", "quiet", "busy 120"],
        "{second:?}"
    );
    // Each message names its conversation.
    let named = page(1).await;
    assert_eq!(
        messages(&named)[0]["conversation_id"],
        json!(busy.id),
        "{named}"
    );
}
