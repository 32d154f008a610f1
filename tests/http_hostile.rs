//! Hostile HTTP: no token, a wrong or revoked token, an observer token, a
//! foreign Origin or Host, an oversized or malformed body, plain HTTP off
//! loopback, `--no-auth` off loopback. Each gets a clear status, and nothing
//! in the store changes. TLS: served with a self-signed certificate made by
//! the `openssl` CLI and reloaded on SIGHUP.

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncReadExt;

use crate::util::*;
use crate::util_http::*;

fn initialize() -> String {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "hostile", "version": "1"}}
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_get_clear_statuses_and_change_nothing() {
    let env = TestEnv::new("http_hostile");
    let agent = make_token(&env, "agent-1", "agent");
    let observer = make_token(&env, "watcher", "observer");
    let revoked = make_token(&env, "old", "agent");
    let server = HttpServer::start(&env, &[], &[]).await;
    let before = store_state(&env);
    let create = stateless_call(
        1,
        "create_conversation",
        json!({"my_role": "left", "partner_role": "right"}),
    );

    // No token: 401 with a challenge naming the resource metadata.
    let answer = post(&server.url, None, STATELESS_HEADERS, create.clone()).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    let challenge = answer.header("www-authenticate").to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    let metadata_url = format!(
        "http://{}/.well-known/oauth-protected-resource/mcp",
        server.authority
    );
    assert!(
        challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")),
        "{challenge}"
    );
    assert!(!challenge.contains("error="), "{challenge}");

    // The metadata (RFC 9728) needs no token and names the resource.
    let metadata = get(&metadata_url, &[]).await;
    assert_eq!(metadata.status, 200);
    let metadata: serde_json::Value = serde_json::from_str(&metadata.body).expect("JSON");
    assert_eq!(metadata["resource"], server.url);
    assert_eq!(metadata["bearer_methods_supported"], json!(["header"]));
    // No authorization server: left out, never an empty list (which MCP forbids).
    assert!(
        metadata.get("authorization_servers").is_none(),
        "{metadata}"
    );

    // A wrong token, one of the right length and prefix, and a non-bearer scheme.
    let forged = format!("mcpb_{}", "0".repeat(64));
    for bad in ["wrong", forged.as_str()] {
        let answer = post(&server.url, Some(bad), STATELESS_HEADERS, create.clone()).await;
        assert_eq!(answer.status, 401, "{bad}: {}", answer.body);
        assert!(
            answer
                .header("www-authenticate")
                .contains("error=\"invalid_token\"")
        );
    }
    let basic = post(
        &server.url,
        None,
        &[("authorization", "Basic YWdlbnQ6cHc=")],
        create.clone(),
    )
    .await;
    assert_eq!(basic.status, 401);

    // Revoked: refused once the server's one-second cache has let it go.
    let revoke = env
        .bridge()
        .args(["http-token", "revoke", "old", "--db"])
        .arg(&env.db)
        .output()
        .expect("revoke");
    assert!(revoke.status.success());
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        let answer = post(&server.url, Some(&revoked), &[], initialize()).await;
        if answer.status == 401 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "revoked token still accepted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Observer tokens are for the console, not the tools.
    let answer = post(
        &server.url,
        Some(&observer),
        STATELESS_HEADERS,
        create.clone(),
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(
        answer
            .header("www-authenticate")
            .contains("insufficient_scope")
    );

    // Foreign Origin and Host: 403 before the token is even looked at.
    let answer = post(
        &server.url,
        Some(&agent),
        &[("origin", "https://evil.example")],
        create.clone(),
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(answer.body.contains("Origin"), "{}", answer.body);
    let answer = post(
        &server.url,
        None,
        &[("host", "evil.example")],
        create.clone(),
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(answer.body.contains("Host"), "{}", answer.body);
    // The absolute form names a host of its own, checked as well.
    let request = format!(
        "POST http://evil.example/mcp HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        server.authority
    );
    let absolute = until_closed(&mut sent(&server.authority, request.as_bytes()).await).await;
    assert!(absolute.starts_with("HTTP/1.1 403"), "{absolute}");
    // Found by an acceptance run, each served before: the absolute form
    // with no Host at all, or with a scheme other than http(s), and a
    // second Origin after an allowed one (only the first was checked).
    let a = &server.authority;
    for request in [
        format!("POST http://{a}/mcp HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        format!(
            "POST ftp://{a}/mcp HTTP/1.1\r\nHost: {a}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        format!(
            "POST /mcp HTTP/1.1\r\nHost: {a}\r\nOrigin: http://{a}\r\nOrigin: https://evil.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    ] {
        let answer = until_closed(&mut sent(a, request.as_bytes()).await).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{request}: {answer}");
    }
    // A Host that merely starts with an allowed name is not that name, and
    // two Host headers are one too many.
    for host in ["localhost:1@evil.example", "[::1]evil.example"] {
        let answer = post(&server.url, None, &[("host", host)], create.clone()).await;
        assert_eq!(answer.status, 403, "{host}: {}", answer.body);
    }
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {0}\r\nHost: {0}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        server.authority
    );
    let twice = until_closed(&mut sent(&server.authority, request.as_bytes()).await).await;
    assert!(twice.starts_with("HTTP/1.1 400"), "{twice}");
    // A Host of bytes beyond ASCII is there but no host name: said so (it
    // was "no Host header", red team).
    let mut request = b"POST /mcp HTTP/1.1\r\nHost: \xc2\x9bevil\r\n".to_vec();
    request.extend_from_slice(b"Content-Length: 0\r\nConnection: close\r\n\r\n");
    let odd = until_closed(&mut sent(&server.authority, &request).await).await;
    assert!(odd.starts_with("HTTP/1.1 400"), "{odd}");
    assert!(odd.contains("not a host name"), "{odd}");
    // A request head of 100 KiB is refused, not buffered.
    let padding = "a".repeat(100 * 1024);
    let answer = post(
        &server.url,
        Some(&agent),
        &[("x-padding", padding.as_str())],
        create.clone(),
    )
    .await;
    assert_eq!(answer.status, 431, "{}", answer.body);
    // The server's own origin is fine.
    let own = format!("http://{}", server.authority);
    let answer = post(
        &server.url,
        Some(&agent),
        &[("origin", own.as_str())],
        initialize(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    // Oversized: refused from Content-Length, and while streaming without it.
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{{\"pad\":\"{}\"}}}}",
        "x".repeat(2 * 1024 * 1024)
    );
    // From the head alone, before any of the body is sent: a client writing a
    // 2 MiB body could otherwise be cut off mid-write by the closing
    // connection and never read the answer (a race, seen once on a clean clone).
    let mut tcp = sent(
        &server.authority,
        format!(
            "POST /mcp HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {agent}\r\n\
             Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
             Mcp-Protocol-Version: 2026-07-28\r\nContent-Length: {}\r\n\r\n",
            server.authority,
            huge.len()
        )
        .as_bytes(),
    )
    .await;
    let mut first = [0u8; 12];
    tokio::time::timeout(EVENT_TIMEOUT, tcp.read_exact(&mut first))
        .await
        .expect("answered before the body")
        .expect("read");
    assert_eq!(&first, b"HTTP/1.1 413");
    let chunks = futures_util::stream::iter(
        huge.into_bytes()
            .chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    // The server may close the connection before the client has sent it all.
    match try_post(
        &server.url,
        Some(&agent),
        STATELESS_HEADERS,
        reqwest::Body::wrap_stream(chunks),
    )
    .await
    {
        Ok(answer) => assert_eq!(answer.status, 413, "{}", answer.body),
        Err(e) => eprintln!("streamed oversized body: connection closed early ({e})"),
    }

    // Malformed JSON: a JSON-RPC parse error, nothing run.
    let answer = post(
        &server.url,
        Some(&agent),
        STATELESS_HEADERS,
        "{\"jsonrpc\": \"2.0\", \"id\": 1,",
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.message()["error"]["code"], -32700, "{}", answer.body);
    // A media type that only starts like JSON is not JSON: 415, not a parse error.
    let body = initialize();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {0}\r\nAuthorization: Bearer {agent}\r\n\
         Content-Type: application/jsonx\r\nAccept: application/json, text/event-stream\r\n\
         Content-Length: {1}\r\nConnection: close\r\n\r\n{body}",
        server.authority,
        body.len()
    );
    let jsonx = until_closed(&mut sent(&server.authority, request.as_bytes()).await).await;
    assert!(jsonx.starts_with("HTTP/1.1 415"), "{jsonx}");

    assert_eq!(
        store_state(&env),
        before,
        "a refused request changed the store"
    );
    assert_eq!(rows(&env, "conversations"), 0);
    // The server still serves.
    let client = server.client(Some(&agent)).await;
    Conv::create(client.peer()).await;
    drop(client);
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
    for secret in [&agent, &observer, &revoked] {
        assert!(
            !stderr.contains(secret.as_str()),
            "a token leaked to stderr"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_and_no_auth_are_refused_off_loopback() {
    let env = TestEnv::new("http_exposed");
    let token = [("MCP_BRIDGE_HTTP_TOKEN", "shared-token-0123456789abcdef")];
    let err = HttpServer::try_start(&env, "0.0.0.0:0", &[], &token)
        .await
        .err()
        .expect("plain HTTP on 0.0.0.0 is refused");
    assert!(
        err.contains("--tls-cert") && err.contains("--insecure-http"),
        "{err}"
    );
    let err = HttpServer::try_start(&env, "0.0.0.0:0", &["--insecure-http", "--no-auth"], &[])
        .await
        .err()
        .expect("--no-auth on 0.0.0.0 is refused");
    assert!(
        err.contains("--no-auth is allowed only on a loopback address"),
        "{err}"
    );
    let err = HttpServer::try_start(&env, "127.0.0.1:0", &[], &[])
        .await
        .err()
        .expect("no token at all is refused");
    assert!(err.contains("MCP_BRIDGE_HTTP_TOKEN"), "{err}");
    // Explicitly insecure is allowed, and still needs a token.
    let server = HttpServer::try_start(&env, "0.0.0.0:0", &["--insecure-http"], &token)
        .await
        .expect("--insecure-http serves");
    let port = server
        .authority
        .rsplit(':')
        .next()
        .expect("port")
        .to_owned();
    let answer = post(
        &format!("http://127.0.0.1:{port}/mcp"),
        None,
        &[],
        initialize(),
    )
    .await;
    assert_eq!(answer.status, 401);
    // SIGHUP has no certificate to reload here: the server says so and
    // keeps serving (its default action would end it without a drain).
    server.signal(libc::SIGHUP);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = post(
        &format!("http://127.0.0.1:{port}/mcp"),
        None,
        &[],
        initialize(),
    )
    .await;
    assert_eq!(again.status, 401, "still serving after SIGHUP");
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
}

/// A self-signed certificate for 127.0.0.1 in `dir` as `cert.pem`/`key.pem`.
pub(crate) fn self_signed(dir: &std::path::Path, name: &str) {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
        ])
        .arg("-subj")
        .arg(format!("/CN={name}"))
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `curl --http2 --cacert CA URL` (offering HTTP/2 through ALPN): the
/// subject CN the server presented and the response's status line, or the
/// failure.
fn curl_subject(ca: &std::path::Path, url: &str) -> Result<(String, String), String> {
    let out = Command::new("curl")
        .args(["-sS", "-v", "--http2", "--max-time", "5", "--cacert"])
        .arg(ca)
        .arg(url)
        .output()
        .expect("run curl");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(err);
    }
    let found = |prefix: &str| {
        err.lines()
            .find_map(|l| l.split(prefix).nth(1))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    Ok((found("subject: "), found("< HTTP/")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_and_reloads_the_certificate_on_sighup() {
    let env = TestEnv::new("http_tls");
    let certs = env.dir.join("certs");
    std::fs::create_dir_all(&certs).expect("dir");
    self_signed(&certs, "first");
    let first_ca = env.dir.join("first.pem");
    std::fs::copy(certs.join("cert.pem"), &first_ca).expect("copy");
    let (cert, key) = (certs.join("cert.pem"), certs.join("key.pem"));
    let token = [("MCP_BRIDGE_HTTP_TOKEN", "shared-token-0123456789abcdef")];
    let args = [
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        key.to_str().expect("utf-8"),
    ];
    let server = HttpServer::start(&env, &args, &token).await;
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let metadata = server
        .url
        .replace("/mcp", "/.well-known/oauth-protected-resource");
    let (subject, status) =
        curl_subject(&first_ca, &metadata).expect("TLS with the first certificate");
    assert!(subject.contains("first"), "{subject}");
    // Offered HTTP/2, the client is answered in HTTP/1.1 (see `serve_http`).
    assert_eq!(status, "1.1 200 OK", "{subject}");
    // Plain HTTP to the TLS port gets no MCP answer.
    let plain = reqwest::Client::new()
        .get(metadata.replace("https://", "http://"))
        .send()
        .await;
    assert!(plain.map(|r| r.status().as_u16() != 200).unwrap_or(true));

    self_signed(&certs, "second");
    server.signal(libc::SIGHUP);
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        match curl_subject(&cert, &metadata) {
            Ok((subject, status)) if subject.contains("second") => {
                assert_eq!(status, "1.1 200 OK", "HTTP/1.1 after a reload too");
                break;
            }
            other => assert!(
                tokio::time::Instant::now() < deadline,
                "the new certificate was not served: {other:?}\n{}",
                server.stderr()
            ),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
}
