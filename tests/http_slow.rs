//! Slow clients hold nothing for long (`http.read_timeout_s`): a request
//! whose headers trickle in, a connection that sends nothing at all, or an
//! idle keep-alive connection, is closed; HTTP/2 (whose connections would
//! escape these bounds) is not spoken; a
//! body that does not arrive in time gets `408`; a chunked body over the
//! limit (no `Content-Length` to refuse it by) gets `413`. None of them
//! changes the store, and the server goes on serving. The same holds for
//! the web console served on its own.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::console_util::ConsoleProc;
use crate::util::*;
use crate::util_http::*;

/// Trickles a request's headers into `authority`, a byte every 300 ms:
/// each byte is progress, but the headers as a whole are late, so the
/// server must close the connection.
async fn trickled_headers_are_cut_off(authority: &str, path: &str) {
    let mut tcp = sent(
        authority,
        format!("POST {path} HTTP/1.1\r\nHost: {authority}\r\n").as_bytes(),
    )
    .await;
    let started = Instant::now();
    let mut sent_more = 0;
    let closed = loop {
        let mut byte = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(300), tcp.read(&mut byte)).await {
            Ok(Ok(0) | Err(_)) => break true,
            Ok(Ok(_)) => {}
            Err(_) => {
                if tcp.write_all(b"X").await.is_err() {
                    break true;
                }
                sent_more += 1;
            }
        }
        if started.elapsed() > EVENT_TIMEOUT {
            break false;
        }
    };
    assert!(
        closed,
        "slow headers to {authority}{path} are cut off (sent {sent_more} more bytes)"
    );
}

/// A connection to `authority` that sends nothing is closed once the read
/// timeout passes (hyper's protocol detection used to wait for its first
/// bytes forever), and one that opens with HTTP/2's preface (prior
/// knowledge, as `curl --http2-prior-knowledge`) gets no HTTP/2 answer.
async fn silent_and_http2_connections_are_cut_off(authority: &str) {
    let mut silent = TcpStream::connect(authority).await.expect("connect");
    let started = Instant::now();
    let answer = until_closed(&mut silent).await;
    assert_eq!(answer, "", "nothing is answered to nothing");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed by the read timeout, not at once: {:?}",
        started.elapsed()
    );

    // The preface and an empty SETTINGS frame: an HTTP/2 server would
    // answer with a SETTINGS frame (type 4) of its own.
    let preface = [
        &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..],
        &[0, 0, 0, 4, 0, 0, 0, 0, 0],
    ]
    .concat();
    let mut h2 = sent(authority, &preface).await;
    let mut got = Vec::new();
    tokio::time::timeout(EVENT_TIMEOUT, h2.read_to_end(&mut got))
        .await
        .expect("the server closes the connection")
        .ok();
    assert!(
        got.is_empty() || got.starts_with(b"HTTP/1.1 "),
        "HTTP/2 is not spoken: {got:?}"
    );
}

fn head(server: &HttpServer, token: &str, extra: &str) -> String {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Mcp-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: create_conversation\r\n{extra}\r\n",
        server.authority
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_change_nothing() {
    let env = TestEnv::new("http_slow");
    let token = make_token(&env, "agent-1", "agent");
    let server = HttpServer::start(&env, &[], &[("MCP_BRIDGE_HTTP__READ_TIMEOUT_S", "1")]).await;
    let before = store_state(&env);
    let call = stateless_call(
        1,
        "create_conversation",
        json!({"my_role": "left", "partner_role": "right"}),
    );

    // Headers that never end: the connection is closed, nothing answered.
    trickled_headers_are_cut_off(&server.authority, "/mcp").await;
    silent_and_http2_connections_are_cut_off(&server.authority).await;

    // A body that stops short of its Content-Length: 408 and a clear reason.
    let mut tcp = TcpStream::connect(&server.authority)
        .await
        .expect("connect");
    let partial = &call.as_bytes()[..call.len() / 2];
    tcp.write_all(
        head(
            &server,
            &token,
            &format!("Content-Length: {}\r\n", call.len()),
        )
        .as_bytes(),
    )
    .await
    .expect("write head");
    tcp.write_all(partial).await.expect("write half a body");
    let answer = until_closed(&mut tcp).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("http.read_timeout_s"), "{answer}");

    // Without a token the body is not waited for at all: 401 at once.
    let mut tcp = sent(
        &server.authority,
        format!(
            "POST /mcp HTTP/1.1\r\nHost: {}\r\nContent-Length: 1000\r\n\r\n",
            server.authority
        )
        .as_bytes(),
    )
    .await;
    let mut first = [0u8; 12];
    tokio::time::timeout(EVENT_TIMEOUT, tcp.read_exact(&mut first))
        .await
        .expect("answered")
        .expect("read");
    assert_eq!(&first, b"HTTP/1.1 401");

    // A chunked body over the limit, with no Content-Length: 413.
    let mut tcp = sent(
        &server.authority,
        head(&server, &token, "Transfer-Encoding: chunked\r\n").as_bytes(),
    )
    .await;
    let chunk = vec![b' '; 64 * 1024];
    let mut answer = String::new();
    for _ in 0..40 {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if tcp.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = tcp.write_all(b"0\r\n\r\n").await;
    answer.push_str(&until_closed(&mut tcp).await);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // An idle keep-alive connection is closed after the timeout too.
    let mut tcp = sent(
        &server.authority,
        format!(
            "GET /.well-known/oauth-protected-resource HTTP/1.1\r\nHost: {}\r\n\r\n",
            server.authority
        )
        .as_bytes(),
    )
    .await;
    let answer = until_closed(&mut tcp).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    assert_eq!(store_state(&env), before, "nothing reached the store");
    // A client that is not slow is served as ever.
    let ok = stateless(
        &server.url,
        Some(&token),
        2,
        "create_conversation",
        json!({"my_role": "left", "partner_role": "right"}),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_cuts_off_slow_clients_too() {
    let env = TestEnv::new("console_slow");
    let console =
        ConsoleProc::start_with_vars(&env, &[], &[("MCP_BRIDGE_HTTP__READ_TIMEOUT_S", "1")]).await;
    let authority = console.base.trim_start_matches("http://").to_owned();
    trickled_headers_are_cut_off(&authority, "/login").await;
    silent_and_http2_connections_are_cut_off(&authority).await;

    // A sign-in form whose body never completes: 408, no session.
    let mut tcp = sent(&authority, format!(
            "POST /login HTTP/1.1\r\nHost: {authority}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ntoken=mcpc_"
        ).as_bytes()).await;
    let answer = until_closed(&mut tcp).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(!answer.contains("mcpb_console="), "{answer}");

    // A head over 64 KiB: 431, whatever the reads hyper happened to make.
    let padding = "a".repeat(100 * 1024);
    let big = crate::console_util::http()
        .get(format!("{}/login", console.base))
        .header("x-padding", padding)
        .send()
        .await
        .expect("GET /login with a large head");
    assert_eq!(big.status(), 431);

    // And it still serves, then stops cleanly.
    let page = crate::console_util::http()
        .get(format!("{}/login", console.base))
        .send()
        .await
        .expect("GET /login");
    assert_eq!(page.status(), 200);
    assert_eq!(console.terminate().await, Some(0));
}
