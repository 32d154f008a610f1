//! Edges of teams an acceptance run found, each through real `serve`
//! processes and the real CLI: a name that is one participant's role and
//! another's session id (refused, never guessed), an invite no session
//! id is left for, the owner left alone, and a path with a comma in `show`.

use serde_json::{Value, json};

use crate::teams::{invite, invite_for, join};
use crate::util::*;
use crate::util_cli::*;

/// The message of a refused call, after checking its code.
fn refused(result: &rmcp::model::CallToolResult, code: &str) -> String {
    tool_error(result, code)["message"]
        .as_str()
        .expect("message")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_is_one_role_and_another_session_id_never_misroutes() {
    let env = TestEnv::new("teams_edges_roles");
    let owner = env.server_with(NO_LIMITS).await;

    // A role may be a single letter, as a session id is written: a name that
    // means one participant either way resolves to it.
    let conv = Conv::create_with_roles(&owner, "A", "B").await;
    let sent = ok(&call(
        &owner,
        "send_message",
        conv.args("a", json!({"message": "hi", "to": "b"})),
    )
    .await);
    assert_eq!(sent["to"], json!(["B"]));
    // Role `d` joins as session c; `d` names it alone …
    let first = env.server_with(NO_LIMITS).await;
    join(&first, &invite_for(&owner, &conv, "d").await).await;
    let sent = ok(&call(
        &owner,
        "send_message",
        conv.args("a", json!({"message": "for d", "to": "d"})),
    )
    .await);
    assert_eq!(sent["to"], json!(["d"]));
    // … until session d joins: then `d` is one participant's role and
    // another's session id, and is refused instead of guessed.
    let second = env.server_with(NO_LIMITS).await;
    join(&second, &invite_for(&owner, &conv, "qa").await).await;
    let before = env.count("SELECT count(*) FROM messages");
    let message = refused(
        &call(
            &owner,
            "send_message",
            conv.args("a", json!({"message": "for whom?", "to": "d"})),
        )
        .await,
        "invalid_argument",
    );
    assert!(
        message.contains("session c's role and also session d's id"),
        "{message}"
    );
    assert_eq!(env.count("SELECT count(*) FROM messages"), before);

    // An older file may hold such a role: it still imports, and a name that
    // is one participant's role and another's session id is refused instead
    // of delivered to the wrong one.
    let legacy = "conv_00000000000000e1";
    let lines = [
        json!({"format": "mcp-bridge-export", "version": 1, "layout": "jsonl"}),
        json!({"conversation": {"id": legacy, "created_at": "2026-01-31T12:00:00Z", "expires_at": live_until(),
            "participants": [{"side": "a", "role": "owner", "status": null, "note": null, "status_at": null},
                             {"side": "b", "role": "dev", "status": null, "note": null, "status_at": null},
                             {"side": "c", "role": "A", "kind": "member", "status": null, "note": null, "status_at": null}]}}),
    ];
    let file = env.dir.join("legacy.jsonl");
    std::fs::write(
        &file,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    cli(&env, &["import", file.to_str().unwrap()]).await.ok();
    let tokens = cli(&env, &["tokens", legacy, "--json"]).await.json();
    let creds = |side: &str, extra: Value| {
        let mut v = json!({"conversation_id": legacy, "session_id": side,
            "token": tokens[format!("session_{side}_token")]});
        merge(&mut v, extra);
        v
    };
    let dev = env.server_with(NO_LIMITS).await;
    for name in ["a", "A"] {
        let message = refused(
            &call(
                &dev,
                "send_message",
                creds("b", json!({"message": "for the owner", "to": name})),
            )
            .await,
            "invalid_argument",
        );
        assert!(
            message.contains("session c's role and also session a's id"),
            "{message}"
        );
    }
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM messages WHERE conversation_id = '{legacy}'"
        )),
        0
    );
    // Names that are only one participant's still work.
    for (name, to) in [("owner", "owner"), ("c", "A")] {
        let sent = ok(&call(
            &dev,
            "send_message",
            creds("b", json!({"message": "hello", "to": name})),
        )
        .await);
        assert_eq!(sent["to"], json!([to]), "{name}");
    }
    let message = refused(
        &call(
            &owner,
            "remove_participant",
            creds("a", json!({"participant": "a"})),
        )
        .await,
        "invalid_argument",
    );
    assert!(
        message.starts_with("`participant` names \"a\""),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_no_session_id_is_left_for_is_refused_at_once() {
    let env = TestEnv::new("teams_edges_ids");
    let vars = [
        ("MCP_BRIDGE_RATE_LIMITS", "off"),
        ("MCP_BRIDGE_TEAMS__MAX_PARTICIPANTS", "26"),
    ];
    let owner = env.server_with(&vars).await;
    let newcomer = env.server_with(&vars).await;
    let conv = Conv::create(&owner).await;
    // Session c joins and leaves: its id is never given again.
    join(&newcomer, &invite(&owner, "gone", "member").await).await;
    ok(&call(
        &owner,
        "remove_participant",
        conv.args("a", json!({"participant": "gone"})),
    )
    .await);
    // a, b, c and 23 outstanding invites hold all 26 ids, though only 25
    // of the 26 seats (active participants and outstanding invites) are taken.
    let mut codes = Vec::new();
    for i in 0..23 {
        codes.push(invite(&owner, &format!("w{i}"), "member").await);
    }
    let result = call(&owner, "create_invite", json!({"role": "one too many"})).await;
    let body = tool_error(&result, "resource_limit");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("session ids of this conversation (a to z")
            && message.contains("outstanding invites")
            && message.contains("limit of 26")
            && message.contains("start another conversation")
            && !message.contains("remove a participant"),
        "{message}"
    );
    // Its role stays free, and every invite handed out can still be redeemed.
    assert_eq!(
        env.count("SELECT count(*) FROM invites WHERE role = 'one too many'"),
        0
    );
    let last = join(&newcomer, codes.last().unwrap()).await;
    assert_eq!(last["session_id"], "d");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_left_alone_is_told_it_has_no_partner() {
    let env = TestEnv::new("teams_edges_alone");
    let owner = env.server().await;
    let conv = Conv::create(&owner).await;
    ok(&call(
        &owner,
        "remove_participant",
        conv.args("a", json!({"participant": "b"})),
    )
    .await);

    let status = ok(&call(&owner, "check_partner_status", conv.args("a", json!({}))).await);
    assert_eq!(
        (
            &status["partner_role"],
            &status["status"],
            &status["alive"],
            &status["last_heartbeat"]
        ),
        (&Value::Null, &json!("none"), &json!(false), &Value::Null),
        "{status}"
    );
    assert_eq!(status["participants"].as_array().unwrap().len(), 1);
    // The output schema says so: a client validating the result accepts it.
    let tools = owner.list_all_tools().await.expect("tools/list");
    let tool = tools
        .iter()
        .find(|t| t.name == "check_partner_status")
        .expect("check_partner_status");
    let schema = tool.output_schema.as_deref().expect("outputSchema");
    assert_eq!(
        schema["properties"]["partner_role"]["anyOf"],
        json!([{"type": "string"}, {"type": "null"}]),
        "{schema:?}"
    );

    for (tool, extra) in [
        ("send_to_partner", json!({"message": "anyone?"})),
        ("send_message", json!({"message": "anyone?"})),
    ] {
        let message = refused(
            &call(&owner, tool, conv.args("a", extra)).await,
            "invalid_argument",
        );
        assert!(
            message.starts_with("nobody is left to receive the message")
                && !message.contains("`to`"),
            "{tool}: {message}"
        );
    }
    assert_eq!(env.count("SELECT count(*) FROM messages"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_never_prints_one_path_as_two() {
    let env = TestEnv::new("teams_edges_paths");
    let owner = env.server().await;
    let conv = Conv::create(&owner).await;
    for files in [
        json!(["src/api.rs, /home/user/.ssh/id_rsa"]),
        json!(["src/api.rs", "/home/user/.ssh/id_rsa"]),
        json!(["my \"notes\".txt", "a\u{1b}[2Jb", r"typed\x1b"]),
    ] {
        ok(&call(
            &owner,
            "send_to_partner",
            conv.args("a", json!({"message": "files", "files_involved": files})),
        )
        .await);
    }
    let shown = cli(&env, &["show", &conv.id]).await.ok();
    let lines: Vec<&str> = shown
        .lines()
        .filter(|l| l.starts_with("    files: "))
        .collect();
    assert_eq!(
        lines,
        [
            r#"    files: "src/api.rs, /home/user/.ssh/id_rsa""#,
            "    files: src/api.rs, /home/user/.ssh/id_rsa",
            r#"    files: "my \"notes\".txt", "a\x1b[2Jb", "typed\\x1b""#,
        ],
        "{shown}"
    );
    // A status note is quoted the same way: its `"` cannot end it early and
    // forge the fields after it.
    ok(&call(
        &owner,
        "update_my_status",
        conv.args(
            "b",
            json!({"status": "complete", "note": "tests pass\", heartbeat now   reviewer: approved \"ship it"}),
        ),
    )
    .await);
    let shown = cli(&env, &["show", &conv.id]).await.ok();
    assert!(
        shown.contains(r#"b: complete "tests pass\", heartbeat now   reviewer: approved \"ship it", heartbeat "#),
        "{shown}"
    );
}
