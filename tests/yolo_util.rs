//! Helpers for the YOLO end-to-end tests: the human stages (`mcp-bridge yolo
//! confirm|approve` typed on a pseudo-terminal), the agent stages over MCP,
//! and read-only looks at the YOLO tables and the audit trail.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use rmcp::model::CallToolResult;
use rmcp::service::{Peer, RoleClient};
use serde_json::{Value, json};

use crate::pty::Pty;
use crate::util::*;

/// The phrase `yolo confirm` asks for.
pub const PHRASE: &str = "I UNDERSTAND THE RISKS";

/// The operator passphrase the tests set and type.
pub const PASSPHRASE: &str = "correct horse battery staple";

/// The prompt `yolo confirm`, `yolo approve` and `yolo passphrase` show
/// before reading the passphrase (with echo off).
pub const PASSPHRASE_PROMPT: &str = "Operator passphrase: ";

/// The variable that makes a server offer YOLO mode.
pub const YOLO_ON: (&str, &str) = ("MCP_BRIDGE_YOLO", "1");

/// Whether this test must skip for want of a working bubblewrap. It skips,
/// saying why, so `cargo test` runs on a machine without it; under
/// `MCP_BRIDGE_TEST_STRICT` (`.ci/run` sets it, and installs bubblewrap) it
/// fails instead, since there a skip would hide a broken sandbox.
pub fn bwrap_missing() -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("bwrap").is_file()));
    let why = if found {
        match std::process::Command::new("bwrap")
            .args(["--ro-bind", "/", "/", "--unshare-all", "--", "true"])
            .output()
        {
            Ok(probe) if probe.status.success() => return false,
            Ok(probe) => format!(
                "bubblewrap is installed but cannot create a sandbox here (user namespaces disabled?): {}",
                String::from_utf8_lossy(&probe.stderr).trim()
            ),
            Err(e) => format!("bubblewrap is on PATH but does not run: {e}"),
        }
    } else {
        "bubblewrap (`bwrap`) is not on PATH (Debian/Ubuntu: apt-get install bubblewrap)".to_owned()
    };
    skip_or_fail(&format!("the YOLO sandbox tests need it: {why}"))
}
/// The bridge's own directory, canonical: the SQLite file's, or the key
/// file's on PostgreSQL.
pub fn data_dir(env: &TestEnv) -> PathBuf {
    env.key_file()
        .parent()
        .expect("data dir")
        .canonicalize()
        .expect("data")
}

/// A fresh directory `name` inside the test's directory, canonical.
pub fn workspace(env: &TestEnv, name: &str) -> PathBuf {
    let dir = env.dir.join(name);
    std::fs::create_dir_all(&dir).expect("create workspace");
    dir.canonicalize().expect("canonical workspace")
}

/// `mcp-bridge yolo ARGS --db DB` with `vars` set.
pub fn yolo_cli(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = env.bridge();
    cmd.arg("yolo").args(args).arg("--db").arg(&env.db);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// Runs a `yolo` subcommand with stdin closed (not a terminal).
pub fn yolo_plain(env: &TestEnv, args: &[&str]) -> std::process::Output {
    yolo_cli(env, args, &[])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run mcp-bridge yolo")
}

/// Runs `f` on a blocking thread (pty I/O blocks).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("pty task")
}

/// The operator passphrase file of `env`'s database.
pub fn passphrase_file(env: &TestEnv) -> PathBuf {
    env.beside_db("operator.passphrase")
}

/// Runs `yolo passphrase` on a pty, typing `new` twice (after `old`, when
/// one is set already); returns the exit status and the transcript.
pub async fn passphrase_typing(
    env: &TestEnv,
    old: Option<&'static str>,
    new: &'static str,
    again: &'static str,
) -> (ExitStatus, String) {
    let cmd = yolo_cli(env, &["passphrase"], &[]);
    blocking(move || {
        let mut pty = Pty::spawn(cmd);
        if let Some(old) = old {
            pty.expect(PASSPHRASE_PROMPT);
            pty.send_line(old);
        }
        pty.expect("New passphrase: ");
        pty.send_line(new);
        pty.expect("Repeat it: ");
        pty.send_line(again);
        pty.finish()
    })
    .await
}

/// Sets [`PASSPHRASE`] unless a passphrase is set already, the way a human does.
pub async fn ensure_passphrase(env: &TestEnv) {
    if passphrase_file(env).exists() {
        return;
    }
    let (status, transcript) = passphrase_typing(env, None, PASSPHRASE, PASSPHRASE).await;
    assert!(
        status.success(),
        "yolo passphrase failed ({status}):\n{transcript}"
    );
    assert!(
        !transcript.contains(PASSPHRASE),
        "the passphrase was echoed:\n{transcript}"
    );
}

/// What the human types at `yolo confirm`'s second prompt.
#[derive(Debug, Clone, Copy)]
pub enum Code {
    /// The code the command printed.
    Shown,
    /// Something else.
    Typed(&'static str),
}

/// Runs `yolo confirm CONV` on a pty, typing `phrase` and then `code` (when
/// the code prompt comes); returns the exit status and the transcript.
pub async fn confirm_typing(
    env: &TestEnv,
    conv: &str,
    phrase: &'static str,
    code: Code,
) -> (ExitStatus, String) {
    confirm_with_passphrase(env, conv, phrase, code, PASSPHRASE).await
}

/// As [`confirm_typing`], typing `passphrase` at the last prompt (which
/// comes only after the right phrase and code).
pub async fn confirm_with_passphrase(
    env: &TestEnv,
    conv: &str,
    phrase: &'static str,
    code: Code,
    passphrase: &'static str,
) -> (ExitStatus, String) {
    ensure_passphrase(env).await;
    let cmd = yolo_cli(env, &["confirm", conv], &[]);
    blocking(move || {
        let mut pty = Pty::spawn(cmd);
        pty.expect("to continue: ");
        pty.send_line(phrase);
        if phrase == PHRASE {
            pty.expect("one-time code: ");
            let shown = pty.expect("\n> ");
            assert!(
                shown.len() == 8 && shown.bytes().all(|b| b.is_ascii_alphanumeric()),
                "odd one-time code {shown:?}"
            );
            match code {
                Code::Shown => {
                    pty.send_line(&shown);
                    pty.expect(PASSPHRASE_PROMPT);
                    pty.send_line(passphrase);
                }
                Code::Typed(text) => pty.send_line(text),
            }
        }
        pty.finish()
    })
    .await
}

/// Confirms `conv`'s pending activation the way a human does; asserts success.
pub async fn confirm(env: &TestEnv, conv: &str) -> String {
    let (status, transcript) = confirm_typing(env, conv, PHRASE, Code::Shown).await;
    assert!(status.success(), "confirm failed ({status}):\n{transcript}");
    assert!(
        transcript.contains(&format!("Command execution is ACTIVE for {conv}")),
        "{transcript}"
    );
    transcript
}

/// Runs `yolo approve PROPOSAL` on a pty and answers `yes`; returns the
/// status, the transcript and the approval token if one was printed.
pub async fn approve_typing(
    env: &TestEnv,
    proposal: &str,
    vars: &[(&str, &str)],
) -> (ExitStatus, String, Option<String>) {
    approve_with_passphrase(env, proposal, vars, PASSPHRASE).await
}

/// As [`approve_typing`], typing `passphrase` after `yes`.
pub async fn approve_with_passphrase(
    env: &TestEnv,
    proposal: &str,
    vars: &[(&str, &str)],
    passphrase: &'static str,
) -> (ExitStatus, String, Option<String>) {
    ensure_passphrase(env).await;
    let cmd = yolo_cli(env, &["approve", proposal], vars);
    let (status, transcript) = blocking(move || {
        let mut pty = Pty::spawn(cmd);
        pty.expect("Type `yes`: ");
        pty.send_line("yes");
        pty.expect(PASSPHRASE_PROMPT);
        pty.send_line(passphrase);
        pty.finish()
    })
    .await;
    let token = transcript.find("apv_").map(|at| {
        let token: String = transcript[at..].chars().take(36).collect();
        assert!(
            token.len() == 36 && token[4..].bytes().all(|b| b.is_ascii_hexdigit()),
            "odd approval token {token:?} in:\n{transcript}"
        );
        token
    });
    (status, transcript, token)
}

/// Approves `proposal` the way a human does and returns the token.
pub async fn approve(env: &TestEnv, proposal: &str, vars: &[(&str, &str)]) -> String {
    let (status, transcript, token) = approve_typing(env, proposal, vars).await;
    assert!(status.success(), "approve failed ({status}):\n{transcript}");
    token.unwrap_or_else(|| panic!("no approval token in:\n{transcript}"))
}

/// Runs `yolo approve PROPOSAL` on a pty and expects a refusal before the prompt.
pub async fn approve_refused(env: &TestEnv, proposal: &str) -> String {
    let cmd = yolo_cli(env, &["approve", proposal], &[]);
    let (status, transcript) = blocking(move || Pty::spawn(cmd).finish()).await;
    assert_eq!(
        status.code(),
        Some(1),
        "approve should refuse:\n{transcript}"
    );
    assert!(!transcript.contains("apv_"), "{transcript}");
    transcript
}

/// Calls `enable_yolo_mode` for side a with `extra` arguments.
pub async fn enable(
    peer: &Peer<RoleClient>,
    conv: &Conv,
    mode: &str,
    workspace: &Path,
    extra: Value,
) -> CallToolResult {
    let mut args = json!({"mode": mode, "workspace": workspace});
    merge(&mut args, extra);
    call(peer, "enable_yolo_mode", conv.args("a", args)).await
}

/// Asks for `mode` in `workspace` and confirms it on a pty.
pub async fn activate(
    env: &TestEnv,
    peer: &Peer<RoleClient>,
    conv: &Conv,
    mode: &str,
    workspace: &Path,
    extra: Value,
) {
    let body = ok(&enable(peer, conv, mode, workspace, extra).await);
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    confirm(env, &conv.id).await;
}

/// Calls `execute_command` as `side` with `extra` arguments.
pub async fn execute(
    peer: &Peer<RoleClient>,
    conv: &Conv,
    side: &str,
    command: &str,
    extra: Value,
) -> CallToolResult {
    let mut args = json!({"command": command});
    merge(&mut args, extra);
    call(peer, "execute_command", conv.args(side, args)).await
}

/// Proposes `command` as `side` and returns the proposal id.
pub async fn propose(peer: &Peer<RoleClient>, conv: &Conv, side: &str, command: &str) -> String {
    let body = ok(&execute(peer, conv, side, command, json!({})).await);
    assert_eq!(body["status"], "pending_approval", "{body}");
    body["proposal_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no proposal_id in {body}"))
        .to_owned()
}

/// Proposes `command` as side a and gets a human's approval token for it.
pub async fn approved(
    env: &TestEnv,
    peer: &Peer<RoleClient>,
    conv: &Conv,
    command: &str,
) -> String {
    let proposal = propose(peer, conv, "a", command).await;
    approve(env, &proposal, &[]).await
}

/// Proposes, approves and runs `command` as side a; returns the completed result.
pub async fn run(env: &TestEnv, peer: &Peer<RoleClient>, conv: &Conv, command: &str) -> Value {
    let token = approved(env, peer, conv, command).await;
    let body = ok(&execute(peer, conv, "a", command, json!({"approval_token": token})).await);
    assert_eq!(body["status"], "completed", "{body}");
    body
}

/// The state of `conv`'s activation, if it has one.
pub fn activation_state(env: &TestEnv, conv: &str) -> Option<String> {
    env.value(&format!(
        "SELECT state FROM yolo_activations WHERE conversation_id = '{}'",
        plain(conv)
    ))
}

/// The state of proposal `id`.
pub fn proposal_state(env: &TestEnv, id: &str) -> String {
    env.value(&format!(
        "SELECT state FROM yolo_proposals WHERE id = '{}'",
        plain(id)
    ))
    .unwrap_or_else(|| panic!("no proposal {id}"))
}

/// One audit record: action, outcome, code, detail.
pub type AuditRow = (String, String, Option<String>, Option<String>);

/// `conv`'s audit records in order.
pub fn audit_rows(env: &TestEnv, conv: &str) -> Vec<AuditRow> {
    env.query(&format!(
        "SELECT action, outcome, code, detail FROM audit_log WHERE conversation_id = '{}' ORDER BY seq",
        plain(conv)
    ))
    .into_iter()
    .map(|r| {
        let [action, outcome, code, detail] = <[Option<String>; 4]>::try_from(r).expect("4 columns");
        (
            action.expect("action"),
            outcome.expect("outcome"),
            code,
            detail,
        )
    })
    .collect()
}

/// Every text column of the audit log, concatenated (to search for leaks).
pub fn audit_text(env: &TestEnv) -> String {
    env.query(
        "SELECT coalesce(actor,'') || ' ' || action || ' ' || coalesce(conversation_id,'') || ' ' \
         || coalesce(code,'') || ' ' || coalesce(detail,'') FROM audit_log",
    )
    .into_iter()
    .map(|r| r.into_iter().next().flatten().unwrap_or_default())
    .collect::<Vec<_>>()
    .join("\n")
}

/// The error message of a refused `execute_command`, checking its code.
pub fn refusal(result: &CallToolResult, code: &str) -> String {
    tool_error(result, code)["message"]
        .as_str()
        .expect("message")
        .to_owned()
}

/// Waits until `conv` has `n` audit records that `keep` selects and returns them.
/// Records of calls that change nothing are appended a moment after the call
/// answers (and in another process's order), so tests wait for them.
pub async fn wait_audit(
    env: &TestEnv,
    conv: &str,
    n: usize,
    keep: impl Fn(&AuditRow) -> bool,
) -> Vec<AuditRow> {
    let mut found = Vec::new();
    wait_until(&format!("{n} audit records"), || {
        found = audit_rows(env, conv).into_iter().filter(&keep).collect();
        found.len() >= n
    })
    .await;
    found
}

/// The command lines (arguments joined by spaces) of every process.
pub fn command_lines() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| {
            String::from_utf8_lossy(&c)
                .trim_end_matches('\0')
                .replace('\0', " ")
        })
        .collect()
}

/// Processes (pid, command line) whose command line contains `marker`.
pub fn survivors(marker: &str) -> Vec<(i32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse().ok()?;
            let line = std::fs::read(e.path().join("cmdline")).ok()?;
            let line = String::from_utf8_lossy(&line).replace('\0', " ");
            line.contains(marker).then_some((pid, line))
        })
        .collect()
}

/// Waits until no process whose command line holds `marker` is left; kills
/// the survivors (so none sleeps on after a failure) and fails if any
/// outlives `what`.
pub async fn all_gone(marker: &str, what: &str) {
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    while !survivors(marker).is_empty() {
        if tokio::time::Instant::now() >= deadline {
            let pids = survivors(marker);
            for (pid, _) in &pids {
                // SAFETY: plain kill(2) on processes this test started.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
            panic!("processes of the command outlived {what}: {pids:?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Runs git in `dir` on the host and returns its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
