//! Wake-ups reach only the long-polls they concern, on both stores: a message
//! stored by this server wakes the waiters of its recipients' inboxes and no
//! other waiter of the process; one stored by another server wakes them too
//! (on PostgreSQL, still only them), and so does another server's
//! acknowledgement of a leased page. Over HTTP a process holds thousands of
//! waiting calls, and every needless wake-up costs each one a store query;
//! a call parked before it is served goes on waiting through wake-ups that
//! were not for its inbox.

use std::time::Duration;

use mcp_bridge::app::App;
use mcp_bridge::domain::Side;
use mcp_bridge::service::{CheckMessages, Created, Parked, ServiceError};
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

/// `by` stores a message for `to`'s b; `waiting` must wake, `untouched` not.
async fn send_and_watch(
    by: &App,
    to: &Created,
    waiting: &mut ChangeFeed,
    untouched: Option<&mut ChangeFeed>,
    whose: &str,
) {
    waiting.mark_seen();
    let mut untouched = untouched;
    if let Some(f) = untouched.as_deref_mut() {
        f.mark_seen();
    }
    by.bridge
        .send_message(&creds(to, Side::A), text("to b"), "send_to_partner")
        .await
        .expect("send");
    assert!(
        woken(waiting, EVENT_TIMEOUT).await,
        "{whose} message did not wake its recipient's waiter"
    );
    if let Some(f) = untouched {
        assert!(
            !woken(f, QUIET).await,
            "{whose} message woke a waiter of another conversation"
        );
    }
}

async fn wake_scope(db: Db) {
    let (one, two) = (db.open(NO_LIMITS), db.open(NO_LIMITS));
    let (first, second) = (&conversation(&one).await, &conversation(&one).await);
    let store = one.bridge.store();
    let mut recipient = store.changes();
    recipient.narrow([(first.conversation.clone(), Side::B)]);
    let mut elsewhere = store.changes();
    elsewhere.narrow([(second.conversation.clone(), Side::B)]);
    settle(&mut [&mut recipient, &mut elsewhere]).await;

    // This server stores a message for `first`'s b.
    send_and_watch(
        &one,
        first,
        &mut recipient,
        Some(&mut elsewhere),
        "this server's",
    )
    .await;
    // Another server stores one for `second`'s b.
    send_and_watch(&two, second, &mut elsewhere, None, "another server's").await;
    // PostgreSQL's notifications name the inboxes, so another server's
    // message is scoped as well (SQLite's wake-up file cannot say which).
    if let Target::Postgres(_) = db.target {
        settle(&mut [&mut recipient, &mut elsewhere]).await;
        send_and_watch(
            &two,
            first,
            &mut recipient,
            Some(&mut elsewhere),
            "another server's",
        )
        .await;
    }
    // Another server's acknowledgement of a page wakes the inbox's waiters
    // too: a reader may be waiting behind the lease it ends.
    let page = two
        .bridge
        .check_messages(
            &[creds(first, Side::B)],
            CheckMessages {
                wait: Duration::ZERO,
                limit: 1,
                leased: true,
                parked: None,
            },
            std::future::pending(),
        )
        .await
        .expect("check");
    assert_eq!(page.receipts.len(), 1, "a leased page: {page:?}");
    settle(&mut [&mut recipient]).await;
    for receipt in page.receipts {
        two.bridge.acknowledge(receipt).await;
    }
    assert!(
        woken(&mut recipient, EVENT_TIMEOUT).await,
        "another server's acknowledgement did not wake the inbox's waiter"
    );
}

contract!(
    a_parked_long_poll_sleeps_through_other_inboxes_wake_ups,
    parked_wake_scope
);

/// A long-poll parked before it is served (`service::park`, over HTTP) is
/// not ended by a wake-up of unknown scope (on SQLite, any commit by another
/// server wakes every waiter of the process): it looks again and goes on
/// waiting, rather than every parked call going on to rmcp at once. A
/// message for its own inbox still ends it.
async fn parked_wake_scope(db: Db) {
    let (one, two) = (db.open(NO_LIMITS), db.open(NO_LIMITS));
    let (first, second) = (conversation(&one).await, conversation(&one).await);
    // A waiter of the other conversation's inbox, in the same process: it
    // shows when the message below has reached this process. (The store's
    // first look at other servers' changes wakes every waiter once.)
    let mut feed = one.bridge.store().changes();
    feed.narrow([(second.conversation.clone(), Side::B)]);
    settle(&mut [&mut feed]).await;
    let parked = tokio::spawn({
        let (bridge, creds) = (std::sync::Arc::clone(&one.bridge), creds(&first, Side::B));
        async move {
            let until = tokio::time::Instant::now() + Duration::from_secs(60);
            bridge
                .park_long_poll(&creds, until, std::future::pending())
                .await
        }
    });
    tokio::time::sleep(QUIET).await;
    // Another server's message to another conversation: a wake-up for
    // every waiter of `one` on SQLite, none on PostgreSQL.
    feed.mark_seen();
    two.bridge
        .send_message(
            &creds(&second, Side::A),
            text("elsewhere"),
            "send_to_partner",
        )
        .await
        .expect("send");
    if let Target::Sqlite(_) = db.target {
        assert!(
            woken(&mut feed, EVENT_TIMEOUT).await,
            "the process was woken"
        );
    }
    tokio::time::sleep(QUIET).await;
    assert!(
        !parked.is_finished(),
        "a wake-up for another inbox ended the park"
    );
    // Another server's message to its own inbox ends it.
    two.bridge
        .send_message(&creds(&first, Side::A), text("to b"), "send_to_partner")
        .await
        .expect("send");
    let ended = tokio::time::timeout(EVENT_TIMEOUT, parked)
        .await
        .expect("a message for its inbox ends the park")
        .expect("park");
    assert!(ended.is_some(), "it waited: {ended:?}");
}

contract!(
    a_parked_call_is_not_refused_the_long_poll_slot_it_gave_back,
    parked_keeps_its_slot
);

/// A parked call gives its long-poll slot back when it goes on to be served,
/// and the call takes one again. Its quota is already spent and it was
/// admitted against the limit when it parked, so it is not refused when
/// other calls took every slot in between (`limits.max_long_polls`).
async fn parked_keeps_its_slot(db: Db) {
    let app = db.open(&[
        ("MCP_BRIDGE_RATE_LIMITS", "off"),
        ("MCP_BRIDGE_LIMITS__MAX_LONG_POLLS", "1"),
    ]);
    let (first, second) = (conversation(&app).await, conversation(&app).await);
    let waiting = |wait: u64, parked: Option<Parked>| CheckMessages {
        wait: Duration::from_secs(wait),
        limit: 10,
        leased: false,
        parked,
    };
    // Another call holds the process's only slot. (A probe holds it for a
    // moment too, and a holder that came then was refused: it tries again.)
    let hold = || {
        let (bridge, creds) = (std::sync::Arc::clone(&app.bridge), creds(&first, Side::B));
        tokio::spawn(async move {
            let creds = [creds];
            bridge
                .check_messages(&creds, waiting(30, None), std::future::pending())
                .await
        })
    };
    let mut holder = hold();
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if holder.is_finished() {
            holder = hold();
            continue;
        }
        let probe = app
            .bridge
            .check_messages(
                &[creds(&second, Side::B)],
                waiting(1, None),
                std::future::ready(()),
            )
            .await;
        match probe {
            Err(ServiceError::ResourceLimit { .. }) => break,
            other => assert!(
                tokio::time::Instant::now() < deadline,
                "the holder never took the slot: {other:?}"
            ),
        }
    }
    // A call that was parked waits out the rest of its wait all the same.
    let served = app
        .bridge
        .check_messages(
            &[creds(&second, Side::B)],
            waiting(1, Some(Parked::Waited)),
            std::future::pending(),
        )
        .await
        .expect("a parked call is served");
    assert!(served.messages.is_empty(), "{served:?}");
    holder.abort();
}

async fn conversation(app: &App) -> Created {
    app.bridge
        .create_conversation("writer", "reader")
        .await
        .expect("create")
}
