//! Merging an older export does not refill a removed participant's inbox:
//! `remove_participant` empties it, and a file from before the removal that
//! lists a message as unread by that participant adds the message, not the
//! delivery. (Before, the merge gave it unread messages, and the database's
//! own export and backup were then refused.) Both stores.

use serde_json::{Value, json};

use crate::teams::{invite, join};
use crate::util::*;
use crate::util_cli::*;

const NO_LIMITS: &[(&str, &str)] = &[("MCP_BRIDGE_RATE_LIMITS", "off")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_export_does_not_refill_a_removed_participants_inbox() {
    let env = TestEnv::new("transfer_removed");
    let owner = env.server_with(NO_LIMITS).await;
    let qa = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&owner).await;
    join(&qa, &invite(&owner, "qa", "member").await).await;
    send(&owner, &conv, "a", "hello all").await;
    let out = cli(&env, &["export", "--plaintext", &conv.id]).await.ok();
    let mut older: Value = serde_json::from_str(&out).expect("export JSON");
    ok(&call(
        &owner,
        "remove_participant",
        conv.args("a", json!({"participant": "qa"})),
    )
    .await);

    let messages = older["conversations"][0]["messages"]
        .as_array_mut()
        .expect("messages");
    let mut planted = messages[0].clone();
    planted["id"] = json!(planted["id"].as_i64().unwrap() + 100);
    planted["content"] = json!("for qa only");
    planted["to"] = json!(["c"]);
    planted["unread_by"] = json!(["c"]);
    messages.push(planted);
    let path = env.dir.join("older.json");
    std::fs::write(&path, older.to_string()).unwrap();
    cli(&env, &["import", path.to_str().unwrap()]).await.ok();

    let list = cli(&env, &["list", "--json"]).await.json();
    let unread = &find(&list, "conversations", &conv.id)["messages"]["unread"];
    assert!(unread.get("c").is_none_or(|n| n == 0), "{list}");
    // The database's own export imports again.
    own_export_imports(&env).await;
}
