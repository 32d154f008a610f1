//! Console sessions are the database's, not one process's: consoles on one
//! database (hosts behind a load balancer) share them, a sign-out on one ends
//! the session on all, and a restart signs nobody out.

use reqwest::StatusCode;
use reqwest::header::COOKIE;

use crate::console_util::*;
use crate::util::*;

async fn get(console: &ConsoleProc, cookie: &str, path: &str) -> reqwest::Response {
    http()
        .get(format!("{}{path}", console.base))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn consoles_on_one_database_share_sessions() {
    let env = TestEnv::new("console_shared");
    let admin = make_token(&env, "alice", "admin");
    let one = ConsoleProc::start(&env).await;
    let two = ConsoleProc::start(&env).await;

    // Signed in on one console, the browser is signed in on the other, with
    // the same CSRF token.
    let browser = Browser::sign_in(&one, &admin).await;
    let there = get(&two, &browser.cookie, "/").await;
    assert_eq!(there.status(), StatusCode::OK);
    assert_eq!(csrf_of(&there.text().await.unwrap()), browser.csrf);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM console_sessions"),
        1,
        "one session, stored once"
    );
    let id = browser.cookie.split_once('=').unwrap().1;
    assert_eq!(
        env.count(&format!(
            "SELECT COUNT(*) FROM console_sessions WHERE id_hash = '{id}'"
        )),
        0,
        "the store never holds the session id itself"
    );

    // A made-up or altered cookie opens nothing anywhere.
    for cookie in [
        format!("mcpb_console={}", "0".repeat(64)),
        format!("{}0", browser.cookie),
        "mcpb_console=".to_owned(),
    ] {
        for console in [&one, &two] {
            let resp = get(console, &cookie, "/").await;
            assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{cookie}");
        }
    }

    // A restart signs nobody out.
    let code = one.terminate().await;
    assert_eq!(code, Some(0));
    let one = ConsoleProc::start(&env).await;
    assert_eq!(
        get(&one, &browser.cookie, "/").await.status(),
        StatusCode::OK
    );

    // Signing out on the other console ends the session on this one too.
    let out = http()
        .post(format!("{}/logout", two.base))
        .header(COOKIE, &browser.cookie)
        .form(&[("csrf", browser.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    for console in [&one, &two] {
        let resp = get(console, &browser.cookie, "/").await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()["location"], "/login");
    }
    assert_eq!(env.count("SELECT COUNT(*) FROM console_sessions"), 0);
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'console sign_out' \
             AND detail = 'by=alice'"
        ),
        1,
        "the sign-out is audited with the token's name"
    );

    // A sign-out without the session's CSRF token ends nothing, and is
    // refused rather than answered like a sign-out (see console_requests).
    let again = Browser::sign_in(&two, &admin).await;
    let forged = http()
        .post(format!("{}/logout", one.base))
        .header(COOKIE, &again.cookie)
        .form(&[("csrf", "not-the-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(get(&one, &again.cookie, "/").await.status(), StatusCode::OK);
}
