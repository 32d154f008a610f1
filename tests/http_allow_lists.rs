//! `--allow-origin` and `--allow-host` against a real `serve --http`: a
//! listed browser Origin (in any letter case) and a listed Host name are
//! served while others get `403`; and an entry no request could ever match
//! (`*`, a trailing slash, no scheme, a wildcard, a port over 65535) or
//! `null` (sent by every site's sandboxed frames) is a start-up error
//! naming it, not a silent `403` for the clients it was meant for.

use serde_json::json;

use crate::util::*;
use crate::util_http::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_origins_and_hosts_are_served_and_unmatchable_entries_refused() {
    let env = TestEnv::new("http-allow-lists");
    let token = make_token(&env, "agent", "agent");
    let server = HttpServer::start(
        &env,
        &[
            "--allow-origin",
            "https://App.example.com",
            "--allow-host",
            "bridge.example.com",
        ],
        &[],
    )
    .await;
    let call = |extra: Vec<(&'static str, &'static str)>| {
        let url = server.url.clone();
        let token = token.clone();
        async move {
            let mut headers = STATELESS_HEADERS.to_vec();
            headers.push(("mcp-name", "list_my_conversations"));
            headers.extend(extra);
            post(
                &url,
                Some(&token),
                &headers,
                stateless_call(1, "list_my_conversations", json!({})),
            )
            .await
        }
    };
    assert_eq!(
        call(vec![("origin", "https://app.example.com")])
            .await
            .status,
        200
    );
    assert_eq!(call(vec![("host", "bridge.example.com")]).await.status, 200);
    for foreign in [("origin", "https://evil.example"), ("host", "evil.example")] {
        let answer = call(vec![foreign]).await;
        assert_eq!(answer.status, 403, "{foreign:?}: {}", answer.body);
    }
    server.terminate().await;

    for (flag, entry) in [
        ("--allow-origin", "*"),
        ("--allow-origin", "null"),
        ("--allow-origin", "http://evil.com/"),
        ("--allow-origin", "evil.com"),
        ("--allow-origin", "https://*.example.com"),
        ("--allow-host", "*.example.com"),
        ("--allow-host", "http://host"),
        ("--allow-host", "host:99999"),
    ] {
        let refused = HttpServer::try_start(&env, "127.0.0.1:0", &[flag, entry], &[]).await;
        let stderr = match refused {
            Ok(_) => panic!("{flag} {entry} was accepted"),
            Err(stderr) => stderr,
        };
        assert!(
            stderr.contains(flag) && stderr.contains(&format!("{entry:?}")),
            "{flag} {entry}: {stderr}"
        );
    }
}
