//! The YOLO page in headless Chromium while proposals arrive: the page
//! never rearranges itself under the human's pointer. A new proposal is
//! announced in a bar whose place is kept ("1 new proposal — show them"),
//! a changed one is outlined, and only the human's click shows them; the
//! approval then acts on the proposal whose command the human read (by id),
//! and the outcome page names that command.
//!
//! An acceptance run found the page reloading itself on a new proposal
//! unless a field held text: the newest proposal (listed first) then took
//! the place of the "Approve" the human was about to click.

use serde_json::{Value, json};

use crate::console_util::*;
use crate::util::*;
use crate::webdriver::{self, Browser};
use crate::yolo_util::{
    PASSPHRASE, YOLO_ON, activate, ensure_passphrase, proposal_state, propose, workspace,
    yolo_plain,
};

/// Scrolls the approve button of `proposal` to the middle of the window, as
/// a human about to click it would have it.
async fn point_at(b: &Browser, proposal: &str) {
    b.script(&format!(
        "document.querySelector('section[data-proposal=\"' + {id} + '\"] form[action$=\"/approve/' + {id} + '\"] button').scrollIntoView({{block: 'center'}});",
        id = json!(proposal)
    ))
    .await;
}

/// Waits until `script` (a JavaScript expression) is true in the page.
async fn until(b: &Browser, what: &str, script: &str) {
    tokio::time::timeout(EVENT_TIMEOUT, async {
        while b.script(&format!("return Boolean({script});")).await != Value::Bool(true) {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

/// Where the approve button of `proposal` is (its centre, in the viewport),
/// and whether the element drawn there is that very button.
async fn approve_button(b: &Browser, proposal: &str) -> Value {
    b.script(&format!(
        "const s = document.querySelector('section[data-proposal=\"' + {id} + '\"]');
         const button = s && s.querySelector('form[action$=\"/approve/' + {id} + '\"] button');
         if (!button) return null;
         const r = button.getBoundingClientRect();
         const x = r.left + r.width / 2, y = r.top + r.height / 2;
         return {{x: x, y: y, hit: document.elementFromPoint(x, y) === button}};",
        id = json!(proposal)
    ))
    .await
}

#[tokio::test]
async fn new_proposals_never_move_what_the_human_is_about_to_approve() {
    let Some((chromium, driver)) = webdriver::installed_or_skip() else {
        return;
    };
    let env = TestEnv::new("console_browser_yolo");
    let server = env.server_with(&[YOLO_ON]).await;
    ensure_passphrase(&env).await;
    let admin = make_token(&env, "alice", "admin");
    let console = ConsoleProc::start(&env).await;
    let base = &console.base;
    let conv = Conv::create(&server).await;
    let ws = workspace(&env, "ws");
    activate(&env, &server, &conv, "safe", &ws, json!({})).await;
    let read = propose(&server, &conv, "a", "cat README.md").await;

    let b = Browser::start(&chromium, &driver).await;
    b.goto(&format!("{base}/login")).await;
    b.type_into("#token", &admin).await;
    b.click("form#login button[type=submit]").await;
    b.find("table#conversations").await;
    b.goto(&format!("{base}/yolo")).await;
    b.wait_text("#live", |t| t == "live").await;
    b.script("document.body.dataset.marker = 'as-read';").await;
    // The human has read `cat README.md` and points at its "Approve",
    // nothing typed yet (when the old page did reload).
    point_at(&b, &read).await;
    let before = approve_button(&b, &read).await;
    assert_eq!(before["hit"], true, "{before}");

    // Meanwhile an agent proposes something else: the page either says so
    // or (as it used to) reloads; the latter fails below.
    let newer = propose(&server, &conv, "a", "wc -c README.md").await;
    until(
        &b,
        "the new proposal to be announced (or the page to reload)",
        "document.body.dataset.marker !== 'as-read' || (document.getElementById('news') || {}).textContent.includes('1 new proposal')",
    )
    .await;
    assert_eq!(
        b.script("return document.body.dataset.marker;").await,
        "as-read",
        "the page reloaded by itself"
    );
    let after = approve_button(&b, &read).await;
    assert_eq!(after, before, "the Approve under the pointer moved");
    assert!(
        b.find_now(&format!("section[data-proposal=\"{newer}\"]"))
            .await
            .is_none(),
        "the new proposal is not put on the page until asked for"
    );
    let title = b.script("return document.title;").await;
    assert!(
        title.as_str().is_some_and(|t| t.starts_with("(1) ")),
        "{title}"
    );

    // A decision taken elsewhere outlines the section, moving nothing.
    let denied = yolo_plain(&env, &["deny", &newer]);
    assert!(denied.status.success(), "{denied:?}");
    b.wait_text("#news", |t| t.contains("1 new proposal")).await;
    let other = propose(&server, &conv, "a", "pwd").await;
    b.wait_text("#news", |t| t.contains("2 new proposals"))
        .await;
    assert_eq!(approve_button(&b, &read).await, before);

    // The human approves what they read: that proposal, by id, and the
    // outcome names its command.
    b.type_into(
        &format!("section[data-proposal=\"{read}\"] input[name=passphrase]"),
        PASSPHRASE,
    )
    .await;
    b.click(&format!(
        "section[data-proposal=\"{read}\"] form[action$=\"/approve/{read}\"] button"
    ))
    .await;
    b.wait_text("#approval-token", |t| t.starts_with("apv_"))
        .await;
    let outcome = b.wait_text("main", |t| t.contains("Approved")).await;
    assert!(outcome.contains("cat README.md"), "{outcome}");
    assert!(
        !outcome.contains("pwd") && !outcome.contains("wc -c"),
        "{outcome}"
    );
    assert_eq!(proposal_state(&env, &read), "approved");
    assert_eq!(proposal_state(&env, &other), "pending");

    // Back on the page, a change to a proposal shown is announced and
    // outlined in place; "show them" is what redraws the page.
    b.goto(&format!("{base}/yolo")).await;
    b.wait_text("#live", |t| t == "live").await;
    b.script("document.body.dataset.marker = 'second';").await;
    point_at(&b, &other).await;
    let shown = approve_button(&b, &other).await;
    assert_eq!(shown["hit"], true, "{shown}");
    let denied = yolo_plain(&env, &["deny", &other]);
    assert!(denied.status.success(), "{denied:?}");
    b.wait_text("#news", |t| t.contains("1 change")).await;
    assert_eq!(approve_button(&b, &other).await, shown);
    let outlined = b
        .script(&format!(
            "return document.querySelector('section[data-proposal=\"{other}\"]').classList.contains('stale');"
        ))
        .await;
    assert_eq!(outlined, true);
    b.click("#show-news").await;
    b.wait_text(&format!("section[data-proposal=\"{other}\"] h3"), |t| {
        t.contains("denied")
    })
    .await;
    assert_eq!(
        b.script("return document.body.dataset.marker || null;")
            .await,
        Value::Null,
        "show them redraws the page"
    );
    b.wait_text("#news", |t| t.contains("Nothing new")).await;
    b.quit().await;
    server.stop().await;
}
