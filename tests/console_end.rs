//! Ending a conversation from the web console: an admin's form on the
//! conversation page ends it for every participant at once (as `mcp-bridge
//! end`), audited with the admin's name; an observer gets no form and a
//! forged post is refused; a post without the CSRF token, or without the
//! ticked box, changes nothing.
//! Then the same in headless Chromium: tick the box, press the button.

use reqwest::StatusCode;
use serde_json::json;

use crate::console_util::{Browser as Session, *};
use crate::util::*;
use crate::util_calls::*;
use crate::util_cli::*;
use crate::webdriver::{self, Browser};

/// The conversation's expiry as stored (changes only when it is ended).
fn expiry(env: &TestEnv, conv: &Conv) -> Vec<Vec<Option<String>>> {
    env.query(&format!(
        "SELECT expires_at FROM conversations WHERE id = '{}'",
        plain(&conv.id)
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_ends_a_conversation_from_its_page_and_an_observer_cannot() {
    let env = TestEnv::new("console_end");
    let server = env.server_with(NO_LIMITS).await;
    let admin = make_token(&env, "alice", "admin");
    let observer = make_token(&env, "olivia", "observer");
    let console = ConsoleProc::start(&env).await;
    let conv = Conv::create(&server).await;
    let kept = Conv::create(&server).await;
    let path = format!("/conversations/{}", conv.id);
    let end = format!("{path}/end");

    let olivia = Session::sign_in(&console, &observer).await;
    let page = olivia.get(&path).await.text().await.unwrap();
    assert!(
        !page.contains("form class=\"end\""),
        "observers get no end form"
    );
    let before = expiry(&env, &conv);
    let refused = olivia.post(&end, &[("csrf", &olivia.csrf)]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let alice = Session::sign_in(&console, &admin).await;
    let forged = alice.post(&end, &[("csrf", "not-the-token")]).await;
    assert!(forged.text().await.unwrap().contains("CSRF"));
    assert_eq!(expiry(&env, &conv), before, "refused posts changed nothing");
    send(&server, &conv, "a", "still live").await;

    let page = alice.get(&path).await.text().await.unwrap();
    assert!(page.contains("form class=\"end\""), "{page}");
    let ended = alice
        .post(&end, &[("csrf", &alice.csrf), ("sure", "on")])
        .await;
    assert_eq!(ended.status(), StatusCode::OK);
    assert!(
        ended
            .text()
            .await
            .unwrap()
            .contains("for every participant")
    );
    tool_error(
        &call(
            &server,
            "send_to_partner",
            conv.args("b", json!({"message": "hi"})),
        )
        .await,
        "conversation_expired",
    );
    send(&server, &kept, "a", "the other one goes on").await;
    let page = alice.get(&path).await.text().await.unwrap();
    assert!(
        !page.contains("form class=\"end\""),
        "an ended conversation has no form"
    );
    let again = alice
        .post(&end, &[("csrf", &alice.csrf), ("sure", "on")])
        .await;
    assert!(again.text().await.unwrap().contains("had already expired"));

    let (records, trail) = audited_fields(&env, "end", &["code", "outcome", "detail"]).await;
    let denied = json!("denied");
    assert_eq!(records.len(), 4, "{trail}");
    assert_eq!(
        records[0],
        [json!("forbidden"), denied.clone(), json!("by=olivia")]
    );
    assert_eq!(records[1], [json!("csrf"), denied, json!("by=alice")]);
    assert!(
        records[2][2]
            .as_str()
            .unwrap()
            .starts_with("by=alice ended; it was to expire at "),
        "{trail}"
    );
    assert!(
        records[3][2].as_str().unwrap().contains("already expired"),
        "{trail}"
    );
    server.stop().await;
}

/// The box "End it for every participant" is required by the server, not
/// only by the browser: a hand-made post without it, or with anything but
/// the value the box sends, is refused with a reason and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_the_ticked_box_ends_nothing() {
    let env = TestEnv::new("console_end_unconfirmed");
    let server = env.server_with(NO_LIMITS).await;
    let admin = make_token(&env, "alice", "admin");
    let console = ConsoleProc::start(&env).await;
    let conv = Conv::create(&server).await;
    let end = format!("/conversations/{}/end", conv.id);
    let alice = Session::sign_in(&console, &admin).await;
    let before = expiry(&env, &conv);
    let csrf = alice.csrf.clone();
    let unticked: [&[(&str, &str)]; 4] = [
        &[("csrf", &csrf)],
        &[("csrf", &csrf), ("sure", "")],
        &[("csrf", &csrf), ("sure", "off")],
        &[("csrf", &csrf), ("sure", "yes please")],
    ];
    for form in unticked {
        let refused = alice.post(&end, form).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{form:?}");
        let page = refused.text().await.unwrap();
        assert!(
            page.contains("Not done") && page.contains("End it for every participant"),
            "{page}"
        );
        assert!(page.contains("nothing was changed"), "{page}");
    }
    assert_eq!(expiry(&env, &conv), before, "nothing was ended");
    send(&server, &conv, "a", "still live").await;
    let (records, trail) = audited_fields(&env, "end", &["code", "outcome"]).await;
    assert_eq!(records.len(), 4, "{trail}");
    assert!(
        records
            .iter()
            .all(|r| r == &[json!("not_confirmed"), json!("denied")]),
        "{trail}"
    );
    let ended = alice.post(&end, &[("csrf", &csrf), ("sure", "on")]).await;
    assert!(
        ended
            .text()
            .await
            .unwrap()
            .contains("for every participant")
    );
    server.stop().await;
}

#[tokio::test]
async fn ending_a_conversation_in_a_real_browser() {
    let Some((chromium, driver)) = webdriver::installed_or_skip() else {
        return;
    };
    let env = TestEnv::new("console_end_browser");
    let server = env.server_with(NO_LIMITS).await;
    let admin = make_token(&env, "alice", "admin");
    let console = ConsoleProc::start(&env).await;
    let base = &console.base;
    let conv = Conv::create(&server).await;

    let b = Browser::start(&chromium, &driver).await;
    b.goto(&format!("{base}/login")).await;
    b.type_into("#token", &admin).await;
    b.click("form#login button[type=submit]").await;
    b.find("table#conversations").await;
    b.goto(&format!("{base}/conversations/{}", conv.id)).await;
    // Without the box ticked the browser does not send the form.
    assert_eq!(
        b.script("return document.querySelector('form.end').checkValidity();")
            .await,
        false
    );
    b.click("form.end button[type=submit]").await;
    assert!(b.find_now("#outcome").await.is_none());
    send(&server, &conv, "a", "not ended yet").await;
    b.click("form.end input[name=sure]").await;
    b.click("form.end button[type=submit]").await;
    b.wait_text("#outcome", |t| t.contains("for every participant"))
        .await;
    tool_error(
        &call(&server, "check_messages", conv.args("b", json!({}))).await,
        "conversation_expired",
    );
    b.quit().await;
    server.stop().await;
}
