//! Characters that draw over or as blank, on the operator's terminal: marks
//! of the overlay class (`a\u{336}pproved` reads as struck out) are escaped
//! in every human output, and blanks that are not the ASCII space (the
//! braille blank, U+3000, NBSP) in single-line fields — a status note, an
//! inbox preview — where a run of them pushes the rest of a line out of
//! sight. Message bodies keep such blanks (French, CJK typography), and JSON
//! keeps every value exact.

use serde_json::{Value, json};

use crate::util::*;
use crate::util_cli::*;

const NO_LIMITS: &[(&str, &str)] = &[("MCP_BRIDGE_RATE_LIMITS", "off")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlays_and_odd_blanks_are_shown_visibly() {
    let env = TestEnv::new("terminal_overlays");
    let mine = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&mine).await;
    let pushed = format!("ok{}a\u{336}pproved", "\u{2800}".repeat(150));
    let message = "prix\u{a0}: 5\u{a0}€ \u{3000}— r\u{336}m -rf\nline two";
    ok(&call(
        &mine,
        "update_my_status",
        conv.args("b", json!({"status": "working", "note": pushed})),
    )
    .await);
    send(&mine, &conv, "b", message).await;

    let shown = cli(&env, &["show", &conv.id, "--full"]).await.ok();
    assert!(
        !shown.contains('\u{2800}') && !shown.contains('\u{336}'),
        "show: {shown:?}"
    );
    assert!(
        shown.contains(&format!("ok{}a\\u{{336}}pproved", "\\u{2800}".repeat(150))),
        "{shown}"
    );
    // The body keeps its typography; only the overlay is escaped.
    assert!(
        shown.contains("prix\u{a0}: 5\u{a0}€ \u{3000}— r\\u{336}m -rf"),
        "{shown}"
    );

    let mut inbox = env.bridge();
    inbox.arg("inbox").arg("--db").arg(&env.db);
    let preview = run_cmd(inbox, None).await.ok();
    assert!(
        preview.contains("prix\\u{a0}: 5\\u{a0}€ \\u{3000}— r\\u{336}m -rf"),
        "inbox: {preview}"
    );
    assert!(
        !preview.contains('\u{a0}') && !preview.contains('\u{336}'),
        "{preview:?}"
    );

    let raw = cli(&env, &["show", &conv.id, "--json"]).await.ok();
    assert!(
        !raw.contains('\u{2800}') && !raw.contains('\u{336}'),
        "{raw:?}"
    );
    let value: Value = serde_json::from_str(&raw).expect("JSON");
    assert_eq!(value["messages"][0]["content"], message);
    assert_eq!(value["conversation"]["participants"][1]["note"], pushed);
}
