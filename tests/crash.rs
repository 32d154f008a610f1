//! Crash durability: a server is killed with SIGKILL in the middle of a burst
//! of writes, many times over, with `durability = "normal"` (WAL,
//! `synchronous=NORMAL`) and `"full"`. After every kill the database opens
//! cleanly (integrity check, a new server's handshake), every message whose
//! `send_to_partner` answer reached the client is delivered, nothing is
//! delivered twice or changed, and at the end the audit chain verifies with
//! exactly one `send_to_partner` record per stored message.
//!
//! Half of the rounds keep a second server long-polling the same inbox while
//! its neighbour is killed, so recovery is proven both with a live process
//! holding the database and with none. `MCP_BRIDGE_TEST_CRASH_KILLS` sets the
//! kills per durability mode (default 20). A last test counts fsyncs under
//! `strace` to show that `full` syncs every commit and `normal` does not.

use std::collections::{HashMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rmcp::service::{Peer, RoleClient};
use serde_json::{Value, json};

use crate::util::*;

/// Concurrent writers on the killed server, so the kill lands among commits.
const WRITERS: usize = 4;

/// How long a killed server may take to die (see where it is used).
const KILLED_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

fn kills() -> usize {
    std::env::var("MCP_BRIDGE_TEST_CRASH_KILLS")
        .ok()
        .map(|s| {
            s.parse()
                .unwrap_or_else(|_| panic!("MCP_BRIDGE_TEST_CRASH_KILLS={s} is not a count"))
        })
        .unwrap_or(20)
}

/// What the writers of one round saw.
#[derive(Default)]
struct Burst {
    /// Every text a send was attempted with.
    attempted: HashSet<String>,
    /// Text → id of every send whose answer arrived.
    acked: HashMap<String, i64>,
}

/// Sends distinct messages from side a through `peer` until a call fails
/// (the server was killed); reports each acknowledgement on `progress`.
async fn writer(
    peer: Peer<RoleClient>,
    conv: Conv,
    round: usize,
    k: usize,
    burst: Arc<Mutex<Burst>>,
    progress: tokio::sync::watch::Sender<usize>,
) {
    for n in 0.. {
        let text = format!("round {round} writer {k} message {n} {}", random_hex(6));
        burst.lock().unwrap().attempted.insert(text.clone());
        let args = conv.args("a", json!({"message": text}));
        match try_call(&peer, "send_to_partner", args).await {
            Ok(result) if result.is_error != Some(true) => {
                let id = structured(&result)["message_id"].as_i64().expect("id");
                let mut b = burst.lock().unwrap();
                b.acked.insert(text, id);
                progress.send_replace(b.acked.len());
            }
            Ok(result) => panic!("a send was refused before the kill: {result:?}"),
            Err(_) => return,
        }
    }
}

/// Takes everything waiting for side b through `peer`.
async fn drain(peer: &Peer<RoleClient>, conv: &Conv) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let body = check(peer, conv, "b", json!({"limit": 500})).await;
        all.extend(messages(&body));
        if body["more"] != true {
            return all;
        }
    }
}

/// Opens the database as a new process would after a crash and checks it:
/// the SQLite file's integrity and journal (a PostgreSQL database's files
/// are the server's, which a killed client cannot damage).
fn assert_opens_cleanly(env: &TestEnv) {
    if env.pg_url().is_some() {
        return;
    }
    let conn = rusqlite::Connection::open(&env.db).expect("open after the kill");
    conn.busy_timeout(EVENT_TIMEOUT).expect("busy timeout");
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok", "database damaged by the kill");
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(journal, "wal");
}

async fn killed_servers_lose_no_acknowledged_message(name: &str, durability: &str) {
    let rounds = kills();
    let env = TestEnv::new(name);
    let vars = [
        ("MCP_BRIDGE_RATE_LIMITS", "off"),
        ("MCP_BRIDGE_DURABILITY", durability),
    ];
    let setup = env.server_with(&vars).await;
    let conv = Conv::create(&setup).await;
    setup.stop().await;

    let started = Instant::now();
    let (mut total_acked, mut in_flight_committed) = (0, 0);
    let mut seen: HashSet<i64> = HashSet::new();
    for round in 0..rounds {
        // Odd rounds: a neighbour process long-polls the inbox throughout.
        let witness = if round % 2 == 1 {
            let server = env.server_with(&vars).await;
            let (peer, conv) = (server.peer(), conv.clone());
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let task = tokio::spawn({
                let stop = Arc::clone(&stop);
                async move {
                    let mut got = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::Acquire) {
                        let args = json!({"wait_seconds": 0.5, "limit": 7});
                        got.extend(messages(&check(&peer, &conv, "b", args).await));
                    }
                    got
                }
            });
            Some((server, stop, task))
        } else {
            None
        };

        let victim = env.server_with(&vars).await;
        let pid = victim.pid();
        let burst = Arc::new(Mutex::new(Burst::default()));
        let (progress, mut acked_so_far) = tokio::sync::watch::channel(0);
        let writers: Vec<_> = (0..WRITERS)
            .map(|k| {
                tokio::spawn(writer(
                    victim.peer(),
                    conv.clone(),
                    round,
                    k,
                    Arc::clone(&burst),
                    progress.clone(),
                ))
            })
            .collect();
        drop(progress);
        // A random point of the burst: after 1 to 60 acknowledgements.
        let target = 1 + usize::from(random_hex(1).as_bytes()[0]) % 60;
        tokio::time::timeout(EVENT_TIMEOUT, acked_so_far.wait_for(|n| *n >= target))
            .await
            .expect("the burst started")
            .expect("writers alive");
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let killed = unsafe { libc::kill(i32::try_from(pid).expect("pid"), libc::SIGKILL) };
        assert_eq!(killed, 0, "kill -9 {pid}");
        // A process killed inside an `fsync` dies when the sync returns, and
        // with every commit synced on a disk busy with other work (a build
        // beside the tests) that took over 10 s once: a generous bound.
        for w in writers {
            tokio::time::timeout(KILLED_WITHIN, w)
                .await
                .expect("writers notice the kill")
                .expect("writer task");
        }
        let status = victim.stop_within(KILLED_WITHIN).await.status;
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");

        let mut delivered = Vec::new();
        if let Some((server, stop, task)) = witness {
            // The neighbour kept serving through the kill.
            stop.store(true, std::sync::atomic::Ordering::Release);
            delivered.extend(
                tokio::time::timeout(EVENT_TIMEOUT, task)
                    .await
                    .expect("the witness survives its neighbour's kill")
                    .expect("witness task"),
            );
            delivered.extend(drain(&server, &conv).await);
            server.stop().await;
        }
        assert_opens_cleanly(&env);
        let reader = env.server_with(&vars).await;
        delivered.extend(drain(&reader, &conv).await);
        reader.stop().await;

        let burst = burst.lock().unwrap();
        let mut round_ids = HashSet::new();
        for m in &delivered {
            let id = m["id"].as_i64().expect("id");
            let text = m["content"].as_str().expect("content");
            assert!(seen.insert(id), "message {id} delivered twice");
            assert!(
                burst.attempted.contains(text),
                "round {round}: delivered a text never sent: {text:?}"
            );
            if let Some(acked_id) = burst.acked.get(text) {
                assert_eq!(*acked_id, id, "round {round}: {text:?} changed id");
            } else {
                in_flight_committed += 1;
            }
            round_ids.insert(id);
        }
        let lost: Vec<_> = burst
            .acked
            .iter()
            .filter(|(_, id)| !round_ids.contains(id))
            .collect();
        assert!(
            lost.is_empty(),
            "round {round} ({durability}): {} acknowledged messages lost after SIGKILL: {lost:?}",
            lost.len()
        );
        total_acked += burst.acked.len();
    }

    assert_opens_cleanly(&env);
    // First, as it links what the last killed server staged (on PostgreSQL).
    let _ = assert_audit_intact(&env, "audit chain broken after the kills");
    let stored = rows(&env, "messages");
    assert_eq!(
        env.count(
            "SELECT count(*) FROM audit_log WHERE action = 'send_to_partner' AND outcome = 'ok'"
        ),
        stored,
        "every stored message has its audit record and no other send was recorded"
    );
    assert_eq!(stored as usize, seen.len(), "stored but never delivered");
    eprintln!(
        "crash ({durability}): {rounds} SIGKILLs in {:.1} s; {total_acked} acknowledged messages all delivered, \
         {in_flight_committed} more committed while their answer was in flight, 0 lost, audit chain intact",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_message_with_normal_durability() {
    killed_servers_lose_no_acknowledged_message("crash_normal", "normal").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_message_with_full_durability() {
    killed_servers_lose_no_acknowledged_message("crash_full", "full").await;
}

/// `serve` run under `strace`, counting its fsync-family calls into a file.
fn traced_serve(
    env: &TestEnv,
    vars: &[(&str, &str)],
    out: &std::path::Path,
) -> std::process::Command {
    let inner = env.serve_command(vars);
    let mut cmd = std::process::Command::new("strace");
    cmd.args(["-f", "-c", "-e", "trace=fsync,fdatasync", "-o"])
        .arg(out)
        .arg("--")
        .arg(inner.get_program())
        .args(inner.get_args());
    for (key, value) in inner.get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    if let Some(dir) = inner.get_current_dir() {
        cmd.current_dir(dir);
    }
    cmd
}

/// Total calls in an `strace -c` summary.
fn syncs(summary: &str) -> u64 {
    summary
        .lines()
        .filter(|l| l.trim_end().ends_with("fsync") || l.trim_end().ends_with("fdatasync"))
        .filter_map(|l| l.split_whitespace().nth(3)?.parse::<u64>().ok())
        .sum()
}

/// `durability = "full"` reaches SQLite: every commit is synced (one fsync per
/// send), while `normal` syncs only at checkpoints. Counted with strace, which
/// this machine kind ships; without it (or without ptrace) the test says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_durability_syncs_every_commit_and_normal_does_not() {
    const SENDS: u64 = 30;
    let ok_strace = std::process::Command::new("strace")
        .args(["-f", "-o", "/dev/null", "--", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok_strace {
        eprintln!("strace is not available here (or ptrace is not allowed): not counting fsyncs");
        return;
    }
    let env = TestEnv::new("durability_syncs");
    if env.sqlite_only(
        "counts SQLite's fsyncs in the bridge process; on PostgreSQL the server \
         syncs, and durability sets its synchronous_commit",
    ) {
        return;
    }
    let mut counted = Vec::new();
    for mode in ["normal", "full"] {
        let vars = [
            ("MCP_BRIDGE_RATE_LIMITS", "off"),
            ("MCP_BRIDGE_DURABILITY", mode),
        ];
        let setup = env.server_with(&vars).await;
        let conv = Conv::create(&setup).await;
        setup.stop().await;
        let out = env.dir.join(format!("strace-{mode}.txt"));
        let server = Server::spawn(traced_serve(&env, &vars, &out)).await;
        for i in 0..SENDS {
            send(&server, &conv, "a", &format!("m{i}")).await;
        }
        server.stop().await;
        let summary = std::fs::read_to_string(&out).expect("strace summary");
        counted.push((mode, syncs(&summary)));
    }
    eprintln!("durability: fsync calls for {SENDS} sends: {counted:?}");
    let (normal, full) = (counted[0].1, counted[1].1);
    assert!(
        full >= SENDS,
        "full durability synced only {full} times for {SENDS} commits"
    );
    assert!(
        normal < SENDS / 3,
        "normal durability synced {normal} times for {SENDS} commits"
    );
}
