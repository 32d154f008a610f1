//! Console sessions live in the store: a session opened on one server is
//! known to every server on the database, a sign-out or a revoke on one ends
//! it on all, expired sessions are gone, and a token holds a bounded number
//! — each run against SQLite and PostgreSQL.

use mcp_bridge::audit::AuditDraft;
use mcp_bridge::domain::Timestamp;
use mcp_bridge::service::ServiceError;
use mcp_bridge::store::{
    AuditQuery, ConsoleRole, ConsoleSession, ConsoleStore, MAX_SESSIONS_PER_TOKEN, StoreError,
};

use crate::store_contract::{Db, NO_LIMITS, contract};

contract!(console_sessions_across_servers, sessions_across_servers);
contract!(console_sessions_expire_and_are_bounded, expire_and_bounded);

async fn sessions_across_servers(db: Db) {
    let one = db.open(NO_LIMITS);
    let two = db.open(NO_LIMITS);
    let (_, secret) = one
        .bridge
        .console_token_create("ops", ConsoleRole::Admin)
        .await
        .expect("token");

    let signed = one.bridge.console_sign_in(&secret).await.expect("sign in");
    assert_eq!(signed.user.name, "ops");
    assert_ne!(signed.csrf, signed.id);
    let seen = two
        .bridge
        .console_session(&signed.id)
        .await
        .expect("read")
        .expect("the other server knows the session");
    assert_eq!(seen.user, signed.user);
    assert_eq!(seen.csrf, signed.csrf, "both servers derive one CSRF token");
    // The store holds the id's digest, never the id.
    assert!(gone(&two, &two.bridge.credential_digest(&signed.id)).await);
    assert!(gone(&two, "not-a-session").await);

    // Signing out on one server ends the session on the other; twice is harmless.
    two.bridge
        .console_sign_out(&signed.id, &seen.user)
        .await
        .expect("sign out");
    assert!(gone(&one, &signed.id).await);
    two.bridge
        .console_sign_out(&signed.id, &seen.user)
        .await
        .expect("again");

    // A revoke on one server ends every session of the token on the other.
    let a = one.bridge.console_sign_in(&secret).await.expect("sign in");
    let b = two.bridge.console_sign_in(&secret).await.expect("sign in");
    assert_ne!(a.id, b.id);
    assert_ne!(a.csrf, b.csrf);
    two.bridge
        .console_token_revoke("ops")
        .await
        .expect("revoke");
    for id in [&a.id, &b.id] {
        assert!(gone(&one, id).await);
    }
    assert!(matches!(
        one.bridge.console_sign_in(&secret).await,
        Err(ServiceError::AuthFailed)
    ));

    let trail = one
        .bridge
        .audit_trail(AuditQuery {
            conversation: None,
            since: None,
            action: None,
            limit: 100,
        })
        .await
        .expect("audit trail");
    let signs: Vec<(&str, bool)> = trail
        .iter()
        .filter(|r| r.draft.action.starts_with("console sign"))
        .map(|r| (r.draft.action.as_str(), r.draft.code.is_none()))
        .collect();
    assert_eq!(
        signs,
        [
            ("console sign_in", true),
            ("console sign_out", true),
            ("console sign_in", true),
            ("console sign_in", true),
            ("console sign_in", false),
        ],
        "each sign-in, the one real sign-out, and the refused sign-in are recorded"
    );
    assert!(
        trail
            .iter()
            .all(|r| !format!("{r:?}").contains(&secret) && !format!("{r:?}").contains(&a.id)),
        "no token or session id reaches the audit trail"
    );
    let report = two.bridge.verify_audit().await.expect("verify");
    assert!(report.fault.is_none(), "audit chain: {:?}", report.fault);
}

/// Whether no live session has id `id` on `app`.
async fn gone(app: &mcp_bridge::app::App, id: &str) -> bool {
    app.bridge
        .console_session(id)
        .await
        .expect("read")
        .is_none()
}

async fn expire_and_bounded(db: Db) {
    let app = db.open(NO_LIMITS);
    let (token, _) = app
        .bridge
        .console_token_create("ops", ConsoleRole::Observer)
        .await
        .expect("token");
    let store = app.bridge.store();
    let now = Timestamp::now();
    let session = |n: usize, started: Timestamp, ttl_s: i64| ConsoleSession {
        id_hash: format!("{n:064x}"),
        token_name: token.name.clone(),
        started_at: started,
        expires_at: started.plus_micros(ttl_s * 1_000_000),
    };
    let audit = || AuditDraft::new("console", "console sign_in");

    // An expired session is not found, and the next sign-in removes it.
    let old = now.plus_micros(-7_200_000_000);
    store
        .open_console_session(session(1, old, 3600), audit())
        .await
        .expect("open");
    assert!(
        store
            .console_session(format!("{:064x}", 1), now)
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        store
            .console_session(format!("{:064x}", 1), old)
            .await
            .expect("read")
            .is_some(),
        "it was live when opened"
    );

    // Only the newest MAX_SESSIONS_PER_TOKEN of one token's sessions stay.
    let cap = usize::try_from(MAX_SESSIONS_PER_TOKEN).expect("cap");
    for n in 0..=cap {
        let at = now.plus_micros(i64::try_from(n).expect("n"));
        store
            .open_console_session(session(100 + n, at, 3600), audit())
            .await
            .expect("open");
    }
    assert!(
        store
            .console_session(format!("{:064x}", 1), old)
            .await
            .expect("read")
            .is_none(),
        "the expired session went with the next sign-in"
    );
    let live = |n: usize| store.console_session(format!("{n:064x}"), now);
    assert!(live(100).await.expect("read").is_none(), "the oldest went");
    for n in [101, 100 + cap] {
        assert!(live(n).await.expect("read").is_some(), "session {n} stays");
    }

    // Unknown and revoked tokens open nothing.
    let mut stray = session(900, now, 3600);
    stray.token_name = "nobody".into();
    assert!(matches!(
        store.open_console_session(stray, audit()).await,
        Err(StoreError::NotFound)
    ));
    app.bridge
        .console_token_revoke("ops")
        .await
        .expect("revoke");
    assert!(matches!(
        store
            .open_console_session(session(901, now, 3600), audit())
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(
        live(101).await.expect("read").is_none(),
        "revoked with its token"
    );
    // A refused open leaves no audit record.
    let opened = app
        .bridge
        .audit_trail(AuditQuery {
            conversation: None,
            since: None,
            action: Some("console sign_in".into()),
            limit: 1000,
        })
        .await
        .expect("audit trail")
        .len();
    assert_eq!(opened, cap + 2);
}
