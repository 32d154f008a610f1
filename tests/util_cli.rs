//! Helpers for the management-CLI tests: run the real `mcp-bridge` binary on a
//! test's database, and populate databases through real `serve` processes.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::util::*;

/// What a finished command left behind.
#[derive(Debug)]
pub struct Run {
    /// Its exit code.
    pub code: i32,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(
            self.code, 0,
            "expected success; stderr:\n{}\nstdout:\n{}",
            self.stderr, self.stdout
        );
        self.stdout
    }

    /// Asserts success and parses stdout as JSON.
    pub fn json(self) -> Value {
        let out = self.ok();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{out}"))
    }

    /// Asserts exit code `code` and a single clean line on stderr holding `text`; returns that line.
    pub fn fails(self, code: i32, text: &str) -> String {
        assert_eq!(
            self.code, code,
            "expected exit {code}; stderr:\n{}\nstdout:\n{}",
            self.stderr, self.stdout
        );
        let line = self.stderr.trim_end();
        assert!(line.contains(text), "{text:?} not in stderr {line:?}");
        assert_eq!(
            line.lines().count(),
            1,
            "expected one line on stderr, got:\n{line}"
        );
        assert!(
            !line.contains("panicked") && !line.contains("backtrace"),
            "{line}"
        );
        line.to_owned()
    }
}

/// Runs `mcp-bridge ARGS --db DB` and collects its output.
pub async fn cli_on(env: &TestEnv, db: &Path, args: &[&str]) -> Run {
    let mut cmd = env.bridge();
    cmd.args(args).arg("--db").arg(db);
    run_cmd(cmd, None).await
}

/// Runs `mcp-bridge ARGS --db <the test's database>`.
pub async fn cli(env: &TestEnv, args: &[&str]) -> Run {
    cli_on(env, &env.db, args).await
}

/// Runs `cmd`, feeding `stdin` if given.
pub async fn run_cmd(cmd: std::process::Command, stdin: Option<&[u8]>) -> Run {
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn mcp-bridge");
    if let Some(bytes) = stdin {
        use tokio::io::AsyncWriteExt;
        let mut input = child.stdin.take().expect("piped stdin");
        // A command may refuse before it reads its input (a file that is not a
        // database, say) and exit; under load that can happen before this write,
        // which then meets a closed pipe. What it did is judged by its exit and output.
        match input.write_all(bytes).await {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.expect("write stdin"),
        }
        drop(input);
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("mcp-bridge did not finish within 60 s")
        .expect("wait for mcp-bridge");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Replaces relative times (`(3 min ago)`, `(in 2 h)`, `(just now)`, `, 5 s ago`)
/// so that outputs taken moments apart compare equal.
pub fn mask_relative(text: &str) -> String {
    let re =
        regex::Regex::new(r"\((?:in [^)]*|[^)]* ago|just now)\)|, (?:\d+ \w+ )+ago|, just now")
            .expect("regex");
    re.replace_all(text, "(…)").into_owned()
}

/// An expiry for a conversation written into an import file: an hour from
/// now, as `import` refuses one later than `conversation_ttl_minutes` (3 h
/// by default) from now.
pub fn live_until() -> String {
    mcp_bridge::domain::Timestamp::now()
        .plus_micros(3_600_000_000)
        .to_rfc3339()
}

/// Rate limits off, so tests can send quickly.
pub const NO_LIMITS: &[(&str, &str)] = &[("MCP_BRIDGE_RATE_LIMITS", "off")];

/// What [`populate`] created.
#[derive(Debug, Clone)]
pub struct Populated {
    /// Two sides, several messages both ways, statuses, one unread message.
    pub busy: Conv,
    /// A second, quieter conversation.
    pub quiet: Conv,
    /// The `send_to_partner` results of `busy`, in order.
    pub sent: Vec<Value>,
}

/// Fills the test's database through two real `serve` processes, then stops them.
pub async fn populate(env: &TestEnv) -> Populated {
    let s1 = env.server_with(NO_LIMITS).await;
    let s2 = env.server_with(NO_LIMITS).await;
    let busy = Conv::create_with_roles(&s1, "backend", "frontend dev").await;
    let quiet = Conv::create_with_roles(&s2, "writer", "reviewer").await;
    let mut sent = Vec::new();
    let long = "line one\nline two\nline three\nline four\nline five";
    sent.push(ok(&call(&s1, "send_to_partner", busy.args("a", json!({
        "message": "POST /todos returns 201", "action_type": "proposal", "files_involved": ["api/routes.rs", "docs/api.md"]
    }))).await));
    sent.push(ok(&call(&s2, "send_to_partner", busy.args("b", json!({
        "message": "deploy key AKIAZ7QWERTYUIOPASDF is in the env", "action_type": "question"
    }))).await));
    sent.push(ok(&call(
        &s1,
        "send_to_partner",
        busy.args("a", json!({"message": long, "action_type": "answer"})),
    )
    .await));
    // b reads everything so far; a reads b's question; then b writes once more (left unread by a).
    assert_eq!(messages(&check(&s2, &busy, "b", json!({})).await).len(), 2);
    assert_eq!(messages(&check(&s1, &busy, "a", json!({})).await).len(), 1);
    sent.push(send(&s2, &busy, "b", "thanks, building the list view").await);
    ok(&call(
        &s1,
        "update_my_status",
        busy.args("a", json!({"status": "working", "note": "adding ?done"})),
    )
    .await);
    ok(&call(
        &s2,
        "update_my_status",
        busy.args("b", json!({"status": "waiting"})),
    )
    .await);
    send(&s2, &quiet, "a", "draft chapter 1").await;
    s1.stop().await;
    s2.stop().await;
    Populated { busy, quiet, sent }
}

/// A task sending messages in `conv` through `server` until stopped; returns
/// the ids of the messages the server acknowledged, in order.
pub struct Writer {
    stop: Arc<AtomicBool>,
    acked: Arc<std::sync::Mutex<Vec<i64>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    /// Starts writing.
    pub fn start(server: &Server, conv: &Conv) -> Writer {
        let peer = server.peer();
        let conv = conv.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let task = {
            let (stop, acked) = (Arc::clone(&stop), Arc::clone(&acked));
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Acquire) {
                    n += 1;
                    let side = if n % 2 == 0 { "a" } else { "b" };
                    let sent = send(&peer, &conv, side, &format!("burst message {n}")).await;
                    acked
                        .lock()
                        .unwrap()
                        .push(sent["message_id"].as_i64().expect("message_id"));
                }
            })
        };
        Writer { stop, acked, task }
    }

    /// The ids acknowledged so far.
    pub fn acked(&self) -> Vec<i64> {
        self.acked.lock().unwrap().clone()
    }

    /// Waits until at least `n` messages are acknowledged.
    pub async fn wait_for(&self, n: usize) {
        let acked = Arc::clone(&self.acked);
        wait_until("acknowledged messages", || acked.lock().unwrap().len() >= n).await;
    }

    /// Stops writing and returns every acknowledged id.
    pub async fn stop(self) -> Vec<i64> {
        self.stop.store(true, Ordering::Release);
        tokio::time::timeout(EVENT_TIMEOUT, self.task)
            .await
            .expect("writer stops")
            .expect("writer task");
        self.acked.lock().unwrap().clone()
    }
}

/// `2026-01-31 12:00:00 UTC` for an RFC 3339 time, as the CLI prints it.
pub fn absolute(rfc3339: &Value) -> String {
    let ts: jiff::Timestamp = rfc3339.as_str().expect("a time").parse().expect("RFC 3339");
    ts.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The cells of a table row (columns are separated by at least two spaces).
pub fn cells(line: &str) -> Vec<String> {
    regex::Regex::new(r"\s{2,}")
        .unwrap()
        .split(line.trim())
        .map(str::to_owned)
        .collect()
}

/// The row of `table` that starts with `key`.
pub fn row(table: &str, key: &str) -> Vec<String> {
    let line = table
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no row {key} in:\n{table}"));
    cells(line)
}

/// The element of `list[key]` whose `id` is `id`.
pub fn find<'v>(list: &'v Value, key: &str, id: &str) -> &'v Value {
    list[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {list}"))
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {list}"))
}

/// The message ids stored in a database (an SQLite file or a PostgreSQL URL).
pub fn message_ids(db: &Path) -> Vec<i64> {
    query_in(db, "SELECT id FROM messages ORDER BY id")
        .into_iter()
        .map(|r| r[0].as_deref().expect("id").parse().expect("an integer id"))
        .collect()
}

/// The permission bits of `path`.
pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Copies a stopped database (and its key) into `dir`, returning the copy's
/// path; on PostgreSQL a copy of the database (the key is the environment's).
pub fn copy_db(env: &TestEnv, dir: &str) -> PathBuf {
    if let Some(url) = env.pg_url() {
        return PathBuf::from(crate::util_pg::copy_db(&url, dir));
    }
    let target = env.dir.join(dir);
    std::fs::create_dir_all(&target).unwrap();
    std::fs::copy(&env.db, target.join("bridge.db")).unwrap();
    std::fs::copy(env.key_file(), target.join("bridge.key")).unwrap();
    target.join("bridge.db")
}

/// Runs `sql` on the database directly, as someone with file (or database)
/// access could: the SQLite file, or the PostgreSQL database `db` names.
pub fn tamper(db: &Path, sql: &str) {
    let url = db.to_string_lossy();
    if url.starts_with("postgres://") {
        crate::util_pg::sql(&url, sql);
        return;
    }
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// An SQL literal storing `text` as it is, unsealed, in a sealed column of
/// the database at `db` (BYTEA on PostgreSQL, TEXT on SQLite).
pub fn unsealed(db: &Path, text: &str) -> String {
    if db.to_string_lossy().starts_with("postgres://") {
        format!("convert_to('{text}', 'UTF8')")
    } else {
        format!("'{text}'")
    }
}

/// Makes the database at `db` (a path or a PostgreSQL URL) look as if a
/// build from before the legacy-plaintext mark had written it (SQLite schema
/// 11, PostgreSQL 9): the next open runs the migration that looks for
/// plaintext from before encryption at rest, and marks it as legitimate.
pub fn as_if_not_yet_upgraded(db: &Path) {
    if db.to_string_lossy().starts_with("postgres://") {
        tamper(
            db,
            "DROP TABLE legacy_plaintext; DROP TABLE hidden_paths; UPDATE mcp_bridge_schema SET version = 9",
        );
    } else {
        tamper(
            db,
            "DROP TABLE legacy_plaintext; DROP TABLE hidden_paths; PRAGMA user_version = 11",
        );
    }
}

/// The `fields` of every audit record of `action` (`mcp-bridge audit
/// --action ACTION --json`), oldest first, with the whole trail for messages.
pub async fn audited_fields(
    env: &TestEnv,
    action: &str,
    fields: &[&str],
) -> (Vec<Vec<Value>>, Value) {
    let trail = cli(env, &["audit", "--action", action, "--json"])
        .await
        .json();
    let records = trail["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| fields.iter().map(|f| r[*f].clone()).collect())
        .collect();
    (records, trail)
}

/// Exports `env`'s database in plain text and imports the file into a fresh
/// database: what the bridge stored must pass what `import` checks.
pub async fn own_export_imports(env: &TestEnv) {
    let export = env.dir.join("own.json");
    let file = export.to_str().expect("path");
    cli(env, &["export", "--plaintext", "-o", file]).await.ok();
    cli_on(env, &env.dir.join("fresh.db"), &["import", file])
        .await
        .ok();
}
