//! The web console against hostile HTTP clients, with a real `mcp-bridge
//! console`: cross-site posts are refused even with a valid CSRF token, a
//! forged or cookieless sign-out signs nobody out, failed sign-ins are
//! throttled per address, one token cannot hold unbounded event streams,
//! and on loopback a rebound host name is not answered.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, HOST, RETRY_AFTER, SET_COOKIE};

use crate::console_util::*;
use crate::util::*;

/// Whether `b` is still signed in.
async fn signed_in(b: &Browser) -> bool {
    b.get("/").await.status() == StatusCode::OK
}

#[tokio::test]
async fn forged_and_cross_site_sign_outs_sign_nobody_out() {
    let env = TestEnv::new("console_forged_logout");
    let token = make_token(&env, "root", "admin");
    let console = ConsoleProc::start(&env).await;
    let b = Browser::sign_in(&console, &token).await;

    // A page of another site posting with the cookie and even the right token.
    let cross = http()
        .post(format!("{}/logout", console.base))
        .header(COOKIE, &b.cookie)
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example")
        .form(&[("csrf", b.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    assert!(cross.headers().get(SET_COOKIE).is_none());
    assert!(signed_in(&b).await, "a cross-site post signed the user out");
    wait_until("the cross-site post is audited", || {
        env.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'console post' AND code = 'cross_site'",
        ) == 1
    })
    .await;

    // A post with the cookie and a wrong token: refused, the cookie kept.
    let forged = b.post("/logout", &[("csrf", "forged")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(
        forged.headers().get(SET_COOKIE).is_none(),
        "a forged sign-out cleared the cookie: {:?}",
        forged.headers()
    );
    assert!(signed_in(&b).await);

    // A post without the cookie (what a cross-site form sends under
    // SameSite=Strict) must not tell the browser to drop it.
    let cookieless = http()
        .post(format!("{}/logout", console.base))
        .form(&[("csrf", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(cookieless.status(), StatusCode::SEE_OTHER);
    assert!(cookieless.headers().get(SET_COOKIE).is_none());

    // The real sign-out still works, and ends the session on the server.
    let out = b.post("/logout", &[("csrf", &b.csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&out, "mcpb_console").is_some_and(|c| c.contains("Max-Age=0")));
    assert!(!signed_in(&b).await);
}

/// Posts a sign-in with `token` through a fresh form; returns the response.
pub async fn try_sign_in(base: &str, token: &str) -> reqwest::Response {
    let client = http();
    let page = client.get(format!("{base}/login")).send().await.unwrap();
    let cookie = set_cookie(&page, "mcpb_console_login").expect("a sign-in cookie");
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let csrf = csrf_of(&page.text().await.unwrap());
    client
        .post(format!("{base}/login"))
        .header(COOKIE, cookie)
        .form(&[("token", token), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn failed_sign_ins_are_throttled() {
    let env = TestEnv::new("console_throttle");
    let token = make_token(&env, "root", "admin");
    let console = ConsoleProc::start(&env).await;
    // An operator's script already at work with its token, from this address.
    let script = api(&console, Some(&token), "/api/conversations").await;
    assert_eq!(script.status(), StatusCode::OK);
    let guess = format!("mcpc_{}", "0".repeat(64));
    for _ in 0..10 {
        assert_eq!(
            try_sign_in(&console.base, &guess).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let throttled = try_sign_in(&console.base, &guess).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = throttled.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(
        throttled
            .text()
            .await
            .unwrap()
            .contains("Too many failed sign-ins")
    );
    // While throttled, even the right token is not looked at from here.
    assert_eq!(
        try_sign_in(&console.base, &token).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    wait_until("throttled attempts are audited", || {
        env.count("SELECT COUNT(*) FROM audit_log WHERE action = 'console sign_in' AND code = 'throttled'") >= 1
    })
    .await;
    // Nor is guessing through the API (below); the script's token, accepted
    // before, still works from here.
    let guessed = api(&console, Some(&guess), "/api/conversations").await;
    assert_eq!(guessed.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(guessed.headers().contains_key(RETRY_AFTER));
    let api = api(&console, Some(&token), "/api/conversations").await;
    assert_eq!(api.status(), StatusCode::OK);
}

/// Wrong bearer tokens on the API and on pages count as failed sign-ins of
/// their address: the form's throttle is not sidestepped through them.
#[tokio::test]
async fn bearer_guesses_through_the_api_are_throttled_too() {
    let env = TestEnv::new("console_api_throttle");
    let token = make_token(&env, "root", "admin");
    let console = ConsoleProc::start(&env).await;
    let guess = format!("mcpc_{}", "1".repeat(64));
    // Guesses shown first to routes that answer anyone (an asset, the
    // sign-in page) are not thereby "accepted": they are throttled below too.
    let shown: Vec<String> = (0..3)
        .map(|n| format!("mcpc_{n}{}", "2".repeat(63)))
        .collect();
    for (n, g) in shown.iter().enumerate() {
        let path = if n % 2 == 0 {
            "/assets/console.js"
        } else {
            "/login"
        };
        assert_eq!(
            api(&console, Some(g), path).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    for n in 0..10 {
        let path = if n % 2 == 0 { "/api/audit" } else { "/" };
        let refused = api(&console, Some(&guess), path).await;
        assert!(
            [StatusCode::UNAUTHORIZED, StatusCode::SEE_OTHER].contains(&refused.status()),
            "{path}: {:?}",
            refused.status()
        );
    }
    for path in ["/api/conversations", "/api/events", "/"] {
        let throttled = api(&console, Some(&guess), path).await;
        assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
    }
    for g in &shown {
        let throttled = api(&console, Some(g), "/api/conversations").await;
        assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    // The sign-in form counts them as its own failures.
    assert_eq!(
        try_sign_in(&console.base, &token).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    wait_until("throttled API guesses are audited", || {
        env.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'console api' AND code = 'throttled'",
        ) >= 1
    })
    .await;
}

#[tokio::test]
async fn one_token_cannot_hold_unbounded_event_streams() {
    let env = TestEnv::new("console_stream_cap");
    let greedy = make_token(&env, "greedy", "observer");
    let other = make_token(&env, "other", "observer");
    let console = ConsoleProc::start(&env).await;
    let mut open = Vec::new();
    for _ in 0..32 {
        let s = api(&console, Some(&greedy), "/api/events").await;
        assert_eq!(s.status(), StatusCode::OK);
        open.push(s);
    }
    let refused = api(&console, Some(&greedy), "/api/events").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key(RETRY_AFTER));
    assert!(refused.text().await.unwrap().contains("too_many_streams"));
    // Another token is not starved.
    let fine = api(&console, Some(&other), "/api/events").await;
    assert_eq!(fine.status(), StatusCode::OK);
    drop((open, fine));
}

#[tokio::test]
async fn a_loopback_console_answers_only_loopback_names() {
    let env = TestEnv::new("console_rebinding");
    let console = ConsoleProc::start(&env).await;
    let port = console.base.rsplit(':').next().unwrap().to_owned();
    for (host, want) in [
        (format!("evil.example:{port}"), StatusCode::FORBIDDEN),
        (
            format!("localhost.evil.example:{port}"),
            StatusCode::FORBIDDEN,
        ),
        (format!("localhost:{port}"), StatusCode::OK),
        (format!("127.0.0.1:{port}"), StatusCode::OK),
    ] {
        let resp = http()
            .get(format!("{}/login", console.base))
            .header(HOST, &host)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), want, "Host: {host}");
        if want == StatusCode::FORBIDDEN {
            assert!(resp.headers().get(SET_COOKIE).is_none());
        }
    }
}
