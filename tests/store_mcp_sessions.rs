//! MCP sessions over HTTP in the store: a session that bound a seat on one
//! server is taken over on another, with a token that works, only by its
//! owner; another owner binds nothing to it; ending it ends it everywhere;
//! `cleanup` drops the old ones left with no live seat; an ended one is not
//! stored again by a bind in flight — each run against
//! SQLite and PostgreSQL.

use std::sync::Arc;

use mcp_bridge::audit::AuditDraft;
use mcp_bridge::domain::{Side, Timestamp};
use mcp_bridge::service::{ServiceError, Session, mcp_session_digest};
use mcp_bridge::store::{
    AdminStore, McpSessionRecord, McpSessionStore, UNBOUND_MCP_SESSION_TTL_US,
};

use crate::store_contract::{Db, NO_LIMITS, contract, creds};
use crate::util_pg;

contract!(mcp_sessions_across_servers, across_servers);
contract!(mcp_sessions_cleaned_up, cleaned_up);
contract!(
    a_session_binding_a_seat_survives_a_cleanup_meanwhile,
    rebound_while_cleaned_up
);
contract!(an_ended_session_is_never_stored_again, ended_stays_ended);

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
    two.bridge
        .forget_session("sid-1", "mallory")
        .await
        .expect("another's forget changes nothing");
    assert!(!one.bridge.session_ended("sid-1").await.unwrap());
    assert!(!one.bridge.session_ended("never-stored").await.unwrap());
    assert!(
        one.bridge
            .shared_session("sid-1", "alice")
            .await
            .unwrap()
            .is_some()
    );
    two.bridge
        .forget_session("sid-1", "alice")
        .await
        .expect("forget");
    two.bridge
        .forget_session("sid-1", "alice")
        .await
        .expect("twice is fine");
    assert_eq!(
        one.bridge.shared_session("sid-1", "alice").await.unwrap(),
        None
    );
    assert!(one.bridge.session_ended("sid-1").await.unwrap());
    assert!(matches!(
        one.bridge.take_over_session(&Session::new(), "sid-1").await,
        Err(ServiceError::AuthFailed)
    ));
}

/// `cleanup` removes a session begun over a day ago once no live
/// conversation holds it (its own expire in the same cleanup), and keeps a
/// younger one; a dry run counts the same.
async fn cleaned_up(db: Db) {
    let app = db.open(NO_LIMITS);
    let store = app.bridge.store();
    let created = app
        .bridge
        .create_conversation("writer", "reader")
        .await
        .expect("create");
    let now = Timestamp::now();
    let day = UNBOUND_MCP_SESSION_TTL_US;
    for (id, started_at, side) in [
        ("sid-old", now.plus_micros(-2 * day), Side::A),
        ("sid-young", now, Side::B),
    ] {
        let record = McpSessionRecord {
            id_hash: mcp_session_digest(id),
            owner: "alice".to_owned(),
            init_params: PARAMS.to_owned(),
            started_at,
        };
        store
            .bind_mcp_session(
                record,
                created.conversation.clone(),
                side,
                now.plus_micros(-3 * day),
            )
            .await
            .expect("bind");
    }
    let audit = || Arc::new(|_: &_| AuditDraft::new("cli", "cleanup"));
    let cleanup = |at: Timestamp, dry_run: bool| {
        store.cleanup(at, dry_run, None, at.plus_micros(-day), audit())
    };

    // While its conversation lives, even the old session stays.
    assert_eq!(cleanup(now, false).await.expect("cleanup").mcp_sessions, 0);
    // Once the conversation has expired, the old one goes with it.
    let later = created.expires_at.plus_micros(1);
    let dry = cleanup(later, true).await.expect("dry run");
    assert_eq!((dry.removed.len(), dry.mcp_sessions), (1, 1));
    assert!(
        app.bridge
            .shared_session("sid-old", "alice")
            .await
            .unwrap()
            .is_some()
    );
    let done = cleanup(later, false).await.expect("cleanup");
    assert_eq!((done.removed.len(), done.mcp_sessions), (1, 1));
    assert_eq!(
        app.bridge.shared_session("sid-old", "alice").await.unwrap(),
        None
    );
    assert!(
        app.bridge
            .shared_session("sid-young", "alice")
            .await
            .unwrap()
            .is_some(),
        "a session younger than a day stays"
    );
}

/// A session stored two days ago whose only seat expires binds a new one
/// while `cleanup` runs: the binding's transaction still saw its old seat
/// live, the cleanup (a moment later) sees it expired and the new seat not
/// yet committed. On PostgreSQL a trigger holds the binding's insert open
/// so the cleanup runs inside it; the cleanup used to delete the session
/// under the binding (it had only been left alone, not locked), so the
/// agent lost it on every host. SQLite runs the two one after the other.
async fn rebound_while_cleaned_up(db: Db) {
    let app = db.open(NO_LIMITS);
    let store = app.bridge.store();
    let old = app
        .bridge
        .create_conversation("writer", "reader")
        .await
        .expect("create");
    let new = app
        .bridge
        .create_conversation("writer", "reader")
        .await
        .expect("create");
    let day = UNBOUND_MCP_SESSION_TTL_US;
    let record = |started_at: Timestamp| McpSessionRecord {
        id_hash: mcp_session_digest("sid-rebound"),
        owner: "alice".to_owned(),
        init_params: PARAMS.to_owned(),
        started_at,
    };
    let expiry = old.expires_at;
    store
        .bind_mcp_session(
            record(expiry.plus_micros(-2 * day)),
            old.conversation.clone(),
            Side::A,
            expiry.plus_micros(-3 * day),
        )
        .await
        .expect("bind");
    if let Some(url) = db.pg_url() {
        util_pg::sql(
            url,
            "CREATE FUNCTION slow_bind() RETURNS trigger LANGUAGE plpgsql
                 AS $$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$;
             CREATE TRIGGER slow_bind BEFORE INSERT ON mcp_session_bindings
                 FOR EACH ROW EXECUTE FUNCTION slow_bind()",
        );
    }

    // Just before the old seat expires, the session binds the new one.
    let binding = {
        let app = db.open(NO_LIMITS);
        let (now, conversation) = (expiry.plus_micros(-1), new.conversation.clone());
        tokio::spawn(async move {
            app.bridge
                .store()
                .bind_mcp_session(record(now), conversation, Side::B, now.plus_micros(-day))
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let later = expiry.plus_micros(1);
    let audit = Arc::new(|_: &_| AuditDraft::new("cli", "cleanup"));
    store
        .cleanup(later, false, None, later.plus_micros(-day), audit)
        .await
        .expect("cleanup");
    binding.await.expect("join").expect("bind");

    let stored = store
        .mcp_session(mcp_session_digest("sid-rebound"))
        .await
        .expect("read");
    let seats = stored.map(|s| s.seats);
    assert!(
        seats
            .as_ref()
            .is_some_and(|s| s.contains(&(new.conversation.clone(), Side::B))),
        "the session lost the seat it bound while cleanup ran: {seats:?}"
    );
}

/// A session ended while a call of it was still running (on its own host,
/// or on another before that host's recheck) is not stored again by that
/// call's binding, nor is one ended before its first binding; the ended
/// row is gone a day later. Before, the binding's upsert wrote the session
/// back, bound to its new seat, and every host accepted it again.
async fn ended_stays_ended(db: Db) {
    let (one, two) = (db.open(NO_LIMITS), db.open(NO_LIMITS));
    let created = one
        .bridge
        .create_conversation("writer", "reader")
        .await
        .expect("create");
    let (a, b) = (creds(&created, Side::A), creds(&created, Side::B));
    let shared = |id: &str| {
        let session = Session::new();
        assert!(session.owned_by("alice"));
        session.note_shared(id, || Some(PARAMS.to_owned()));
        session
    };
    let gone = async |id: &str| {
        assert_eq!(one.bridge.shared_session(id, "alice").await.unwrap(), None);
        assert!(matches!(
            two.bridge.take_over_session(&Session::new(), id).await,
            Err(ServiceError::AuthFailed)
        ));
    };

    // Stored, then ended on one host while the other still binds a seat.
    let here = shared("sid-ended");
    one.bridge.share_binding(&here, &a).await;
    let there = Session::new();
    two.bridge
        .take_over_session(&there, "sid-ended")
        .await
        .expect("take over");
    one.bridge
        .forget_session("sid-ended", "alice")
        .await
        .expect("end");
    two.bridge.share_binding(&there, &b).await;
    one.bridge.share_binding(&here, &b).await;
    gone("sid-ended").await;
    assert!(
        !two.bridge.session_alive(&there).await.unwrap(),
        "the host that held it finds it ended"
    );

    // Ended before its first binding (the call that binds still running).
    let early = shared("sid-early");
    one.bridge
        .forget_session("sid-early", "alice")
        .await
        .expect("end");
    one.bridge.share_binding(&early, &a).await;
    gone("sid-early").await;

    // A day after the end, cleanup drops what is left of it.
    let day = UNBOUND_MCP_SESSION_TTL_US;
    let later = Timestamp::now().plus_micros(day + 1_000_000);
    let audit = Arc::new(|_: &_| AuditDraft::new("cli", "cleanup"));
    let store = one.bridge.store();
    let done = store
        .cleanup(later, false, None, later.plus_micros(-day), audit)
        .await
        .expect("cleanup");
    assert_eq!(done.mcp_sessions, 2, "both ended rows");
}
