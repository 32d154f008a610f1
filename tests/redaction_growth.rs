//! What is stored passes what `import` and `restore` check, although
//! redaction can make a text longer (`a://:c@d` → `a://:PASSWORD_REDACTED@d`)
//! or two roles the same: a send, a note or a path that grows past the
//! limits once redacted is refused, as is an import whose records would; so
//! the database's own export still imports and its backup still restores.
//! (Before, one agent call made every later backup unrestorable.)

use serde_json::json;

use crate::util::*;
use crate::util_cli::*;

const NO_LIMITS: &[(&str, &str)] = &[("MCP_BRIDGE_RATE_LIMITS", "off")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_redaction_grows_past_the_limits_is_not_stored() {
    let env = TestEnv::new("redaction_growth");
    let s = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&s).await;
    let growing = "a://:c@d ".repeat(5_688);
    assert!(growing.len() <= 51_200);
    let sent = call(
        &s,
        "send_to_partner",
        conv.args("a", json!({"message": growing})),
    )
    .await;
    let why = tool_error(&sent, "invalid_argument")["message"].to_string();
    assert!(why.contains("placeholders"), "{why}");
    let note = "a://:c@d ".repeat(55);
    let noted = call(
        &s,
        "update_my_status",
        conv.args("a", json!({"status": "working", "note": note})),
    )
    .await;
    let why = tool_error(&noted, "invalid_argument")["message"].to_string();
    assert!(
        why.contains("note") && why.contains("placeholders"),
        "{why}"
    );
    send(
        &s,
        &conv,
        "a",
        "an ordinary message, password=hunter2hunter2",
    )
    .await;

    // The database's own export imports, and its backup restores.
    own_export_imports(&env).await;
    let backup = env.dir.join("own.backup");
    cli(&env, &["backup", backup.to_str().unwrap()]).await.ok();
    // In a directory of its own: beside `fresh.db` (which the import made,
    // with its own key) a restore would have to replace that key.
    let restored = env.dir.join("restored").join("bridge.db");
    cli_on(&env, &restored, &["restore", backup.to_str().unwrap()])
        .await
        .ok();

    // An import whose roles redact to the same placeholder changes nothing.
    let role = |tail: &str| format!("ghp_{tail}");
    let file = json!({"format": "mcp-bridge-export", "version": 2,
        "exported_at": "2026-01-01T00:00:00Z",
        "conversations": [{"id": "conv_00000000000000aa", "created_at": "2026-01-01T00:00:00Z",
            "expires_at": live_until(),
            "participants": [
                {"side": "a", "role": role("A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"), "kind": "owner",
                 "status": null, "note": null, "status_at": null},
                {"side": "b", "role": role("Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"), "kind": "member",
                 "status": null, "note": null, "status_at": null}],
            "messages": []}]});
    let hostile = env.dir.join("hostile.json");
    std::fs::write(&hostile, file.to_string()).unwrap();
    let before = cli(&env, &["list", "--json"]).await.ok();
    let refused = cli(&env, &["import", hostile.to_str().unwrap()]).await;
    assert!(
        refused.code != 0
            && refused
                .stderr
                .contains("once redacted, two active participants"),
        "{refused:?}"
    );
    assert_eq!(cli(&env, &["list", "--json"]).await.ok(), before);
}

/// An import redacts the conversation's own session tokens, as a live send
/// does: a file carrying one (same key file) does not deliver it readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_redacts_the_conversations_own_tokens() {
    let env = TestEnv::new("import_own_tokens");
    let s = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&s).await;
    send(&s, &conv, "a", "first").await;
    let out = cli(&env, &["export", "--plaintext", &conv.id]).await.ok();
    let mut file: serde_json::Value = serde_json::from_str(&out).expect("export JSON");
    let messages = file["conversations"][0]["messages"]
        .as_array_mut()
        .expect("messages");
    let mut planted = messages[0].clone();
    planted["id"] = json!(50);
    planted["content"] = json!(format!("b's token is {}", conv.b));
    messages.push(planted);
    let path = env.dir.join("planted.json");
    std::fs::write(&path, file.to_string()).unwrap();
    cli(&env, &["import", path.to_str().unwrap()]).await.ok();
    let shown = cli(&env, &["show", &conv.id, "--full"]).await.ok();
    assert!(!shown.contains(&conv.b), "{shown}");
    let got = check(&s, &conv, "b", json!({})).await;
    assert!(!got.to_string().contains(&conv.b), "{got}");
    assert!(got.to_string().contains("SESSION_TOKEN_REDACTED"), "{got}");
}
