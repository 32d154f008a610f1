//! Wake-ups reach only the long-polls they concern, on both stores: a message
//! stored by this server wakes the waiters of its recipients' inboxes and no
//! other waiter of the process; one stored by another server wakes them too
//! (on PostgreSQL, still only them). Over HTTP a process holds thousands of
//! waiting calls, and every needless wake-up costs each one a store query.

use std::time::Duration;

use mcp_bridge::domain::Side;
use mcp_bridge::store::{ChangeFeed, Store};

use crate::store_contract::{Db, NO_LIMITS, Target, contract, creds, text};
use crate::util::EVENT_TIMEOUT;

/// Long enough for a stray wake-up to arrive (inotify and `NOTIFY` deliver
/// within milliseconds); a slow machine can only hide one, never invent one.
const QUIET: Duration = Duration::from_secs(1);

contract!(a_message_wakes_only_its_recipients_waiters, wake_scope);

async fn woken(feed: &mut ChangeFeed, within: Duration) -> bool {
    tokio::time::timeout(within, feed.changed()).await.is_ok()
}

/// Waits until `feeds` have had a quiet second: the store's first look at
/// other servers' changes (its `LISTEN`, its first `data_version`) wakes
/// every waiter once, on purpose.
async fn settle(feeds: &mut [&mut ChangeFeed]) {
    for _ in 0..20 {
        for f in feeds.iter_mut() {
            f.mark_seen();
        }
        let mut any = false;
        for f in feeds.iter_mut() {
            any |= woken(f, QUIET).await;
        }
        if !any {
            return;
        }
    }
    panic!("the change feeds never went quiet");
}

async fn wake_scope(db: Db) {
    let (one, two) = (db.open(NO_LIMITS), db.open(NO_LIMITS));
    let first = one
        .bridge
        .create_conversation("a", "b")
        .await
        .expect("create");
    let second = one
        .bridge
        .create_conversation("a", "b")
        .await
        .expect("create");
    let store = one.bridge.store();
    let mut recipient = store.changes();
    recipient.narrow([(first.conversation.clone(), Side::B)]);
    let mut elsewhere = store.changes();
    elsewhere.narrow([(second.conversation.clone(), Side::B)]);
    settle(&mut [&mut recipient, &mut elsewhere]).await;

    // This server stores a message for `first`'s b.
    recipient.mark_seen();
    elsewhere.mark_seen();
    one.bridge
        .send_message(&creds(&first, Side::A), text("to b"), "send_to_partner")
        .await
        .expect("send");
    assert!(
        woken(&mut recipient, EVENT_TIMEOUT).await,
        "recipient not woken"
    );
    assert!(
        !woken(&mut elsewhere, QUIET).await,
        "a message of this server woke a waiter of another conversation"
    );

    // Another server stores one for `second`'s b.
    elsewhere.mark_seen();
    two.bridge
        .send_message(&creds(&second, Side::A), text("to b"), "send_to_partner")
        .await
        .expect("send");
    assert!(
        woken(&mut elsewhere, EVENT_TIMEOUT).await,
        "another server's message did not wake its recipient's waiter"
    );

    // PostgreSQL's notifications name the inboxes, so another server's
    // message is scoped as well (SQLite's wake-up file cannot say which).
    if let Target::Postgres(_) = db.target {
        settle(&mut [&mut recipient, &mut elsewhere]).await;
        two.bridge
            .send_message(&creds(&first, Side::A), text("to b"), "send_to_partner")
            .await
            .expect("send");
        assert!(
            woken(&mut recipient, EVENT_TIMEOUT).await,
            "recipient not woken"
        );
        assert!(
            !woken(&mut elsewhere, QUIET).await,
            "another server's message woke a waiter of another conversation"
        );
    }
}
