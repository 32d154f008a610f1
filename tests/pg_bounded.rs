//! Waits on a PostgreSQL database are bounded, with real `mcp-bridge`
//! processes: a server that accepts connections and never answers (a
//! stopped PostgreSQL, a stuck proxy) makes a command fail once the URL's
//! `connect_timeout` is up, where it used to hang forever (the driver's
//! own timeout covers the TCP connect only); and a send held behind
//! another session's lock answers `busy` after `lock_timeout` instead of
//! waiting for as long as the lock is held.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// A TCP proxy to `target` that stops passing bytes, either way, once
/// `frozen` is set (a database frozen mid-conversation: a stopped server,
/// a paused VM); its port.
async fn freezable_proxy(target: String, frozen: Arc<AtomicBool>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                continue;
            };
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::spawn(pass(cr, sw, Arc::clone(&frozen)));
            tokio::spawn(pass(sr, cw, Arc::clone(&frozen)));
        }
    });
    port
}

/// Copies `from` to `to`, holding every byte back while `frozen` is set.
async fn pass(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while frozen.load(Ordering::Relaxed) {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// A server told to stop (its client gone) while the database has stopped
/// answering exits anyway, without its last audit records: it used to wait
/// for the database for ever, so a supervisor had to kill it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_exits_when_told_to_though_its_database_froze() {
    let Some(database) = util_pg::fresh_db("pg_frozen_exit") else {
        return;
    };
    let (base, db) = database.url.rsplit_once('/').expect("a database URL");
    let (head, port) = base.rsplit_once(':').expect("a port");
    let host = head.rsplit_once('@').map_or(head, |(_, h)| h);
    let frozen = Arc::new(AtomicBool::new(false));
    let proxy = freezable_proxy(format!("{host}:{port}"), Arc::clone(&frozen)).await;
    let url = format!("{}:{proxy}/{db}", head);
    let env = TestEnv::postgres_at("pg-frozen-exit", &url);
    let s = env.server().await;
    let conv = Conv::create(&s).await;
    send(&s, &conv, "a", "before the freeze").await;
    frozen.store(true, Ordering::Relaxed);
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
    frozen.store(false, Ordering::Relaxed);
}
