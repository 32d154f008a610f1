//! `mcp-bridge end CONV` against real `mcp-bridge serve` processes: a live
//! conversation ends at once on every server (tokens and invite codes stop
//! working), other conversations go on, `cleanup` then removes it, and every
//! step is audited.

use serde_json::{Value, json};

use crate::teams::invite;
use crate::util::*;
use crate::util_calls::*;
use crate::util_cli::*;
use crate::util_state::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_stops_a_live_conversation_on_every_server_and_cleanup_removes_it() {
    let env = TestEnv::new("cli_end");
    let owner = env.server_with(NO_LIMITS).await;
    let other = env.server_with(NO_LIMITS).await;
    let doomed = Conv::create(&owner).await;
    let kept = Conv::create(&other).await;
    let code = invite(&owner, "qa", "member").await;
    send(&owner, &doomed, "a", "before the end").await;

    // Bad input is refused and changes nothing.
    let expiries = || env.query("SELECT id, expires_at FROM conversations ORDER BY 1");
    let before = (store_state(&env), expiries());
    cli(&env, &["end", "conv_00000000000000ff"])
        .await
        .fails(1, "conv_00000000000000ff");
    let malformed = cli(&env, &["end", "not-a-conversation"]).await;
    assert!(
        malformed.code == 2 && malformed.stderr.contains("is not a conversation id"),
        "{malformed:?}"
    );
    assert_eq!((store_state(&env), expiries()), before);

    // A long-poll already waiting in it (on another server, with nothing
    // unread) ends with it.
    let waiter = env.server().await;
    let poll = {
        let (peer, args) = (waiter.peer(), doomed.args("a", json!({"wait_seconds": 60})));
        tokio::spawn(async move { call(&peer, "check_messages", args).await })
    };
    wait_until("the long-poll to start", || {
        polls_started(&env, &doomed, "a") == 1
    })
    .await;

    let ended = cli(&env, &["end", &doomed.id]).await.ok();
    assert!(
        ended.starts_with(&format!("Ended {} (backend ↔ frontend)", doomed.id))
            && ended.contains("`mcp-bridge cleanup` removes it"),
        "{ended}"
    );

    let waited = tokio::time::timeout(EVENT_TIMEOUT, poll)
        .await
        .expect("the waiting long-poll ends when the conversation does")
        .expect("the call task");
    tool_error(&waited, "conversation_expired");

    // Every call of either seat on either server now answers conversation_expired,
    // and the invite made before the end no longer admits anyone.
    for server in [&owner, &other] {
        for side in ["a", "b"] {
            let sent = call(
                server,
                "send_to_partner",
                doomed.args(side, json!({"message": "after the end"})),
            )
            .await;
            tool_error(&sent, "conversation_expired");
            let checked = call(server, "check_messages", doomed.args(side, json!({}))).await;
            tool_error(&checked, "conversation_expired");
        }
    }
    let joiner = env.server_with(NO_LIMITS).await;
    tool_error(
        &call(&joiner, "join_conversation", json!({"invite_code": code})).await,
        "invite_invalid",
    );
    // The other conversation is untouched.
    send(&other, &kept, "b", "still going").await;

    // Ending it again changes nothing and is no error (scripts may repeat it).
    let again = cli(&env, &["end", &doomed.id, "--json"]).await.json();
    assert_eq!(
        (&again["conversation_id"], &again["ended"]),
        (&json!(doomed.id), &json!(false))
    );

    let removed = cli(&env, &["cleanup", "--json"]).await.json();
    let ids: Vec<&Value> = removed["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, [&json!(doomed.id)]);
    assert_eq!(removed["removed_messages"], 1);
    let list = cli(&env, &["list", "--json"]).await.json();
    assert_eq!(find(&list, "conversations", &kept.id)["id"], json!(kept.id));

    // Audited: the refusal, the end (with the expiry it had), the repeat.
    let (records, trail) =
        audited_fields(&env, "end", &["conversation_id", "outcome", "detail"]).await;
    assert_eq!(records.len(), 3, "{trail}");
    assert_eq!(
        records[0][..2],
        [json!("conv_00000000000000ff"), json!("denied")]
    );
    assert_eq!(records[1][..2], [json!(doomed.id), json!("ok")]);
    assert!(
        records[1][2]
            .as_str()
            .unwrap()
            .starts_with("ended; it was to expire at "),
        "{trail}"
    );
    assert!(
        records[2][2]
            .as_str()
            .unwrap()
            .starts_with("already expired at "),
        "{trail}"
    );
    cli(&env, &["audit", "--verify"]).await.ok();
}

/// A removed participant's role is not listed beside the one who holds it
/// now: `end` and `cleanup` printed `backend ↔ frontend ↔ qa ↔ qa`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_and_cleanup_name_only_the_participants_still_there() {
    let env = TestEnv::new("cli_end_removed");
    let owner = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&owner).await;
    let first = env.server_with(NO_LIMITS).await;
    crate::teams::join(&first, &invite(&owner, "qa", "member").await).await;
    crate::util_calls::ok(&call(&owner, "remove_participant", json!({"participant": "qa"})).await);
    let second = env.server_with(NO_LIMITS).await;
    crate::teams::join(&second, &invite(&owner, "qa", "member").await).await;

    let ended = cli(&env, &["end", &conv.id]).await.ok();
    assert!(
        ended.starts_with(&format!("Ended {} (backend ↔ frontend ↔ qa)", conv.id)),
        "{ended}"
    );
    let dry = cli(&env, &["cleanup", "--dry-run"]).await.ok();
    assert!(
        dry.contains("backend ↔ frontend ↔ qa") && !dry.contains("qa ↔ qa"),
        "{dry}"
    );
    for server in [owner, first, second] {
        server.stop().await;
    }
}
