//! A seat named with its token is remembered: the partner handed
//! `session_b_token` (the two-party way), or an agent whose server restarted
//! and passes the credentials it kept, gets the inbox hook and
//! `bridge://inbox` notifications like one that created or joined, and may
//! leave its credentials out from then on. Only a call that succeeds binds:
//! a wrong token or a removed seat leaves the session as it was.

use rmcp::model::SubscribeRequestParams;
use serde_json::json;

use crate::teams::{creds_of, invite, join};
use crate::teams_cli::{inbox, under_shell};
use crate::teams_sessions::watched;
use crate::util::*;
use crate::util_cli::*;

fn bindings(env: &TestEnv, side: &str) -> i64 {
    env.count(&format!(
        "SELECT count(*) FROM client_bindings WHERE side = '{side}'"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seat_named_with_its_token_reaches_the_inbox_hook_and_is_remembered() {
    let env = TestEnv::new("explicit_bound");
    let owner = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&owner).await;
    // The partner's server runs under its own client (a shell), as hooks see it.
    let partner = Server::spawn(under_shell(&env.serve_command(NO_LIMITS))).await;
    let client_pid = partner.pid().to_string();
    let hook = || inbox(&env, &["--pid", &client_pid]);

    // A wrong token binds nothing: the session still knows no seat.
    let mut wrong = conv.args("b", json!({}));
    wrong["token"] = json!(conv.a);
    tool_error(
        &call(&partner, "check_messages", wrong).await,
        "auth_failed",
    );
    tool_error(
        &call(&partner, "check_messages", json!({})).await,
        "invalid_argument",
    );
    assert_eq!(bindings(&env, "b"), 0);

    // The documented two-party way: every call names the seat.
    check(&partner, &conv, "b", json!({})).await;
    assert_eq!(bindings(&env, "b"), 1, "the seat is recorded for the hook");
    send(&owner, &conv, "a", "please review the diff").await;
    let text = run_cmd(hook(), None).await.ok();
    assert!(
        text.contains(&format!(
            "- {} (you are frontend, session b): 1 unread",
            conv.id
        )) && text.contains("please review the diff"),
        "{text}"
    );

    // From then on the credentials may be left out, as after a join.
    let listed = ok(&call(&partner, "list_my_conversations", json!({})).await);
    assert_eq!(
        listed["conversations"][0]["conversation_id"],
        conv.id.as_str()
    );
    assert_eq!(listed["conversations"][0]["session_id"], "b");
    let got = ok(&call(&partner, "check_messages", json!({})).await);
    assert_eq!(contents(&got), ["please review the diff"]);
    ok(&call(&partner, "send_to_partner", json!({"message": "done"})).await);
    assert_eq!(
        contents(&check(&owner, &conv, "a", json!({})).await),
        ["done"]
    );

    // Naming it again adds nothing.
    check(&partner, &conv, "b", json!({})).await;
    assert_eq!(bindings(&env, "b"), 1);
    partner.stop().await;
    owner.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_naming_its_seat_is_notified() {
    let env = TestEnv::new("explicit_notified");
    let owner = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&owner).await;
    let (partner, mut updates, _child) = watched(&env).await;
    #[allow(deprecated)]
    partner
        .subscribe(SubscribeRequestParams::new("bridge://inbox"))
        .await
        .expect("resources/subscribe");
    check(&partner, &conv, "b", json!({})).await;
    send(&owner, &conv, "a", "news").await;
    let uri = tokio::time::timeout(EVENT_TIMEOUT, updates.recv())
        .await
        .expect("a notification for the seat the partner named")
        .expect("open");
    assert_eq!(uri, "bridge://inbox");
    let _ = partner.cancel().await;
    owner.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_seat_named_with_its_token_is_not_remembered() {
    let env = TestEnv::new("explicit_removed");
    let owner = env.server_with(NO_LIMITS).await;
    Conv::create(&owner).await;
    let joiner = env.server_with(NO_LIMITS).await;
    let joined = join(&joiner, &invite(&owner, "qa", "member").await).await;
    ok(&call(&owner, "remove_participant", json!({"participant": "qa"})).await);

    // Its token still verifies, so the listing shows the seat as removed …
    let later = env.server_with(NO_LIMITS).await;
    let listed = ok(&call(&later, "list_my_conversations", creds_of(&joined)).await);
    assert_eq!(listed["conversations"][0]["state"], "removed", "{listed}");
    let refused = call(&later, "check_messages", creds_of(&joined)).await;
    assert!(refused.is_error == Some(true), "{refused:?}");
    // … but the session holds nothing afterwards.
    let mine = ok(&call(&later, "list_my_conversations", json!({})).await);
    assert_eq!(mine["conversations"], json!([]), "{mine}");
    tool_error(
        &call(&later, "check_messages", json!({})).await,
        "invalid_argument",
    );
    for s in [later, joiner, owner] {
        s.stop().await;
    }
}

/// One connection may carry several agents (Claude Code's subagents share
/// their parent's server): a helper's explicit call must not add its seat
/// to the lead's, whose credential-less reads would then take the helper's
/// messages and whose sends would become ambiguous (review).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_holds_a_seat_learns_no_second_one() {
    let env = TestEnv::new("explicit_second");
    let shared = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&shared).await; // the lead: bound to seat a
    let other = env.server_with(NO_LIMITS).await;
    send(&other, &conv, "b", "for the lead").await;
    send(&other, &conv, "a", "for the helper only").await;
    // The helper, on the same connection, names its own seat.
    ok(&call(&shared, "list_my_conversations", conv.args("b", json!({}))).await);
    // The lead still acts for seat a alone.
    let lead = ok(&call(&shared, "check_messages", json!({})).await);
    assert_eq!(contents(&lead), ["for the lead"]);
    ok(&call(&shared, "send_to_partner", json!({"message": "lead here"})).await);
    let listed = ok(&call(&shared, "list_my_conversations", json!({})).await);
    assert_eq!(listed["conversations"].as_array().map(Vec::len), Some(1));
    // The helper's message waits for the helper.
    let helper = check(&shared, &conv, "b", json!({})).await;
    assert_eq!(contents(&helper), ["for the helper only", "lead here"]);
    other.stop().await;
    shared.stop().await;
}
