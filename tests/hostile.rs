//! Hostile input over the wire: raw bytes written to a real server's stdin.
//! Malformed JSON, JSON that is not JSON-RPC, unknown methods, messages
//! before `initialize`, duplicate ids, a 10 MB line, deep nesting, invalid
//! UTF-8, NUL bytes, numbers out of range, every argument of every tool with
//! every wrong JSON type, `wait_seconds: 1e308`. Each gets its proper answer
//! (a JSON-RPC error with its id where one can be found, a tool error, or —
//! for a notification or a stray response — nothing), a `ping` right after
//! each is answered, the server's peak memory (VmHWM) stays bounded across
//! repeated rounds, and a normal session works at the end.
//!
//! The lines themselves and the wrong-typed arguments are listed in
//! `hostile_cases`.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::hostile_cases::{wire_cases, wrong_types};
use crate::util::*;

/// A server driven through raw bytes.
pub(crate) struct Raw {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    out: tokio::sync::mpsc::UnboundedReceiver<Value>,
    stderr: tokio::task::JoinHandle<Vec<u8>>,
    sentinel: u64,
    /// Hostile inputs written so far.
    tried: usize,
}

/// What one hostile line must be answered with.
#[derive(Debug, Clone)]
pub(crate) enum Expect {
    /// A JSON-RPC error with this id (`Value::Null`: none) and one of these codes.
    Error(Value, &'static [i64]),
    /// A successful result with this id.
    Result(Value),
    /// A tool result with `isError` and this code.
    ToolError(Value, &'static str),
}

pub(crate) const PARSE: &[i64] = &[-32700];
pub(crate) const INVALID_REQUEST: &[i64] = &[-32600];
/// A line with no recoverable id: JSON-RPC asks for -32700 (parse) or -32600
/// (invalid request), both with a null id; the server answers the latter.
pub(crate) const NO_ID: &[i64] = &[-32700, -32600];
pub(crate) const NOT_FOUND: &[i64] = &[-32601];
/// A broken line with an id before `initialize`: rmcp's handshake answers the
/// guard's stand-in for it as a request without protocol metadata (-32602).
const PRE_INIT_PARSE: &[i64] = &[-32700, -32602];
pub(crate) const INVALID_PARAMS: &[i64] = &[-32602];
/// `tools/call` with unusable params: invalid params (rmcp's typed request
/// falls back to an unknown one, which the server recognises).
pub(crate) const BAD_CALL: &[i64] = &[-32602];

impl Raw {
    async fn spawn(env: &TestEnv) -> Raw {
        let mut cmd = tokio::process::Command::from(env.serve_command(&[]));
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn mcp-bridge serve");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let (tx, out) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let value: Value = serde_json::from_slice(&line).unwrap_or_else(|e| {
                    panic!(
                        "stdout carried a line that is not JSON ({e}): {:?}",
                        String::from_utf8_lossy(&line[..line.len().min(300)])
                    )
                });
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let stderr = tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = err.read_to_end(&mut buf).await;
            buf
        });
        Raw {
            child,
            stdin,
            out,
            stderr,
            sentinel: 0,
            tried: 0,
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        tokio::time::timeout(Duration::from_secs(30), async {
            self.stdin.write_all(bytes).await.expect("write stdin");
            if !bytes.ends_with(b"\n") {
                self.stdin.write_all(b"\n").await.expect("write stdin");
            }
            self.stdin.flush().await.expect("flush stdin");
        })
        .await
        .expect("the server stopped reading its stdin");
    }

    async fn next(&mut self, waiting_for: &str) -> Value {
        tokio::time::timeout(EVENT_TIMEOUT, self.out.recv())
            .await
            .unwrap_or_else(|_| panic!("no answer while waiting for {waiting_for}"))
            .unwrap_or_else(|| panic!("the server closed stdout while waiting for {waiting_for}"))
    }

    /// Writes `line`, then a `ping` with a fresh id, and reads until the ping
    /// is answered and every expected answer has arrived; anything else fails.
    pub(crate) async fn exchange(&mut self, what: &str, line: &[u8], expect: &[Expect]) {
        self.tried += 1;
        self.sentinel += 1;
        let ping =
            json!({"jsonrpc": "2.0", "id": format!("ping-{}", self.sentinel), "method": "ping"});
        self.write(line).await;
        self.write(ping.to_string().as_bytes()).await;
        let mut open: Vec<Expect> = expect.to_vec();
        let mut pinged = false;
        while !pinged || !open.is_empty() {
            let msg = self.next(what).await;
            if msg["id"] == ping["id"] {
                assert!(
                    msg.get("result").is_some(),
                    "{what}: ping after it failed: {msg}"
                );
                pinged = true;
                continue;
            }
            let at = open
                .iter()
                .position(|e| matches(e, &msg))
                .unwrap_or_else(|| {
                    panic!(
                        "{what}: unexpected answer {}; expected {open:?}",
                        shorten(&msg)
                    )
                });
            open.remove(at);
        }
    }

    /// Peak resident memory of the server, in KiB.
    fn hwm_kib(&self) -> u64 {
        let pid = self.child.id().expect("server running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }

    /// Closes stdin and waits for a clean exit; returns stderr.
    async fn close(self) -> String {
        let Raw {
            mut child,
            stdin,
            stderr,
            ..
        } = self;
        drop(stdin);
        let status = tokio::time::timeout(EVENT_TIMEOUT, child.wait())
            .await
            .expect("server exits when stdin closes")
            .expect("wait");
        let stderr = String::from_utf8_lossy(&stderr.await.unwrap_or_default()).into_owned();
        assert!(status.success(), "server exited with {status:?}:\n{stderr}");
        stderr
    }
}

fn matches(expect: &Expect, msg: &Value) -> bool {
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    match expect {
        Expect::Error(want, codes) => {
            id == *want
                && msg["error"]["code"]
                    .as_i64()
                    .is_some_and(|c| codes.contains(&c))
                && msg["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
        }
        Expect::Result(want) => id == *want && msg.get("result").is_some(),
        Expect::ToolError(want, code) => {
            id == *want
                && msg["result"]["isError"] == true
                && raw_error_code(&msg["result"]) == Some(*code)
        }
    }
}

fn shorten(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 400 {
        format!("{}… ({} bytes)", &s[..400], s.len())
    } else {
        s
    }
}

pub(crate) fn request(id: u64, method: &str, params: Value) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
        .to_string()
        .into_bytes()
}

pub(crate) fn tool_call(id: u64, tool: &str, arguments: Value) -> Vec<u8> {
    request(
        id,
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
    )
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"hostile","version":"0"}}}"#;

/// Messages before `initialize`: stray ones are dropped, requests answered,
/// and the handshake still works afterwards.
async fn before_initialize(raw: &mut Raw) {
    let none: &[Expect] = &[];
    raw.exchange(
        "initialized notification first",
        br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        none,
    )
    .await;
    raw.exchange(
        "a cancellation first",
        br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}"#,
        none,
    )
    .await;
    raw.exchange(
        "a response first",
        br#"{"jsonrpc":"2.0","id":5,"result":{}}"#,
        none,
    )
    .await;
    raw.exchange(
        "an error response first",
        br#"{"jsonrpc":"2.0","id":6,"error":{"code":1,"message":"x"}}"#,
        none,
    )
    .await;
    raw.exchange(
        "tools/list before initialize",
        &request(1, "tools/list", json!({})),
        &[Expect::Error(json!(1), INVALID_PARAMS)],
    )
    .await;
    raw.exchange(
        "tools/call before initialize",
        &tool_call(
            2,
            "create_conversation",
            json!({"my_role": "left", "partner_role": "right"}),
        ),
        &[Expect::Error(json!(2), INVALID_PARAMS)],
    )
    .await;
    raw.exchange(
        "initialize without params",
        br#"{"jsonrpc":"2.0","id":7,"method":"initialize"}"#,
        &[Expect::Error(json!(7), INVALID_PARAMS)],
    )
    .await;
    raw.exchange(
        "garbage before initialize",
        b"hello?",
        &[Expect::Error(Value::Null, NO_ID)],
    )
    .await;
    raw.exchange(
        "truncated initialize",
        &INITIALIZE.as_bytes()[..60],
        &[Expect::Error(json!("init"), PRE_INIT_PARSE)],
    )
    .await;
    raw.exchange(
        "initialize",
        INITIALIZE.as_bytes(),
        &[Expect::Result(json!("init"))],
    )
    .await;
    raw.write(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bytes_get_proper_answers_and_memory_stays_bounded() {
    let env = TestEnv::new("hostile");
    let mut raw = Raw::spawn(&env).await;
    before_initialize(&mut raw).await;
    let baseline = raw.hwm_kib();

    raw.write(&request(1, "tools/list", json!({}))).await;
    let listed = raw.next("tools/list").await;
    let tools = listed["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("tools/list answered {listed}"))
        .clone();
    assert_eq!(tools.len(), 12, "every tool is listed");

    let (mut inputs_peaks, mut peaks) = (Vec::new(), Vec::new());
    let mut wrong = 0;
    for _round in 0..3 {
        for (what, line, expect) in wire_cases() {
            raw.exchange(what, &line, &expect).await;
        }
        // Duplicate ids: JSON-RPC asks clients not to reuse an id in flight;
        // the server still answers at least once and keeps serving.
        raw.tried += 1;
        raw.write(&request(160, "ping", json!({}))).await;
        raw.write(&request(160, "ping", json!({}))).await;
        raw.write(&request(161, "ping", json!({}))).await;
        let mut seen = Vec::new();
        while !seen.contains(&json!(161)) {
            seen.push(raw.next("duplicate ids").await["id"].clone());
        }
        assert!(
            seen.contains(&json!(160)),
            "no answer to a duplicated id: {seen:?}"
        );
        raw.exchange("after duplicate ids", b"", &[]).await;
        wrong = wrong_types(&mut raw, &tools).await;
        inputs_peaks.push(raw.hwm_kib());
        // A flood of 20 000 requests in one write: all answered.
        raw.tried += 1;
        let flood: Vec<u8> = (0..20_000u64)
            .flat_map(|i| {
                let mut l = request(1_000_000 + i, "ping", json!({}));
                l.push(b'\n');
                l
            })
            .collect();
        raw.write(&flood).await;
        for _ in 0..20_000 {
            let answer = raw.next("the flood").await;
            assert!(answer.get("result").is_some(), "{answer}");
        }
        peaks.push(raw.hwm_kib());
    }

    // The connection still serves a normal session.
    raw.write(&tool_call(
        200,
        "create_conversation",
        json!({"my_role": "dev", "partner_role": "ops"}),
    ))
    .await;
    let created = raw.next("create_conversation").await;
    let conv = &created["result"]["structuredContent"];
    let args = |extra: Value| {
        let mut a = json!({"conversation_id": conv["conversation_id"], "session_id": "b", "token": conv["session_b_token"]});
        merge(&mut a, extra);
        a
    };
    raw.write(&tool_call(
        201,
        "send_to_partner",
        args(json!({"message": "still here"})),
    ))
    .await;
    assert!(raw.next("send").await["result"]["structuredContent"]["message_id"].is_i64());

    let growth_mib = |kib: u64| (kib.saturating_sub(baseline)) as f64 / 1024.0;
    let shown = |v: &[u64]| {
        v.iter()
            .map(|p| format!("{:.1}", growth_mib(*p)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    eprintln!(
        "hostile: {} hostile inputs over 3 rounds ({wrong} wrong-typed arguments and a flood of 20 000 requests per round); \
         VmHWM {:.1} MiB after initialize, growth after each round's inputs [{}] MiB, after each flood [{}] MiB",
        raw.tried,
        baseline as f64 / 1024.0,
        shown(&inputs_peaks),
        shown(&peaks),
    );
    // Bounded: the inputs (lines up to the 4 MiB limit, 10 MB lines skipped)
    // cost a few copies of the largest accepted line; 20 000 requests in flight
    // at once cost what their tasks and queued answers hold; and nothing grows
    // once every input has been seen once.
    assert!(
        growth_mib(inputs_peaks[0]) < 64.0,
        "peak memory grew by {:.1} MiB on the hostile inputs",
        growth_mib(inputs_peaks[0])
    );
    assert!(
        growth_mib(peaks[0]) < 256.0,
        "peak memory grew by {:.1} MiB with the flood",
        growth_mib(peaks[0])
    );
    assert!(
        peaks[2].saturating_sub(peaks[0]) < 8 * 1024,
        "peak memory keeps growing from round to round: {peaks:?} KiB"
    );
    let stderr = raw.close().await;
    for bad in [
        "panicked",
        "internal error",
        "sk-proj-0123456789",
        "mmmmmmmmmmmmmmmm",
    ] {
        assert!(
            !stderr.contains(bad),
            "stderr holds {bad:?}:\n{}",
            &stderr[..stderr.len().min(3000)]
        );
    }
}

/// A client that vanishes in the middle of a line: the partial line is
/// ignored and the server exits cleanly.
#[tokio::test]
async fn a_half_written_line_at_end_of_input_is_ignored() {
    let env = TestEnv::new("hostile_eof");
    let mut raw = Raw::spawn(&env).await;
    raw.write(INITIALIZE.as_bytes()).await;
    assert!(raw.next("initialize").await.get("result").is_some());
    raw.stdin
        .write_all(br#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"send_to"#)
        .await
        .expect("write");
    let stderr = raw.close().await;
    assert!(!stderr.contains("panicked"), "{stderr}");
}
