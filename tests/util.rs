//! Shared helpers for the end-to-end tests: a temporary environment per test,
//! the real `mcp-bridge` binary, MCP clients connected to real `mcp-bridge
//! serve` processes over stdio, and read-only access to the shared database.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::service::{Peer, RoleClient, RunningService};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

pub use crate::util_calls::*;
pub use crate::util_random::*;
pub use crate::util_state::*;

/// How long any single wait for an event may take before the test fails.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A test's private directory, database path and environment.
pub struct TestEnv {
    /// The test's directory (removed when the env is dropped).
    pub dir: PathBuf,
    /// The database file, in a subdirectory the server must create.
    pub db: PathBuf,
    _tmp: tempfile::TempDir,
    /// The PostgreSQL database `db` names, dropped with the env.
    _pg: Option<crate::util_pg::Database>,
}

impl TestEnv {
    /// A fresh directory named after the test. With `MCP_BRIDGE_TEST_E2E_PG`
    /// set, its database is a fresh PostgreSQL one (see [`TestEnv::postgres`]),
    /// so the end-to-end tests that read the database only through
    /// [`TestEnv::count`] run against PostgreSQL unchanged.
    pub fn new(name: &str) -> Self {
        if std::env::var_os("MCP_BRIDGE_TEST_E2E_PG").is_some()
            && let Some(env) = Self::postgres(name)
        {
            return env;
        }
        Self::sqlite(name)
    }

    fn sqlite(name: &str) -> Self {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("mcp-bridge-e2e-{name}-"))
            .tempdir()
            .expect("create temp dir");
        let dir = tmp.path().to_owned();
        let db = dir.join("data").join("bridge.db");
        Self {
            dir,
            db,
            _tmp: tmp,
            _pg: None,
        }
    }

    /// A fresh environment on a fresh PostgreSQL database (see `util_pg`):
    /// `db` holds its URL, so `--db` arguments built from it work unchanged,
    /// and every process gets the test's key file. `None` (the reason
    /// printed) when no PostgreSQL is available: the test returns early.
    /// [`TestEnv::db`] and the helpers reading SQLite do not apply.
    pub fn postgres(name: &str) -> Option<Self> {
        let database = crate::util_pg::fresh_db(name)?;
        let mut env = Self::postgres_at(name, &database.url);
        env._pg = Some(database);
        Some(env)
    }

    /// [`TestEnv::postgres`] on the database at `url`.
    pub fn postgres_at(name: &str, url: &str) -> Self {
        let mut env = Self::sqlite(name);
        env.db = PathBuf::from(url);
        // The deployment's shared key file exists before any process runs, so
        // a command run first (say `yolo passphrase`) finds it as a server would.
        let key = env.pg_key_file();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(key.parent().expect("key dir"))
            .expect("create the key directory");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key)
            .expect("create the key file");
        std::io::Write::write_all(&mut file, format!("{}\n", random_hex(32)).as_bytes())
            .expect("write the key file");
        env
    }

    /// The key file of a PostgreSQL environment.
    pub fn pg_key_file(&self) -> PathBuf {
        self.dir.join("keys").join("bridge.key")
    }

    /// The variables every spawned process gets: no `MCP_BRIDGE_*` from the
    /// outside, and XDG/temp directories inside the test's directory so no
    /// user config file or data directory is ever read.
    fn isolate(&self, cmd: &mut std::process::Command) {
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("MCP_BRIDGE_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("XDG_CONFIG_HOME", self.dir.join("xdg-config"))
            .env("XDG_DATA_HOME", self.dir.join("xdg-data"))
            .env("TMPDIR", &self.dir)
            .env("NO_COLOR", "1")
            .current_dir(&self.dir);
        if self.db.to_string_lossy().starts_with("postgres://") {
            cmd.env("MCP_BRIDGE_KEY_FILE", self.pg_key_file());
        }
    }

    /// A command for the real `mcp-bridge` binary, isolated from the caller's environment.
    pub fn bridge(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-bridge"));
        self.isolate(&mut cmd);
        cmd
    }

    /// `mcp-bridge serve --db <db>` with `vars` set.
    pub fn serve_command(&self, vars: &[(&str, &str)]) -> std::process::Command {
        let mut cmd = self.bridge();
        cmd.arg("serve").arg("--db").arg(&self.db);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd
    }

    /// A server this test speaks raw JSON lines to (its stdin and stdout
    /// piped, stderr dropped), for what an SDK client would never send.
    pub fn raw_server(&self) -> std::process::Child {
        self.raw_server_with(&[])
    }

    /// [`Self::raw_server`] with `vars` set.
    pub fn raw_server_with(&self, vars: &[(&str, &str)]) -> std::process::Child {
        self.serve_command(vars)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn a raw server")
    }

    /// A server on the shared database with default settings.
    pub async fn server(&self) -> Server {
        self.server_with(&[]).await
    }

    /// A server on the shared database with extra environment variables.
    pub async fn server_with(&self, vars: &[(&str, &str)]) -> Server {
        Server::spawn(self.serve_command(vars)).await
    }

    /// The PostgreSQL URL of the database, if it is one.
    pub fn pg_url(&self) -> Option<String> {
        let db = self.db.to_string_lossy();
        db.starts_with("postgres://").then(|| db.into_owned())
    }

    /// A read-only connection to the shared database, for assertions.
    pub fn db(&self) -> rusqlite::Connection {
        assert!(
            self.pg_url().is_none(),
            "this test reads the SQLite file directly and does not run on PostgreSQL"
        );
        open_read_only(&self.db)
    }

    /// Runs `sql` (one integer result) on the database, SQLite or PostgreSQL.
    pub fn count(&self, sql: &str) -> i64 {
        count_in(&self.db, sql)
    }

    /// The rows `sql` returns on the database, SQLite or PostgreSQL, each
    /// column as text (`None` for NULL; integers in decimal, blobs as the
    /// UTF-8 text they hold, lossily). The query must be valid on both:
    /// inline the (test-made, plain) values rather than binding them.
    pub fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        query_in(&self.db, sql)
    }

    /// The one text value `sql` returns (`None` for NULL or no row).
    pub fn value(&self, sql: &str) -> Option<String> {
        self.query(sql)
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next().flatten())
    }

    /// True (with the reason printed) when the database is PostgreSQL, for a
    /// test whose subject is the SQLite file itself and has no PostgreSQL
    /// counterpart: `if env.sqlite_only("why") { return; }`.
    pub fn sqlite_only(&self, why: &str) -> bool {
        let pg = self.pg_url().is_some();
        if pg {
            eprintln!("SQLite only, skipped on PostgreSQL: {why}");
        }
        pg
    }

    /// Where the bridge keeps a file "beside the database" (`bridge.key`,
    /// `operator.passphrase`): the database's directory for SQLite, the key
    /// file's directory for PostgreSQL (which has no directory of its own).
    pub fn beside_db(&self, name: &str) -> PathBuf {
        if self.pg_url().is_some() {
            return self.pg_key_file().with_file_name(name);
        }
        self.db.with_file_name(name)
    }

    /// The key file the servers of this environment use.
    pub fn key_file(&self) -> PathBuf {
        self.beside_db("bridge.key")
    }

    /// What the database holds on disk, to search for leaks: the SQLite file
    /// and its WAL (whatever exists now), or for PostgreSQL the data of every
    /// table as `pg_dump` prints it (its files belong to the server).
    pub fn raw_db_bytes(&self) -> Vec<(PathBuf, Vec<u8>)> {
        if let Some(url) = self.pg_url() {
            return vec![(PathBuf::from("pg_dump"), crate::util_pg::dump(&url))];
        }
        let mut files = Vec::new();
        for suffix in ["", "-wal"] {
            let path = PathBuf::from(format!("{}{suffix}", self.db.display()));
            if let Ok(bytes) = std::fs::read(&path) {
                files.push((path, bytes));
            }
        }
        assert!(
            !files.is_empty(),
            "no database file at {}",
            self.db.display()
        );
        files
    }
}

/// The MCP client type the tests use.
pub type Client = RunningService<RoleClient, ()>;

/// A running `mcp-bridge serve` child with a connected rmcp client.
pub struct Server {
    /// The connected client.
    pub client: Client,
    child: tokio::process::Child,
    stderr: tokio::task::JoinHandle<Vec<u8>>,
}

/// What a server left behind when it stopped.
pub struct Stopped {
    /// Its exit status.
    pub status: std::process::ExitStatus,
    /// Everything it wrote on stderr.
    pub stderr: String,
}

impl Server {
    /// Spawns `cmd` (an `mcp-bridge serve` command) and completes the MCP handshake.
    pub async fn spawn(cmd: std::process::Command) -> Server {
        let mut cmd = tokio::process::Command::from(cmd);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn mcp-bridge serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take().expect("piped stdin");
        let mut err = child.stderr.take().expect("piped stderr");
        let stderr = tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = err.read_to_end(&mut buf).await;
            buf
        });
        let client = match tokio::time::timeout(EVENT_TIMEOUT, ().serve((stdout, stdin))).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => {
                let _ = child.kill().await;
                let text = String::from_utf8_lossy(&stderr.await.unwrap_or_default()).into_owned();
                panic!("MCP handshake with mcp-bridge serve failed: {e}\nstderr:\n{text}");
            }
            Err(_) => panic!("MCP handshake with mcp-bridge serve timed out"),
        };
        Server {
            client,
            child,
            stderr,
        }
    }

    /// The client's peer, cloneable into tasks.
    pub fn peer(&self) -> Peer<RoleClient> {
        self.client.peer().clone()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("server still running")
    }

    /// Closes the client (and with it the server's stdin) and waits for the
    /// server to exit by itself; fails the test if it takes longer than `within`.
    pub async fn stop_within(self, within: Duration) -> Stopped {
        let Server {
            client,
            mut child,
            stderr,
        } = self;
        let _ = tokio::time::timeout(within, client.cancel()).await;
        let status = match tokio::time::timeout(within, child.wait()).await {
            Ok(status) => status.expect("wait for mcp-bridge serve"),
            Err(_) => {
                let _ = child.kill().await;
                panic!("mcp-bridge serve did not exit within {within:?} after its stdin closed");
            }
        };
        let bytes = tokio::time::timeout(EVENT_TIMEOUT, stderr)
            .await
            .expect("stderr closes")
            .unwrap_or_default();
        Stopped {
            status,
            stderr: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// [`Server::stop_within`] with a generous bound, asserting a clean exit.
    pub async fn stop(self) -> Stopped {
        let stopped = self.stop_within(EVENT_TIMEOUT).await;
        assert!(
            stopped.status.success(),
            "server exited with {:?}; stderr:\n{}",
            stopped.status,
            stopped.stderr
        );
        stopped
    }
}

impl std::ops::Deref for Server {
    type Target = Peer<RoleClient>;
    fn deref(&self) -> &Peer<RoleClient> {
        self.client.peer()
    }
}

/// A conversation and its two tokens.
#[derive(Debug, Clone)]
pub struct Conv {
    /// `conv_…`.
    pub id: String,
    /// Side a's token.
    pub a: String,
    /// Side b's token.
    pub b: String,
}

impl Conv {
    /// Opens a conversation through `peer`.
    pub async fn create(peer: &Peer<RoleClient>) -> Conv {
        Self::create_with_roles(peer, "backend", "frontend").await
    }

    /// Opens a conversation with the given roles.
    pub async fn create_with_roles(peer: &Peer<RoleClient>, a: &str, b: &str) -> Conv {
        let body = ok(&call(
            peer,
            "create_conversation",
            json!({"my_role": a, "partner_role": b}),
        )
        .await);
        let field = |k: &str| {
            body[k]
                .as_str()
                .unwrap_or_else(|| panic!("no {k} in {body}"))
                .to_owned()
        };
        Conv {
            id: field("conversation_id"),
            a: field("session_a_token"),
            b: field("session_b_token"),
        }
    }

    /// The token of `side`.
    pub fn token(&self, side: &str) -> &str {
        match side {
            "a" => &self.a,
            "b" => &self.b,
            other => panic!("no side {other}"),
        }
    }

    /// The credentials of `side`, plus `extra` fields.
    pub fn args(&self, side: &str, extra: Value) -> Value {
        let mut v =
            json!({"conversation_id": self.id, "session_id": side, "token": self.token(side)});
        merge(&mut v, extra);
        v
    }
}

/// Adds (or replaces) the fields of `extra` in `base`.
pub fn merge(base: &mut Value, extra: Value) {
    if let (Value::Object(b), Value::Object(e)) = (base, extra) {
        b.extend(e);
    }
}

/// Sends `message` from `side` and returns the structured result.
pub async fn send(peer: &Peer<RoleClient>, conv: &Conv, side: &str, message: &str) -> Value {
    ok(&call(
        peer,
        "send_to_partner",
        conv.args(side, json!({"message": message})),
    )
    .await)
}

/// Checks `side`'s inbox once (no waiting) and returns the structured result.
pub async fn check(peer: &Peer<RoleClient>, conv: &Conv, side: &str, extra: Value) -> Value {
    ok(&call(peer, "check_messages", conv.args(side, extra)).await)
}

/// The messages of a `check_messages` result.
pub fn messages(body: &Value) -> Vec<Value> {
    body["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages in {body}"))
        .clone()
}

/// The contents of a `check_messages` result.
pub fn contents(body: &Value) -> Vec<String> {
    messages(body)
        .iter()
        .map(|m| m["content"].as_str().expect("content").to_owned())
        .collect()
}

/// Waits (polling) until `condition` holds, failing the test after [`EVENT_TIMEOUT`].
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Reads `side`'s whole inbox of `conv` through `peer`, page after page.
pub async fn drain_all(peer: &Peer<RoleClient>, conv: &Conv, side: &str) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let page = contents(&check(peer, conv, side, json!({"limit": 500})).await);
        if page.is_empty() {
            return got;
        }
        got.extend(page);
    }
}

/// Writer `w` of `peers.len()` sends `per` messages (`w{w} m{k}`) as side
/// `a` of `convs[w / 2]` through `peers[w]`, all writers at once; returns
/// when every send was answered. Two writers share each conversation.
pub async fn write_concurrently(peers: Vec<Peer<RoleClient>>, convs: &[Conv], per: usize) {
    let mut writers = Vec::new();
    for (w, peer) in peers.into_iter().enumerate() {
        let conv = convs[w / 2].clone();
        writers.push(tokio::spawn(async move {
            for k in 0..per {
                send(&peer, &conv, "a", &format!("w{w} m{k}")).await;
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
}

/// Asserts that conversation `i`'s inbox `got` holds the `per` messages
/// `w{w} m{k}` of its two writers `2i` and `2i + 1` exactly once, each
/// writer's in its order.
pub fn assert_two_writers_exactly_once(got: &[String], i: usize, per: usize) {
    let unique: std::collections::HashSet<&String> = got.iter().collect();
    assert_eq!(
        (got.len(), unique.len()),
        (2 * per, 2 * per),
        "conversation {i}: {got:?}"
    );
    for w in [2 * i, 2 * i + 1] {
        let mine: Vec<usize> = got
            .iter()
            .filter_map(|c| {
                c.strip_prefix(&format!("w{w} m"))
                    .and_then(|k| k.parse().ok())
            })
            .collect();
        assert_eq!(mine, (0..per).collect::<Vec<_>>(), "writer {w}'s order");
    }
}

/// Says why the running test skips (something it needs is not on this
/// machine) and returns true; under `MCP_BRIDGE_TEST_STRICT`, which `.ci/run`
/// sets after installing everything, it fails instead.
pub fn skip_or_fail(why: &str) -> bool {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("this test");
    assert!(
        std::env::var_os("MCP_BRIDGE_TEST_STRICT").is_none(),
        "{test}: {why} (MCP_BRIDGE_TEST_STRICT is set, so it fails rather than skips)"
    );
    eprintln!("SKIPPED {test}: {why}; MCP_BRIDGE_TEST_STRICT=1 makes this a failure");
    true
}
