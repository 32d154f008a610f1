//! Secrets stay secret, proven on every byte the bridge writes: the stdout
//! and stderr of every server (logging at `trace`), the database, its WAL
//! and shared-memory files (while servers run and after), and the output of
//! every management command a human would run. Session tokens (and a wrong
//! token a client tried) appear only in `create_conversation`'s answer and in
//! `mcp-bridge tokens`; secrets planted in messages, notes and paths appear
//! nowhere; message bodies appear only where they belong (the recipient's
//! answer, the database, `show` and `export`), never in logs, the audit trail
//! or `list`.

use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use rmcp::ServiceExt;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use crate::redaction_e2e::samples;
use crate::util::*;
use crate::util_cli::*;

/// A reader that keeps a copy of every byte read through it.
struct Tap<R> {
    inner: R,
    copy: Arc<Mutex<Vec<u8>>>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Tap<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled {
            let new = buf.filled()[before..].to_vec();
            self.copy.lock().unwrap().extend_from_slice(&new);
        }
        polled
    }
}

/// A server whose stdout is recorded byte for byte.
struct Tapped {
    client: Client,
    child: tokio::process::Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: tokio::task::JoinHandle<Vec<u8>>,
}

impl Tapped {
    async fn spawn(env: &TestEnv, vars: &[(&str, &str)]) -> Tapped {
        let mut cmd = tokio::process::Command::from(env.serve_command(vars));
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn mcp-bridge serve");
        let copy = Arc::new(Mutex::new(Vec::new()));
        let tap = Tap {
            inner: child.stdout.take().expect("stdout"),
            copy: Arc::clone(&copy),
        };
        let stdin = child.stdin.take().expect("stdin");
        let mut err = child.stderr.take().expect("stderr");
        let stderr = tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = err.read_to_end(&mut buf).await;
            buf
        });
        let client = tokio::time::timeout(EVENT_TIMEOUT, ().serve((tap, stdin)))
            .await
            .expect("handshake in time")
            .expect("handshake");
        Tapped {
            client,
            child,
            stdout: copy,
            stderr,
        }
    }

    /// Stops the server; returns (stdout, stderr) bytes.
    async fn stop(self) -> (Vec<u8>, Vec<u8>) {
        let Tapped {
            client,
            mut child,
            stdout,
            stderr,
        } = self;
        let _ = tokio::time::timeout(EVENT_TIMEOUT, client.cancel()).await;
        let status = tokio::time::timeout(EVENT_TIMEOUT, child.wait())
            .await
            .expect("server exits")
            .expect("wait");
        assert!(status.success(), "{status:?}");
        let err = stderr.await.unwrap_or_default();
        let out = stdout.lock().unwrap().clone();
        (out, err)
    }
}

impl std::ops::Deref for Tapped {
    type Target = rmcp::service::Peer<rmcp::service::RoleClient>;
    fn deref(&self) -> &Self::Target {
        self.client.peer()
    }
}

/// The needles of several groups together.
fn all(groups: &[&Vec<(&'static str, String)>]) -> Vec<(&'static str, String)> {
    groups.iter().flat_map(|g| g.iter().cloned()).collect()
}

/// Every place `needle` occurs in `hay`, as byte offsets.
fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return Vec::new();
    }
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// Fails if any of `needles` occurs in `hay`, naming where.
fn assert_absent(what: &str, hay: &[u8], needles: &[(&str, String)]) {
    for (kind, needle) in needles {
        let found = find_all(hay, needle.as_bytes());
        assert!(
            found.is_empty(),
            "{what} holds a {kind} ({needle:?}) at byte {}: …{}…",
            found[0],
            String::from_utf8_lossy(
                &hay[found[0].saturating_sub(80)..(found[0] + 80).min(hay.len())]
            )
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_byte_the_bridge_writes_holds_a_secret_it_was_given() {
    let env = TestEnv::new("secrets");
    let vars = [
        ("MCP_BRIDGE_LOG", "trace"),
        ("MCP_BRIDGE_RATE_LIMITS__SEND_TO_PARTNER__PER_MINUTE", "15"),
    ];
    let s1 = Tapped::spawn(&env, &vars).await;
    let s2 = Tapped::spawn(&env, &vars).await;
    let conv = Conv::create(&s1).await;
    let samples = samples();
    let planted: Vec<String> = samples.iter().flat_map(|s| s.secrets.clone()).collect();
    let body = format!("plain-body-{}", random_hex(8));
    let note = format!("plain-note-{}", random_hex(8));
    let bad_token = random_hex(32);
    let path_secret = &samples[0].secrets[0];

    // A session with secrets everywhere a client can put text.
    for (i, s) in samples.iter().enumerate() {
        let server = if i % 2 == 0 { &s1 } else { &s2 };
        let args = conv.args(
            "a",
            json!({"message": format!("{body} {}", s.text), "files_involved": [format!("keys/{path_secret}.pem")]}),
        );
        ok(&call(server, "send_to_partner", args).await);
    }
    let poll = tokio::spawn({
        let (peer, args) = (
            s2.client.peer().clone(),
            conv.args("b", json!({"wait_seconds": 5, "limit": 3})),
        );
        async move { ok(&call(&peer, "check_messages", args).await) }
    });
    assert!(!messages(&poll.await.unwrap()).is_empty());
    check(&s1, &conv, "b", json!({})).await;
    ok(&call(
        &s2,
        "update_my_status",
        conv.args(
            "b",
            json!({"status": "blocked", "note": format!("{note} {}", samples[4].text)}),
        ),
    )
    .await);
    ok(&call(&s1, "check_partner_status", conv.args("a", json!({}))).await);

    // Refusals of every kind, each carrying secrets a careless path would echo.
    let wrong = json!({"conversation_id": conv.id, "session_id": "b", "token": bad_token, "message": format!("{body} {}", samples[6].text)});
    tool_error(&call(&s2, "send_to_partner", wrong).await, "auth_failed");
    let other_side = json!({"conversation_id": conv.id, "session_id": "b", "token": conv.a, "status": "working", "note": note});
    tool_error(
        &call(&s1, "update_my_status", other_side).await,
        "auth_failed",
    );
    let huge = format!("{body} {} {}", samples[2].text, "z".repeat(52_000));
    tool_error(
        &call(
            &s1,
            "send_to_partner",
            conv.args("a", json!({"message": huge})),
        )
        .await,
        "message_too_large",
    );
    for (tool, extra) in [
        (
            "check_messages",
            json!({"wait_seconds": samples[3].secrets[0]}),
        ),
        ("check_messages", json!({"limit": conv.b})),
        (
            "send_to_partner",
            json!({"message": body, "password": samples[4].secrets[0]}),
        ),
        (
            "update_my_status",
            json!({"status": bad_token, "note": note}),
        ),
        (
            "send_to_partner",
            json!({"message": body, "files_involved": planted[0]}),
        ),
    ] {
        invalid_params(try_call(&s2, tool, conv.args("a", extra)).await, tool);
    }
    let token_as_id = json!({"conversation_id": conv.a, "session_id": "a", "token": conv.b});
    invalid_params(
        try_call(&s1, "check_partner_status", token_as_id).await,
        "token as id",
    );
    tool_error(
        &call(
            &s1,
            "execute_command",
            conv.args("a", json!({"command": format!("echo {}", samples[0].text)})),
        )
        .await,
        "yolo_disabled",
    );
    let mut limited = false;
    for _ in 0..16 {
        let r = call(
            &s2,
            "send_to_partner",
            conv.args(
                "b",
                json!({"message": format!("{body} {}", samples[5].text)}),
            ),
        )
        .await;
        limited |= r.is_error == Some(true);
    }
    assert!(limited, "the session should include rate-limit refusals");

    // The files while servers run (the WAL holds the recent writes).
    let live_files = env.raw_db_bytes();
    let shm = std::fs::read(format!("{}-shm", env.db.display())).unwrap_or_default();
    let (out1, err1) = s1.stop().await;
    let (out2, err2) = s2.stop().await;
    let stopped_files = env.raw_db_bytes();

    // Management commands a human would run.
    let mut outputs: Vec<(String, Run)> = Vec::new();
    for args in [
        vec!["list"],
        vec!["list", "--json"],
        vec!["show", conv.id.as_str()],
        vec!["show", conv.id.as_str(), "--full"],
        vec!["show", conv.id.as_str(), "--json"],
        vec!["audit", "--limit", "1000"],
        vec!["audit", "--limit", "1000", "--json"],
        vec!["audit", "--verify"],
        vec!["export", "--plaintext"],
        vec!["export", "--plaintext", "--jsonl"],
        vec!["tokens", conv.id.as_str()],
        vec!["tokens", conv.id.as_str(), "--json"],
    ] {
        let run = cli(&env, &args).await;
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        outputs.push((args.join(" "), run));
    }

    let tokens = vec![
        ("token", conv.a.clone()),
        ("token", conv.b.clone()),
        ("token", bad_token.clone()),
        ("token (upper case)", conv.a.to_uppercase()),
    ];
    let secrets: Vec<(&'static str, String)> = planted
        .iter()
        .map(|s| ("planted secret", s.clone()))
        .collect();
    let bodies = vec![("message body", body.clone()), ("note", note.clone())];

    // Logs: nothing at all, at trace level.
    for (name, err) in [("server 1 stderr", &err1), ("server 2 stderr", &err2)] {
        assert!(
            String::from_utf8_lossy(err).contains("serving MCP on stdio"),
            "{name} was not captured"
        );
        assert_absent(name, err, &all(&[&tokens, &secrets, &bodies]));
    }
    // The protocol: planted secrets never (redacted before storage and never
    // echoed by an error); tokens only in create_conversation's answer.
    for (name, out) in [("server 1 stdout", &out1), ("server 2 stdout", &out2)] {
        assert_absent(name, out, &secrets);
        for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let holds_token = tokens
                .iter()
                .any(|(_, t)| !find_all(line, t.as_bytes()).is_empty());
            if holds_token {
                let answer: Value = serde_json::from_slice(line).expect("stdout line is JSON");
                assert!(
                    answer["result"]["structuredContent"]["session_b_token"].is_string(),
                    "{name}: a token outside create_conversation's answer: {answer}"
                );
                assert!(
                    find_all(line, bad_token.as_bytes()).is_empty(),
                    "{name} echoed the wrong token"
                );
            }
        }
    }
    assert!(
        !find_all(&out1, conv.b.as_bytes()).is_empty(),
        "the tap did not see create_conversation's answer"
    );
    // The database files: no token, no planted secret (bodies are stored by design).
    for (path, bytes) in live_files.iter().chain(&stopped_files) {
        assert_absent(
            &path.display().to_string(),
            bytes,
            &all(&[&tokens, &secrets]),
        );
    }
    assert_absent("the -shm file", &shm, &all(&[&tokens, &secrets, &bodies]));
    // The audit table, read through SQL too (the raw bytes above cover it).
    let audit_text: String = env
        .query("SELECT coalesce(conversation_id,'') || coalesce(side,'') || coalesce(code,'') || coalesce(detail,'') FROM audit_log")
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ");
    assert_absent(
        "the audit table",
        audit_text.as_bytes(),
        &all(&[&tokens, &secrets, &bodies]),
    );

    // Commands: only `tokens` prints tokens; `list` and `audit` print no body;
    // nothing prints a planted secret; no stderr holds anything.
    for (args, run) in &outputs {
        assert_absent(
            &format!("`{args}` stderr"),
            run.stderr.as_bytes(),
            &all(&[&tokens, &secrets, &bodies]),
        );
        assert_absent(&format!("`{args}`"), run.stdout.as_bytes(), &secrets);
        if args.starts_with("tokens") {
            assert!(
                run.stdout.contains(&conv.a) && run.stdout.contains(&conv.b),
                "`{args}` should print both tokens"
            );
            assert_absent(
                &format!("`{args}`"),
                run.stdout.as_bytes(),
                &[("token", bad_token.clone())],
            );
            continue;
        }
        assert_absent(&format!("`{args}`"), run.stdout.as_bytes(), &tokens);
        // `list` shows each side's status note by design, never a message body.
        if args.starts_with("list") {
            assert_absent(&format!("`{args}`"), run.stdout.as_bytes(), &bodies[..1]);
        }
        if args.starts_with("audit") {
            assert_absent(&format!("`{args}`"), run.stdout.as_bytes(), &bodies);
        }
        if args.starts_with("show") {
            assert!(
                run.stdout.contains(&body),
                "`{args}` shows the (redacted) bodies"
            );
        }
    }
}

#[test]
fn tokens_are_compared_in_constant_time() {
    // The comparison itself is `subtle::ConstantTimeEq` (src/auth.rs); this
    // guards against a refactor replacing it with `==` on strings or bytes.
    let source = include_str!("../src/auth.rs");
    assert!(
        source.contains("ct_eq"),
        "src/auth.rs no longer compares tokens with subtle's ct_eq"
    );
}
