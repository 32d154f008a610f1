//! Waits on a PostgreSQL database are bounded, with real `mcp-bridge`
//! processes: a server that accepts connections and never answers (a
//! stopped PostgreSQL, a stuck proxy) makes a command fail once the URL's
//! `connect_timeout` is up, where it used to hang forever (the driver's
//! own timeout covers the TCP connect only); and a send held behind
//! another session's lock answers `busy` after `lock_timeout` instead of
//! waiting for as long as the lock is held; a transaction the database
//! stops answering mid-call is given up at its deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use mcp_bridge::app::App;
use mcp_bridge::config::Config;
use mcp_bridge::service::ServiceError;
use mcp_bridge::store::AuditQuery;
use mcp_bridge::store::postgres::PgUrl;
use mcp_bridge::store::sqlite::OpenMode;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::util::*;
use crate::util_calls::refusal_code;
use crate::util_cli::*;
use crate::util_pg;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_never_answers_fails_the_command_at_connect_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts every connection and never writes a byte.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let url = format!("postgres://bridge:pw@127.0.0.1:{port}/bridge?connect_timeout=1");
    // The deployment's key file exists, so the command gets as far as connecting.
    let env = TestEnv::postgres_at("pg-blackhole", &url);
    let run = cli(&env, &["list"]).await;
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("did not complete the connection within 1 s"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(":pw@"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_behind_another_sessions_lock_answers_busy() {
    let Some(database) = util_pg::fresh_db("pg_lock_bounded") else {
        return;
    };
    let env = TestEnv::postgres_at("pg-lock-bounded", &database.url);
    let s = env.server().await;
    let conv = Conv::create(&s).await;
    send(&s, &conv, "a", "before the lock").await;
    let (_, db) = database.url.rsplit_once('/').expect("a database URL");
    let server = util_pg::server().expect("a PostgreSQL server");
    // Held far longer than the server's lock_timeout.
    let mut locker = server.spawn_sql(
        db,
        "BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120); COMMIT;",
    );
    wait_until("the table lock to be held", || {
        util_pg::sql(
            &database.url,
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
             WHERE c.relname = 'messages' AND l.mode = 'AccessExclusiveLock' AND l.granted",
        ) == "1"
    })
    .await;
    // The call's own answer comes while the lock is still held: `busy`,
    // not a wait for the 120 s the lock lasts.
    let held = try_call(
        &s,
        "send_to_partner",
        conv.args("a", json!({"message": "behind the lock"})),
    )
    .await
    .expect("a tool result");
    assert_eq!(refusal_code(&held).as_deref(), Some("busy"), "{held:?}");
    assert!(
        locker.try_wait().unwrap().is_none(),
        "the lock ended before the answer"
    );
    // The backend sleeps on after its client is gone: end it too.
    locker.kill().await.unwrap();
    util_pg::sql(
        &database.url,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()",
    );
    wait_until("the table lock to go", || {
        util_pg::sql(
            &database.url,
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
             WHERE c.relname = 'messages' AND l.mode = 'AccessExclusiveLock'",
        ) == "0"
    })
    .await;
    send(&s, &conv, "a", "after the lock").await;
    s.stop().await;
}

/// What [`proxy`] does with the bytes between the bridge and PostgreSQL.
const UP: u8 = 0;
/// Holds every byte back (a frozen server, a paused VM).
const FROZEN: u8 = 1;
/// Drops every connection and refuses new ones (a server restarting).
const DOWN: u8 = 2;
/// Serves the connections it has; new ones are accepted and never answered.
const STALL: u8 = 3;

/// A TCP proxy to `target` whose state `mode` sets ([`UP`], [`FROZEN`],
/// [`DOWN`], [`STALL`]); its port.
async fn proxy(target: String, mode: Arc<AtomicU8>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut stalled = Vec::new();
        while let Ok((client, _)) = listener.accept().await {
            match mode.load(Ordering::Relaxed) {
                DOWN => continue,
                STALL => {
                    stalled.push(client);
                    continue;
                }
                _ => {}
            }
            let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                continue;
            };
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::spawn(pass(cr, sw, Arc::clone(&mode)));
            tokio::spawn(pass(sr, cw, Arc::clone(&mode)));
        }
    });
    port
}

/// Copies `from` to `to` as `mode` allows; ends both when it is [`DOWN`].
async fn pass(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    mode: Arc<AtomicU8>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read =
            tokio::time::timeout(std::time::Duration::from_millis(50), from.read(&mut buf)).await;
        if mode.load(Ordering::Relaxed) == DOWN {
            return;
        }
        let n = match read {
            Err(_) => continue,
            Ok(Ok(0) | Err(_)) => return,
            Ok(Ok(n)) => n,
        };
        while mode.load(Ordering::Relaxed) == FROZEN {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        if mode.load(Ordering::Relaxed) == DOWN || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// A bridge on `database` through a [`proxy`]: the test environment and the proxy's mode.
async fn behind_proxy(database: &util_pg::Database, name: &str) -> (TestEnv, Arc<AtomicU8>) {
    behind_proxy_with(database, name, "").await
}

/// [`behind_proxy`] with `query` (`?…` or empty) after the database's URL.
async fn behind_proxy_with(
    database: &util_pg::Database,
    name: &str,
    query: &str,
) -> (TestEnv, Arc<AtomicU8>) {
    let (url, mode) = proxied_url(database).await;
    (TestEnv::postgres_at(name, &format!("{url}{query}")), mode)
}

/// `database`'s URL through a new [`proxy`], and the proxy's mode.
async fn proxied_url(database: &util_pg::Database) -> (String, Arc<AtomicU8>) {
    let (base, db) = database.url.rsplit_once('/').expect("a database URL");
    let (head, port) = base.rsplit_once(':').expect("a port");
    let host = head.rsplit_once('@').map_or(head, |(_, h)| h);
    let mode = Arc::new(AtomicU8::new(UP));
    let proxy = proxy(format!("{host}:{port}"), Arc::clone(&mode)).await;
    (format!("{head}:{proxy}/{db}"), mode)
}

/// A database outage of two seconds right after a page was read (a
/// PostgreSQL restart) is ridden out by its acknowledgement, so the page
/// does not come again: it used to, 20 s later, once its lease lapsed,
/// because the acknowledgement gave up after 0.7 s (acceptance run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_read_just_before_an_outage_is_not_delivered_again() {
    let Some(database) = util_pg::fresh_db("pg_ack_outage") else {
        return;
    };
    let (env, mode) = behind_proxy(&database, "pg-ack-outage").await;
    let s = env.server().await;
    let conv = Conv::create(&s).await;
    send(&s, &conv, "a", "read once").await;
    let page = check(&s, &conv, "b", json!({})).await;
    assert_eq!(messages(&page).len(), 1, "{page}");
    // Down before the acknowledgement (half a second after the reply) runs.
    mode.store(DOWN, Ordering::Relaxed);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    mode.store(UP, Ordering::Relaxed);
    wait_until("the page to be acknowledged", || {
        util_pg::sql(&database.url, "SELECT count(*) FROM pending_deliveries") == "0"
    })
    .await;
    let again = check(&s, &conv, "b", json!({})).await;
    assert!(messages(&again).is_empty(), "delivered again: {again}");
    s.stop().await;
}

/// A server told to stop (its client gone) while the database has stopped
/// answering exits anyway, without its last audit records: it used to wait
/// for the database for ever, so a supervisor had to kill it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_exits_when_told_to_though_its_database_froze() {
    let Some(database) = util_pg::fresh_db("pg_frozen_exit") else {
        return;
    };
    let (env, mode) = behind_proxy(&database, "pg-frozen-exit").await;
    let s = env.server().await;
    let conv = Conv::create(&s).await;
    send(&s, &conv, "a", "before the freeze").await;
    mode.store(FROZEN, Ordering::Relaxed);
    // A call the database cannot answer, so a record waits to be written.
    let stuck = {
        let (peer, args) = (
            s.peer(),
            conv.args("a", json!({"message": "into the freeze"})),
        );
        tokio::spawn(async move { try_call(&peer, "send_to_partner", args).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let stopped = s.stop_within(std::time::Duration::from_secs(45)).await;
    stuck.abort();
    assert!(
        stopped.stderr.contains("did not answer within"),
        "{}",
        stopped.stderr
    );
    mode.store(UP, Ordering::Relaxed);
}

/// A database that froze mid-call (a stopped process, a paused VM) is given
/// up after the transaction deadline: the send answers `unavailable` (it
/// did nothing, so its retry is safe), a long-poll answers in the same bound
/// instead of outliving its own wait, and once the database answers again
/// the send goes through, once (acceptance run: every call waited for as
/// long as the database stayed frozen, 70 s, past every client's tool
/// timeout, whose retry could then send the message twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_the_frozen_database_never_answers_is_given_up_and_did_nothing() {
    let Some(database) = util_pg::fresh_db("pg_frozen_call") else {
        return;
    };
    let (env, mode) = behind_proxy(&database, "pg-frozen-call").await;
    let s = env
        .server_with(&[("MCP_BRIDGE_TEST_PG_DEADLINE_MS", "4000")])
        .await;
    let conv = Conv::create(&s).await;
    send(&s, &conv, "a", "before the freeze").await;
    assert_eq!(
        contents(&check(&s, &conv, "b", json!({})).await),
        ["before the freeze"]
    );
    wait_until("the page to be acknowledged", || {
        util_pg::sql(&database.url, "SELECT count(*) FROM pending_deliveries") == "0"
    })
    .await;
    mode.store(FROZEN, Ordering::Relaxed);
    let args = conv.args("a", json!({"message": "into the freeze"}));
    // Each answers, and says it did nothing, while the database stays frozen.
    let answers = [
        ("send_to_partner", args),
        (
            "check_messages",
            conv.args("b", json!({"wait_seconds": 20})),
        ),
    ];
    for (tool, args) in answers {
        let answer =
            tokio::time::timeout(std::time::Duration::from_secs(30), try_call(&s, tool, args))
                .await
                .unwrap_or_else(|_| panic!("{tool} still waits for the frozen database"))
                .expect("a tool result");
        assert_eq!(
            refusal_code(&answer).as_deref(),
            Some("unavailable"),
            "{tool}: {answer:?}"
        );
    }
    mode.store(UP, Ordering::Relaxed);
    send(&s, &conv, "a", "after the freeze").await;
    let page = check(&s, &conv, "b", json!({})).await;
    assert_eq!(contents(&page), ["after the freeze"], "{page}");
    let stopped = s.stop().await;
    assert!(
        stopped.stderr.contains("did not answer within 4000 ms"),
        "{}",
        stopped.stderr
    );
}

/// The operator's reads (`mcp-bridge list`, `show` and `audit`, the
/// console's pages) the frozen database never answers are given up at the
/// deadline (the default 20 s here), saying nothing changed, instead of
/// holding the page for as long as the database stays frozen; once it
/// answers again they work on the same pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_listing_the_frozen_database_never_answers_is_given_up() {
    let Some(database) = util_pg::fresh_db("pg_frozen_listing") else {
        return;
    };
    let (url, mode) = proxied_url(&database).await;
    let keys = tempfile::tempdir().expect("temp dir");
    let config = Config::load(None, std::iter::empty()).expect("config");
    let app = App::open_postgres(
        &PgUrl::parse(&url).expect("a postgres URL"),
        &keys.path().join("bridge.key"),
        config,
        OpenMode::Create,
    )
    .expect("open postgres through the proxy");
    let created = app
        .bridge
        .create_conversation("alice", "bob")
        .await
        .expect("create");
    let listed = app.bridge.list_conversations().await.expect("list");
    assert_eq!(listed.conversations.len(), 1);
    app.bridge
        .show_conversation(&created.conversation)
        .await
        .expect("show");
    app.bridge.audit_trail(trail()).await.expect("audit");
    // The linker task links the audit read's own record, then the pool
    // holds idle connections on which the freeze catches the next calls.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    mode.store(FROZEN, Ordering::Relaxed);
    let wait = std::time::Duration::from_secs(45);
    // The trail is linked before it is read: the linker is bounded too.
    let audit = tokio::time::timeout(wait, app.bridge.audit_trail(trail()))
        .await
        .expect("the audit trail still waits for the frozen database");
    assert!(
        matches!(audit, Err(ServiceError::Unavailable(_))),
        "{audit:?}"
    );
    let list = tokio::time::timeout(wait, app.bridge.list_conversations())
        .await
        .expect("list still waits for the frozen database");
    assert!(
        matches!(list, Err(ServiceError::Unavailable(_))),
        "{list:?}"
    );
    mode.store(UP, Ordering::Relaxed);
    let listed = app.bridge.list_conversations().await.expect("list after");
    assert_eq!(listed.conversations.len(), 1);
    let trail = app.bridge.audit_trail(trail()).await.expect("audit after");
    assert!(trail.iter().any(|r| r.draft.action == "list"), "{trail:?}");
}

/// The whole audit trail, newest 100.
fn trail() -> AuditQuery {
    AuditQuery {
        conversation: None,
        since: None,
        action: None,
        limit: 100,
    }
}

/// While the database refuses connections (a server restarting), a call
/// answers `unavailable`, saying nothing was done and to retry, instead of
/// `internal_error`; it did nothing, and once the database is back the same
/// call goes through (acceptance run: agents could not tell an outage from
/// a bug, so did not know a retry was safe).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_while_the_database_is_down_answers_unavailable_and_does_nothing() {
    let Some(database) = util_pg::fresh_db("pg_unavailable") else {
        return;
    };
    let (env, mode) = behind_proxy(&database, "pg-unavailable").await;
    let s = env.server().await;
    let conv = Conv::create(&s).await;
    send(&s, &conv, "a", "before the outage").await;
    mode.store(DOWN, Ordering::Relaxed);
    // The pooled connections see their end before the call.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let args = conv.args("a", json!({"message": "during the outage"}));
    let refused = try_call(&s, "send_to_partner", args)
        .await
        .expect("a tool result");
    assert_eq!(
        refusal_code(&refused).as_deref(),
        Some("unavailable"),
        "{refused:?}"
    );
    let text = format!("{refused:?}");
    assert!(text.contains("retry"), "{text}");
    assert!(
        !text.contains("127.0.0.1"),
        "the refusal names the database: {text}"
    );
    mode.store(UP, Ordering::Relaxed);
    send(&s, &conv, "a", "after the outage").await;
    let page = check(&s, &conv, "b", json!({})).await;
    assert_eq!(
        contents(&page),
        ["before the outage", "after the outage"],
        "{page}"
    );
    let stopped = s.stop().await;
    assert!(
        stopped.stderr.contains("database unreachable"),
        "{}",
        stopped.stderr
    );
    assert!(!stopped.stderr.contains(":pw@"), "{}", stopped.stderr);
}

/// A lost `LISTEN` connection whose reconnect is accepted and never answered
/// gives up at the connect timeout and tries again: it used to wait for
/// ever, so cross-server wake-ups fell back to polling for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listen_reconnect_that_never_completes_is_given_up_and_retried() {
    let Some(database) = util_pg::fresh_db("pg_listen_stall") else {
        return;
    };
    let (env, mode) = behind_proxy_with(&database, "pg-listen-stall", "?connect_timeout=1").await;
    let s = env.server().await;
    let conv = Conv::create(&s).await;
    // The server listens once a long-poll waits.
    check(&s, &conv, "b", json!({"wait_seconds": 1})).await;
    let mut first = Vec::new();
    wait_until("the server to listen", || {
        first = util_pg::listeners(&database.url);
        first.len() == 1
    })
    .await;
    mode.store(STALL, Ordering::Relaxed);
    util_pg::sql(
        &database.url,
        &format!("SELECT pg_terminate_backend({})", first[0]),
    );
    // Longer than the connect timeout: the stalled reconnect must give up.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    mode.store(UP, Ordering::Relaxed);
    wait_until("a new listener", || {
        let now = util_pg::listeners(&database.url);
        now.len() == 1 && now != first
    })
    .await;
    // And it wakes long-polls again.
    let waiting = {
        let (peer, args) = (s.peer(), conv.args("b", json!({"wait_seconds": 30})));
        tokio::spawn(async move { call(&peer, "check_messages", args).await })
    };
    let other = env.server().await;
    send(&other, &conv, "a", "still served").await;
    let woke = tokio::time::timeout(EVENT_TIMEOUT, waiting)
        .await
        .expect("the long-poll returned")
        .expect("task");
    assert_eq!(contents(&ok(&woke)), ["still served"]);
    other.stop().await;
    let stopped = s.stop().await;
    assert!(
        stopped
            .stderr
            .contains("did not complete the connection within 1 s"),
        "{}",
        stopped.stderr
    );
}
