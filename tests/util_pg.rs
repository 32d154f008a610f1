//! A PostgreSQL server for the tests that need one, and a fresh database per
//! test on it.
//!
//! `MCP_BRIDGE_TEST_PG=postgres://…` names a running server (`.ci/postgres`
//! starts one). Without it, the first test that asks starts a throw-away
//! PostgreSQL 15 of its own when the binaries are installed
//! (`/usr/lib/postgresql/15/bin`, or `$PG_BIN`) and this runs as root (the
//! server runs as the `postgres` user): tests start what they need. It dies
//! with the test process (a parent-death signal). Without either, the
//! PostgreSQL tests skip themselves with a printed reason.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A server the tests may create databases on.
pub struct PgServer {
    /// `postgres://user@host:port` (no database).
    base: String,
    psql: PathBuf,
}

/// The test server, or why there is none.
pub fn server() -> Result<&'static PgServer, &'static str> {
    static SERVER: OnceLock<Result<PgServer, String>> = OnceLock::new();
    SERVER.get_or_init(start).as_ref().map_err(String::as_str)
}

/// A test's database, dropped when the test ends (its value is dropped):
/// a run creates hundreds, and kept they took gigabytes of a CI machine's
/// disk (a run once lost its PostgreSQL mid-way: crash recovery, then gone,
/// which a full disk explains).
pub struct Database {
    /// `postgres://user@host:port/name`.
    pub url: String,
}

impl Drop for Database {
    fn drop(&mut self) {
        let (Ok(server), Some((_, name))) = (server(), self.url.rsplit_once('/')) else {
            return;
        };
        // FORCE ends the sessions of servers the test left running.
        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        if let Err(e) = server.run_sql("postgres", &drop) {
            eprintln!("{drop}: {e}");
        }
    }
}

/// A fresh database, or `None` (with the reason printed) when no
/// PostgreSQL is available, so the calling test can return early.
pub fn fresh_db(test: &str) -> Option<Database> {
    match server() {
        Ok(server) => Some(Database {
            url: server.create_db(test),
        }),
        Err(why) => {
            eprintln!("skipping the PostgreSQL part of {test}: {why}");
            None
        }
    }
}

fn bin_dir() -> PathBuf {
    std::env::var_os("PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

fn psql_path() -> PathBuf {
    let psql = bin_dir().join("psql");
    if psql.is_file() {
        psql
    } else {
        PathBuf::from("psql")
    }
}

fn start() -> Result<PgServer, String> {
    let psql = psql_path();
    if let Ok(url) = std::env::var("MCP_BRIDGE_TEST_PG") {
        let base = url
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .filter(|b| b.contains("://") && !b.ends_with('/'))
            .ok_or("MCP_BRIDGE_TEST_PG must be postgres://user@host:port/db")?;
        return Ok(PgServer { base, psql });
    }
    spawn_own(psql, |_| Ok(Vec::new()))
}

/// Starts a throw-away server of this test process (see the module doc),
/// with the `-c` settings `settings` returns given its directory (owned by
/// the `postgres` user, for files the server reads).
fn spawn_own(
    psql: PathBuf,
    settings: impl FnOnce(&Path) -> Result<Vec<String>, String>,
) -> Result<PgServer, String> {
    let bin = bin_dir();
    if !bin.join("postgres").is_file() {
        return Err(
            "no PostgreSQL binaries (set MCP_BRIDGE_TEST_PG or install postgresql-15)".into(),
        );
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("starting a throw-away PostgreSQL needs root (it runs as user postgres); set MCP_BRIDGE_TEST_PG".into());
    }
    let (uid, gid) = postgres_user().ok_or("no `postgres` user")?;
    remove_dead_servers();
    let dir = tempfile::Builder::new()
        .prefix("mcp-bridge-test-pg-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    chown(&dir, uid, gid)?;
    let extra = settings(&dir)?;
    let data = dir.join("data");
    let init = Command::new(bin.join("initdb"))
        .args(["-A", "trust", "-U", "postgres", "-D"])
        .arg(&data)
        .uid(uid)
        .gid(gid)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !init.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&init.stderr)
        ));
    }
    // The port is chosen before the server binds it, and a parallel test
    // may take it in between: then the server exits at once, and another
    // port is tried.
    let mut last = String::new();
    for _ in 0..3 {
        match launch(&bin, &data, &dir, &extra, (uid, gid), psql.clone())? {
            Ok(server) => return Ok(server),
            Err(log) => last = log,
        }
    }
    Err(format!("postgres found no free port: {last}"))
}

/// Starts the server on a free port: `Ok(Ok(server))` once it answers,
/// `Ok(Err(log))` when the port was taken first.
fn launch(
    bin: &Path,
    data: &Path,
    dir: &Path,
    extra: &[String],
    (uid, gid): (u32, u32),
    psql: PathBuf,
) -> Result<Result<PgServer, String>, String> {
    let port = free_port()?;
    let log = std::fs::File::create(dir.join("log")).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(bin.join("postgres"));
    cmd.arg("-D")
        .arg(data)
        .args(["-k"])
        .arg(dir)
        .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
        .args(["-c", "max_connections=400", "-c", "fsync=off"])
        // Every CREATE DATABASE writes its template (~7.5 MB) to the
        // write-ahead log: keep the recycled log small.
        .args(["-c", "max_wal_size=128MB", "-c", "min_wal_size=32MB"])
        .args(extra.iter().flat_map(|e| ["-c", e.as_str()]))
        .uid(uid)
        .gid(gid)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: prctl is async-signal-safe. Runs after the uid change, which
    // would otherwise clear the parent-death signal.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // The parent-death signal fires when the spawning *thread* ends, so the
    // server is spawned from a thread that lives as long as the process.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let spawned = cmd.spawn();
        let ok = spawned.is_ok();
        let _ = tx.send(spawned.map(drop).map_err(|e| e.to_string()));
        if ok {
            loop {
                std::thread::park();
            }
        }
    });
    rx.recv()
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot start postgres: {e}"))?;
    let server = PgServer {
        base: format!("postgres://postgres@127.0.0.1:{port}"),
        psql,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.run_sql("postgres", "SELECT 1").is_err() {
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        if log.contains("Address already in use") {
            return Ok(Err(log));
        }
        if Instant::now() > deadline {
            return Err(format!("postgres did not come up within a minute: {log}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Ok(server))
}

impl PgServer {
    /// A `psql` on database `db` running `sql` in the background (a
    /// session that holds a lock, say), killed when the child is dropped.
    pub fn spawn_sql(&self, db: &str, sql: &str) -> tokio::process::Child {
        let mut cmd = tokio::process::Command::new(&self.psql);
        cmd.arg(format!("{}/{db}", self.base))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        cmd.spawn().expect("spawn psql")
    }

    /// Creates a database named after `test` (plus randomness) and returns its URL.
    pub fn create_db(&self, test: &str) -> String {
        self.create_db_from(test, None)
    }

    /// [`PgServer::create_db`], as a copy of database `template` when given.
    fn create_db_from(&self, test: &str, template: Option<&str>) -> String {
        let clean: String = test
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(30)
            .collect();
        let name = format!("t_{clean}_{}", crate::util::random_hex(6));
        let create = match template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name}"),
        };
        // A copy needs its template free of sessions, and a server's
        // backends end a moment after the server has exited: retry a while.
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Err(e) = self.run_sql("postgres", &create) {
            assert!(
                e.contains("being accessed by other users") && Instant::now() < deadline,
                "create database {name}: {e}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        format!("{}/{name}", self.base)
    }

    /// Runs `sql` on database `db` with psql; its output (unaligned, tuples only).
    pub fn run_sql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(&self.psql)
            .arg(format!("{}/{db}", self.base))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

/// A throw-away server of its own that speaks TLS, with a certificate for
/// `localhost` (and no other name) signed by a throw-away CA.
pub struct TlsPg {
    /// The server.
    pub server: PgServer,
    /// The CA that signed the server's certificate.
    pub ca: PathBuf,
    /// Another CA, which did not.
    pub other_ca: PathBuf,
}

/// The TLS server, or why there is none (it needs what a throw-away server
/// needs, and the `openssl` command).
pub fn tls_server() -> Result<&'static TlsPg, &'static str> {
    static SERVER: OnceLock<Result<TlsPg, String>> = OnceLock::new();
    SERVER
        .get_or_init(start_tls)
        .as_ref()
        .map_err(String::as_str)
}

fn start_tls() -> Result<TlsPg, String> {
    let mut cas = None;
    let server = spawn_own(psql_path(), |dir| {
        let (uid, gid) = postgres_user().ok_or("no `postgres` user")?;
        let certs = dir.join("certs");
        std::fs::create_dir(&certs).map_err(|e| e.to_string())?;
        let ca = [
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ];
        for name in ["ca", "other-ca"] {
            let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
            let mut args = vec![
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=mcp-bridge test CA",
                "-keyout",
                &key,
                "-out",
                &pem,
            ];
            args.extend(ca);
            openssl(&certs, &args)?;
        }
        openssl(
            &certs,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
        )?;
        std::fs::write(
            certs.join("server.ext"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .map_err(|e| e.to_string())?;
        openssl(
            &certs,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
        )?;
        for file in ["server.key", "server.pem"] {
            chown(&certs.join(file), uid, gid)?;
        }
        chown(&certs, uid, gid)?;
        cas = Some((certs.join("ca.pem"), certs.join("other-ca.pem")));
        Ok(vec![
            "ssl=on".to_owned(),
            format!("ssl_cert_file={}", certs.join("server.pem").display()),
            format!("ssl_key_file={}", certs.join("server.key").display()),
        ])
    })?;
    let (ca, other_ca) = cas.ok_or("no certificates")?;
    Ok(TlsPg {
        server,
        ca,
        other_ca,
    })
}

fn openssl(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("openssl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {}: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A copy of the database at `url` (whose servers have stopped), as a new
/// database named after `test`: what copying an SQLite file is.
pub fn copy_db(url: &str, test: &str) -> String {
    let (_, db) = url.rsplit_once('/').expect("a database URL");
    server()
        .expect("a PostgreSQL server")
        .create_db_from(test, Some(db))
}

/// `sql` as it must run to see the audit trail a reader sees. On PostgreSQL
/// a write only stages its audit records (`src/store/postgres/linker.rs`);
/// a linker moves them into `audit_log` right after the commit, and every
/// reader of the trail links first. So a query (`SELECT`) of `audit_log`
/// reads it with the staged records after the linked ones, in the order
/// they will be linked (one statement, one snapshot: a linker moving rows
/// meanwhile changes nothing). A statement that changes `audit_log` (a test
/// tampering with it) waits until nothing is staged, and fails the test if
/// that takes 10 s: a live server or a command links its own at once, so
/// only a killed one leaves records staged.
fn as_reader(url: &str, sql: &str) -> String {
    if !sql.contains("audit_log") {
        return sql.to_owned();
    }
    let (_, db) = url.rsplit_once('/').expect("a database URL");
    let server = server().expect("a PostgreSQL server");
    let staging = server
        .run_sql(db, "SELECT to_regclass('audit_pending') IS NOT NULL")
        .is_ok_and(|t| t == "t");
    if !staging {
        return sql.to_owned();
    }
    if sql.trim_start().to_ascii_uppercase().starts_with("SELECT") {
        return format!(
            "WITH audit_log AS (
                 SELECT seq, at, actor, action, conversation_id, side, outcome, code, bytes, count, detail, prev_hash, hash
                 FROM public.audit_log
                 UNION ALL
                 SELECT 9000000000000000000 + id, at, actor, action, conversation_id, side, outcome, code, bytes, count, detail, '', ''
                 FROM audit_pending)
             {sql}"
        );
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let staged = server
            .run_sql(db, "SELECT count(*) FROM audit_pending")
            .unwrap_or_else(|e| panic!("count staged audit records: {e}"));
        if staged == "0" {
            return sql.to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{staged} audit records stayed staged for 10 s: no linker ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Runs `sql` on the database at `url` (from [`fresh_db`]).
pub fn sql(url: &str, sql: &str) -> String {
    let sql = &as_reader(url, sql);
    let (_, db) = url.rsplit_once('/').expect("a database URL");
    server()
        .expect("a PostgreSQL server")
        .run_sql(db, sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The `LISTEN` connections of servers on the database at `url`, by backend pid.
pub fn listeners(url: &str) -> Vec<String> {
    sql(
        url,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN mcp_bridge' AND pid <> pg_backend_pid() ORDER BY pid",
    )
    .lines()
    .map(str::to_owned)
    .filter(|l| !l.is_empty())
    .collect()
}

/// The rows `sql` returns on the database at `url`, each column as text
/// (`None` for NULL), as PostgreSQL prints them.
pub fn rows(url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    // The ASCII unit and record separators split fields and rows (no test
    // value holds them) and a marker no test value uses stands for NULL, so
    // an empty string stays apart from NULL.
    const NULL: &str = "\u{1}NULL\u{1}";
    let sql = &as_reader(url, sql);
    let (base, db) = url.rsplit_once('/').expect("a database URL");
    let server = server().expect("a PostgreSQL server");
    let out = Command::new(&server.psql)
        .arg(format!("{base}/{db}"))
        .args(["-X", "-q", "-A", "-t", "-F", "\u{1f}", "-R", "\u{1e}"])
        .args([
            "-v",
            "ON_ERROR_STOP=1",
            "-P",
            &format!("null={NULL}"),
            "-c",
            sql,
        ])
        .output()
        .unwrap_or_else(|e| panic!("psql: {e}"));
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 from psql");
    // psql ends the output with a newline, not a record separator.
    let text = text.strip_suffix('\n').unwrap_or(&text);
    if text.is_empty() {
        return Vec::new();
    }
    text.split('\u{1e}')
        .map(|row| {
            row.split('\u{1f}')
                .map(|v| (v != NULL).then(|| bytea_as_text(v)))
                .collect()
        })
        .collect()
}

/// A BYTEA value (printed `\\x` and hex) as the UTF-8 text it holds, the
/// way SQLite hands back the same column; anything else as it is. psql does
/// not say a column's type: text that looks like hex-printed bytes would be
/// decoded too, and no test stores such text.
fn bytea_as_text(v: &str) -> String {
    v.strip_prefix("\\x")
        .and_then(|h| hex::decode(h).ok())
        .map_or_else(
            || v.to_owned(),
            |b| String::from_utf8_lossy(&b).into_owned(),
        )
}

/// The data of every table of the database at `url`, as `pg_dump` prints it:
/// what a copy of the database would hold.
pub fn dump(url: &str) -> Vec<u8> {
    let out = Command::new(bin_dir().join("pg_dump"))
        .args(["--data-only", "--no-owner", url])
        .output()
        .unwrap_or_else(|e| panic!("pg_dump: {e}"));
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Removes the directories of throw-away servers from earlier test runs
/// (the server dies with its test process, but its directory stays): those
/// whose server is no longer running.
fn remove_dead_servers() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let ours = entry
            .file_name()
            .to_string_lossy()
            .starts_with("mcp-bridge-test-pg-");
        if !ours {
            continue;
        }
        let pid = std::fs::read_to_string(path.join("data").join("postmaster.pid"))
            .ok()
            .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<i32>().ok()));
        // SAFETY: signal 0 only checks that the process exists.
        let alive = pid.is_some_and(|p| unsafe { libc::kill(p, 0) } == 0);
        if !alive {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

fn postgres_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.first() == Some(&"postgres") && f.len() > 3)
            .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
            .flatten()
    })
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), String> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| e.to_string())
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}
