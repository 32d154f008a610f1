//! Named HTTP bearer tokens on both stores (the contract of `store_contract`,
//! one test per backend): made on one server, matched by hash and listed on
//! another, never reused by name, and refused everywhere once revoked; and
//! the per-token request counters every server adds to and reads back.

use mcp_bridge::domain::Timestamp;
use mcp_bridge::ratelimit::{Outgoing, Window};
use mcp_bridge::service::ServiceError;
use mcp_bridge::store::{HttpRole, RequestBucket};

use crate::store_contract::{Db, NO_LIMITS, contract};

contract!(http_tokens_across_servers, http_tokens);
contract!(request_counts_across_servers, request_counts);

async fn http_tokens(db: Db) {
    let (one, two) = (db.open(NO_LIMITS), db.open(NO_LIMITS));
    let laptop = one
        .bridge
        .create_http_token("laptop", HttpRole::Agent)
        .await
        .expect("create agent token");
    one.bridge
        .create_http_token("wallboard", HttpRole::Observer)
        .await
        .expect("create observer token");
    let taken = two
        .bridge
        .create_http_token("laptop", HttpRole::Operator)
        .await;
    assert!(
        matches!(taken, Err(ServiceError::Conflict(_))),
        "a taken name conflicts: {taken:?}"
    );

    let listed = two.bridge.http_tokens().await.expect("list");
    let names: Vec<_> = listed.iter().map(|t| (t.name.as_str(), t.role)).collect();
    assert_eq!(
        names,
        [
            ("laptop", HttpRole::Agent),
            ("wallboard", HttpRole::Observer)
        ]
    );
    let who = two
        .bridge
        .http_identity(&laptop)
        .await
        .expect("lookup")
        .expect("the token is known on the other server");
    assert_eq!((who.name.as_str(), who.role), ("laptop", HttpRole::Agent));
    let last = if laptop.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &laptop[..laptop.len() - 1]);
    assert!(
        two.bridge
            .http_identity(&forged)
            .await
            .expect("lookup")
            .is_none()
    );

    one.bridge
        .revoke_http_token("laptop")
        .await
        .expect("revoke");
    assert!(
        two.bridge
            .http_identity(&laptop)
            .await
            .expect("lookup")
            .is_none(),
        "a revoked token is refused by every server"
    );
    assert!(
        matches!(
            two.bridge.revoke_http_token("laptop").await,
            Err(ServiceError::NotFound(_))
        ),
        "revoking twice finds nothing to revoke"
    );
    let again = one
        .bridge
        .create_http_token("laptop", HttpRole::Agent)
        .await;
    assert!(
        matches!(again, Err(ServiceError::Conflict(_))),
        "a revoked name is never reused: {again:?}"
    );
    let listed = one.bridge.http_tokens().await.expect("list");
    assert!(listed[0].revoked_at.is_some() && listed[1].revoked_at.is_none());
    let report = two.bridge.verify_audit().await.expect("verify");
    assert!(report.fault.is_none(), "audit chain: {:?}", report.fault);
}

fn bucket(token: &str, window: Window, bucket: i64, count: i64) -> RequestBucket {
    RequestBucket {
        token: token.to_owned(),
        window: window.as_str().to_owned(),
        bucket,
        count,
    }
}

fn outgoing(spent: Vec<RequestBucket>, tokens: &[&str]) -> Outgoing {
    Outgoing {
        spent,
        tokens: tokens.iter().map(|t| (*t).to_owned()).collect(),
    }
}

async fn request_counts(db: Db) {
    let (one, two) = (db.open(NO_LIMITS), db.open(NO_LIMITS));
    let now = Timestamp::now();
    let (minute, hour) = (Window::Minute.bucket_of(now), Window::Hour.bucket_of(now));
    let stale = Window::Minute.oldest_bucket(now) - 5;
    let got = one
        .bridge
        .sync_http_requests(outgoing(
            vec![
                bucket("alice", Window::Minute, minute, 3),
                bucket("alice", Window::Minute, stale, 7),
                bucket("bob", Window::Hour, hour, 2),
            ],
            &["alice"],
        ))
        .await
        .expect("sync");
    assert_eq!(
        got,
        [bucket("alice", Window::Minute, minute, 3)],
        "a bucket no window counts is dropped; only the identities asked for come back"
    );
    let mut got = two
        .bridge
        .sync_http_requests(outgoing(
            vec![bucket("alice", Window::Minute, minute, 2)],
            &["alice", "bob", "carol"],
        ))
        .await
        .expect("sync");
    got.sort_by(|a, b| a.token.cmp(&b.token));
    assert_eq!(
        got,
        [
            bucket("alice", Window::Minute, minute, 5),
            bucket("bob", Window::Hour, hour, 2)
        ],
        "every server's counts add up"
    );

    // Servers adding to one bucket at once lose nothing.
    let adds = (0..20).flat_map(|_| [&one, &two]).map(|app| {
        app.bridge.sync_http_requests(outgoing(
            vec![bucket("alice", Window::Minute, minute, 1)],
            &["alice"],
        ))
    });
    for added in futures_util::future::join_all(adds).await {
        added.expect("concurrent sync");
    }
    let got = one
        .bridge
        .sync_http_requests(outgoing(Vec::new(), &["alice"]))
        .await
        .expect("read");
    assert_eq!(got, [bucket("alice", Window::Minute, minute, 45)]);
    let read = two
        .bridge
        .http_request_counts("alice")
        .await
        .expect("read only");
    assert_eq!(read, got, "a read sees what the syncs stored");
    let none = two.bridge.http_request_counts("dave").await.expect("read");
    assert!(none.is_empty(), "{none:?}");
}
