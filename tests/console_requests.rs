//! The web console against hostile HTTP clients, with a real `mcp-bridge
//! console`: cross-site posts are refused even with a valid CSRF token, a
//! forged or cookieless sign-out signs nobody out, failed sign-ins are
//! throttled per address without locking out a valid token, one token
//! cannot hold unbounded event streams, on loopback a rebound host name is
//! not answered, and every response carries the security headers.

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
    let cold = make_token(&env, "cron", "observer");
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
    // While throttled, a guess is not looked up, but the right token still
    // signs in: the address is shared by every process on this host.
    assert_eq!(
        try_sign_in(&console.base, &guess).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        try_sign_in(&console.base, &token).await.status(),
        StatusCode::SEE_OTHER
    );
    wait_until("throttled attempts are audited", || {
        env.count("SELECT COUNT(*) FROM audit_log WHERE action = 'console sign_in' AND code = 'throttled'") >= 1
    })
    .await;
    // Nor is guessing through the API (below); the script's token, accepted
    // before, still works from here, and so does one never used before.
    let guessed = api(&console, Some(&guess), "/api/conversations").await;
    assert_eq!(guessed.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(guessed.headers().contains_key(RETRY_AFTER));
    let script = api(&console, Some(&token), "/api/conversations").await;
    assert_eq!(script.status(), StatusCode::OK);
    let started_now = api(&console, Some(&cold), "/api/conversations").await;
    assert_eq!(started_now.status(), StatusCode::OK);
}

/// What an acceptance run found: an agent failing sign-ins from 127.0.0.1
/// locked the operator, on the same address, out of the sign-in form. Now
/// the operator's token signs in whatever the agent does, while the agent's
/// guesses past the limit are refused without a store lookup (its
/// `auth_failed` records stop at the limit; the rest are `throttled`).
#[tokio::test]
async fn a_guessing_neighbour_does_not_lock_the_operator_out() {
    let env = TestEnv::new("console_throttle_neighbour");
    let token = make_token(&env, "operator", "admin");
    let console = ConsoleProc::start(&env).await;
    for n in 0..25 {
        let guess = format!("mcpc_{n:02}{}", "7".repeat(62));
        let refused = try_sign_in(&console.base, &guess).await;
        let want = if n < 10 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(refused.status(), want, "guess {n}");
    }
    let operator = try_sign_in(&console.base, &token).await;
    assert_eq!(operator.status(), StatusCode::SEE_OTHER);
    let session = set_cookie(&operator, "mcpb_console").expect("a session cookie");
    let home = http()
        .get(format!("{}/", console.base))
        .header(COOKIE, session.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    // The neighbour is still throttled, the operator's success notwithstanding.
    let after = try_sign_in(&console.base, &format!("mcpc_{}", "8".repeat(64))).await;
    assert_eq!(after.status(), StatusCode::TOO_MANY_REQUESTS);
    // Repeated refusals are folded into a summary with a count (after its
    // window): every refusal is counted once, in one record or the other.
    let refusals = |code: &str| {
        env.count(&format!(
            "SELECT COALESCE(SUM(CASE WHEN detail LIKE 'repeated=%' THEN count ELSE 1 END), 0) \
             FROM audit_log WHERE action = 'console sign_in' AND code = '{code}'"
        ))
    };
    // The summary is written when its window (10 s) is over: longer than
    // `wait_until` waits.
    tokio::time::timeout(std::time::Duration::from_secs(40), async {
        while refusals("throttled") != 16 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("every throttled sign-in is audited");
    assert_eq!(
        refusals("auth_failed"),
        10,
        "only the guesses before the limit were looked up"
    );
}

/// Every response of the console carries its security headers: pages,
/// redirects, and the refusals of the layers in front of its handlers (the
/// loopback Host check, the body limit) — these used to have none.
#[tokio::test]
async fn every_console_response_carries_the_security_headers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = TestEnv::new("console_headers");
    let console = ConsoleProc::start(&env).await;
    let port = console.base.rsplit(':').next().unwrap().to_owned();
    let login = http()
        .get(format!("{}/login", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert_secured("the sign-in page", login.headers());
    let home = http()
        .get(format!("{}/", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_secured("the redirect to sign in", home.headers());
    let missing = http()
        .get(format!("{}/no/such/page", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_secured("a page that does not exist", missing.headers());
    let rebound = http()
        .get(format!("{}/login", console.base))
        .header(HOST, format!("evil.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), StatusCode::FORBIDDEN);
    assert_secured("a refused Host", rebound.headers());
    // A body over the limit, refused before any handler (by a raw client:
    // the server answers before it has read all of it).
    let authority = console.base.trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let size = 1024 * 1024 + 1;
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut left = size;
    while left > 0 {
        let chunk = vec![b'a'; left.min(64 * 1024)];
        if tcp.write_all(&chunk).await.is_err() {
            break;
        }
        left -= chunk.len();
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(EVENT_TIMEOUT, tcp.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 413"), "{answer}");
    for (name, value) in SECURITY_HEADERS {
        let line = format!("\r\n{name}: {}\r\n", value.to_ascii_lowercase());
        assert!(
            answer.contains(&line),
            "a body over the limit: {name} in {answer}"
        );
    }
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
    // The sign-in form counts them as its own failures (the right token
    // still signs in).
    assert_eq!(
        try_sign_in(&console.base, &guess).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        try_sign_in(&console.base, &token).await.status(),
        StatusCode::SEE_OTHER
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

/// A query string the console cannot read is its own refusal, after the
/// caller is known: `401` without credentials (not axum's plain-text `400`
/// before authentication), the "Refused" page for a signed-in human, and the
/// JSON error for a script.
#[tokio::test]
async fn unreadable_query_strings_are_refused_after_authentication() {
    let env = TestEnv::new("console_bad_query");
    let token = make_token(&env, "root", "admin");
    let console = ConsoleProc::start(&env).await;
    for path in [
        "/api/audit?limit=x",
        "/api/events?conversation=a&conversation=b",
        // Read strictly, not clamped, ignored or taken for "no" (red team).
        "/api/audit?limit=0",
        "/api/audit?limit=5001",
        "/api/audit?verify=2",
        "/api/audit?until=2026-01-01T00:00:00Z",
    ] {
        let anonymous = api(&console, None, path).await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{path}");
        let scripted = api(&console, Some(&token), path).await;
        assert_eq!(scripted.status(), StatusCode::BAD_REQUEST, "{path}");
        let body: serde_json::Value = scripted.json().await.unwrap();
        assert_eq!(body["error"], "invalid_argument", "{path}: {body}");
    }
    let b = Browser::sign_in(&console, &token).await;
    let page = b.get("/audit?limit=-1").await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert_secured("/audit?limit=-1", page.headers());
    let html = page.text().await.unwrap();
    assert!(html.contains("Refused") && html.contains("limit"), "{html}");
}

/// SIGHUP (what a certificate renewal hook sends every process) reloads
/// the console's certificate when it has one and is otherwise only logged:
/// the console used to die of it (exit 129), silently.
#[tokio::test]
async fn sighup_does_not_end_the_console() {
    let env = TestEnv::new("console_sighup");
    let mut console = ConsoleProc::start(&env).await;
    for _ in 0..3 {
        console.signal(libc::SIGHUP);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!console.exited(), "the console died of SIGHUP");
    let login = http()
        .get(format!("{}/login", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(console.terminate().await, Some(0));
}

/// A body declared over the limit is refused by its `Content-Length`, at
/// once, as on `/mcp`: the console used to answer `Expect: 100-continue`
/// with `100 Continue` (inviting the body), or hold a connection that never
/// sent it for the read timeout before its `408`.
#[tokio::test]
async fn a_body_declared_too_large_is_refused_before_it_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = TestEnv::new("console_big_body");
    let console = ConsoleProc::start(&env).await;
    let authority = console.base.trim_start_matches("http://").to_owned();
    for expect in ["Expect: 100-continue\r\n", ""] {
        let mut tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
        let head = format!(
            "POST /login HTTP/1.1\r\nHost: {authority}\r\n{expect}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000000\r\n\r\n"
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut first = [0u8; 12];
        tokio::time::timeout(EVENT_TIMEOUT, tcp.read_exact(&mut first))
            .await
            .expect("answered without waiting for the body")
            .unwrap();
        assert_eq!(&first, b"HTTP/1.1 413", "{expect:?}");
    }
}
