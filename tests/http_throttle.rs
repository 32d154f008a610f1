//! Guessing bearer tokens against `/mcp` of a real `serve --http`: after 20
//! wrong tokens within a minute from one address, that address gets `429`
//! with `Retry-After` for any token the server does not already know to be
//! good (a right one it has not looked up yet included), while a client at
//! another address (127.0.0.2, loopback too) is served as before. The log
//! names the address once and never a token.

use std::net::IpAddr;

use serde_json::json;

use crate::util::*;
use crate::util_http::*;

/// Wrong tokens one address may present per minute (`throttle::MAX_FAILED_TOKENS`).
const LIMIT: usize = 20;

/// POSTs a stateless call as `token` from the local address `from`.
async fn post_from(url: &str, from: &str, token: &str, body: &str) -> Answer {
    let from: IpAddr = from.parse().expect("address");
    let mut headers = STATELESS_HEADERS.to_vec();
    headers.push(("mcp-name", "create_conversation"));
    let mut request = reqwest::Client::builder()
        .local_address(from)
        .build()
        .expect("client")
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("Bearer {token}"));
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let response = tokio::time::timeout(EVENT_TIMEOUT, request.body(body.to_owned()).send())
        .await
        .expect("answer in time")
        .expect("HTTP request");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap_or_default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tokens_from_one_address_are_throttled_and_others_are_not() {
    let env = TestEnv::new("http_throttle");
    let agent = make_token(&env, "agent-1", "agent");
    let shared = format!("shared-{}", random_hex(24));
    let server = HttpServer::start(&env, &[], &[("MCP_BRIDGE_HTTP_TOKEN", &shared)]).await;
    let create = stateless_call(
        1,
        "create_conversation",
        json!({"my_role": "left", "partner_role": "right"}),
    );
    let guesses: Vec<String> = (0..=LIMIT)
        .map(|i| format!("mcpb_{i:02}{}", random_hex(30)))
        .collect();

    // The attacker, at 127.0.0.1: each wrong token is a plain 401 up to the
    // limit, and the one past it is not looked at.
    for guess in &guesses[..LIMIT] {
        let answer = post_from(&server.url, "127.0.0.1", guess, &create).await;
        assert_eq!(answer.status, 401, "{}", answer.body);
    }
    let throttled = post_from(&server.url, "127.0.0.1", &guesses[LIMIT], &create).await;
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    let retry: u64 = throttled
        .header("retry-after")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    // A token the server has not seen yet is not looked up for the throttled
    // address, so guessing right does not help it…
    let answer = post_from(&server.url, "127.0.0.1", &agent, &create).await;
    assert_eq!(answer.status, 429, "{}", answer.body);

    // Another address is not held up: the right tokens work, and a wrong
    // one is an ordinary 401, not a 429.
    for right in [agent.as_str(), shared.as_str()] {
        let answer = post_from(&server.url, "127.0.0.2", right, &create).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let answer = post_from(&server.url, "127.0.0.2", &guesses[0], &create).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(
        rows(&env, "conversations"),
        2,
        "only the other address got in"
    );
    // …but tokens this server knows are good (the shared one, a named one it
    // checked lately) work from the throttled address too: other agents on
    // its host keep working while one of them loops on a wrong token.
    // "Lately" is the lookup cache's second: each token is checked from the
    // other address right before, so a stalled machine cannot outlast it.
    for right in [agent.as_str(), shared.as_str()] {
        for from in ["127.0.0.2", "127.0.0.1"] {
            let answer = post_from(&server.url, from, right, &create).await;
            assert_eq!(answer.status, 200, "{from}: {}", answer.body);
        }
    }
    let answer = post_from(&server.url, "127.0.0.1", &guesses[0], &create).await;
    assert_eq!(answer.status, 429, "{}", answer.body);
    assert_eq!(rows(&env, "conversations"), 6);

    // Past the lookup cache's second, a named token the store confirmed
    // lately is looked up again rather than refused: an agent working behind
    // the throttled address used to be locked out a second after its
    // token's last lookup. A second named token, revoked meanwhile, is
    // refused by that lookup, and one never seen stays throttled.
    let other = make_token(&env, "agent-2", "agent");
    let answer = post_from(&server.url, "127.0.0.2", &other, &create).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    crate::http_revoke::revoke(&env, "agent-2");
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let answer = post_from(&server.url, "127.0.0.1", &agent, &create).await;
    assert_eq!(
        answer.status, 200,
        "a working agent locked out: {}",
        answer.body
    );
    let answer = post_from(&server.url, "127.0.0.1", &other, &create).await;
    assert_eq!(answer.status, 401, "a revoked token: {}", answer.body);
    let answer = post_from(&server.url, "127.0.0.1", &other, &create).await;
    assert_eq!(answer.status, 429, "no longer vouched for: {}", answer.body);
    let unseen = make_token(&env, "agent-3", "agent");
    let answer = post_from(&server.url, "127.0.0.1", &unseen, &create).await;
    assert_eq!(answer.status, 429, "{}", answer.body);
    assert_eq!(rows(&env, "conversations"), 8);

    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
    let warned: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("wrong bearer tokens from one address"))
        .collect();
    assert_eq!(warned.len(), 1, "said once: {stderr}");
    assert!(warned[0].contains("127.0.0.1"), "{stderr}");
    for secret in guesses.iter().chain([&agent, &shared]) {
        assert!(!stderr.contains(secret.as_str()), "a token reached the log");
        assert!(!throttled.body.contains(secret.as_str()));
    }
}
