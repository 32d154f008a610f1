//! Teams of agents, proven with several real `serve` processes on one
//! database: invites (single use across processes, expiry, only the owner),
//! guessing limits, and removal that kills a token at once in every process.
//! The helpers and the five-process `Team` here serve `teams_delivery`
//! (addressing, observers, a burst) and the other `teams_*` files too.

use std::collections::BTreeMap;

use rmcp::RoleClient;
use rmcp::service::Peer;
use serde_json::{Value, json};

use crate::util::*;

/// A code as `create_invite` shows it: four groups of four Crockford symbols.
fn is_invite_code(code: &str) -> bool {
    let groups: Vec<&str> = code.split('-').collect();
    groups.len() == 4
        && groups.iter().all(|g| {
            g.len() == 4
                && g.bytes()
                    .all(|b| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b))
        })
}

/// Creates an invite through `owner` (bound) and returns its code.
pub async fn invite(owner: &Peer<RoleClient>, role: &str, kind: &str) -> String {
    let body = ok(&call(owner, "create_invite", json!({"role": role, "as": kind})).await);
    let code = body["invite_code"]
        .as_str()
        .expect("invite_code")
        .to_owned();
    assert!(is_invite_code(&code), "{body}");
    assert_eq!(
        (body["role"].as_str(), body["as"].as_str()),
        (Some(role), Some(kind))
    );
    code
}

/// Creates a member invite for `role` in `conv` with the owner's (side a)
/// explicit credentials, so that `owner` may have created several conversations.
pub async fn invite_for(owner: &Peer<RoleClient>, conv: &Conv, role: &str) -> String {
    let body = ok(&call(
        owner,
        "create_invite",
        conv.args("a", json!({"role": role})),
    )
    .await);
    body["invite_code"]
        .as_str()
        .expect("invite_code")
        .to_owned()
}

/// Joins with `code` through `peer` and returns the result.
pub async fn join(peer: &Peer<RoleClient>, code: &str) -> Value {
    ok(&call(peer, "join_conversation", json!({"invite_code": code})).await)
}

/// A joined session's explicit credentials.
pub fn creds_of(joined: &Value) -> Value {
    json!({
        "conversation_id": joined["conversation_id"],
        "session_id": joined["session_id"],
        "token": joined["token"],
    })
}

/// Sends `text` through a bound session with `extra` fields; returns the result.
pub async fn say(peer: &Peer<RoleClient>, text: &str, extra: Value) -> Value {
    let mut args = json!({"message": text});
    merge(&mut args, extra);
    ok(&call(peer, "send_message", args).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invites_work_once_expire_and_come_only_from_the_owner() {
    let env = TestEnv::new("teams_invites");
    let owner = env.server().await;
    let partner = env.server().await;
    let qa = env.server().await;
    let late = env
        .server_with(&[("MCP_BRIDGE_TEAMS__INVITE_MINUTES", "0.002")])
        .await;
    let conv = Conv::create(&owner).await;

    let code = invite(&owner, "qa", "member").await;
    // Only the owner invites: the partner (explicit credentials) is refused, and audited.
    let refused = call(
        &partner,
        "create_invite",
        conv.args("b", json!({"role": "x"})),
    )
    .await;
    tool_error(&refused, "forbidden");
    // Roles are unique, case-insensitively, among participants and outstanding invites.
    for taken in ["frontend", "QA", "Backend"] {
        let r = call(&owner, "create_invite", json!({"role": taken})).await;
        assert!(
            tool_error(&r, "invalid_argument")["message"]
                .as_str()
                .is_some_and(|m| m.contains("taken")),
            "{taken}"
        );
    }

    // The code works typed in lower case without dashes, from another process.
    let typed = code.replace('-', "").to_lowercase();
    let joined = join(&qa, &typed).await;
    assert_eq!(
        (
            joined["conversation_id"].as_str(),
            joined["session_id"].as_str(),
            joined["role"].as_str(),
            joined["kind"].as_str()
        ),
        (
            Some(conv.id.as_str()),
            Some("c"),
            Some("qa"),
            Some("member")
        )
    );
    assert!(joined["token"].as_str().is_some_and(|t| t.len() == 64));
    let roles: Vec<&str> = joined["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["backend", "frontend", "qa"]);
    // A member cannot invite either.
    tool_error(
        &call(&qa, "create_invite", json!({"role": "y"})).await,
        "forbidden",
    );

    // Used, unknown and expired codes get the very same answer.
    let used = call(&partner, "join_conversation", json!({"invite_code": code})).await;
    let used = tool_error(&used, "invite_invalid");
    let unknown = call(
        &partner,
        "join_conversation",
        json!({"invite_code": "0000-0000-0000-0000"}),
    )
    .await;
    assert_eq!(tool_error(&unknown, "invite_invalid"), used);
    let short_lived = ok(&call(
        &late,
        "create_invite",
        conv.args("a", json!({"role": "late"})),
    )
    .await);
    let expires = jiff::Timestamp::from_str_lossy(short_lived["expires_at"].as_str().unwrap());
    wait_until("the invite to expire", || jiff::Timestamp::now() > expires).await;
    let expired = call(
        &partner,
        "join_conversation",
        json!({"invite_code": short_lived["invite_code"]}),
    )
    .await;
    assert_eq!(tool_error(&expired, "invite_invalid"), used);
    // An expired invite no longer holds its role.
    invite(&owner, "late", "observer").await;

    // Only keyed hashes are stored; no code appears anywhere in the files.
    for (path, bytes) in env.raw_db_bytes() {
        for c in [&code, &typed, &code.replace('-', "")] {
            assert!(
                !bytes.windows(c.len()).any(|w| w == c.as_bytes()),
                "{} holds an invite code",
                path.display()
            );
        }
    }
    assert_eq!(
        env.count("SELECT count(*) FROM audit_log WHERE action = 'join_conversation' AND code = 'invite_invalid'"),
        3
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM audit_log WHERE action = 'create_invite' AND code = 'forbidden'"
        ),
        2
    );
    assert_audit_intact(&env, "after invites");
    for s in [owner, partner, qa, late] {
        s.stop().await;
    }
}

/// Parses an RFC 3339 time the server wrote.
trait Lossy {
    fn from_str_lossy(text: &str) -> jiff::Timestamp;
}

impl Lossy for jiff::Timestamp {
    fn from_str_lossy(text: &str) -> jiff::Timestamp {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_codes_is_limited_per_process_and_across_processes() {
    let env = TestEnv::new("teams_guessing");
    let owner = env.server().await;
    let guesser = env.server().await;
    let honest = env.server().await;
    Conv::create(&owner).await;
    let code = invite(&owner, "qa", "member").await;

    // Per process: ten failures a minute, then even a valid code is refused.
    for i in 0..10 {
        let guess = format!("{i:04}-0000-0000-0000");
        tool_error(
            &call(&guesser, "join_conversation", json!({"invite_code": guess})).await,
            "invite_invalid",
        );
    }
    let limited = call(&guesser, "join_conversation", json!({"invite_code": code})).await;
    let limited = tool_error(&limited, "rate_limited");
    assert!(
        limited["retry_after_s"]
            .as_u64()
            .is_some_and(|s| (1..=60).contains(&s)),
        "{limited}"
    );
    // Another process is not held back by this one's failures, and the code still works.
    assert_eq!(join(&honest, &code).await["session_id"], "c");

    // Across processes: failures count in the database. Once over the cap
    // a wrong code is refused as rate_limited in every process, but a genuine
    // one still works (80 random bits: the cap bounds the guessing's work, it
    // is not what makes a guess hopeless), so guessers cannot lock joins.
    let capped = [("MCP_BRIDGE_RATE_LIMITS__JOIN_CONVERSATION__PER_MINUTE", "3")];
    let p1 = env.server_with(&capped).await;
    let p2 = env.server_with(&capped).await;
    let p3 = env.server_with(&capped).await;
    let code2 = invite(&owner, "reviewer", "observer").await;
    // The database already holds this minute's ten failures of the first part.
    for p in [&p2, &p3] {
        let refused = call(
            p,
            "join_conversation",
            json!({"invite_code": "1111-1111-1111-1111"}),
        )
        .await;
        let refused = tool_error(&refused, "rate_limited");
        assert!(
            refused.to_string().contains("across every server"),
            "{refused}"
        );
    }
    assert_eq!(join(&p1, &code2).await["kind"], "observer");
    // Refusals reach the trail through each process's batching (repeats
    // folded into summaries), so wait for all three to be counted.
    wait_until("three audited rate_limited joins", || {
        refused_calls(&env, None, "rate_limited") == 3
    })
    .await;
    // `cleanup` (from cron, say) does not reset the count across servers:
    // it is kept under no conversation, and only dead conversations' go.
    crate::util_cli::cli(&env, &["cleanup"]).await.ok();
    let still = call(
        &p2,
        "join_conversation",
        json!({"invite_code": "2222-2222-2222-2222"}),
    )
    .await;
    tool_error(&still, "rate_limited");
    for s in [owner, guesser, honest, p1, p2, p3] {
        s.stop().await;
    }
}

/// A conversation of five, each participant in its own server process:
/// `a` owner (backend), `b` partner (frontend, explicit token), `c` qa and
/// `d` docs (members by invite), `e` reviewer (observer by invite).
pub struct Team {
    pub env: TestEnv,
    pub conv: Conv,
    pub a: Server,
    pub b: Server,
    pub c: Server,
    pub d: Server,
    pub e: Server,
    pub joined: BTreeMap<&'static str, Value>,
}

impl Team {
    pub async fn start(name: &str, vars: &[(&str, &str)]) -> Team {
        let env = TestEnv::new(name);
        let (a, b, c, d, e) = (
            env.server_with(vars).await,
            env.server_with(vars).await,
            env.server_with(vars).await,
            env.server_with(vars).await,
            env.server_with(vars).await,
        );
        let conv = Conv::create(&a).await;
        let mut joined = BTreeMap::new();
        for (session, role, kind, server) in [
            ("c", "qa", "member", &c),
            ("d", "docs", "member", &d),
            ("e", "reviewer", "observer", &e),
        ] {
            let code = invite(&a, role, kind).await;
            let j = join(server, &code).await;
            assert_eq!(j["session_id"], session, "{j}");
            joined.insert(session, j);
        }
        Team {
            env,
            conv,
            a,
            b,
            c,
            d,
            e,
            joined,
        }
    }

    /// The partner's explicit credentials plus `extra`.
    pub fn b_args(&self, extra: Value) -> Value {
        self.conv.args("b", extra)
    }

    pub async fn stop(self) {
        for s in [self.a, self.b, self.c, self.d, self.e] {
            s.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_participant_is_shut_out_at_once_in_every_process() {
    let t = Team::start("teams_removal", &[("MCP_BRIDGE_RATE_LIMITS", "off")]).await;
    let qa_creds = creds_of(&t.joined["c"]);
    let other = t.env.server().await;

    // qa long-polls in its own process (nothing waits for it) while the owner removes it.
    let waiting = {
        let peer = t.c.peer();
        tokio::spawn(
            async move { call(&peer, "check_messages", json!({"wait_seconds": 30})).await },
        )
    };
    // Only the owner may remove, and not itself or a stranger.
    tool_error(
        &call(
            &t.b,
            "remove_participant",
            t.b_args(json!({"participant": "qa"})),
        )
        .await,
        "forbidden",
    );
    tool_error(
        &call(
            &t.a,
            "remove_participant",
            json!({"participant": "backend"}),
        )
        .await,
        "invalid_argument",
    );
    tool_error(
        &call(&t.a, "remove_participant", json!({"participant": "ghost"})).await,
        "invalid_argument",
    );
    let removed = ok(&call(&t.a, "remove_participant", json!({"participant": "QA"})).await);
    assert_eq!(
        (
            removed["removed_session_id"].as_str(),
            removed["removed_role"].as_str()
        ),
        (Some("c"), Some("qa"))
    );
    assert_eq!(removed["participants"].as_array().unwrap().len(), 4);

    // The long-poll ends with auth_failed at once, not after its 30 seconds.
    let ended = tokio::time::timeout(EVENT_TIMEOUT, waiting)
        .await
        .expect("the removal ends the long-poll")
        .expect("task");
    tool_error(&ended, "auth_failed");
    // Every later call with qa's token fails, in its process and in another.
    tool_error(
        &call(&t.c, "check_messages", json!({})).await,
        "auth_failed",
    );
    tool_error(
        &call(&t.c, "send_message", json!({"message": "still here?"})).await,
        "auth_failed",
    );
    tool_error(
        &call(&other, "check_messages", qa_creds.clone()).await,
        "auth_failed",
    );
    let mut status = qa_creds.clone();
    merge(&mut status, json!({"status": "working"}));
    tool_error(
        &call(&other, "update_my_status", status).await,
        "auth_failed",
    );
    let listed = ok(&call(&t.c, "list_my_conversations", json!({})).await);
    assert_eq!(listed["conversations"][0]["state"], "removed");
    // It learns that it was removed, and nothing of who is still there:
    // no roles, notes or heartbeats, bound or with its old token.
    assert_eq!(
        listed["conversations"][0]["participants"],
        json!([]),
        "{listed}"
    );
    let explicit = ok(&call(&other, "list_my_conversations", qa_creds.clone()).await);
    assert_eq!(
        explicit["conversations"][0]["state"], "removed",
        "{explicit}"
    );
    assert_eq!(
        explicit["conversations"][0]["participants"],
        json!([]),
        "{explicit}"
    );

    // Messages to everyone skip a removed participant; addressing it is refused.
    let sent = say(&t.a, "after the removal", json!({})).await;
    assert_eq!(sent["to"], json!(["frontend", "docs"]));
    tool_error(
        &call(&t.a, "send_message", json!({"message": "x", "to": "qa"})).await,
        "invalid_argument",
    );
    // What waited for a removed participant is dropped with it.
    say(&t.a, "for docs", json!({"to": "docs"})).await;
    assert_eq!(
        t.env
            .count("SELECT count(*) FROM pending_deliveries WHERE recipient = 'd'"),
        2
    );
    ok(&call(&t.a, "remove_participant", json!({"participant": "d"})).await);
    assert_eq!(
        t.env
            .count("SELECT count(*) FROM pending_deliveries WHERE recipient IN ('c', 'd')"),
        0
    );

    // The role is free again for a newcomer, who gets a fresh session id.
    let code = invite(&t.a, "qa", "member").await;
    assert_eq!(join(&other, &code).await["session_id"], "f");
    assert_eq!(
        t.env.count(
            "SELECT count(*) FROM audit_log WHERE action = 'remove_participant' AND outcome = 'ok'"
        ),
        2
    );
    assert_eq!(
        t.env.count("SELECT count(*) FROM audit_log WHERE action = 'remove_participant' AND outcome = 'denied'"),
        1
    );
    other.stop().await;
    t.stop().await;
}
