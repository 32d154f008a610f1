//! The web console against hostile agents and stale access, over HTTP with
//! real `mcp-bridge console` and `serve` processes: hidden characters an
//! agent sends (bidi overrides, zero-width spaces, controls) are shown as
//! codes, never raw; an event stream ends as soon as its session is signed
//! out or its token revoked, before any later agent text reaches it; and an
//! approved command whose token is unused can still be withdrawn.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::console_util::*;
use crate::util::*;
use crate::yolo_util::{
    PASSPHRASE, YOLO_ON, confirm, enable, ensure_passphrase, execute, proposal_state, propose,
    refusal, workspace,
};

/// Characters that reorder, hide or act: a right-to-left override and its
/// pop, a zero-width space, a bidi isolate, ESC, NUL and a line separator.
const HIDDEN: [char; 7] = [
    '\u{202e}', '\u{202c}', '\u{200b}', '\u{2066}', '\x1b', '\0', '\u{2028}',
];

#[tokio::test]
async fn hidden_characters_from_agents_are_shown_as_codes() {
    let env = TestEnv::new("console_hidden_chars");
    let server = env.server().await;
    let token = make_token(&env, "root", "admin");
    let console = ConsoleProc::start(&env).await;
    let conv = Conv::create(&server).await;
    // `invoice_\u{202e}fdp.exe` reads as "invoice_exe.pdf" when shown raw.
    ok(&call(
        &server,
        "send_to_partner",
        conv.args(
            "a",
            json!({
                // A placeholder right after a letter that is not ASCII
                // once made the page's renderer panic.
                "message": "open invoice_\u{202e}fdp.exe\u{202c} now\u{200b}\u{2066}\x1b[2J\0\u{2028}done café_REDACTED 東京KEY_REDACTED",
                "files_involved": ["src/\u{202e}gnp.exe", "two\nlines"],
            }),
        ),
    )
    .await);
    ok(&call(
        &server,
        "update_my_status",
        conv.args(
            "b",
            json!({"status": "working", "note": "all \u{202e}doog\u{202c} here é_REDACTED"}),
        ),
    )
    .await);

    let b = Browser::sign_in(&console, &token).await;
    for path in [format!("/conversations/{}", conv.id), "/".to_owned()] {
        let page = b.get(&path).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        for c in HIDDEN {
            assert!(
                !html.contains(c),
                "{path} shows U+{:04X} raw:\n{html}",
                u32::from(c)
            );
        }
        assert!(
            html.contains("<mark class=\"hidden-char\""),
            "{path}: {html}"
        );
        assert!(html.contains(">\\u{202e}</mark>doog"), "{path}: {html}");
        assert!(html.contains("here é_REDACTED"), "{path}: {html}");
    }
    let html = b
        .get(&format!("/conversations/{}", conv.id))
        .await
        .text()
        .await
        .unwrap();
    for shown in [
        "invoice_<mark",
        ">\\u{202e}</mark>fdp.exe<mark",
        ">\\u{200b}</mark><mark",
        ">\\x1b</mark>[2J<mark",
        ">\\x00</mark><mark",
        ">\\u{2028}</mark>done café_REDACTED 東京<mark class=\"redacted\"",
        "src/<mark",
        ">\\u{202e}</mark>gnp.exe",
        // A file name cannot draw a second line.
        "two<mark class=\"hidden-char\" title=\"an invisible, control or text-direction character, shown as its code\">\\x0a</mark>lines",
    ] {
        assert!(html.contains(shown), "no {shown:?} in:\n{html}");
    }
    // The JSON API gives scripts the text exactly as the agent sent it.
    let api: Value = b
        .get(&format!("/api/conversations/{}", conv.id))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        api["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("invoice_\u{202e}fdp.exe")
    );
    server.stop().await;
}

/// Reads `resp` until an event of one of `kinds`; returns its kind and data,
/// or `None` when the stream closes first.
async fn next_of(resp: &mut reqwest::Response, kinds: &[&str]) -> Option<(String, Value)> {
    let mut buffer = String::new();
    let read = async {
        loop {
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let mut event = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event:") {
                        e.trim().clone_into(&mut event);
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.trim_start());
                    }
                }
                if kinds.contains(&event.as_str()) {
                    let data = serde_json::from_str(&data).unwrap_or(Value::Null);
                    return Some((event, data));
                }
            }
            let chunk = resp.chunk().await.expect("read the event stream")?;
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(EVENT_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| panic!("no {kinds:?} event within {EVENT_TIMEOUT:?}"))
}

async fn open_stream(console: &ConsoleProc, auth: (&str, &str)) -> reqwest::Response {
    let resp = http()
        .get(format!("{}/api/events", console.base))
        .header(auth.0, auth.1)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp
}

#[tokio::test]
async fn event_streams_end_when_their_session_or_token_does() {
    let env = TestEnv::new("console_stream_access");
    let server = env.server().await;
    let scripted = make_token(&env, "script", "observer");
    let person = make_token(&env, "person", "observer");
    let console = ConsoleProc::start(&env).await;
    let conv = Conv::create(&server).await;

    // A script's stream, then its token is revoked.
    let mut by_token =
        open_stream(&console, ("authorization", &format!("Bearer {scripted}"))).await;
    // A browser's stream, a second one of the same person, then a sign-out.
    let b = Browser::sign_in(&console, &person).await;
    let mut by_session = open_stream(&console, ("cookie", &b.cookie)).await;
    let other = Browser::sign_in(&console, &person).await;
    let mut other_session = open_stream(&console, ("cookie", &other.cookie)).await;

    revoke_token(&env, "script");
    let signed_out = b.post("/logout", &[("csrf", &b.csrf)]).await;
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    // Committed after both: neither ended stream may carry it.
    send(&server, &conv, "a", "secret plans after the revocation").await;

    for (name, stream) in [("token", &mut by_token), ("session", &mut by_session)] {
        let (kind, data) = next_of(stream, &["message", "ended"])
            .await
            .unwrap_or_else(|| panic!("the {name} stream closed without an `ended` event"));
        assert_eq!(
            kind, "ended",
            "the {name} stream went on after losing access: {data}"
        );
        assert!(
            next_of(stream, &["message"]).await.is_none(),
            "the {name} stream stays open after `ended`"
        );
    }
    // The same person's other session is still signed in, and still live.
    let (kind, m) = next_of(&mut other_session, &["message", "ended"])
        .await
        .expect("the other session's stream stays open");
    assert_eq!(kind, "message");
    assert_eq!(m["content"], "secret plans after the revocation");
    // Reconnecting is refused.
    let again = http()
        .get(format!("{}/api/events", console.base))
        .bearer_auth(&scripted)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

/// The single-use token shown on an approval page.
fn approval_token(html: &str) -> String {
    let at = html
        .find("id=\"approval-token\">")
        .expect("the token is shown")
        + "id=\"approval-token\">".len();
    html[at..at + html[at..].find('<').unwrap()].to_owned()
}

#[tokio::test]
async fn an_approved_command_can_be_withdrawn_before_it_runs() {
    if crate::yolo_util::bwrap_missing() {
        return;
    }
    let env = TestEnv::new("console_withdraw");
    let server = env.server_with(&[YOLO_ON]).await;
    ensure_passphrase(&env).await;
    let admin = make_token(&env, "root", "admin");
    let observer = make_token(&env, "eve", "observer");
    let console = ConsoleProc::start(&env).await;
    let conv = Conv::create(&server).await;
    let ws = workspace(&env, "ws");
    ok(&enable(&server, &conv, "safe", &ws, json!({})).await);
    confirm(&env, &conv.id).await;
    let proposal = propose(&server, &conv, "a", "ls -la").await;

    let b = Browser::sign_in(&console, &admin).await;
    let approved = b
        .post(
            &format!("/yolo/approve/{proposal}"),
            &[("csrf", &b.csrf), ("passphrase", PASSPHRASE)],
        )
        .await;
    assert_eq!(approved.status(), StatusCode::OK);
    let token = approval_token(&approved.text().await.unwrap());

    // The YOLO page offers to withdraw it, to admins only.
    let page = b.get("/yolo").await.text().await.unwrap();
    let section = &page[page
        .find(&format!("id=\"proposal-{proposal}\""))
        .expect("the proposal is listed")..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(section.contains("data-state=\"approved\""), "{section}");
    assert!(
        section.contains(&format!("action=\"/yolo/deny/{proposal}\""))
            && section.contains("Withdraw approval"),
        "no way to withdraw the approval:\n{section}"
    );
    let o = Browser::sign_in(&console, &observer).await;
    let observer_page = o.get("/yolo").await.text().await.unwrap();
    assert!(!observer_page.contains("Withdraw approval"));
    let refused = o
        .post(&format!("/yolo/deny/{proposal}"), &[("csrf", &o.csrf)])
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // Without the page's CSRF token nothing happens.
    let forged = b
        .post(&format!("/yolo/deny/{proposal}"), &[("csrf", "forged")])
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(proposal_state(&env, &proposal), "approved");

    let withdrawn = b
        .post(&format!("/yolo/deny/{proposal}"), &[("csrf", &b.csrf)])
        .await;
    assert_eq!(withdrawn.status(), StatusCode::OK);
    let html = withdrawn.text().await.unwrap();
    assert!(html.contains("Approval withdrawn"), "{html}");
    assert_eq!(proposal_state(&env, &proposal), "denied");
    // The agent's token no longer runs the command.
    let result = execute(
        &server,
        &conv,
        "a",
        "ls -la",
        json!({"approval_token": token}),
    )
    .await;
    refusal(&result, "approval_invalid");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM audit_log WHERE actor = 'console' AND action = 'yolo deny' AND outcome = 'ok' AND detail LIKE '%by=root%'"),
        1
    );
    // Withdrawn once is final.
    let again = b
        .post(&format!("/yolo/deny/{proposal}"), &[("csrf", &b.csrf)])
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    server.stop().await;
}
