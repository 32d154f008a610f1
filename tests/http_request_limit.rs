//! The per-token request rate (`http.requests`) is one limit for every
//! `serve --http` on a database: two servers on one database, a token that
//! spends part of its minute on the first finds only the rest on the second
//! (which reads the shared counts before the token's first request there),
//! then `429` with `Retry-After` from either. Runs on the suite's store.

use std::time::Duration;

use serde_json::json;

use crate::util::*;
use crate::util_http::*;

const LIMIT: &[(&str, &str)] = &[("MCP_BRIDGE_HTTP__REQUESTS__PER_MINUTE", "8")];

/// One request as `token` to `url`; its status.
async fn request(url: &str, token: &str, id: i64) -> Answer {
    stateless(url, Some(token), id, "check_partner_status", json!({})).await
}

/// Waits until the shared minute counters of every identity add up to `n`.
async fn shared_count_reaches(env: &TestEnv, n: i64) {
    for _ in 0..100 {
        let counted = env.count(
            "SELECT coalesce(sum(count), 0) FROM http_request_buckets WHERE \"window\" = 'minute'",
        );
        if counted >= n {
            assert_eq!(counted, n, "more requests counted than were admitted");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server never shared its request counts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_enforce_one_request_limit() {
    let env = TestEnv::new("http_request_limit");
    let alice = make_token(&env, "alice", "agent");
    let bob = make_token(&env, "bob", "agent");
    let one = HttpServer::start(&env, &[], LIMIT).await;
    let two = HttpServer::start(&env, &[], LIMIT).await;

    for id in 0..5 {
        let answer = request(&one.url, &alice, id).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    shared_count_reaches(&env, 5).await;

    // The second server admits only what is left of alice's minute.
    for id in 5..8 {
        let answer = request(&two.url, &alice, id).await;
        assert_eq!(answer.status, 200, "request {id}: {}", answer.body);
    }
    let refused = request(&two.url, &alice, 8).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(
        refused.body.contains("shared by every server"),
        "{}",
        refused.body
    );
    let retry: u64 = refused.header("retry-after").parse().expect("Retry-After");
    // The minute's oldest 1 s bucket counts whole until it has left the
    // window entirely: up to 61 s from a request made early in it.
    assert!((1..=61).contains(&retry), "{retry}");
    // Another token has its own minute.
    let answer = request(&two.url, &bob, 9).await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    // Once the second server's counts are shared, the first refuses too.
    shared_count_reaches(&env, 9).await;
    let mut refused_on_one = false;
    for id in 10..40 {
        let answer = request(&one.url, &alice, id).await;
        if answer.status == 429 {
            refused_on_one = true;
            break;
        }
        assert_eq!(answer.status, 200, "{}", answer.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        refused_on_one,
        "the first server never learned the second's counts"
    );

    for server in [one, two] {
        let (status, stderr) = server.terminate().await;
        assert!(status.success(), "{stderr}");
        for token in [&alice, &bob] {
            assert!(!stderr.contains(token.as_str()), "a token leaked to stderr");
        }
    }
}
