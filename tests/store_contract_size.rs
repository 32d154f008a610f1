//! The store contract of the database's size (`Store::database_size`, what
//! `limits.max_database_mb` measures), on SQLite and on PostgreSQL (helpers
//! in `store_contract`): it grows with what is stored and falls when a
//! cleanup deletes it (SQLite: at once, its pages going to the free list;
//! PostgreSQL: once a VACUUM gives an emptied table's pages back), and a
//! server whose budget it reaches refuses new content, storing nothing,
//! while reads go on.

use std::sync::Arc;

use mcp_bridge::audit::AuditDraft;
use mcp_bridge::domain::{Side, Timestamp};
use mcp_bridge::service::ServiceError;
use mcp_bridge::store::{AdminStore, AuditFor, CleanupReport, Store};

use crate::store_contract::{Db, Target, check, contract, creds, text};
use crate::util::random_from;

contract!(
    the_size_follows_the_data_and_a_budget_refuses_past_it,
    size_and_budget
);

/// Messages stored: about 1.6 MB sealed, past 1 MiB on a fresh SQLite file.
const MESSAGES: usize = 24;

const NO_LIMITS: (&str, &str) = ("MCP_BRIDGE_RATE_LIMITS", "off");

async fn size_and_budget(db: Db) {
    let app = db.open(&[NO_LIMITS]);
    let empty = app.bridge.store().database_size().await.expect("size");
    assert!(empty > 0, "an empty database holds its schema");
    let created = app
        .bridge
        .create_conversation("writer", "reader")
        .await
        .expect("create");
    let (a, b) = (creds(&created, Side::A), creds(&created, Side::B));
    for i in 0..MESSAGES {
        let message = format!("{i:02} {}", random_from("abcdefghij ", 49_990));
        app.bridge
            .send_message(&a, text(&message), "send_to_partner")
            .await
            .expect("send");
    }
    let full = app.bridge.store().database_size().await.expect("size");
    assert!(
        full >= empty + (MESSAGES as u64) * 50_000,
        "{MESSAGES} messages of 50 kB took {empty} bytes to only {full}"
    );

    // A server whose budget the database has reached refuses sends and new
    // conversations with `resource_limit`, storing nothing.
    let budget = u32::try_from(full >> 20).expect("MiB");
    assert!(budget >= 1, "{full} bytes are less than a MiB");
    let setting = budget.to_string();
    let tight = db.open(&[NO_LIMITS, ("MCP_BRIDGE_LIMITS__MAX_DATABASE_MB", &setting)]);
    let refused = tight
        .bridge
        .send_message(&a, text("one too many"), "send_to_partner")
        .await
        .expect_err("over the budget");
    assert!(
        matches!(refused, ServiceError::ResourceLimit { limit, .. } if limit == budget),
        "{refused:?}"
    );
    assert_eq!(refused.code(), "resource_limit");
    let refused = tight
        .bridge
        .create_conversation("dev", "ops")
        .await
        .expect_err("over the budget");
    assert_eq!(refused.code(), "resource_limit");
    // Reading is not refused: every message sent before arrives, and not
    // the refused one.
    let mut read = Vec::new();
    loop {
        let page = tight
            .bridge
            .check_messages(std::slice::from_ref(&b), check(0), std::future::pending())
            .await
            .expect("check");
        if page.messages.is_empty() {
            break;
        }
        read.extend(page.messages.into_iter().map(|d| d.message.content));
    }
    assert_eq!(read.len(), MESSAGES);
    assert!(!read.iter().any(|m| m == "one too many"));
    // A server with room accepts.
    let roomy_setting = (budget + 64).to_string();
    let roomy = db.open(&[
        NO_LIMITS,
        ("MCP_BRIDGE_LIMITS__MAX_DATABASE_MB", &roomy_setting),
    ]);
    roomy
        .bridge
        .send_message(&a, text("with room"), "send_to_partner")
        .await
        .expect("send under the budget");

    // A cleanup as if the conversation had expired frees the space.
    let far = Timestamp::from_micros(i64::MAX / 2);
    let cleanup: AuditFor<CleanupReport> = Arc::new(|_| AuditDraft::new("cli", "cleanup"));
    let report = app
        .bridge
        .store()
        .cleanup(far, false, None, Timestamp::from_micros(0), cleanup)
        .await
        .expect("cleanup");
    assert_eq!(report.removed.len(), 1);
    if let Target::Postgres(url) = &db.target {
        crate::util_pg::sql(url.expose(), "VACUUM");
    }
    let freed = app.bridge.store().database_size().await.expect("size");
    assert!(
        freed + (MESSAGES as u64) * 40_000 <= full,
        "deleting the messages took the size from {full} bytes only to {freed}"
    );
    // A server with the tight budget reads the size anew and accepts.
    let again = db.open(&[NO_LIMITS, ("MCP_BRIDGE_LIMITS__MAX_DATABASE_MB", &setting)]);
    again
        .bridge
        .create_conversation("dev", "ops")
        .await
        .expect("create under the budget again");
}
