//! The console mounted in `serve --http --console`, in a real browser
//! (headless Chromium): its own forms — sign in, end a conversation, sign
//! out — pass `/mcp`'s Origin allow-list, which applies to the mounted
//! console too. Under `Referrer-Policy: no-referrer` the browser sent
//! `Origin: null` with them and every form was refused with `403`.

use crate::console_util::make_token;
use crate::util::*;
use crate::util_http::*;
use crate::webdriver::{self, Browser};

const SHARED: &str = "mounted-browser-shared-token-0123";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mounted_console_takes_its_own_forms_in_a_real_browser() {
    let Some((chromium, driver)) = webdriver::installed_or_skip() else {
        return;
    };
    let env = TestEnv::new("console_browser_mounted");
    let server =
        HttpServer::start(&env, &["--console"], &[("MCP_BRIDGE_HTTP_TOKEN", SHARED)]).await;
    let base = server.url.replace("/mcp", "/console");
    let admin = make_token(&env, "mounted-alice", "admin");
    let agent = server.client(Some(SHARED)).await;
    let created = ok(&call(
        agent.peer(),
        "create_conversation",
        serde_json::json!({"my_role": "backend", "partner_role": "frontend"}),
    )
    .await);
    let conv = created["conversation_id"].as_str().expect("id").to_owned();

    let b = Browser::start(&chromium, &driver).await;
    b.goto(&format!("{base}/login")).await;
    b.type_into("#token", &admin).await;
    b.click("form#login button[type=submit]").await;
    b.wait_text("body", |t| {
        assert!(!t.contains("Origin is not allowed"), "sign-in refused: {t}");
        t.contains(&conv)
    })
    .await;
    b.goto(&format!("{base}/conversations/{conv}")).await;
    b.click("form.end input[name=sure]").await;
    b.click("form.end button[type=submit]").await;
    b.wait_text("#outcome", |t| t.contains("for every participant"))
        .await;
    b.goto(&format!("{base}/")).await;
    b.click("form[action$='/logout'] button").await;
    b.find("form#login").await;
    b.quit().await;
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
}
