//! Identical messages under different ids through `import` and an
//! export-based `restore`: agents sending as one session from several
//! processes at once store the same text in the same microsecond, and each
//! is a message of its own. Every one must come through, while importing a
//! file again still adds nothing.

use serde_json::{Value, json};

use mcp_bridge::domain::Timestamp;

use crate::util::*;
use crate::util_cli::*;

const CONV: &str = "conv_00000000000000f1";

/// The times of the conversation, the same in every file of the test.
struct Times {
    now: Timestamp,
    expires: String,
}

impl Times {
    fn new() -> Self {
        Self {
            now: Timestamp::now(),
            expires: live_until(),
        }
    }

    fn ago(&self, minutes: i64) -> String {
        self.now.plus_micros(-minutes * 60_000_000).to_rfc3339()
    }

    /// A plaintext export (JSON layout) of one conversation of three
    /// members holding `messages`.
    fn export_of(&self, messages: &[Value]) -> Value {
        let member = |side: &str, role: &str, kind: &str| {
            json!({"side": side, "role": role, "kind": kind, "status": null, "note": null,
                   "status_at": null, "joined_at": self.ago(9), "removed_at": null})
        };
        json!({"format": "mcp-bridge-export", "version": 2, "exported_at": self.ago(0),
            "conversations": [{"id": CONV, "created_at": self.ago(10), "expires_at": self.expires,
                "participants": [member("a", "lead", "owner"), member("b", "dev", "member"),
                                 member("c", "qa", "member")],
                "messages": messages}]})
    }

    /// Message `id` from b, sent 5 minutes ago with the same text as every
    /// other, to `to`.
    fn sent(&self, id: i64, to: &[&str], unread_by: &[&str]) -> Value {
        json!({"id": id, "from": "b", "action_type": "info", "content": "to qa", "files_involved": [],
               "created_at": self.ago(5), "to": to, "unread_by": unread_by})
    }
}

/// Writes `doc` to `name` in the test's directory; its path.
fn write(env: &TestEnv, name: &str, doc: &Value) -> String {
    let path = env.dir.join(name);
    std::fs::write(&path, doc.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `messages_added` and `messages_skipped` of `import FILE --json`.
async fn imported(env: &TestEnv, file: &str) -> (i64, i64) {
    let said = cli(env, &["import", file, "--json"]).await.json();
    (
        said["messages_added"].as_i64().unwrap(),
        said["messages_skipped"].as_i64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_messages_under_other_ids_all_import_and_restore_and_twice_adds_nothing() {
    let env = TestEnv::new("transfer_identical");
    let t = Times::new();
    // Three sends of one text in one microsecond, the same text to other
    // recipients, and something else.
    let mut messages = vec![
        t.sent(1, &["a", "c"], &["a"]),
        t.sent(2, &["a", "c"], &["a", "c"]),
        t.sent(3, &["a", "c"], &[]),
        t.sent(4, &["a"], &["a"]),
    ];
    let mut other = t.sent(5, &["c"], &["c"]);
    other["content"] = json!("something else");
    messages.push(other);
    let doc = t.export_of(&messages);
    let file = write(&env, "identical.json", &doc);
    let stored = || {
        env.count(&format!(
            "SELECT count(*) FROM messages WHERE conversation_id = '{CONV}'"
        ))
    };

    // Into a fresh database: every message of the file.
    assert_eq!(imported(&env, &file).await, (5, 0));
    assert_eq!(stored(), 5);
    let shown = cli(&env, &["show", CONV, "--json"]).await.json();
    let ids: Vec<i64> = shown["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3, 4, 5], "{shown}");
    // b's three identical sends are all in a's and c's inboxes as the file says.
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM pending_deliveries WHERE conversation_id = '{CONV}'"
        )),
        5
    );

    // The same file again: nothing added, each stored copy stands for one.
    assert_eq!(imported(&env, &file).await, (0, 5));
    assert_eq!(stored(), 5);

    // A later export holding a fourth copy adds just that one.
    messages.push(t.sent(6, &["c", "a"], &[]));
    let later = write(&env, "later.json", &t.export_of(&messages));
    assert_eq!(imported(&env, &later).await, (1, 5));
    assert_eq!(imported(&env, &later).await, (0, 6));
    assert_eq!(stored(), 6);

    // An export-based restore puts back every message of the file too.
    let said = cli(&env, &["restore", &file, "--no-key", "--force"])
        .await
        .ok();
    assert!(
        said.contains("1 conversation and 5 messages, replacing the 1 it held"),
        "{said}"
    );
    assert_eq!(stored(), 5);
    let backup = env.dir.join("round.export");
    let backup_arg = backup.to_str().unwrap();
    cli(&env, &["export", "--plaintext", "-o", backup_arg])
        .await
        .ok();
    cli(&env, &["restore", backup_arg, "--no-key", "--force"])
        .await
        .ok();
    assert_eq!(stored(), 5);
    assert_eq!(
        cli(&env, &["show", CONV, "--json"]).await.json()["messages"],
        shown["messages"]
    );
}
