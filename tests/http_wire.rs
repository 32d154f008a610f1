//! Hostile HTTP/1.1 on the wire against a real `serve --http`: transfer
//! and content codings the server does not decode (refused, never read as
//! plain), two `Authorization` or `Content-Length` headers, many headers,
//! `Expect: 100-continue` with a body too large or no token (no `100
//! Continue`), non-UTF-8 header values, pipelined requests, absolute-form
//! and asterisk-form targets, HTTP/1.0. Each gets a clear status, the
//! server keeps serving, and no answer or log line carries the token.

use serde_json::json;
use tokio::io::AsyncReadExt;

use crate::util::*;
use crate::util_http::*;

/// Sends `request` on a new connection; everything the server wrote back
/// until it closed the connection.
async fn exchange(authority: &str, request: &[u8]) -> String {
    until_closed(&mut sent(authority, request).await).await
}

/// The status line's code of each response in `text`, in order.
fn statuses(text: &str) -> Vec<u16> {
    text.match_indices("HTTP/1.")
        .filter_map(|(at, _)| text[at..].split(' ').nth(1)?.parse().ok())
        .collect()
}

struct Wire {
    authority: String,
    token: String,
    ping: String,
}

impl Wire {
    /// A `serve --http` with one agent token, and a wire to it.
    async fn start(env: &TestEnv) -> (String, HttpServer, Wire) {
        let token = make_token(env, "agent-1", "agent");
        let server = HttpServer::start(env, &[], &[]).await;
        let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": stateless_meta()}});
        let wire = Wire {
            authority: server.authority.clone(),
            token: token.clone(),
            ping: ping.to_string(),
        };
        (token, server, wire)
    }
}

impl Wire {
    /// A stateless `ping`'s head, `extra` header lines included, without
    /// its framing headers and blank line.
    fn head(&self, extra: &str) -> String {
        format!(
            "POST /mcp HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
             Mcp-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\n{extra}",
            self.authority, self.token
        )
    }

    /// The whole `ping` request with `Content-Length`, closing the connection.
    fn ping(&self, extra: &str) -> String {
        format!(
            "{}Content-Length: {}\r\nConnection: close\r\n\r\n{}",
            self.head(extra),
            self.ping.len(),
            self.ping
        )
    }

    /// The `ping` sent chunked under `Transfer-Encoding: coding`.
    fn chunked(&self, coding: &str) -> String {
        format!(
            "{}Transfer-Encoding: {coding}\r\nConnection: close\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
            self.head(""),
            self.ping.len(),
            self.ping
        )
    }

    async fn status_of(&self, request: &[u8]) -> (u16, String) {
        let answer = exchange(&self.authority, request).await;
        (statuses(&answer).first().copied().unwrap_or(0), answer)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codings_the_server_does_not_decode_are_refused() {
    let env = TestEnv::new("http_wire_codings");
    let (token, server, wire) = Wire::start(&env).await;

    // Plain chunked is fine.
    let (status, answer) = wire.status_of(wire.chunked("chunked").as_bytes()).await;
    assert_eq!(status, 200, "{answer}");
    // hyper decodes the chunks of `gzip, chunked` and used to hand the body
    // on as if it were not compressed: now 501, as for any coding not implemented.
    for coding in [
        "gzip, chunked",
        "deflate,chunked",
        "identity, chunked",
        "br, chunked",
    ] {
        let (status, answer) = wire.status_of(wire.chunked(coding).as_bytes()).await;
        assert_eq!(status, 501, "{coding}: {answer}");
    }
    let split = format!(
        "{}Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
        wire.head(""),
        wire.ping.len(),
        wire.ping
    );
    let (status, answer) = wire.status_of(split.as_bytes()).await;
    assert_eq!(status, 501, "codings on two lines: {answer}");
    let (status, answer) = wire
        .status_of(wire.chunked("chunked, chunked").as_bytes())
        .await;
    assert_eq!(status, 400, "chunked twice: {answer}");
    // A coding list that does not end in chunked: hyper's own 400.
    let gzip_only = format!(
        "{}Transfer-Encoding: gzip\r\nConnection: close\r\n\r\n{}",
        wire.head(""),
        wire.ping
    );
    let (status, answer) = wire.status_of(gzip_only.as_bytes()).await;
    assert_eq!(status, 400, "{answer}");
    // A compressed body: 415 naming what is taken, not a JSON parse error.
    let (status, answer) = wire
        .status_of(wire.ping("Content-Encoding: gzip\r\n").as_bytes())
        .await;
    assert_eq!(status, 415, "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("accept-encoding: identity"),
        "{answer}"
    );
    let (status, answer) = wire
        .status_of(wire.ping("Content-Encoding: identity\r\n").as_bytes())
        .await;
    assert_eq!(status, 200, "{answer}");

    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains(&token), "the token reached the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_heads_get_clear_statuses_and_the_server_serves_on() {
    let env = TestEnv::new("http_wire_heads");
    let (token, server, wire) = Wire::start(&env).await;
    let a = server.authority.clone();
    let mut answers = Vec::new();

    // Two Authorization headers: which one is meant? Neither is used.
    for second in ["Bearer wrong", "Basic YTpi"] {
        let extra = format!("Authorization: {second}\r\n");
        let (status, answer) = wire.status_of(wire.ping(&extra).as_bytes()).await;
        assert_eq!(status, 400, "{answer}");
        answers.push(answer);
    }
    // Two Content-Lengths: the same one is one; different ones, hyper's 400.
    let same = format!("Content-Length: {}\r\n", wire.ping.len());
    let (status, answer) = wire.status_of(wire.ping(&same).as_bytes()).await;
    assert_eq!(status, 200, "{answer}");
    let other = format!("Content-Length: {}\r\n", wire.ping.len() + 1);
    let (status, answer) = wire.status_of(wire.ping(&other).as_bytes()).await;
    assert_eq!(status, 400, "{answer}");
    // Many small headers: 431 (hyper counts them), not a buffer per header.
    let many: String = (0..500).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (status, answer) = wire.status_of(wire.ping(&many).as_bytes()).await;
    assert_eq!(status, 431, "{answer}");
    // Expect: 100-continue: no `100 Continue` for a body too large or a
    // request without a token, whose body is then never read.
    let oversize = format!(
        "{}Expect: 100-continue\r\nContent-Length: 5000000\r\n\r\n",
        wire.head("")
    );
    let mut tcp = sent(&a, oversize.as_bytes()).await;
    let mut first = vec![0u8; 12];
    tokio::time::timeout(EVENT_TIMEOUT, tcp.read_exact(&mut first))
        .await
        .expect("answered at once")
        .expect("read");
    assert_eq!(&first, b"HTTP/1.1 413");
    let anonymous = format!(
        "POST /mcp HTTP/1.1\r\nHost: {a}\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n"
    );
    let mut tcp = sent(&a, anonymous.as_bytes()).await;
    tokio::time::timeout(EVENT_TIMEOUT, tcp.read_exact(&mut first))
        .await
        .expect("answered at once")
        .expect("read");
    assert_eq!(&first, b"HTTP/1.1 401");
    // Bytes that are not UTF-8 in a header value: the request is served;
    // in the token, it is no token.
    let mut binary = wire.ping("X-Binary: \u{1}\r\n").into_bytes();
    let at = binary.iter().position(|b| *b == 1).expect("marker");
    binary.splice(at..=at, [0xff, 0xfe, 0x80]);
    let (status, answer) = wire.status_of(&binary).await;
    assert_eq!(status, 200, "{answer}");
    let mut bad_token = wire.ping("").replace(&token, "\u{1}").into_bytes();
    let at = bad_token.iter().position(|b| *b == 1).expect("marker");
    bad_token.splice(at..=at, [0xff, 0xfe]);
    let (status, answer) = wire.status_of(&bad_token).await;
    assert_eq!(status, 401, "{answer}");
    // Pipelined: three requests in one write get three answers, in order.
    let keep = format!(
        "{}Content-Length: {}\r\n\r\n{}",
        wire.head(""),
        wire.ping.len(),
        wire.ping
    );
    let pipelined = format!("{keep}{keep}{}", wire.ping(""));
    let answer = exchange(&a, pipelined.as_bytes()).await;
    assert_eq!(statuses(&answer), [200, 200, 200], "{answer}");
    answers.push(answer);
    // Absolute form naming this server, asterisk form, CONNECT, HTTP/1.0.
    let absolute = wire
        .ping("")
        .replacen("POST /mcp", &format!("POST http://{a}/mcp"), 1);
    let (status, answer) = wire.status_of(absolute.as_bytes()).await;
    assert_eq!(status, 200, "{answer}");
    let odd = [
        format!("OPTIONS * HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n"),
        format!("CONNECT {a} HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n"),
        format!("GET /mcp HTTP/1.0\r\nHost: {a}\r\n\r\n"),
        format!("POST /mcp HTTP/1.0\r\nHost: {a}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        "GARBAGE\r\n\r\n".to_owned(),
    ];
    for request in &odd {
        let (status, answer) = wire.status_of(request.as_bytes()).await;
        assert!((400..500).contains(&status), "{request}: {answer}");
    }

    // The token never came back in an answer, nor went to the log, and the
    // server still serves.
    for answer in &answers {
        assert!(!answer.contains(&token), "the token was echoed: {answer}");
    }
    let (status, answer) = wire.status_of(wire.ping("").as_bytes()).await;
    assert_eq!(status, 200, "{answer}");
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains(&token), "the token reached the log");
}
