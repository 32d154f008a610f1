//! The store contract, continued (helpers and the delivery contracts are in
//! `store_contract`): limits and permissions hold across servers on one
//! database — a send quota, a single-use invite, a removed participant's
//! token and inbox, and console tokens — each run against SQLite and
//! PostgreSQL.

use std::sync::Arc;

use mcp_bridge::domain::{ParticipantKind, Side};
use mcp_bridge::service::ServiceError;
use mcp_bridge::store::{AuditQuery, ConsoleRole};

use crate::store_contract::{Db, NO_LIMITS, contract, creds, export_text, text};

contract!(quota_holds_across_servers, quota_across_servers);
contract!(invite_redeemed_once_across_servers, invite_once);
contract!(removed_sender_is_refused_by_every_server, removed_sender);
contract!(
    a_removal_that_arrives_by_import_empties_the_inbox,
    imported_removal
);
contract!(console_tokens_across_servers, console_tokens);

/// A quota of 5 sends a minute, spent by 20 concurrent sends over two
/// servers: exactly 5 go through.
async fn quota_across_servers(db: Db) {
    let env = [("MCP_BRIDGE_RATE_LIMITS__SEND_TO_PARTNER__PER_MINUTE", "5")];
    let (one, two) = (Arc::new(db.open(&env)), Arc::new(db.open(&env)));
    let created = one
        .bridge
        .create_conversation("writer", "reader")
        .await
        .expect("create");
    let mut calls = Vec::new();
    for i in 0..20 {
        let app = Arc::clone(if i % 2 == 0 { &one } else { &two });
        let a = creds(&created, Side::A);
        calls.push(tokio::spawn(async move {
            app.bridge
                .send_message(&a, text(&format!("m{i}")), "send_to_partner")
                .await
        }));
    }
    let (mut ok, mut limited) = (0, 0);
    for c in calls {
        match c.await.expect("task") {
            Ok(_) => ok += 1,
            Err(ServiceError::RateLimited { .. }) => limited += 1,
            Err(e) => panic!("unexpected refusal: {e}"),
        }
    }
    assert_eq!((ok, limited), (5, 15));
}

/// One invite code redeemed by six concurrent joins on two servers: one wins.
async fn invite_once(db: Db) {
    let (one, two) = (Arc::new(db.open(NO_LIMITS)), Arc::new(db.open(NO_LIMITS)));
    let created = one
        .bridge
        .create_conversation("owner", "member")
        .await
        .expect("create");
    let invited = one
        .bridge
        .create_invite(
            &creds(&created, Side::A),
            "reviewer",
            ParticipantKind::Member,
            None,
        )
        .await
        .expect("invite");
    let code = invited.code.to_display();
    let mut joins = Vec::new();
    for i in 0..6 {
        let app = Arc::clone(if i % 2 == 0 { &one } else { &two });
        let code = code.clone();
        joins.push(tokio::spawn(async move {
            app.bridge.join_conversation(&code).await
        }));
    }
    let mut winners = Vec::new();
    for j in joins {
        match j.await.expect("task") {
            Ok(joined) => winners.push(joined.creds.side),
            Err(ServiceError::InviteInvalid | ServiceError::RateLimited { .. }) => {}
            Err(e) => panic!("unexpected refusal: {e}"),
        }
    }
    assert_eq!(winners, vec![Side::nth(2).expect("side c")]);
}

/// A participant removed through one server can no longer send through the other.
async fn removed_sender(db: Db) {
    let (one, two) = (db.open(NO_LIMITS), db.open(NO_LIMITS));
    let created = one
        .bridge
        .create_conversation("owner", "member")
        .await
        .expect("create");
    one.bridge
        .remove_participant(&creds(&created, Side::A), "b")
        .await
        .expect("remove");
    let refused = two
        .bridge
        .send_message(
            &creds(&created, Side::B),
            text("still here?"),
            "send_to_partner",
        )
        .await;
    assert!(
        refused.is_err(),
        "a removed participant's token must stop working"
    );
}

/// A removal that arrives by import (a later export of a conversation whose
/// participant was removed meanwhile) empties that participant's inbox, as
/// `remove_participant` does: a long-poll relies on a removed participant
/// having nothing queued.
async fn imported_removal(db: Db) {
    let source = Db::sqlite("imported_removal_source");
    let there = source.open(NO_LIMITS);
    let created = there
        .bridge
        .create_conversation("owner", "member")
        .await
        .expect("create");
    there
        .bridge
        .send_message(&creds(&created, Side::A), text("for b"), "send_to_partner")
        .await
        .expect("send");
    let before = export_text(&there).await;
    there
        .bridge
        .remove_participant(&creds(&created, Side::A), "b")
        .await
        .expect("remove");
    let after = export_text(&there).await;

    let here = db.open(NO_LIMITS);
    let unread_by = |text: String| -> serde_json::Value {
        let file: serde_json::Value = serde_json::from_str(&text).expect("json");
        file["conversations"][0]["messages"][0]["unread_by"].clone()
    };
    here.bridge.import(&before).await.expect("import");
    assert_eq!(
        unread_by(export_text(&here).await),
        serde_json::json!(["b"])
    );
    let merged = here
        .bridge
        .import(&after)
        .await
        .expect("import the removal");
    assert_eq!(merged.report.conversations_updated, 1);
    assert_eq!(
        unread_by(export_text(&here).await),
        serde_json::json!([]),
        "the removed participant's inbox was emptied"
    );
}

/// Console tokens: created through one server, listed, signed in with
/// (found by hash, use recorded) and revoked through the other; a taken name
/// (revoked or not) conflicts; the `console` actor's records keep the chain intact.
async fn console_tokens(db: Db) {
    let (one, two) = (db.open(NO_LIMITS), db.open(NO_LIMITS));
    let (admin, admin_secret) = one
        .bridge
        .console_token_create("ops-admin", ConsoleRole::Admin)
        .await
        .expect("create admin");
    let (watcher, _) = one
        .bridge
        .console_token_create("watcher", ConsoleRole::Observer)
        .await
        .expect("create observer");
    assert_eq!(
        admin.token_hash,
        one.bridge.credential_digest(&admin_secret)
    );
    // Keyed: a plain SHA-256 of the token (what a database writer without
    // the key file could plant) is not what is stored.
    let plain = <sha2::Sha256 as sha2::Digest>::digest(admin_secret.as_bytes());
    assert_ne!(admin.token_hash, hex::encode(plain));
    let taken = two
        .bridge
        .console_token_create("ops-admin", ConsoleRole::Observer)
        .await;
    assert!(
        matches!(taken, Err(ServiceError::Conflict(_))),
        "a taken name conflicts: {taken:?}"
    );

    let listed = two.bridge.console_token_list().await.expect("list");
    let names: Vec<_> = listed.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["ops-admin", "watcher"], "oldest first");
    assert_eq!(listed[0].role, ConsoleRole::Admin);
    assert_eq!(listed[1], watcher);
    assert!(listed[0].last_used_at.is_none() && listed[0].revoked_at.is_none());

    let signed = two
        .bridge
        .console_sign_in(&admin_secret)
        .await
        .expect("sign in by hash");
    let user = signed.user;
    assert_eq!(user.name, "ops-admin");
    assert_eq!(user.role, ConsoleRole::Admin);
    let used = one.bridge.console_token_list().await.expect("list")[0].clone();
    assert!(used.last_used_at.is_some(), "the sign-in touched the token");
    assert!(
        matches!(
            one.bridge.console_authenticate("mcpc_0000", "api").await,
            Err(ServiceError::AuthFailed)
        ),
        "an unknown token is refused"
    );

    one.bridge
        .console_token_revoke("ops-admin")
        .await
        .expect("revoke");
    assert!(
        matches!(
            two.bridge.console_token_revoke("ops-admin").await,
            Err(ServiceError::NotFound(_))
        ),
        "revoking twice finds nothing to revoke"
    );
    assert!(
        two.bridge
            .console_session(&signed.id)
            .await
            .expect("session")
            .is_none(),
        "a revoke ends the token's sessions"
    );
    assert!(
        matches!(
            two.bridge.console_authenticate(&admin_secret, "api").await,
            Err(ServiceError::AuthFailed)
        ),
        "a revoked token signs nobody in"
    );
    let revoked = two.bridge.console_token_list().await.expect("list")[0].clone();
    assert!(revoked.revoked_at.is_some(), "revoking keeps the row");
    assert!(
        matches!(
            one.bridge
                .console_token_create("ops-admin", ConsoleRole::Admin)
                .await,
            Err(ServiceError::Conflict(_))
        ),
        "a revoked name stays taken"
    );

    let trail = one
        .bridge
        .audit_trail(AuditQuery {
            conversation: None,
            since: None,
            action: Some("console sign_in".into()),
            limit: 10,
        })
        .await
        .expect("audit trail");
    assert_eq!(trail.len(), 1, "one sign-in recorded");
    assert_eq!(trail[0].draft.actor, "console");
    let report = two.bridge.verify_audit().await.expect("verify");
    assert!(report.fault.is_none(), "audit chain: {:?}", report.fault);
}
