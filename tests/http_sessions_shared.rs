//! MCP sessions of the older protocols (2025-06-18) over HTTP outlive their
//! host: a session that bound a seat is taken over by another server on the
//! same database (behind a load balancer) or by a restarted one, with its
//! seat, and only by the bearer identity that opened it: to any other the
//! session does not exist; ended on one host, it ends on all. The official
//! Python SDK keeps its session across a server restart. Runs on the suite's store (SQLite, or PostgreSQL in the
//! PostgreSQL pass).

use serde_json::{Value, json};

use crate::util::*;
use crate::util_http::*;

const VERSION: &str = SESSION_VERSION;

use open_session as open;
use session_headers as headers;

use answer_result as result;
use session_call as call;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_session_moves_between_hosts_and_survives_a_restart() {
    let env = TestEnv::new("http_sessions_shared");
    let alice = make_token(&env, "alice", "agent");
    let mallory = make_token(&env, "mallory", "agent");
    let one = HttpServer::start(&env, &[], &[]).await;
    let two = HttpServer::start(&env, &[], &[]).await;

    let session = open(&one.url, &alice).await;
    let unbound = call(
        &two.url,
        &alice,
        &session,
        "check_partner_status",
        json!({}),
    )
    .await;
    assert_eq!(
        unbound.status, 404,
        "a session bound to nothing stays on its host"
    );
    let created = result(
        &call(
            &one.url,
            &alice,
            &session,
            "create_conversation",
            json!({"my_role": "writer", "partner_role": "reader"}),
        )
        .await,
    );
    let conversation = created["conversation_id"].as_str().unwrap().to_owned();
    let b_token = created["session_b_token"].as_str().unwrap().to_owned();
    assert_eq!(env.count("SELECT count(*) FROM mcp_sessions"), 1);
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM mcp_sessions WHERE id_hash = '{session}' OR init_params LIKE '%{session}%'"
        )),
        0,
        "the session id itself is not stored"
    );

    // The other host takes the session over, with its seat: no token passed.
    let sent = call(
        &two.url,
        &alice,
        &session,
        "send_to_partner",
        json!({"message": "sent through the other host", "action_type": "info"}),
    )
    .await;
    assert_eq!(result(&sent)["message_id"], json!(1), "{}", sent.body);

    // A seat bound through one host is seen by the other, which held the
    // session already: a call naming it, and a call reading every seat.
    let second = result(
        &call(
            &two.url,
            &alice,
            &session,
            "create_conversation",
            json!({"my_role": "lead", "partner_role": "helper"}),
        )
        .await,
    );
    let named = call(
        &one.url,
        &alice,
        &session,
        "send_to_partner",
        json!({"conversation_id": second["conversation_id"], "message": "to the helper",
               "action_type": "info"}),
    )
    .await;
    assert_eq!(result(&named)["message_id"], json!(2), "{}", named.body);
    let mine = result(
        &call(
            &one.url,
            &alice,
            &session,
            "list_my_conversations",
            json!({}),
        )
        .await,
    );
    assert_eq!(
        mine["conversations"].as_array().map(Vec::len),
        Some(2),
        "{mine}"
    );

    // Another bearer identity cannot use it, read its stream or end it: to
    // it the session does not exist, on either host.
    for url in [&one.url, &two.url] {
        let stolen = call(url, &mallory, &session, "check_partner_status", json!({})).await;
        assert_eq!(stolen.status, 404, "{}", stolen.body);
        for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
            let answer = reqwest::Client::new()
                .request(method.clone(), url.as_str())
                .header("authorization", format!("Bearer {mallory}"))
                .header("accept", "text/event-stream")
                .header("mcp-session-id", &session)
                .header("mcp-protocol-version", VERSION)
                .send()
                .await
                .expect("request");
            assert_eq!(answer.status(), 404, "{method}");
        }
    }
    let still = call(
        &one.url,
        &alice,
        &session,
        "check_partner_status",
        json!({"conversation_id": conversation}),
    )
    .await;
    assert_eq!(result(&still)["partner_role"], json!("reader"));
    assert_eq!(env.count("SELECT count(*) FROM mcp_sessions"), 1);

    // A restarted host knows it too, for its owner only.
    let (status, stderr) = two.terminate().await;
    assert!(status.success(), "{stderr}");
    assert_eq!(
        env.count("SELECT count(*) FROM mcp_sessions"),
        1,
        "kept over a restart"
    );
    let three = HttpServer::start(&env, &[], &[]).await;
    let four = HttpServer::start(&env, &[], &[]).await;
    let stolen = call(
        &four.url,
        &mallory,
        &session,
        "check_partner_status",
        json!({}),
    )
    .await;
    assert_eq!(stolen.status, 404, "to another identity it does not exist");
    let status = result(
        &call(
            &three.url,
            &alice,
            &session,
            "check_partner_status",
            json!({"conversation_id": conversation}),
        )
        .await,
    );
    assert_eq!(status["partner_role"], json!("reader"), "{status}");

    // The partner reads what was sent through the other host.
    let read = stateless(
        &one.url,
        Some(&alice),
        9,
        "check_messages",
        json!({"conversation_id": conversation, "session_id": "b", "token": b_token}),
    )
    .await;
    let read = result(&read);
    assert_eq!(
        read["messages"][0]["content"],
        json!("sent through the other host"),
        "{read}"
    );

    // Its owner ends it; no host can take it over any more.
    let ended = delete_session(&three.url, &alice, &session).await;
    assert!(ended.status().is_success(), "{}", ended.status());
    // Only its tombstone stays (a binding in flight cannot store it again).
    assert_eq!(
        env.count("SELECT count(*) FROM mcp_sessions WHERE owner <> '(ended)'"),
        0
    );
    assert_eq!(env.count("SELECT count(*) FROM mcp_session_bindings"), 0);
    let gone = call(
        &four.url,
        &alice,
        &session,
        "check_partner_status",
        json!({}),
    )
    .await;
    assert_eq!(gone.status, 404, "{}", gone.body);
    // Ending it again, or ending an id never issued, finds nothing (rmcp
    // alone would answer 202 to both).
    for (url, id) in [(&three.url, session.as_str()), (&four.url, "never-issued")] {
        let again = delete_session(url, &alice, id).await;
        assert_eq!(again.status(), 404, "DELETE {id}");
    }

    // A host that still holds it refuses it once it looks again (at most a
    // second later), seats and all: nothing it does brings it back.
    let mut refused = None;
    for _ in 0..100 {
        let answer = call(
            &one.url,
            &alice,
            &session,
            "check_partner_status",
            json!({"conversation_id": conversation}),
        )
        .await;
        if answer.status != 200 || !answer.message()["error"].is_null() {
            refused = Some(answer);
            break;
        }
        assert_eq!(result(&answer)["partner_role"], json!("reader"));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let refused = refused.expect("a host kept serving a session its client had ended");
    assert!(refused.body.contains("has ended"), "{}", refused.body);
    let create = call(
        &one.url,
        &alice,
        &session,
        "create_conversation",
        json!({"my_role": "again", "partner_role": "other"}),
    )
    .await;
    assert!(create.body.contains("has ended"), "{}", create.body);
    // Nor does ending it on that host, which still held it (204 there).
    let again = delete_session(&one.url, &alice, &session).await;
    assert_eq!(again.status(), 404, "DELETE on the host that held it");
    assert_eq!(
        env.count("SELECT count(*) FROM mcp_sessions WHERE owner <> '(ended)'"),
        0
    );
    assert_eq!(env.count("SELECT count(*) FROM mcp_session_bindings"), 0);
    for server in [one, three, four] {
        let (status, stderr) = server.terminate().await;
        assert!(status.success(), "{stderr}");
        assert!(!stderr.contains(&session), "the session id is not logged");
    }
}

/// The official Python SDK (1.x) keeps its session across a restart of the
/// server on the same address: after the restart it sends without a token,
/// through the seat its session had bound, and the partner gets the message.
#[test]
fn the_python_sdk_keeps_its_session_across_a_server_restart() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    let python = crate::provision::python_env("http_py1", crate::provision::PY1_SPEC);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let env = TestEnv::new("http_sessions_py");
    let token = make_token(&env, "python", "agent");
    let server = runtime.block_on(HttpServer::start(&env, &[], &[]));
    let addr = server.url["http://".len()..]
        .trim_end_matches("/mcp")
        .to_owned();
    let mut client = Command::new(&python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/py_roam.py"
        ))
        .args(["--url", &server.url, "--token", &token])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(&env.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python");
    let mut lines = BufReader::new(client.stdout.take().expect("stdout")).lines();
    let mut next_line = || -> Value {
        let line = lines.next().and_then(Result::ok).unwrap_or_default();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    };
    let created = next_line();
    assert_eq!(created["create"]["is_error"], json!(false), "{created}");

    let (status, stderr) = runtime.block_on(server.terminate());
    assert!(status.success(), "{stderr}");
    let server = runtime
        .block_on(HttpServer::try_start(&env, &addr, &[], &[]))
        .unwrap_or_else(|e| panic!("restart on {addr}: {e}"));
    writeln!(client.stdin.as_mut().expect("stdin"), "go").expect("tell the client");
    let sent = next_line();
    assert_eq!(sent["send"]["is_error"], json!(false), "{sent}");
    let output = client.wait_with_output().expect("python");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains(&token), "the token was printed");

    let read = runtime.block_on(stateless(
        &server.url,
        Some(&token),
        1,
        "check_messages",
        json!({"conversation_id": created["conversation_id"], "session_id": "b",
               "token": created["b_token"]}),
    ));
    assert_eq!(
        result(&read)["messages"][0]["content"],
        json!("sent after the restart"),
        "{}",
        read.body
    );
    let (status, stderr) = runtime.block_on(server.terminate());
    assert!(status.success(), "{stderr}");
}

/// A session's answers carry no SSE "priming" event (an empty `data:` that
/// older TypeScript SDKs parse as JSON and fail on), and resuming an answer
/// that has ended gets `204` (nothing to resume), not an empty stream that
/// such SDKs reconnect to and keep open for the rest of the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_answers_are_not_resumed() {
    let env = TestEnv::new("http_sessions_resume");
    let alice = make_token(&env, "alice", "agent");
    let server = HttpServer::start(&env, &[], &[]).await;
    let session = open(&server.url, &alice).await;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let listed = post(
        &server.url,
        Some(&alice),
        &headers(&session),
        body.to_string(),
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    for line in listed.body.lines() {
        assert_ne!(line.trim(), "data:", "an empty event: {}", listed.body);
    }
    let id = listed
        .body
        .lines()
        .find_map(|l| l.strip_prefix("id:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no event id: {}", listed.body))
        .to_owned();
    let resumed = reqwest::Client::new()
        .get(&server.url)
        .header("authorization", format!("Bearer {alice}"))
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", VERSION)
        .header("last-event-id", &id)
        .send()
        .await
        .expect("GET");
    assert_eq!(resumed.status(), 204, "resuming {id}");
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
    // A refused resumption is routine for such clients (one per call), not
    // something to warn the operator about.
    assert!(!stderr.contains("WARN"), "{stderr}");
}

/// A token may hold `http.max_sessions_per_token` sessions open at once in
/// a server; one more `initialize` is refused (429) and changes nothing,
/// so is a burst past the share, another token is not affected, and ending
/// a session frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_holds_a_bounded_number_of_sessions() {
    let env = TestEnv::new("session_cap");
    let alice = make_token(&env, "alice", "agent");
    let bob = make_token(&env, "bob", "agent");
    let server = HttpServer::start(
        &env,
        &[],
        &[("MCP_BRIDGE_HTTP__MAX_SESSIONS_PER_TOKEN", "2")],
    )
    .await;
    let first = open(&server.url, &alice).await;
    open(&server.url, &alice).await;
    let init = json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": VERSION, "capabilities": {},
                   "clientInfo": {"name": "looping", "version": "1"}}
    });
    let refused = post(&server.url, Some(&alice), &[], init.to_string()).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(
        refused.body.contains("max_sessions_per_token"),
        "{}",
        refused.body
    );
    assert!(refused.headers.get("mcp-session-id").is_none());
    // Nor does an `initialize` spelled with escapes get past the count.
    let escaped = init
        .to_string()
        .replace("\"initialize\"", "\"\\u0069nitialize\"");
    assert!(escaped.contains("u0069nitialize"), "{escaped}");
    let refused = post(&server.url, Some(&alice), &[], escaped).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    // A burst of initializes sent together gets no more: those not yet
    // answered count too (before, 28 of 40 opened with a cap of 5).
    let carol = make_token(&env, "carol", "agent");
    let burst: Vec<_> = (0..24)
        .map(|_| {
            let (url, carol, init) = (server.url.clone(), carol.clone(), init.to_string());
            tokio::spawn(async move { post(&url, Some(&carol), &[], init).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for answer in burst {
        statuses.push(answer.await.expect("initialize"));
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [[200; 2].as_slice(), &[429; 22]].concat());
    // The limit is per token, and the open sessions still work.
    open(&server.url, &bob).await;
    // An `initialize` padded past 16 KiB is refused, not held for the
    // session's life (~1 MB each, a thousand sessions a token: red team).
    let padded = json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": VERSION,
                   "capabilities": {"experimental": {"pad": "x".repeat(100_000)}},
                   "clientInfo": {"name": "padded", "version": "1"}}
    });
    let dave = make_token(&env, "dave", "agent");
    let refused = post(&server.url, Some(&dave), &[], padded.to_string()).await;
    assert_eq!(refused.status, 413, "{}", refused.body);
    assert!(refused.headers.get("mcp-session-id").is_none());
    open(&server.url, &dave).await;
    let listed = call(
        &server.url,
        &alice,
        &first,
        "list_my_conversations",
        json!({}),
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    // Ending one frees its place.
    let ended = reqwest::Client::new()
        .delete(&server.url)
        .bearer_auth(&alice)
        .header("mcp-session-id", &first)
        .header("mcp-protocol-version", VERSION)
        .send()
        .await
        .expect("DELETE");
    assert!(ended.status().is_success(), "{}", ended.status());
    open(&server.url, &alice).await;
    server.terminate().await;
}

/// A session holds at most a few SSE streams (`GET`) open at once: rmcp kept
/// up to 33 per session and the read timeout never cuts an answered stream,
/// so one token's sessions starved the server of descriptors (red team).
/// One more is refused (`429`); closing one frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_holds_a_bounded_number_of_streams() {
    let env = TestEnv::new("session_streams");
    let alice = make_token(&env, "alice", "agent");
    let server = HttpServer::start(&env, &[], &[]).await;
    let session = open(&server.url, &alice).await;
    let client = reqwest::Client::new();
    let stream = || {
        client
            .get(&server.url)
            .header("authorization", format!("Bearer {alice}"))
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", VERSION)
            .send()
    };
    let mut held = Vec::new();
    for _ in 0..4 {
        let open = stream().await.expect("GET");
        assert_eq!(open.status(), 200);
        held.push(open);
    }
    let refused = stream().await.expect("GET");
    assert_eq!(refused.status(), 429);
    assert!(refused.text().await.unwrap().contains("open streams"));
    // Other requests of the session are not affected.
    let listed = call(
        &server.url,
        &alice,
        &session,
        "list_my_conversations",
        json!({}),
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    drop(held.pop());
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        let again = stream().await.expect("GET");
        if again.status() == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a closed stream never freed its place"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
}

/// Sessions taken over from the store count against the token's share as
/// sessions opened here do: a host at its cap used to refuse a fresh
/// `initialize` yet take over any number of sessions opened elsewhere
/// (red team).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_taken_over_count_against_the_tokens_share() {
    let env = TestEnv::new("session_cap_takeover");
    let alice = make_token(&env, "alice", "agent");
    let cap = [("MCP_BRIDGE_HTTP__MAX_SESSIONS_PER_TOKEN", "2")];
    let one = HttpServer::start(&env, &[], &cap).await;
    let two = HttpServer::start(&env, &[], &cap).await;
    // Two sessions bound on the first host, so the store knows them.
    let mut elsewhere = Vec::new();
    for _ in 0..2 {
        let session = open(&one.url, &alice).await;
        let created = call(
            &one.url,
            &alice,
            &session,
            "create_conversation",
            json!({"my_role": "writer", "partner_role": "reader"}),
        )
        .await;
        assert_eq!(created.status, 200, "{}", created.body);
        elsewhere.push(session);
    }
    // The second host takes one over, opens one of its own, and is full.
    let listed = call(
        &two.url,
        &alice,
        &elsewhere[0],
        "list_my_conversations",
        json!({}),
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    open(&two.url, &alice).await;
    let refused = call(
        &two.url,
        &alice,
        &elsewhere[1],
        "list_my_conversations",
        json!({}),
    )
    .await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    // The session taken over goes on working there.
    let again = call(
        &two.url,
        &alice,
        &elsewhere[0],
        "list_my_conversations",
        json!({}),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.body);
}

/// `DELETE` of the MCP session `id` at `url`, as `token`'s holder.
async fn delete_session(url: &str, token: &str, id: &str) -> reqwest::Response {
    reqwest::Client::new()
        .delete(url)
        .header("authorization", format!("Bearer {token}"))
        .header("mcp-session-id", id)
        .header("mcp-protocol-version", VERSION)
        .send()
        .await
        .expect("DELETE")
}
