//! The web console over HTTP: sign-in, CSRF, token revocation, escaping of
//! agent text, the JSON API, the live event stream, the token commands and
//! the listening rules (YOLO decisions: `console_yolo`). Each test runs a real
//! `mcp-bridge console` beside real `mcp-bridge serve` processes on one database.

use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::{Value, json};

use crate::console_util::*;
use crate::util::*;

/// Reads an SSE response until an event of `kind` whose data satisfies `want`.
pub async fn next_event(
    resp: &mut reqwest::Response,
    kind: &str,
    want: impl Fn(&Value) -> bool,
) -> Value {
    let mut buffer = String::new();
    let found = tokio::time::timeout(EVENT_TIMEOUT, async {
        loop {
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let mut event = "message";
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event:") {
                        event = if e.trim() == kind { kind } else { "other" };
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.trim_start());
                    }
                }
                if event == kind
                    && let Ok(v) = serde_json::from_str::<Value>(&data)
                    && want(&v)
                {
                    return v;
                }
            }
            let chunk = resp
                .chunk()
                .await
                .expect("read the event stream")
                .expect("the stream stays open");
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no {kind} event within {EVENT_TIMEOUT:?}"))
}

#[tokio::test]
async fn sign_in_sessions_csrf_and_revocation() {
    let env = TestEnv::new("console_sign_in");
    let server = env.server().await;
    let admin = make_token(&env, "alice", "admin");
    let console = ConsoleProc::start(&env).await;

    // Without a session every page sends the browser to sign in.
    let resp = http()
        .get(format!("{}/", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/login");
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("script-src 'self'")
            && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );

    // A wrong token is refused, and so is a sign-in without the form's nonce.
    let page = http()
        .get(format!("{}/login", console.base))
        .send()
        .await
        .unwrap();
    let nonce_cookie = set_cookie(&page, "mcpb_console_login").unwrap();
    let nonce_cookie = nonce_cookie.split(';').next().unwrap().to_owned();
    let nonce = csrf_of(&page.text().await.unwrap());
    let wrong = http()
        .post(format!("{}/login", console.base))
        .header(COOKIE, &nonce_cookie)
        .form(&[("token", "mcpc_0000"), ("csrf", nonce.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let forged = http()
        .post(format!("{}/login", console.base))
        .form(&[("token", admin.as_str()), ("csrf", nonce.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        StatusCode::FORBIDDEN,
        "no sign-in cookie, no session"
    );
    assert!(set_cookie(&forged, "mcpb_console").is_none());

    let browser = Browser::sign_in(&console, &admin).await;
    let conv = Conv::create(&server).await;
    let home = browser.get("/").await.text().await.unwrap();
    assert!(
        home.contains(&conv.id),
        "the overview lists the conversation"
    );

    // A post without (or with a wrong) CSRF token does nothing.
    let proposal = "prop_0123456789abcdef";
    for form in [vec![], vec![("csrf", "not-the-token")]] {
        let resp = browser.post(&format!("/yolo/deny/{proposal}"), &form).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert!(resp.text().await.unwrap().contains("CSRF"));
    }
    wait_until("CSRF refusals are audited", || {
        env.count("SELECT COUNT(*) FROM audit_log WHERE actor = 'console' AND code = 'csrf'") >= 2
    })
    .await;

    // The token never reaches the database, only its digest.
    let hash: String = env
        .value("SELECT token_hash FROM console_tokens WHERE name = 'alice'")
        .expect("alice's token");
    assert_ne!(hash, admin);
    assert_eq!(hash.len(), 64);

    // Revoking the token ends the session at its next request.
    revoke_token(&env, "alice");
    let after = browser.get("/").await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        api(&console, Some(&admin), "/api/conversations")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    server.stop().await;
}

#[tokio::test]
async fn api_serves_json_and_pages_escape_agent_text() {
    let env = TestEnv::new("console_api");
    let server = env.server().await;
    let observer = make_token(&env, "dash", "observer");
    let console = ConsoleProc::start(&env).await;
    let conv = Conv::create_with_roles(&server, "backend", "frontend").await;
    let hostile = "<script>alert(1)</script><img src=x onerror=alert(2)> password=hunter2hunter2";
    ok(&call(
        &server,
        "send_to_partner",
        conv.args(
            "a",
            json!({"message": hostile, "files_involved": ["src/<i>.rs"]}),
        ),
    )
    .await);

    assert_eq!(
        api(&console, None, "/api/conversations").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api(&console, Some("mcpc_wrong"), "/api/conversations")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let list: Value = api(&console, Some(&observer), "/api/conversations")
        .await
        .json()
        .await
        .unwrap();
    let c = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == conv.id.as_str())
        .expect("listed");
    assert_eq!(c["messages"], 1);
    assert_eq!(c["unread"]["b"], 1);
    assert_eq!(c["participants"][0]["role"], "backend");

    let one: Value = api(
        &console,
        Some(&observer),
        &format!("/api/conversations/{}", conv.id),
    )
    .await
    .json()
    .await
    .unwrap();
    let m = &one["messages"][0];
    assert!(
        m["content"]
            .as_str()
            .unwrap()
            .contains("<script>alert(1)</script>"),
        "JSON carries the text as is: {m}"
    );
    assert!(
        !m["content"].as_str().unwrap().contains("hunter2"),
        "redacted before storing"
    );
    assert_eq!(m["unread_by"], json!(["b"]));

    // The page shows the same text, escaped, with the placeholder marked.
    let browser = Browser::sign_in(&console, &observer).await;
    let html = browser
        .get(&format!("/conversations/{}", conv.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"),
        "{html}"
    );
    assert!(
        !html.contains("<script>alert") && !html.contains("<img src=x"),
        "agent markup must not survive"
    );
    assert!(html.contains("src/&lt;i&gt;.rs"), "{html}");
    assert!(
        html.contains("<mark class=\"redacted\""),
        "placeholders are highlighted"
    );
    assert!(
        !html.contains("<script>") || html.matches("<script").count() == 1,
        "only the console's own script tag"
    );

    // The audit trail with filters and the chain check.
    let audit: Value = api(
        &console,
        Some(&observer),
        &format!(
            "/api/audit?conversation={}&action=send_to_partner&verify=1",
            conv.id
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(audit["verify"]["intact"], true, "{audit}");
    let records = audit["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{audit}");
    assert_eq!(records[0]["action"], "send_to_partner");
    let recent: Value = api(
        &console,
        Some(&observer),
        "/api/audit?since=1h&action=create_conversation",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        recent["records"].as_array().unwrap().len(),
        1,
        "ages work as in the CLI: {recent}"
    );
    let bad = api(&console, Some(&observer), "/api/audit?since=yesterday").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let page = browser.get("/audit?verify=1").await.text().await.unwrap();
    assert!(page.contains("Chain intact"), "{page}");
    // The console's own reads are in the trail, by name.
    assert!(env.count("SELECT COUNT(*) FROM audit_log WHERE actor = 'console' AND action = 'console show' AND detail = 'by=dash'") >= 2);
    assert_audit_intact(&env, "after console reads");
    server.stop().await;
}

#[tokio::test]
async fn events_stream_messages_statuses_and_audit_records_as_they_commit() {
    let env = TestEnv::new("console_events");
    let server = env.server().await;
    let token = make_token(&env, "bot", "observer");
    let console = ConsoleProc::start(&env).await;
    let conv = Conv::create(&server).await;

    let mut stream = http()
        .get(format!(
            "{}/api/events?conversation={}",
            console.base, conv.id
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut all = http()
        .get(format!("{}/api/events", console.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();

    // A message sent by another process arrives as it commits.
    send(&server, &conv, "a", "hello from a, password=hunter2hunter2").await;
    let m = next_event(&mut stream, "message", |v| {
        v["conversation_id"] == conv.id.as_str()
    })
    .await;
    assert_eq!(m["from"], "a");
    assert!(m["content"].as_str().unwrap().starts_with("hello from a"));
    assert!(!m["content"].as_str().unwrap().contains("hunter2"), "{m}");
    let line = next_event(&mut stream, "conversation", |v| v["messages"] == 1).await;
    assert_eq!(
        line["unread"]["b"], 1,
        "the overview line comes with it: {line}"
    );
    let audit = next_event(&mut all, "audit", |v| v["action"] == "send_to_partner").await;
    assert_eq!(audit["conversation_id"], conv.id.as_str());

    // Then the recipient reads it, and sets a status.
    check(&server, &conv, "b", json!({})).await;
    let r = next_event(&mut stream, "read", |_| true).await;
    assert_eq!(r["unread_by"], json!([]));
    ok(&call(
        &server,
        "update_my_status",
        conv.args("b", json!({"status": "blocked", "note": "waiting on CI"})),
    )
    .await);
    let s = next_event(&mut stream, "status", |v| v["session_id"] == "b").await;
    assert_eq!(s["status"], "blocked");
    assert_eq!(s["note"], "waiting on CI");

    // Another conversation's messages stay out of this stream.
    let other = Conv::create(&server).await;
    send(&server, &other, "a", "elsewhere").await;
    send(&server, &conv, "b", "second").await;
    let m2 = next_event(&mut stream, "message", |_| true).await;
    assert_eq!(m2["content"], "second");
    // The console stops on SIGTERM even with event streams open.
    assert_eq!(console.terminate().await, Some(0));
    drop((stream, all));
    server.stop().await;
}

#[tokio::test]
async fn listening_rules_and_tls() {
    let env = TestEnv::new("console_listen");
    make_token(&env, "x", "observer");
    let out = env
        .bridge()
        .args(["console", "--listen", "0.0.0.0:0", "--db"])
        .arg(&env.db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("without TLS"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // With a certificate it serves HTTPS and its cookies are Secure.
    let cert = env.dir.join("cert.pem");
    let key = env.dir.join("key.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let console = ConsoleProc::start_with(
        &env,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    )
    .await;
    assert!(console.base.starts_with("https://"), "{}", console.base);
    let out = tokio::process::Command::new("curl")
        .args(["-ksi", &format!("{}/login", console.base)])
        .output()
        .await
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let cookie = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a cookie");
    assert!(
        cookie.contains("__Host-mcpb_console_login=")
            && cookie.contains("; Secure")
            && cookie.contains("HttpOnly"),
        "{cookie}"
    );
}

#[tokio::test]
async fn token_commands_create_list_and_revoke() {
    let env = TestEnv::new("console_tokens");
    let token = make_token(&env, "alice", "admin");
    assert!(
        token.starts_with("mcpc_") && token.len() == 5 + 64,
        "{token}"
    );
    let run = |args: &[&str]| {
        env.bridge()
            .arg("console")
            .args(args)
            .arg("--db")
            .arg(&env.db)
            .output()
            .unwrap()
    };
    let dup = run(&["token", "create", "alice", "--role", "observer"]);
    assert_eq!(dup.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("exists already"));
    let bad = run(&["token", "create", "<b>", "--role", "observer"]);
    assert_eq!(bad.status.code(), Some(1));
    let text = run(&["token", "create", "wall", "--role", "observer"]);
    assert!(text.status.success());
    assert!(String::from_utf8_lossy(&text.stdout).contains("shown only now"));
    let list = run(&["token", "list", "--json"]);
    let v: Value = serde_json::from_slice(&list.stdout).unwrap();
    let names: Vec<_> = v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("alice".to_owned(), "admin".to_owned()),
            ("wall".to_owned(), "observer".to_owned())
        ]
    );
    assert!(
        !String::from_utf8_lossy(&list.stdout).contains("mcpc_"),
        "list never shows tokens"
    );
    assert!(run(&["token", "revoke", "wall"]).status.success());
    assert_eq!(
        run(&["token", "revoke", "wall"]).status.code(),
        Some(1),
        "revoking twice is refused"
    );
    let plain = String::from_utf8_lossy(&run(&["token", "list"]).stdout).into_owned();
    assert!(
        plain.contains("wall") && plain.contains("revoked"),
        "{plain}"
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM audit_log WHERE action IN ('console token create', 'console token revoke')"), 3);
}
