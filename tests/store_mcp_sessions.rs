//! MCP sessions over HTTP in the store: a session that bound a seat on one
//! server is taken over on another, with a token that works, only by its
//! owner; another owner binds nothing to it; ending it ends it everywhere —
//! each run against SQLite and PostgreSQL.

use mcp_bridge::domain::Side;
use mcp_bridge::service::{ServiceError, Session};

use crate::store_contract::{Db, NO_LIMITS, contract, creds};

contract!(mcp_sessions_across_servers, across_servers);

const PARAMS: &str =
    r#"{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}"#;

async fn across_servers(db: Db) {
    let one = db.open(NO_LIMITS);
    let two = db.open(NO_LIMITS);
    let created = one
        .bridge
        .create_conversation("writer", "reader")
        .await
        .expect("create");
    let seat = creds(&created, Side::A);

    // Not stored until it binds a seat.
    let here = Session::new();
    assert!(here.owned_by("alice"));
    here.note_shared("sid-1", || Some(PARAMS.to_owned()));
    assert_eq!(
        two.bridge.shared_session("sid-1", "alice").await.unwrap(),
        None
    );
    one.bridge.share_binding(&here, &seat).await;
    one.bridge.share_binding(&here, &seat).await;

    // Another server knows it, for its owner only.
    assert_eq!(
        two.bridge
            .shared_session("sid-1", "alice")
            .await
            .unwrap()
            .as_deref(),
        Some(PARAMS)
    );
    assert_eq!(
        two.bridge.shared_session("sid-1", "mallory").await.unwrap(),
        None
    );
    assert_eq!(
        two.bridge.shared_session("sid-2", "alice").await.unwrap(),
        None
    );

    // Taken over there: the owner, and the seat with a token that works.
    let there = Session::new();
    two.bridge
        .take_over_session(&there, "sid-1")
        .await
        .expect("take over");
    assert!(!there.owned_by("mallory"));
    assert!(there.owned_by("alice"));
    let bound = there.bound();
    assert_eq!(bound.len(), 1, "bound once, however often shared");
    assert_eq!(
        (&bound[0].conversation, bound[0].side),
        (&seat.conversation, Side::A)
    );
    two.bridge
        .check_partner_status(&bound[0])
        .await
        .expect("the derived token authenticates");

    // A session that claims another owner binds nothing to it, and the
    // stored owner stays.
    let imposter = Session::new();
    assert!(imposter.owned_by("mallory"));
    imposter.note_shared("sid-1", || Some(PARAMS.to_owned()));
    two.bridge
        .share_binding(&imposter, &creds(&created, Side::B))
        .await;
    assert_eq!(
        two.bridge.shared_session("sid-1", "mallory").await.unwrap(),
        None
    );
    let again = Session::new();
    one.bridge
        .take_over_session(&again, "sid-1")
        .await
        .expect("take over");
    assert!(again.owned_by("alice"));
    assert_eq!(again.bound().len(), 1, "no seat from another owner");

    // Ended on one server, it is gone on both.
    two.bridge.forget_session("sid-1").await.expect("forget");
    two.bridge
        .forget_session("sid-1")
        .await
        .expect("twice is fine");
    assert_eq!(
        one.bridge.shared_session("sid-1", "alice").await.unwrap(),
        None
    );
    assert!(matches!(
        one.bridge.take_over_session(&Session::new(), "sid-1").await,
        Err(ServiceError::AuthFailed)
    ));
}
