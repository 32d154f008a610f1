//! Load on `mcp-bridge serve --http` (release build, SQLite or with `--db
//! postgres://…` PostgreSQL, rate limits off, a shared bearer token): 50 concurrent clients sending as fast as they
//! can; long-poll wake-ups with 25 waiting clients and 25 senders; the server's
//! memory with 10 000 idle long-polls, and how long a SIGTERM takes to end them.
//!
//! Every request is a stateless 2026-07-28 `tools/call` over keep-alive
//! connections, answered with a JSON body. The client shares the machine's
//! cores with the server, so the figures are a floor.
//!
//! Run: `cargo bench --bench http` (options: `-- --clients 50 --seconds 5
//! --rounds 40 --idle 10000 --db postgres://…`). `HTTP_BENCH_SERVER=path/to/mcp-bridge`
//! runs another build's server under the same client.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const TOKEN: &str = "bench-token-0123456789abcdef";

struct Options {
    clients: usize,
    seconds: u64,
    rounds: usize,
    idle: usize,
    /// A PostgreSQL URL (a fresh database) instead of a temporary SQLite file.
    db: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        clients: 50,
        seconds: 5,
        rounds: 40,
        idle: 10_000,
        db: None,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        if args[i] == "--db"
            && let Some(url) = args.get(i + 1)
        {
            o.db = Some(url.clone());
            i += 2;
            continue;
        }
        let value = args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (args[i].as_str(), value) {
            ("--clients", Some(v)) => o.clients = v as usize,
            ("--seconds", Some(v)) => o.seconds = v,
            ("--rounds", Some(v)) => o.rounds = v as usize,
            ("--idle", Some(v)) => o.idle = v as usize,
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

struct Bench {
    http: reqwest::Client,
    url: String,
    next_id: AtomicU64,
}

struct Conv {
    id: String,
    a: String,
    b: String,
}

impl Bench {
    async fn call(&self, tool: &str, arguments: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments, "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            }},
        });
        let response = self
            .http
            .post(&self.url)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", tool)
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        let text = response.text().await.expect("body");
        let message: Value = serde_json::from_str(&text).expect("JSON answer");
        let result = message["result"].clone();
        assert_ne!(result["isError"], true, "{tool}: {text}");
        result["structuredContent"].clone()
    }

    async fn conversation(&self) -> Conv {
        let c = self
            .call(
                "create_conversation",
                json!({"my_role": "sender", "partner_role": "reader"}),
            )
            .await;
        let s = |k: &str| c[k].as_str().expect("field").to_owned();
        Conv {
            id: s("conversation_id"),
            a: s("session_a_token"),
            b: s("session_b_token"),
        }
    }

    async fn send(&self, conv: &Conv, text: &str) {
        self.call(
            "send_to_partner",
            json!({"conversation_id": conv.id, "session_id": "a", "token": conv.a, "message": text}),
        )
        .await;
    }

    async fn check(&self, conv: &Conv, wait: u64) -> Value {
        self.call(
            "check_messages",
            json!({"conversation_id": conv.id, "session_id": "b", "token": conv.b, "wait_seconds": wait}),
        )
        .await
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(o));
}

async fn run(o: Options) {
    let dir = tempfile::tempdir().expect("temp dir");
    // Another build's server, to compare two builds with one client (not an
    // MCP_BRIDGE_ variable: the server refuses settings it does not know).
    let server = std::env::var_os("HTTP_BENCH_SERVER")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_mcp-bridge").into());
    let db =
        o.db.clone()
            .map_or_else(|| dir.path().join("bench.db").into_os_string(), Into::into);
    let mut child = tokio::process::Command::new(server)
        .args(["serve", "--http", "127.0.0.1:0", "--db"])
        .arg(db)
        .env("MCP_BRIDGE_KEY_FILE", dir.path().join("bridge.key"))
        .env("MCP_BRIDGE_RATE_LIMITS", "off")
        .env("MCP_BRIDGE_HTTP_TOKEN", TOKEN)
        .env("MCP_BRIDGE_LOG", "warn")
        .env("XDG_CONFIG_HOME", dir.path())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn mcp-bridge serve --http");
    let pid = child.id().expect("pid");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let url = loop {
        let line = lines
            .next_line()
            .await
            .expect("stderr")
            .expect("server line");
        if let Some(url) = line.strip_prefix("mcp-bridge: serving MCP on ") {
            break url.to_owned();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let bench = Arc::new(Bench {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(usize::MAX)
            .build()
            .expect("client"),
        url,
        next_id: AtomicU64::new(1),
    });
    println!(
        "server {} (pid {pid}), RSS {} KiB at start",
        bench.url,
        rss_kib(pid)
    );

    // 1. Throughput: every client sends to its own conversation.
    let mut convs = Vec::new();
    for _ in 0..o.clients {
        convs.push(Arc::new(bench.conversation().await));
    }
    let deadline = Instant::now() + Duration::from_secs(o.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for conv in &convs {
        let (bench, conv) = (Arc::clone(&bench), Arc::clone(conv));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                bench
                    .send(&conv, "a message of ordinary length, nothing secret in it")
                    .await;
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    println!(
        "sends: {} clients, {:.0}/s ({} in {:.1} s); latency p50 {:.2} ms, p99 {:.2} ms",
        o.clients,
        latencies.len() as f64 / elapsed,
        latencies.len(),
        elapsed,
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    );
    // Empty every inbox before the wake-up rounds.
    for conv in &convs {
        loop {
            let page = bench.call(
                "check_messages",
                json!({"conversation_id": conv.id, "session_id": "b", "token": conv.b, "limit": 500}),
            )
            .await;
            if page["more"] != true {
                break;
            }
        }
    }

    // 2. Wake-ups: half the clients wait, the other half send to them.
    let pairs = (o.clients / 2).max(1);
    let mut tasks = Vec::new();
    for conv in convs.iter().take(pairs) {
        let (bench, conv) = (Arc::clone(&bench), Arc::clone(conv));
        let rounds = o.rounds;
        tasks.push(tokio::spawn(async move {
            let mut wakes = Vec::new();
            for _ in 0..rounds {
                let waiter = {
                    let (bench, conv) = (Arc::clone(&bench), Arc::clone(&conv));
                    tokio::spawn(async move {
                        let page = bench.check(&conv, 30).await;
                        (Instant::now(), page)
                    })
                };
                // Let the long-poll reach the server and start waiting.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let sent_at = Instant::now();
                bench.send(&conv, "wake up").await;
                let (woken_at, page) = waiter.await.expect("waiter");
                assert_eq!(page["messages"].as_array().map(Vec::len), Some(1), "{page}");
                wakes.push(woken_at.saturating_duration_since(sent_at));
            }
            wakes
        }));
    }
    let mut wakes = Vec::new();
    for t in tasks {
        wakes.extend(t.await.expect("task"));
    }
    wakes.sort();
    println!(
        "long-poll wake-up (send issued → waiter's answer received), {} waiting + {} sending clients, {} wake-ups: p50 {:.2} ms, p99 {:.2} ms",
        pairs,
        pairs,
        wakes.len(),
        percentile(&wakes, 0.5).as_secs_f64() * 1e3,
        percentile(&wakes, 0.99).as_secs_f64() * 1e3,
    );

    // 3. Idle long-polls: memory per waiting call.
    if o.idle > 0 {
        let before = rss_kib(pid);
        let mut waiting = Vec::with_capacity(o.idle);
        for i in 0..o.idle {
            let (bench, conv) = (Arc::clone(&bench), Arc::clone(&convs[i % convs.len()]));
            waiting.push(tokio::spawn(async move { bench.check(&conv, 60).await }));
        }
        // Settled when the RSS has not grown for a second.
        let mut last = rss_kib(pid);
        let mut still = 0;
        while still < 10 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = rss_kib(pid);
            if now > last {
                still = 0;
                last = now;
            } else {
                still += 1;
            }
        }
        let after = rss_kib(pid);
        println!(
            "{} idle long-polls: server RSS {} → {} KiB, {:.2} KiB ({} bytes) per waiting call (connection, request and wait together)",
            o.idle,
            before,
            after,
            (after.saturating_sub(before)) as f64 / o.idle as f64,
            (after.saturating_sub(before)) * 1024 / o.idle as u64,
        );
        let stopping = Instant::now();
        // SAFETY: kill(2) on the child this bench started.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        let mut empty = 0;
        for w in waiting {
            if let Ok(page) = w.await
                && page["messages"].as_array().is_some_and(Vec::is_empty)
            {
                empty += 1;
            }
        }
        let status = child.wait().await.expect("wait");
        println!(
            "SIGTERM: {empty} of {} long-polls answered empty, server exited ({status}) after {:.2} s",
            o.idle,
            stopping.elapsed().as_secs_f64()
        );
    }
}
