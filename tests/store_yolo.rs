//! The YOLO store contract on both stores: a proposal is stored only while
//! its conversation's activation is on, so one made while a human revokes
//! YOLO mode (its call checked the activation a moment before) is refused
//! instead of staying pending for good. The paths servers keep from
//! commands are shared by host.

use mcp_bridge::audit::AuditDraft;
use mcp_bridge::domain::{Side, Timestamp, YoloMode};
use mcp_bridge::store::{Guard, Proposal, ProposalState, REVOKED_MEANWHILE, StoreError, YoloStore};

use crate::store_contract::{Db, NO_LIMITS, contract};
use crate::store_sealed::activate;

contract!(
    a_proposal_needs_an_active_activation,
    proposal_needs_activation
);
contract!(
    hidden_paths_are_kept_per_host_for_every_server,
    hidden_paths_per_host
);

/// A pending proposal of `ls` by side a.
pub(crate) fn proposal(
    id: &str,
    conversation: &mcp_bridge::domain::ConversationId,
    at: Timestamp,
) -> Proposal {
    Proposal {
        id: id.to_owned(),
        conversation: conversation.clone(),
        side: Side::A,
        command: "ls".to_owned(),
        mode: YoloMode::Safe,
        created_at: at,
        state: ProposalState::Pending,
        decided_at: None,
        approval_expires_at: None,
        used_at: None,
        unreadable: None,
    }
}

/// A guard without a session or quota.
pub(crate) fn guard(at: Timestamp) -> Guard {
    Guard {
        at,
        session: None,
        quota: None,
        audit: AuditDraft::new("mcp", "propose_command"),
    }
}

async fn proposal_needs_activation(db: Db) {
    let app = db.open(NO_LIMITS);
    let store = app.bridge.store();
    let created = app
        .bridge
        .create_conversation("writer", "reader")
        .await
        .expect("create");
    let conv = &created.conversation;
    let at = Timestamp::now();
    let refused = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Conflict(m)) if m == REVOKED_MEANWHILE);
    assert!(refused(
        store
            .create_proposal(proposal("proposal-0001", conv, at), guard(at))
            .await
    ));
    activate(&app, &created, at).await;
    store
        .create_proposal(proposal("proposal-0002", conv, at), guard(at))
        .await
        .expect("stored while active");
    store
        .revoke_activation(conv.clone(), at, AuditDraft::new("cli", "yolo_revoke"))
        .await
        .expect("revoke");
    assert!(refused(
        store
            .create_proposal(proposal("proposal-0003", conv, at), guard(at))
            .await
    ));
    let states: Vec<(String, ProposalState)> = store
        .proposals(Some(conv.clone()))
        .await
        .expect("proposals")
        .into_iter()
        .map(|p| (p.id, p.state))
        .collect();
    assert_eq!(
        states,
        [("proposal-0002".to_owned(), ProposalState::Denied)]
    );
}

/// Recorded paths are kept per host, once each however often they are
/// recorded, non-UTF-8 bytes included, and another store on the database
/// (another server) reads them.
async fn hidden_paths_per_host(db: Db) {
    let (one, two) = (db.open(NO_LIMITS), db.open(NO_LIMITS));
    let at = Timestamp::now();
    let odd = b"/srv/tls/k\xff.pem".to_vec();
    let paths = vec![b"/etc/bridge/key.pem".to_vec(), odd.clone()];
    let store = one.bridge.store();
    store
        .keep_hidden("host-a".into(), paths.clone(), at)
        .await
        .expect("keep");
    store
        .keep_hidden("host-a".into(), vec![odd.clone()], at)
        .await
        .expect("keep again");
    store
        .keep_hidden("host-b".into(), vec![b"/b".to_vec()], at)
        .await
        .expect("keep on b");
    let mut want = paths;
    want.sort();
    let other = two.bridge.store();
    assert_eq!(
        other.hidden_paths("host-a".into()).await.expect("read"),
        want
    );
    assert_eq!(
        other.hidden_paths("host-b".into()).await.expect("read"),
        vec![b"/b".to_vec()]
    );
    assert!(
        other
            .hidden_paths("host-c".into())
            .await
            .expect("read")
            .is_empty()
    );
}
