//! One `check_messages` over several inboxes (a session bound to several
//! conversations), on both stores: the page holds the oldest messages
//! waiting anywhere, in send order, and a partner that keeps one inbox full
//! cannot hold back another conversation's messages.

use mcp_bridge::app::App;
use mcp_bridge::domain::Side;
use mcp_bridge::service::{CheckMessages, Created, SessionCredentials};

use crate::store_contract::{Db, NO_LIMITS, check, contract, creds, text};

contract!(
    a_page_over_several_inboxes_is_in_send_order_and_none_starves,
    merged
);

/// `b`'s page over `inboxes`, at most `limit` messages: their texts, and
/// whether more wait.
async fn page(app: &App, inboxes: &[SessionCredentials], limit: u32) -> (Vec<String>, bool) {
    let check = CheckMessages { limit, ..check(0) };
    let inbox = app
        .bridge
        .check_messages(inboxes, check, std::future::pending())
        .await
        .expect("check");
    let texts = inbox.messages.into_iter().map(|d| d.message.content);
    (texts.collect(), inbox.more)
}

async fn send(app: &App, to: &Created, text_: &str) {
    let a = creds(to, Side::A);
    app.bridge
        .send_message(&a, text(text_), "send_to_partner")
        .await
        .expect("send");
}

async fn merged(db: Db) {
    let (one, two) = (db.open(NO_LIMITS), db.open(NO_LIMITS));
    let busy = one
        .bridge
        .create_conversation("writer", "reader")
        .await
        .expect("create");
    let quiet = one
        .bridge
        .create_conversation("writer", "reader")
        .await
        .expect("create");
    let inboxes = [creds(&busy, Side::B), creds(&quiet, Side::B)];

    // Sent alternately to the two, through two servers: read one at a
    // time, and three at a time, they come in the order they were sent.
    for n in 1..=12 {
        let (app, to) = if n % 2 == 1 {
            (&one, &busy)
        } else {
            (&two, &quiet)
        };
        send(app, to, &n.to_string()).await;
    }
    for n in 1..=6 {
        assert_eq!(page(&two, &inboxes, 1).await, (vec![n.to_string()], true));
    }
    let threes = [page(&one, &inboxes, 3).await, page(&two, &inboxes, 3).await];
    assert_eq!(
        threes.map(|(texts, _)| texts.join(" ")),
        ["7 8 9".to_owned(), "10 11 12".to_owned()]
    );
    assert_eq!(page(&one, &inboxes, 3).await, (vec![], false));

    // A partner that keeps the first inbox fuller than a page: the second
    // inbox's message still comes on the page its age gives it.
    for n in 0..120 {
        send(&one, &busy, &format!("busy {n}")).await;
    }
    send(&two, &quiet, "quiet").await;
    let (first, more) = page(&one, &inboxes, 100).await;
    assert!(more && first.len() == 100 && !first.contains(&"quiet".to_owned()));
    for n in 120..220 {
        send(&two, &busy, &format!("busy {n}")).await;
    }
    let (second, more) = page(&two, &inboxes, 100).await;
    assert!(more, "{second:?}");
    assert_eq!(second[19..21], ["busy 119", "quiet"], "{second:?}");
    assert_eq!(second[21], "busy 120", "{second:?}");
}
