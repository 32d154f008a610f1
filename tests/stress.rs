//! Concurrency stress: 16 `serve` processes on one database, 8 conversations,
//! both sides of each sending and checking at once (plain checks and
//! long-polls), 16 000 messages in all. Afterwards every acknowledged message
//! was delivered exactly once, in each sender's order, no call failed (no
//! `busy` reached a client), SQLite's integrity check passes and the audit
//! chain verifies.
//!
//! `MCP_BRIDGE_TEST_STRESS_SCALE` multiplies the message count (default 1;
//! e.g. `10` for a longer run, `0.1` for a quick one).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rmcp::service::{Peer, RoleClient};
use serde_json::json;

use crate::util::*;

const PROCESSES: usize = 16;
const CONVERSATIONS: usize = 8;
/// Messages at scale 1: 1 000 per sender, 16 senders (both sides of 8 conversations).
const MESSAGES: usize = 16_000;
/// Competing checkers per inbox, each on its own process.
const CHECKERS_PER_INBOX: usize = 2;

const SIDES: [&str; 2] = ["a", "b"];

/// The message count for this run, from `MCP_BRIDGE_TEST_STRESS_SCALE`.
fn message_count() -> usize {
    let scale = std::env::var("MCP_BRIDGE_TEST_STRESS_SCALE")
        .ok()
        .map(|s| {
            s.parse::<f64>()
                .unwrap_or_else(|_| panic!("MCP_BRIDGE_TEST_STRESS_SCALE={s} is not a number"))
        })
        .unwrap_or(1.0);
    assert!(scale > 0.0, "MCP_BRIDGE_TEST_STRESS_SCALE must be positive");
    let senders = CONVERSATIONS * SIDES.len();
    (((MESSAGES as f64 * scale) as usize).max(senders) / senders) * senders
}

/// A small deterministic generator, so a failing run can be repeated from its seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// What a sender learnt from one acknowledged send.
#[derive(Debug, Clone)]
struct Acked {
    id: i64,
    conversation: usize,
    from: &'static str,
    seq: usize,
    content: String,
}

/// A delivered message as a checker saw it.
#[derive(Debug, Clone)]
struct Delivered {
    id: i64,
    from: String,
    content: String,
}

/// Refusals and failures seen by clients (there must be none).
type Failures = Arc<std::sync::Mutex<Vec<String>>>;

fn failure(failures: &Failures, what: String) {
    failures.lock().unwrap().push(what);
}

/// Sends `count` messages from `side` of conversation `c`, rotating through
/// `peers` so consecutive messages of one sender travel through different
/// processes. Each send waits for its answer, so send order is well defined.
async fn sender(
    peers: Vec<Peer<RoleClient>>,
    conv: Conv,
    c: usize,
    side: &'static str,
    count: usize,
    seed: u64,
    failures: Failures,
) -> Vec<Acked> {
    let mut rng = Rng::new(seed);
    let mut acked = Vec::with_capacity(count);
    for seq in 0..count {
        let filler = "lorem ipsum ".repeat(rng.below(40));
        let content = format!("c{c} {side} #{seq} {filler}end");
        let peer = &peers[seq % peers.len()];
        let result = match try_call(
            peer,
            "send_to_partner",
            conv.args(side, json!({"message": content, "action_type": "info"})),
        )
        .await
        {
            Ok(r) => r,
            Err(e) => {
                failure(&failures, format!("send c{c} {side} #{seq}: JSON-RPC {e}"));
                continue;
            }
        };
        if result.is_error == Some(true) {
            failure(
                &failures,
                format!("send c{c} {side} #{seq}: {:?}", result.content),
            );
            continue;
        }
        let body = structured(&result);
        acked.push(Acked {
            id: body["message_id"].as_i64().expect("message_id"),
            conversation: c,
            from: side,
            seq,
            content,
        });
    }
    acked
}

/// Checks `side`'s inbox of `conv` until the senders are done and a check
/// started after that finds it empty; mixes plain checks and long-polls and
/// page sizes. Returns the pages it received, in order.
async fn checker(
    peer: Peer<RoleClient>,
    conv: Conv,
    side: &'static str,
    done: Arc<AtomicBool>,
    seed: u64,
    failures: Failures,
    blocked: Arc<AtomicUsize>,
) -> Vec<Delivered> {
    const WAITS: [f64; 4] = [0.0, 0.5, 2.0, 2.0];
    const LIMITS: [u32; 4] = [1, 7, 50, 500];
    let mut rng = Rng::new(seed);
    let mut received = Vec::new();
    loop {
        let finished = done.load(Ordering::Acquire);
        let wait = if finished {
            0.0
        } else {
            WAITS[rng.below(WAITS.len())]
        };
        let limit = LIMITS[rng.below(LIMITS.len())];
        let asked = Instant::now();
        let result = match try_call(
            &peer,
            "check_messages",
            conv.args(side, json!({"wait_seconds": wait, "limit": limit})),
        )
        .await
        {
            Ok(r) => r,
            Err(e) => {
                failure(&failures, format!("check {side}: JSON-RPC {e}"));
                return received;
            }
        };
        if result.is_error == Some(true) {
            failure(&failures, format!("check {side}: {:?}", result.content));
            return received;
        }
        let body = structured(&result);
        let page = messages(&body);
        // A long-poll that really waited (woken by another process's send, or timed out).
        if wait > 0.0 && asked.elapsed() >= Duration::from_millis(100) {
            blocked.fetch_add(1, Ordering::Relaxed);
        }
        if page.len() > limit as usize {
            failure(
                &failures,
                format!("a page of {} exceeds limit {limit}", page.len()),
            );
        }
        if page.is_empty() && finished {
            return received;
        }
        received.extend(page.iter().map(|m| Delivered {
            id: m["id"].as_i64().expect("id"),
            from: m["from_session"].as_str().unwrap_or_default().to_owned(),
            content: m["content"].as_str().unwrap_or_default().to_owned(),
        }));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_processes_deliver_every_message_exactly_once_in_order() {
    let total = message_count();
    let per_sender = total / (CONVERSATIONS * SIDES.len());
    let seed = u64::from_str_radix(&random_hex(8), 16).expect("hex seed");
    eprintln!(
        "stress: {PROCESSES} processes, {CONVERSATIONS} conversations, {total} messages, seed {seed:#x}"
    );
    let env = TestEnv::new("stress");
    let vars = [
        ("MCP_BRIDGE_RATE_LIMITS", "off"),
        ("MCP_BRIDGE_LIMITS__MAX_PENDING_MESSAGES", "1000000000"),
    ];
    let mut servers = Vec::with_capacity(PROCESSES);
    for _ in 0..PROCESSES {
        servers.push(env.server_with(&vars).await);
    }
    let peers: Vec<Peer<RoleClient>> = servers.iter().map(Server::peer).collect();
    let mut convs = Vec::with_capacity(CONVERSATIONS);
    for c in 0..CONVERSATIONS {
        convs.push(Conv::create(&peers[c % PROCESSES]).await);
    }

    let started = Instant::now();
    let failures: Failures = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let blocked = Arc::new(AtomicUsize::new(0));
    let mut checkers = Vec::new();
    let mut senders = Vec::new();
    let mut rng = Rng::new(seed);
    for (c, conv) in convs.iter().enumerate() {
        for (s, side) in SIDES.into_iter().enumerate() {
            let stream = c * SIDES.len() + s;
            for k in 0..CHECKERS_PER_INBOX {
                let peer = peers[(stream * 5 + k * 7 + 3) % PROCESSES].clone();
                let task = tokio::spawn(checker(
                    peer,
                    conv.clone(),
                    side,
                    Arc::clone(&done),
                    rng.next(),
                    Arc::clone(&failures),
                    Arc::clone(&blocked),
                ));
                checkers.push(((c, side), task));
            }
            let route: Vec<_> = (0..4)
                .map(|k| peers[(stream + k * 4) % PROCESSES].clone())
                .collect();
            senders.push(tokio::spawn(sender(
                route,
                conv.clone(),
                c,
                side,
                per_sender,
                rng.next(),
                Arc::clone(&failures),
            )));
        }
    }

    let mut acked = Vec::with_capacity(total);
    for task in senders {
        acked.extend(task.await.expect("sender task"));
    }
    let sending = started.elapsed();
    done.store(true, Ordering::Release);
    let mut deliveries: Vec<((usize, &str), Vec<Delivered>)> = Vec::new();
    for (inbox, task) in checkers {
        let received = tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("a checker did not finish within 60 s of the last send")
            .expect("checker task");
        deliveries.push((inbox, received));
    }
    let elapsed = started.elapsed();
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} calls failed (busy: {}), first: {:?}",
        failures.len(),
        failures.iter().filter(|f| f.contains("busy")).count(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(acked.len(), total, "not every send was acknowledged");
    let blocked = blocked.load(Ordering::Relaxed);
    assert!(
        blocked > 0,
        "no long-poll ever waited: the run did not exercise wake-ups"
    );

    // Ids follow each sender's order.
    let mut by_id: HashMap<i64, &Acked> = HashMap::with_capacity(total);
    let mut last_of: BTreeMap<(usize, &str), (usize, i64)> = BTreeMap::new();
    for a in &acked {
        assert!(by_id.insert(a.id, a).is_none(), "message id {} twice", a.id);
        if let Some((seq, id)) = last_of.insert((a.conversation, a.from), (a.seq, a.id)) {
            assert!(
                seq < a.seq && id < a.id,
                "ids out of send order for c{} {}",
                a.conversation,
                a.from
            );
        }
    }

    // Every delivery is an acknowledged message of the partner, with its text;
    // each checker sees each sender's messages in order; nothing twice.
    let mut delivered_ids: Vec<i64> = Vec::with_capacity(total);
    for ((c, side), received) in &deliveries {
        let mut last_seq: Option<usize> = None;
        for d in received {
            let a = by_id
                .get(&d.id)
                .unwrap_or_else(|| panic!("delivered message {} was never acknowledged", d.id));
            assert_eq!(
                (a.conversation, a.from, d.from.as_str(), d.content.as_str()),
                (*c, partner(side), partner(side), a.content.as_str()),
                "message {} reached the wrong inbox or changed",
                d.id
            );
            assert!(
                last_seq.is_none_or(|s| s < a.seq),
                "c{c} {side}: message #{} after #{last_seq:?}",
                a.seq
            );
            last_seq = Some(a.seq);
            delivered_ids.push(d.id);
        }
    }
    let delivered = delivered_ids.len();
    delivered_ids.sort_unstable();
    delivered_ids.dedup();
    assert_eq!(
        delivered_ids.len(),
        delivered,
        "{} messages delivered more than once",
        delivered - delivered_ids.len()
    );
    assert_eq!(
        delivered,
        total,
        "{} acknowledged messages were never delivered",
        total - delivered
    );

    let mut stderr = String::new();
    for server in servers {
        stderr.push_str(&server.stop().await.stderr);
    }
    for bad in ["ERROR", "busy", "locked", "panicked", "internal error"] {
        assert!(!stderr.contains(bad), "a server logged {bad:?}:\n{stderr}");
    }
    assert_eq!(rows(&env, "pending_deliveries"), 0);
    assert_eq!(rows(&env, "messages"), total as i64);
    // SQLite's own check of its file; PostgreSQL's files are the server's.
    if env.pg_url().is_none() {
        let integrity: String = env
            .db()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check");
        assert_eq!(integrity, "ok");
    }
    assert_eq!(
        env.count(
            "SELECT count(*) FROM audit_log WHERE action = 'send_to_partner' AND outcome = 'ok'"
        ),
        total as i64,
        "one audit record per acknowledged send"
    );
    assert_eq!(
        env.count(
            "SELECT coalesce(sum(count), 0) FROM audit_log WHERE action = 'check_messages' AND outcome = 'ok'"
        ),
        total as i64,
        "the audit trail counts every delivery once"
    );
    let report = assert_audit_intact(&env, "audit chain broken");
    eprintln!(
        "stress: {total} messages acknowledged and delivered exactly once; {blocked} long-polls waited before their answer; \
         sending took {:.1} s, all done in {:.1} s ({:.0} messages/s); {} audit records verified",
        sending.as_secs_f64(),
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        report["records"]
    );
}

fn partner(side: &str) -> &'static str {
    if side == "a" { "b" } else { "a" }
}
