//! The web console in a real browser: headless Chromium through WebDriver.
//! Signs in, watches a message sent by a real `serve` process appear
//! without a reload, confirms an activation, sees a proposal announced and
//! approves it with the operator passphrase, sees the command's result
//! arrive, shows agent `<script>` as text, and checks that a form without
//! the CSRF token and an observer's approval are refused. Saves the README's screenshots to
//! `docs/console/` when `MCP_BRIDGE_SCREENSHOTS=1`.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::console_util::*;
use crate::util::*;
use crate::webdriver::{self, Browser};
use crate::yolo_util::{PASSPHRASE, YOLO_ON, enable, ensure_passphrase, propose, workspace};

/// Where a screenshot goes: the README's `docs/console/` when
/// `MCP_BRIDGE_SCREENSHOTS=1` (to refresh them), otherwise a scratch
/// directory, so an ordinary test run leaves the checkout unchanged.
fn shot(name: &str) -> PathBuf {
    let dir = if std::env::var_os("MCP_BRIDGE_SCREENSHOTS").is_some_and(|v| v == "1") {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/console")
    } else {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot directory");
        dir
    };
    dir.join(format!("{name}.png"))
}

/// Posts a form built in the page (as a hostile or stale page would), with
/// the session's CSRF token copied from the sign-out form when `with_csrf`.
fn forged_post(action: &str, with_csrf: bool, fields: &[(&str, &str)]) -> String {
    let mut script = format!(
        "const f = document.createElement('form'); f.method = 'post'; f.action = {};",
        json!(action)
    );
    let mut add = |name: &str, value: String| {
        script.push_str(&format!(
            "{{ const i = document.createElement('input'); i.type = 'hidden'; i.name = {}; i.value = {value}; f.appendChild(i); }}",
            json!(name)
        ));
    };
    if with_csrf {
        add(
            "csrf",
            "document.querySelector('input[name=csrf]').value".to_owned(),
        );
    }
    for (k, v) in fields {
        add(k, json!(v).to_string());
    }
    script.push_str("document.body.appendChild(f); f.submit();");
    script
}

#[tokio::test]
async fn the_console_in_a_real_browser() {
    let Some((chromium, driver)) = webdriver::installed_or_skip() else {
        return;
    };
    let env = TestEnv::new("console_browser");
    let server = env.server_with(&[YOLO_ON]).await;
    ensure_passphrase(&env).await;
    let admin = make_token(&env, "alice", "admin");
    let observer = make_token(&env, "olivia", "observer");
    let console = ConsoleProc::start(&env).await;
    let base = &console.base;

    let conv = Conv::create_with_roles(&server, "backend", "frontend").await;
    let other = Conv::create_with_roles(&server, "planner", "reviewer").await;
    ok(&call(
        &server,
        "update_my_status",
        conv.args("a", json!({"status": "working", "note": "wiring the API"})),
    )
    .await);
    ok(&call(
        &server,
        "update_my_status",
        other.args("b", json!({"status": "waiting"})),
    )
    .await);
    let hostile = send(
        &server,
        &conv,
        "a",
        "<script>alert('pwned')</script> please review <b>this</b>",
    )
    .await;
    ok(&call(&server, "send_to_partner", conv.args("b", json!({"message": "Looks fine. The deploy key was password=hunter2hunter2, rotate it.", "action_type": "review", "files_involved": ["src/api.rs", "deploy/.env"]}))).await);
    send(
        &server,
        &other,
        "a",
        "Plan: split the migration in two steps.",
    )
    .await;

    let b = Browser::start(&chromium, &driver).await;

    // Sign in.
    b.goto(&format!("{base}/")).await;
    b.find("form#login").await;
    b.screenshot(&shot("login")).await;
    b.type_into("#token", &admin).await;
    b.click("form#login button[type=submit]").await;
    b.find("table#conversations").await;
    b.wait_text(&format!("tr[data-conversation=\"{}\"]", conv.id), |t| {
        t.contains("backend") && t.contains("working")
    })
    .await;
    b.screenshot(&shot("conversations")).await;
    // The overview follows new messages without a reload (or a refetch).
    b.script("document.body.dataset.marker = 'list';").await;
    send(&server, &other, "b", "Agreed, two steps.").await;
    let count = format!("tr[data-conversation=\"{}\"] td:nth-child(3)", other.id);
    b.wait_text(&count, |t| t == "2").await;
    assert_eq!(
        b.script("return document.body.dataset.marker;").await,
        "list"
    );

    // Agent text is text: the script tag shows literally and never runs.
    b.goto(&format!("{base}/conversations/{}", conv.id)).await;
    let first = format!("#m{} pre.content", hostile["message_id"]);
    let shown = b.wait_text(&first, |t| !t.is_empty()).await;
    assert_eq!(
        shown,
        "<script>alert('pwned')</script> please review <b>this</b>"
    );
    assert_eq!(b.alert().await, None, "no script of an agent ran");
    b.wait_text("#live", |t| t == "live").await;

    // A message committed by a serve process appears without a reload.
    b.script("document.body.dataset.marker = 'same-page';")
        .await;
    let sent = send(
        &server,
        &conv,
        "a",
        "New endpoint ready: GET /v2/items (staging password=Tr0ub4dor-and-3)",
    )
    .await;
    let live_css = format!("#m{} pre.content", sent["message_id"]);
    let text = b
        .wait_text(&live_css, |t| t.starts_with("New endpoint ready"))
        .await;
    assert!(!text.contains("Tr0ub4dor"), "{text}");
    assert_eq!(
        b.script("return document.body.dataset.marker;").await,
        "same-page",
        "no reload happened"
    );
    let marks = b
        .script(&format!(
            "return document.querySelectorAll('#m{} mark.redacted').length;",
            sent["message_id"]
        ))
        .await;
    assert_eq!(marks, 1, "the placeholder is highlighted");
    // A participant's first heartbeat, arriving live, shows it alive (green):
    // the age it creates used to lack the timeout until a reload.
    ok(&call(
        &server,
        "update_my_status",
        conv.args("b", json!({"status": "blocked"})),
    )
    .await);
    b.wait_text(".participant[data-side=\"b\"] .age.alive", |t| {
        t.ends_with("ago")
    })
    .await;
    b.screenshot(&shot("conversation")).await;

    // The audit trail with the chain check.
    b.goto(&format!("{base}/audit?verify=1&limit=30")).await;
    b.wait_text("#verify", |t| t.starts_with("Chain intact"))
        .await;
    b.screenshot(&shot("audit")).await;

    // YOLO: the agent asks; the admin confirms from the page.
    let ws = workspace(&env, "ws");
    std::fs::write(ws.join("README.md"), "hello\n").unwrap();
    ok(&enable(&server, &conv, "safe", &ws, json!({})).await);
    b.goto(&format!("{base}/yolo")).await;
    b.type_into("input[name=phrase]", "I UNDERSTAND THE RISKS")
        .await;
    b.type_into("section.activation input[name=passphrase]", PASSPHRASE)
        .await;
    b.click("section.activation button[type=submit]").await;
    b.wait_text("#outcome", |t| t.contains("ACTIVE")).await;

    // A proposal is announced on the open YOLO page by itself, and shown
    // when the human asks (the page never rearranges itself: see
    // `console_browser_yolo`).
    b.goto(&format!("{base}/yolo")).await;
    b.wait_text("#live", |t| t == "live").await;
    let proposal = propose(&server, &conv, "a", "cat README.md").await;
    b.wait_text("#news", |t| t.contains("1 new proposal")).await;
    b.click("#show-news").await;
    let section = format!("section[data-proposal=\"{proposal}\"]");
    b.wait_text(&section, |t| {
        t.contains("cat README.md") && t.contains("pending")
    })
    .await;
    b.screenshot(&shot("yolo")).await;

    // A form without the CSRF token is refused and changes nothing.
    b.script(&forged_post(
        &format!("{base}/yolo/approve/{proposal}"),
        false,
        &[("passphrase", PASSPHRASE)],
    ))
    .await;
    b.wait_text("main", |t| t.contains("CSRF")).await;

    // The admin approves with the passphrase and sees the token once.
    b.goto(&format!("{base}/yolo")).await;
    b.type_into(&format!("{section} input[name=passphrase]"), PASSPHRASE)
        .await;
    b.click(&format!(
        "{section} form[action$=\"/approve/{proposal}\"] button"
    ))
    .await;
    let token = b
        .wait_text("#approval-token", |t| t.starts_with("apv_"))
        .await;
    b.screenshot(&shot("approved")).await;

    // The agent runs it; its result arrives in the open conversation page.
    b.goto(&format!("{base}/conversations/{}", conv.id)).await;
    b.wait_text("#live", |t| t == "live").await;
    let body = ok(&call(
        &server,
        "execute_command",
        conv.args(
            "a",
            json!({"command": "cat README.md", "approval_token": token}),
        ),
    )
    .await);
    assert_eq!(body["status"], "completed", "{body}");
    let result = b
        .wait_text("li.message.system pre.content", |t| t.contains("hello"))
        .await;
    assert!(
        result.contains("cat README.md") || result.contains("exit"),
        "{result}"
    );
    b.screenshot(&shot("command-result")).await;

    // An observer sees, never acts: no forms, and a forged approval is refused.
    let second = propose(&server, &conv, "a", "ls").await;
    b.clear_cookies().await;
    b.goto(&format!("{base}/login")).await;
    b.type_into("#token", &observer).await;
    b.click("form#login button[type=submit]").await;
    b.find("table#conversations").await;
    b.goto(&format!("{base}/yolo")).await;
    b.wait_text("p.notice", |t| t.contains("observer")).await;
    assert!(
        b.find_now("form.decide").await.is_none(),
        "observers get no decision forms"
    );
    b.script(&forged_post(
        &format!("{base}/yolo/approve/{second}"),
        true,
        &[("passphrase", PASSPHRASE)],
    ))
    .await;
    b.wait_text("main", |t| t.contains("observer") && t.contains("Not done"))
        .await;
    assert_eq!(crate::yolo_util::proposal_state(&env, &second), "pending");
    b.quit().await;
    server.stop().await;
}
