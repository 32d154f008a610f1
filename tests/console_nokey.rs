//! The web console over a database whose sealed values do not open (a
//! `restore --no-key` of another database's backup), with real `serve`,
//! CLI and `console` processes: a page that needs such a value names it,
//! as the CLI does, instead of an "internal error" whose log said nothing
//! more; and a proposal whose command does not open is shown as such, can
//! be denied, and offers no Approve.

use reqwest::StatusCode;
use serde_json::json;

use crate::console_util::*;
use crate::util::*;
use crate::util_cli::*;
use crate::yolo_util::{YOLO_ON, activate, proposal_state, propose, workspace};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_that_do_not_open_are_named_and_their_proposals_can_be_denied() {
    let env = TestEnv::new("console-nokey");
    if crate::yolo_util::bwrap_missing() || env.sqlite_only("restore --no-key of a backup file") {
        return;
    }
    let s = env.server_with(&[YOLO_ON]).await;
    let conv = Conv::create(&s).await;
    send(&s, &conv, "a", "a message sealed under the first key file").await;
    ok(&call(
        &s,
        "update_my_status",
        conv.args("a", json!({"status": "working", "note": "a sealed note"})),
    )
    .await);
    activate(&env, &s, &conv, "safe", &workspace(&env, "ws"), json!({})).await;
    let proposal = propose(&s, &conv, "a", "ls").await;
    s.stop().await;
    let backup = env.dir.join("backup.db");
    cli(&env, &["backup", backup.to_str().unwrap()]).await.ok();
    // Another database, with its own key file.
    let other = TestEnv::new("console-nokey-target");
    other.server().await.stop().await;
    cli_on(
        &env,
        &other.db,
        &["restore", backup.to_str().unwrap(), "--no-key", "--force"],
    )
    .await
    .ok();

    let admin = make_token(&other, "root", "admin");
    let console = ConsoleProc::start(&other).await;
    // The overview fails, so the CSRF token comes from the YOLO page.
    let b = Browser::sign_in_via(&console, &admin, "/yolo").await;
    let overview = b.get("/").await;
    assert_eq!(overview.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let html = overview.text().await.unwrap();
    assert!(
        html.contains("does not open") && !html.contains("internal error"),
        "the page should name the value that does not open:\n{html}"
    );

    let page = b.get("/yolo").await.text().await.unwrap();
    let section = &page[page
        .find(&format!("id=\"proposal-{proposal}\""))
        .expect("the proposal is listed")..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(section.contains("does not open"), "{section}");
    assert!(
        !section.contains("/yolo/approve/") && section.contains(&format!("/yolo/deny/{proposal}")),
        "Deny and no Approve expected:\n{section}"
    );
    let denied = b
        .post(&format!("/yolo/deny/{proposal}"), &[("csrf", &b.csrf)])
        .await;
    assert_eq!(
        denied.status(),
        StatusCode::OK,
        "{}",
        denied.text().await.unwrap()
    );
    assert_eq!(proposal_state(&other, &proposal), "denied");
}
