//! The three resource bounds, through real processes: conversations per
//! database per hour (counted across processes), unread messages waiting per
//! recipient, and long-polls waiting per process. Each refusal is a tool
//! error `resource_limit` whose text names the bound and its value and says
//! what to do; it changes nothing but the audit trail; each bound is set from
//! the config file or the environment (`[limits]`, `MCP_BRIDGE_LIMITS__*`).

use serde_json::{Value, json};

use crate::teams::{Team, creds_of, say};
use crate::util::*;

/// Asserts a `resource_limit` refusal naming `what` and `limit`; returns its text.
fn refused(result: &rmcp::model::CallToolResult, what: &str, limit: u32) -> String {
    let body = tool_error(result, "resource_limit");
    let text = body["message"].as_str().expect("message").to_owned();
    assert!(
        text.contains(what) && text.contains(&format!("limit of {limit}")),
        "the refusal should name {what:?} and its limit {limit}: {text}"
    );
    text
}

/// `side`'s `send_to_partner` of `message` in `conv`, whatever the answer.
async fn try_send(
    server: &Server,
    conv: &Conv,
    side: &str,
    message: &str,
) -> rmcp::model::CallToolResult {
    call(
        server,
        "send_to_partner",
        conv.args(side, json!({"message": message})),
    )
    .await
}

/// Audit records of `action` refused with `resource_limit`.
fn audited_refusals(env: &TestEnv, action: &str) -> i64 {
    env.count(&format!(
        "SELECT count(*) FROM audit_log WHERE action = '{action}' AND outcome = 'denied' AND code = 'resource_limit'"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_per_hour_hold_across_processes_and_come_from_the_config_file() {
    let env = TestEnv::new("limit_conversations");
    let config = env.dir.join("config.toml");
    std::fs::write(&config, "[limits]\nconversations_per_hour = 3\n").expect("config");
    let mut cmd = env.serve_command(&[]);
    cmd.arg("--config").arg(&config);
    let s1 = Server::spawn(cmd).await;
    let s2 = env
        .server_with(&[("MCP_BRIDGE_LIMITS__CONVERSATIONS_PER_HOUR", "3")])
        .await;
    for server in [&s1, &s2, &s1] {
        Conv::create(server).await;
    }
    let before = store_state(&env);
    for server in [&s2, &s1] {
        let result = call(
            server,
            "create_conversation",
            json!({"my_role": "dev", "partner_role": "ops"}),
        )
        .await;
        let text = refused(&result, "conversations created in the last hour", 3);
        assert!(
            text.contains("limits.conversations_per_hour"),
            "should say where to raise it: {text}"
        );
    }
    assert_eq!(
        store_state(&env),
        before,
        "a refused conversation was stored"
    );
    // Refusals that write nothing are audited within milliseconds (batched).
    wait_until("the refusals to be audited", || {
        audited_refusals(&env, "create_conversation") == 2
    })
    .await;

    // A process with a higher bound accepts more: the bound is per process
    // setting, the count is the database's.
    let s3 = env
        .server_with(&[("MCP_BRIDGE_LIMITS__CONVERSATIONS_PER_HOUR", "4")])
        .await;
    Conv::create(&s3).await;
    refused(
        &call(
            &s3,
            "create_conversation",
            json!({"my_role": "dev", "partner_role": "ops"}),
        )
        .await,
        "conversations created in the last hour",
        4,
    );
    for s in [s1, s2, s3] {
        s.stop().await;
    }
}

/// On PostgreSQL a send's quota is spent in the same flight as the checks
/// before it: a send refused for a full inbox must take its count back with
/// it, or refusals would use up the sender's rate limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_refused_for_a_full_inbox_spends_no_quota() {
    let env = TestEnv::new("limit_pending_quota");
    let vars = [
        ("MCP_BRIDGE_LIMITS__MAX_PENDING_MESSAGES", "2"),
        ("MCP_BRIDGE_RATE_LIMITS__SEND_TO_PARTNER__PER_MINUTE", "3"),
    ];
    let server = env.server_with(&vars).await;
    let conv = Conv::create(&server).await;
    send(&server, &conv, "a", "m0").await;
    send(&server, &conv, "a", "m1").await;
    for _ in 0..3 {
        let result = try_send(&server, &conv, "a", "no room").await;
        refused(
            &result,
            "unread messages waiting for frontend (session b)",
            2,
        );
    }
    // Reading the page frees the inbox once its reply is acknowledged:
    // room for one more send, the quota's third, and then the quota is spent.
    let page = check(&server, &conv, "b", json!({"wait_seconds": 0})).await;
    assert_eq!(contents(&page), vec!["m0", "m1"]);
    wait_until("the page to leave the inbox", || {
        env.count("SELECT count(*) FROM pending_deliveries WHERE recipient = 'b'") == 0
    })
    .await;
    send(&server, &conv, "a", "m2").await;
    tool_error(
        &try_send(&server, &conv, "a", "over the quota").await,
        "rate_limited",
    );
    server.stop().await;
}

/// A send reads its conversation in its own transaction, after the quota was
/// spent in the same flight (PostgreSQL): a send its conversation refuses
/// (here: addressed to nobody there) must take its count back with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_its_conversation_refuses_spends_no_quota() {
    let env = TestEnv::new("limit_rule_quota");
    let vars = [("MCP_BRIDGE_RATE_LIMITS__SEND_TO_PARTNER__PER_MINUTE", "3")];
    let server = env.server_with(&vars).await;
    let conv = Conv::create(&server).await;
    let before = store_state(&env);
    for _ in 0..4 {
        let result = call(
            &server,
            "send_message",
            conv.args("a", json!({"message": "to nobody", "to": "nobody"})),
        )
        .await;
        let body = tool_error(&result, "invalid_argument");
        assert!(
            body["message"]
                .as_str()
                .expect("message")
                .contains("nobody"),
            "{body}"
        );
    }
    assert_eq!(
        store_state(&env),
        before,
        "a refused send changed the store"
    );
    for m in ["m0", "m1", "m2"] {
        send(&server, &conv, "a", m).await;
    }
    tool_error(
        &try_send(&server, &conv, "a", "over the quota").await,
        "rate_limited",
    );
    let page = check(&server, &conv, "b", json!({"wait_seconds": 0})).await;
    assert_eq!(contents(&page), vec!["m0", "m1", "m2"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_messages_are_bounded_per_recipient_until_it_reads() {
    let env = TestEnv::new("limit_pending");
    let vars = [
        ("MCP_BRIDGE_LIMITS__MAX_PENDING_MESSAGES", "5"),
        ("MCP_BRIDGE_RATE_LIMITS", "off"),
    ];
    let s1 = env.server_with(&vars).await;
    let s2 = env.server_with(&vars).await;
    let conv = Conv::create(&s1).await;
    for i in 0..5 {
        send(
            if i % 2 == 0 { &s1 } else { &s2 },
            &conv,
            "a",
            &format!("m{i}"),
        )
        .await;
    }
    let before = store_state(&env);
    for server in [&s1, &s2] {
        let result = try_send(server, &conv, "a", "one too many").await;
        let text = refused(
            &result,
            "unread messages waiting for frontend (session b)",
            5,
        );
        assert!(text.contains("reads"), "should say what to do: {text}");
    }
    assert_eq!(store_state(&env), before, "a refused message was stored");
    // Refusals that write nothing are audited within milliseconds (batched).
    wait_until("the refusals to be audited", || {
        audited_refusals(&env, "send_to_partner") == 2
    })
    .await;

    // The other direction has its own count.
    send(&s2, &conv, "b", "the partner can still talk").await;
    // Reading two frees two places, across processes.
    let page = check(&s2, &conv, "b", json!({"limit": 2})).await;
    assert_eq!(contents(&page), vec!["m0", "m1"]);
    // A page leaves the inbox once its written reply is acknowledged.
    wait_until("the page to be acknowledged", || {
        env.count("SELECT count(*) FROM pending_deliveries WHERE recipient = 'b'") == 3
    })
    .await;
    send(&s1, &conv, "a", "m5").await;
    send(&s2, &conv, "a", "m6").await;
    refused(&try_send(&s1, &conv, "a", "m7").await, "unread messages", 5);
    let rest = check(&s1, &conv, "b", json!({})).await;
    assert_eq!(contents(&rest), vec!["m2", "m3", "m4", "m5", "m6"]);
    // Delivered pages count until their acknowledgement commits, a moment
    // after the reply (longer on PostgreSQL): wait for it, as above.
    wait_until("the second page to be acknowledged", || {
        env.count("SELECT count(*) FROM pending_deliveries WHERE recipient = 'b'") == 0
    })
    .await;
    send(&s1, &conv, "a", "m7").await;
    s1.stop().await;
    s2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_are_bounded_per_process() {
    let env = TestEnv::new("limit_long_polls");
    let vars = [("MCP_BRIDGE_LIMITS__MAX_LONG_POLLS", "2")];
    let s1 = env.server_with(&vars).await;
    let s2 = env.server_with(&vars).await;
    let conv = Conv::create(&s1).await;
    let other = Conv::create(&s1).await;

    // Two long-polls fill s1's places.
    let mut waiting = Vec::new();
    for (c, side) in [(&conv, "b"), (&other, "b")] {
        let (peer, args) = (s1.peer(), c.args(side, json!({"wait_seconds": 30})));
        waiting.push(tokio::spawn(async move {
            ok(&call(&peer, "check_messages", args).await)
        }));
    }
    wait_until("both long-polls to start", || {
        polls_started(&env, &conv, "b") == 1 && polls_started(&env, &other, "b") == 1
    })
    .await;

    // A third on the same process is refused at once, whoever asks…
    let text = refused(
        &call(
            &s1,
            "check_messages",
            conv.args("a", json!({"wait_seconds": 30})),
        )
        .await,
        "long-polls waiting in this server process",
        2,
    );
    assert!(
        text.contains("wait_seconds 0"),
        "should say what to do: {text}"
    );
    // Refusals that write nothing are audited within milliseconds (batched).
    wait_until("the refusals to be audited", || {
        audited_refusals(&env, "check_messages") == 1
    })
    .await;
    // …while a plain check there, and a long-poll on another process, go ahead.
    assert_eq!(
        check(&s1, &conv, "a", json!({"wait_seconds": 0})).await,
        json!({"messages": [], "more": false})
    );
    let elsewhere = {
        let (peer, args) = (s2.peer(), conv.args("a", json!({"wait_seconds": 30})));
        tokio::spawn(async move { ok(&call(&peer, "check_messages", args).await) })
    };
    wait_until("the long-poll on the other process to start", || {
        polls_started(&env, &conv, "a") == 2
    })
    .await;

    // Messages end the waits and give the places back.
    send(&s2, &conv, "a", "to b").await;
    send(&s2, &other, "a", "to other b").await;
    send(&s1, &conv, "b", "to a").await;
    let mut got: Vec<Value> = Vec::new();
    for task in waiting.into_iter().chain([elsewhere]) {
        let body = tokio::time::timeout(EVENT_TIMEOUT, task)
            .await
            .expect("long-poll woken")
            .expect("task");
        got.extend(messages(&body));
    }
    assert_eq!(got.len(), 3);
    let again = {
        let (peer, args) = (s1.peer(), conv.args("a", json!({"wait_seconds": 30})));
        tokio::spawn(async move { ok(&call(&peer, "check_messages", args).await) })
    };
    wait_until("a long-poll to start again", || {
        polls_started(&env, &conv, "a") == 3
    })
    .await;
    send(&s2, &conv, "b", "again").await;
    let body = tokio::time::timeout(EVENT_TIMEOUT, again)
        .await
        .expect("woken")
        .expect("task");
    assert_eq!(contents(&body), vec!["again"]);
    s1.stop().await;
    s2.stop().await;
}

#[tokio::test]
async fn a_zero_or_unknown_limit_stops_start_up_naming_it() {
    let env = TestEnv::new("limit_config");
    for (var, value, named) in [
        (
            "MCP_BRIDGE_LIMITS__MAX_LONG_POLLS",
            "0",
            "limits.max_long_polls",
        ),
        (
            "MCP_BRIDGE_LIMITS__MAX_PENDING_MESSAGES",
            "0",
            "limits.max_pending_messages",
        ),
        (
            "MCP_BRIDGE_LIMITS__CONVERSATIONS_PER_HOUR",
            "-1",
            "MCP_BRIDGE_LIMITS__CONVERSATIONS_PER_HOUR",
        ),
        (
            "MCP_BRIDGE_LIMITS__MAX_POLLS",
            "5",
            "MCP_BRIDGE_LIMITS__MAX_POLLS",
        ),
    ] {
        let out = env
            .serve_command(&[(var, value)])
            .output()
            .expect("run serve");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {stderr}");
        assert!(
            stderr.contains(named),
            "{var}={value} should name {named}: {stderr}"
        );
    }
}

/// A plain check, a status check and a heartbeat read their conversation in
/// their own transaction, after the quota was spent in the same flight
/// (PostgreSQL): a call its conversation refuses (here: from a participant
/// who was removed) must leave the quota's counts as they were, and take or
/// write nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_its_conversation_refuses_spends_no_quota() {
    let t = Team::start("limit_check_rule_quota", &[]).await;
    say(&t.a, "for qa", json!({"to": "qa"})).await;
    let counts = || {
        t.env.count(
            "SELECT coalesce(sum(count), 0) FROM rate_buckets
             WHERE side = 'c'
               AND class IN ('check_messages', 'check_partner_status', 'update_my_status')",
        )
    };
    let creds = creds_of(&t.joined["c"]);
    // While qa is a member, the calls spend.
    ok(&call(&t.b, "check_partner_status", creds.clone()).await);
    assert!(counts() > 0, "a status check spends its quota");
    let mut heartbeat = creds.clone();
    merge(&mut heartbeat, json!({"status": "working"}));
    ok(&call(&t.b, "update_my_status", heartbeat.clone()).await);
    ok(&call(&t.a, "remove_participant", json!({"participant": "qa"})).await);
    let before = (counts(), store_state(&t.env));
    for _ in 0..3 {
        for (tool, args) in [
            ("check_messages", &creds),
            ("check_partner_status", &creds),
            ("update_my_status", &heartbeat),
        ] {
            let refused = call(&t.b, tool, args.clone()).await;
            tool_error(&refused, "auth_failed");
        }
    }
    assert_eq!(
        (counts(), store_state(&t.env)),
        before,
        "a refused check spent or took something"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_that_never_reads_is_named_when_it_blocks_members() {
    let vars = [
        ("MCP_BRIDGE_LIMITS__MAX_PENDING_MESSAGES", "2"),
        ("MCP_BRIDGE_RATE_LIMITS", "off"),
    ];
    let t = Team::start("limit_observer", &vars).await;
    // qa writes to docs; the observer gets a copy of each.
    for text in ["one", "two"] {
        say(&t.c, text, json!({"to": "docs"})).await;
    }
    let to_docs = json!({"message": "three", "to": "docs"});
    let result = call(&t.c, "send_message", to_docs.clone()).await;
    let text = refused(
        &result,
        "unread messages waiting for docs (session d) and reviewer (session e) reached their limit",
        2,
    );
    let token = t.joined["e"]["token"].as_str().expect("token");
    assert!(!text.contains(token), "{text}");
    // Docs reads; the observer, which never does, still blocks the members,
    // and the refusal says whom the owner should remove.
    ok(&call(&t.d, "check_messages", json!({})).await);
    wait_until("docs' page to be acknowledged", || {
        t.env
            .count("SELECT count(*) FROM pending_deliveries WHERE recipient = 'd'")
            == 0
    })
    .await;
    let result = call(&t.c, "send_message", to_docs.clone()).await;
    let text = refused(
        &result,
        "unread messages waiting for reviewer (session e) reached its limit",
        2,
    );
    assert!(!text.contains("docs"), "docs reads its messages: {text}");
    ok(&call(
        &t.a,
        "remove_participant",
        json!({"participant": "reviewer"}),
    )
    .await);
    say(&t.c, "three", json!({"to": "docs"})).await;
    t.stop().await;
}
