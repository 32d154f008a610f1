//! The web console mounted in `serve --http --console`: one process serves
//! MCP at `/mcp` (behind the bearer token) and the console at `/console`
//! (behind its own console tokens), and what an agent does over `/mcp`
//! shows in the console's API at once.

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HOST, LOCATION};
use serde_json::{Value, json};

use crate::console_requests::try_sign_in;
use crate::console_util::{assert_secured, http, make_token};
use crate::util::*;
use crate::util_http::*;

const SHARED: &str = "mounted-console-shared-token-0123";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_http_mounts_the_console_beside_mcp() {
    let env = TestEnv::new("console_mounted");
    let server =
        HttpServer::start(&env, &["--console"], &[("MCP_BRIDGE_HTTP_TOKEN", SHARED)]).await;
    let base = server.url.replace("/mcp", "/console");
    let admin = make_token(&env, "mounted-admin", "admin");

    // An agent over MCP, with the bearer token.
    let agent = server.client(Some(SHARED)).await;
    let created = ok(&call(
        agent.peer(),
        "create_conversation",
        json!({"my_role": "backend", "partner_role": "frontend"}),
    )
    .await);
    let conv = created["conversation_id"].as_str().expect("id").to_owned();

    // The console signs in with its own token, not the MCP bearer token.
    let client = http();
    let page = client.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert_secured("the sign-in page", page.headers());
    let slash = client.get(format!("{base}/")).send().await.unwrap();
    assert!(slash.status().is_redirection(), "{:?}", slash.status());
    assert_eq!(slash.headers()[LOCATION], "/console");
    assert_secured("the /console/ redirect", slash.headers());
    // A name this server does not answer to gets its 403, not the redirect.
    let port = base.rsplit(':').next().and_then(|p| p.split('/').next());
    let rebound = client
        .get(format!("{base}/"))
        .header(HOST, format!("evil.example:{}", port.expect("port")))
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), StatusCode::FORBIDDEN);
    assert!(rebound.headers().get(LOCATION).is_none());
    assert_secured("a refused Host on /console/", rebound.headers());
    let foreign = client
        .post(format!("{base}/login"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_secured("a refused Origin", foreign.headers());

    let api = format!("{base}/api/conversations");
    let refused = client
        .get(&api)
        .header(AUTHORIZATION, format!("Bearer {SHARED}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::UNAUTHORIZED,
        "the MCP token is not a console token"
    );
    let listed: Value = client
        .get(&api)
        .header(AUTHORIZATION, format!("Bearer {admin}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = listed["conversations"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"))
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert!(ids.contains(&conv.as_str()), "{listed}");

    // And /mcp still wants its bearer token.
    let anonymous = get(&server.url, &[]).await;
    assert_eq!(anonymous.status, 401);

    // Failed sign-ins are throttled per client here too (the server passes
    // the peer's address on), without touching the open sessions. The MCP
    // token refused by the API above was the first of ten failures.
    let guess = format!("mcpc_{}", "0".repeat(64));
    for _ in 0..9 {
        let refused = try_sign_in(&base, &guess).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }
    let throttled = try_sign_in(&base, &guess).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.headers().contains_key("retry-after"));
    assert_secured("a throttled sign-in", throttled.headers());
    // The operator on the same address still signs in with the right token.
    let operator = try_sign_in(&base, &admin).await;
    assert_eq!(operator.status(), StatusCode::SEE_OTHER);
    let still = client
        .get(&api)
        .header(AUTHORIZATION, format!("Bearer {admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), StatusCode::OK);
    let (status, _) = server.terminate().await;
    assert!(status.success());
}
