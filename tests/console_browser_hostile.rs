//! The web console against a hostile agent in a real browser (headless
//! Chromium through WebDriver): a message holding every character the CLI
//! escapes (controls, bidi overrides, zero-width and other invisible format
//! characters) shows each as a visible code, the same whether the server
//! rendered it or the script added it live; a live status note too; and a
//! page whose token is revoked stops showing agent text and asks to sign in.

use mcp_bridge::display::{Lines, kept};
use serde_json::{Value, json};

use crate::console_util::*;
use crate::util::*;
use crate::webdriver::{self, Browser};

/// Every character the server escapes in a message body (`display::kept`),
/// and the safe characters around each run of them (where a hand-copied list
/// would go wrong).
fn every_hidden_character() -> String {
    let unsafe_at = |n: u32| char::from_u32(n).is_some_and(|c| !kept(c, Lines::Many));
    let mut text = String::new();
    for n in 0..=0x10FFFF_u32 {
        let Some(c) = char::from_u32(n) else { continue };
        let edge = n.checked_sub(1).is_some_and(unsafe_at) || unsafe_at(n + 1);
        if unsafe_at(n) || edge {
            text.push(c);
        }
    }
    text
}

/// The text of the first element matching `css`, and how many hidden-character
/// marks it holds.
async fn content(b: &Browser, css: &str) -> (String, u64) {
    let v = b
        .script(&format!(
            "const e = document.querySelector({}); return e ? [e.textContent, e.querySelectorAll('mark.hidden-char').length] : null;",
            json!(css)
        ))
        .await;
    (
        v[0].as_str().unwrap_or_default().to_owned(),
        v[1].as_u64().unwrap_or_default(),
    )
}

fn assert_nothing_hidden(what: &str, text: &str, lines: Lines) {
    let raw: Vec<String> = text
        .chars()
        .filter(|&c| !kept(c, lines))
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect();
    assert!(raw.is_empty(), "{what} shows {raw:?} raw");
}

#[tokio::test]
async fn hidden_characters_show_as_codes_live_and_revoked_pages_stop() {
    let Some((chromium, driver)) = webdriver::installed_or_skip() else {
        return;
    };
    let env = TestEnv::new("console_browser_hostile");
    let server = env.server().await;
    let token = make_token(&env, "alice", "admin");
    let console = ConsoleProc::start(&env).await;
    let base = &console.base;
    let conv = Conv::create(&server).await;

    let b = Browser::start(&chromium, &driver).await;
    b.goto(&format!("{base}/login")).await;
    b.type_into("#token", &token).await;
    b.click("form#login button[type=submit]").await;
    b.find("table#conversations").await;
    b.goto(&format!("{base}/conversations/{}", conv.id)).await;
    b.wait_text("#live", |t| t == "live").await;

    // Added live by the script.
    let hostile = every_hidden_character();
    let sent = ok(&call(
        &server,
        "send_to_partner",
        conv.args(
            "a",
            json!({"message": format!("start {hostile} end"), "files_involved": ["a\u{202e}gnp.exe\nb\u{a0}c"]}),
        ),
    )
    .await);
    ok(&call(
        &server,
        "update_my_status",
        conv.args(
            "b",
            json!({"status": "working", "note": "note \u{202e}desrever\u{200b}\u{a0}\u{3000}\u{2800}o\u{336}k"}),
        ),
    )
    .await);
    let id = sent["message_id"].clone();
    let css = format!("#m{id} pre.content");
    b.find(&css).await;
    let (live, live_marks) = content(&b, &css).await;
    assert!(
        live.starts_with("start ") && live.ends_with(" end"),
        "{live}"
    );
    assert_nothing_hidden("the live message", &live, Lines::Many);
    assert!(live.contains("\\u{202e}") && live.contains("\\x1b") && live.contains("\\u{e007f}"));
    let (live_file, _) = content(&b, &format!("#m{id} ul.files code")).await;
    assert_eq!(live_file, "a\\u{202e}gnp.exe\\x0ab\\u{a0}c");
    b.wait_text("span.note", |t| t.contains("desrever")).await;
    let (note, _) = content(&b, "span.note").await;
    assert_eq!(
        note,
        "note \\u{202e}desrever\\u{200b}\\u{a0}\\u{3000}\\u{2800}o\\u{336}k"
    );
    let newlines = live.matches('\n').count();

    // Rendered by the server: the very same text and marks.
    b.goto(&format!("{base}/conversations/{}", conv.id)).await;
    b.wait_text("#live", |t| t == "live").await;
    let (served, served_marks) = content(&b, &css).await;
    assert_eq!(
        served, live,
        "the server and the script show it differently"
    );
    assert_eq!(served_marks, live_marks);
    assert_eq!(newlines, 1, "only the one newline is kept as a line break");
    b.screenshot(
        &std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("console-screenshots/hidden-characters.png"),
    )
    .await;
    let (served_file, _) = content(&b, &format!("#m{id} ul.files code")).await;
    assert_eq!(served_file, live_file);
    assert_eq!(b.alert().await, None);

    // The token is revoked: the open page stops and asks to sign in, and
    // what the agent sends next never reaches it.
    revoke_token(&env, "alice");
    send(&server, &conv, "a", "written after the revocation").await;
    b.find("form#login").await;
    let page: Value = b.script("return document.body.textContent;").await;
    assert!(
        !page
            .as_str()
            .unwrap_or_default()
            .contains("after the revocation"),
        "{page}"
    );
    b.quit().await;
    server.stop().await;
}
