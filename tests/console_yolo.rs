//! The console's YOLO decisions over HTTP: an admin confirms an activation,
//! approves a proposal (seeing its single-use token once) and revokes, all
//! with the operator passphrase where the terminal asks for it; an observer
//! is refused every one of them; every decision and refusal is audited.

use reqwest::StatusCode;
use serde_json::json;

use crate::console_util::*;
use crate::util::*;
use crate::yolo_util::{PASSPHRASE, YOLO_ON, enable, ensure_passphrase, propose, workspace};

#[tokio::test]
async fn admins_decide_yolo_with_the_passphrase_and_observers_cannot() {
    if crate::yolo_util::bwrap_missing() {
        return;
    }
    let env = TestEnv::new("console_yolo");
    let server = env.server_with(&[YOLO_ON]).await;
    ensure_passphrase(&env).await;
    let admin = make_token(&env, "root", "admin");
    let observer = make_token(&env, "eve", "observer");
    let console = ConsoleProc::start(&env).await;
    let conv = Conv::create(&server).await;
    let ws = workspace(&env, "ws");
    ok(&enable(&server, &conv, "safe", &ws, json!({})).await);

    let admin_b = Browser::sign_in(&console, &admin).await;
    let observer_b = Browser::sign_in(&console, &observer).await;
    let page = admin_b.get("/yolo").await.text().await.unwrap();
    assert!(page.contains("Confirm activation") && page.contains(&ws.display().to_string()));
    assert!(page.contains("bubblewrap"), "the sandbox is described");
    let requested_at = {
        let at = page.find("name=\"requested_at\" value=\"").unwrap()
            + "name=\"requested_at\" value=\"".len();
        page[at..at + page[at..].find('"').unwrap()].to_owned()
    };
    let observer_page = observer_b.get("/yolo").await.text().await.unwrap();
    assert!(
        !observer_page.contains("Confirm activation"),
        "observers get no forms"
    );

    // The observer is refused even with a well-formed post.
    let refused = observer_b
        .post(
            &format!("/yolo/confirm/{}", conv.id),
            &[
                ("csrf", &observer_b.csrf),
                ("phrase", "I UNDERSTAND THE RISKS"),
                ("passphrase", PASSPHRASE),
                ("requested_at", &requested_at),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // A wrong passphrase is refused and counted.
    let wrong = admin_b
        .post(
            &format!("/yolo/confirm/{}", conv.id),
            &[
                ("csrf", &admin_b.csrf),
                ("phrase", "I UNDERSTAND THE RISKS"),
                ("passphrase", "not the passphrase"),
                ("requested_at", &requested_at),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::CONFLICT);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("wrong operator passphrase")
    );
    let confirmed = admin_b
        .post(
            &format!("/yolo/confirm/{}", conv.id),
            &[
                ("csrf", &admin_b.csrf),
                ("phrase", "I UNDERSTAND THE RISKS"),
                ("passphrase", PASSPHRASE),
                ("requested_at", &requested_at),
            ],
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert!(confirmed.text().await.unwrap().contains("ACTIVE"));

    let proposal = propose(&server, &conv, "a", "ls -la").await;
    let refused = observer_b
        .post(
            &format!("/yolo/approve/{proposal}"),
            &[("csrf", &observer_b.csrf), ("passphrase", PASSPHRASE)],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.unwrap().contains("observer"));
    let approved = admin_b
        .post(
            &format!("/yolo/approve/{proposal}"),
            &[("csrf", &admin_b.csrf), ("passphrase", PASSPHRASE)],
        )
        .await;
    assert_eq!(approved.status(), StatusCode::OK);
    assert_eq!(approved.headers()["cache-control"], "no-store");
    let html = approved.text().await.unwrap();
    let at = html
        .find("id=\"approval-token\">")
        .expect("the token is shown")
        + "id=\"approval-token\">".len();
    let token = html[at..at + html[at..].find('<').unwrap()].to_owned();
    assert!(token.starts_with("apv_"), "{token}");

    // The agent runs it with that token; the result reaches the conversation.
    let body = ok(&call(
        &server,
        "execute_command",
        conv.args("a", json!({"command": "ls -la", "approval_token": token})),
    )
    .await);
    assert_eq!(body["status"], "completed", "{body}");
    let audit = env.count("SELECT COUNT(*) FROM audit_log WHERE actor = 'console' AND action = 'yolo approve' AND outcome = 'ok' AND detail LIKE '%by=root'");
    assert_eq!(audit, 1);
    wait_until("refusals are audited", || {
        env.count("SELECT COUNT(*) FROM audit_log WHERE actor = 'console' AND code = 'forbidden'") == 2
            && env.count("SELECT COUNT(*) FROM audit_log WHERE actor = 'console' AND code = 'passphrase_refused'") == 1
    })
    .await;
    for (path, bytes) in env.raw_db_bytes() {
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "{} holds the console token",
            path.display()
        );
    }

    // Revoking ends it at once; observers cannot.
    let refused = observer_b
        .post(
            &format!("/yolo/revoke/{}", conv.id),
            &[("csrf", &observer_b.csrf)],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        crate::yolo_util::activation_state(&env, &conv.id).as_deref(),
        Some("active")
    );
    let revoked = admin_b
        .post(
            &format!("/yolo/revoke/{}", conv.id),
            &[("csrf", &admin_b.csrf)],
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        crate::yolo_util::activation_state(&env, &conv.id).as_deref(),
        Some("revoked")
    );
    server.stop().await;
}
