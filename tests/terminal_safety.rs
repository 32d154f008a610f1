//! The operator's terminal is trusted ground: text an agent controls never
//! reaches it raw (every human-facing output, prompts and errors included),
//! a workspace cannot disguise itself or point at `/`, a home or system
//! directory or the bridge's data, and confirming or approving needs the
//! operator passphrase — which an agent driving a pty of its own does not
//! have. Human stages are typed on a real pseudo-terminal.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::pty::Pty;
use crate::util::*;
use crate::util_cli::*;
use crate::yolo_util::*;

/// Text an agent might send: an OSC title, a screen clear, a C1 CSI, a
/// right-to-left override, a zero-width space, a tag character, a BOM.
const HOSTILE: &str =
    "pay \u{202e}txt.exe\u{202c} \x1b]0;owned\x07\x1b[2J\u{9b}8m hidden\u{200b}\u{e0041}\u{feff}";

/// The characters of [`HOSTILE`] that must never reach a terminal raw.
const RAW: [char; 9] = [
    '\u{202e}',
    '\u{202c}',
    '\x1b',
    '\x07',
    '\u{9b}',
    '\u{200b}',
    '\u{e0041}',
    '\u{feff}',
    '\r',
];

/// Asserts that `text` (an output) holds none of [`RAW`] and shows the
/// visible escapes instead.
fn assert_visible(what: &str, text: &str) {
    for c in RAW {
        assert!(
            !text.contains(c),
            "{what}: raw {c:?} reached the terminal:\n{text:?}"
        );
    }
    for shown in ["\\u{202e}", "\\x1b[2J", "\\u{9b}", "\\u{200b}"] {
        assert!(
            text.contains(shown),
            "{what}: {shown} not shown in:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_human_output_shows_agent_text_visibly() {
    let env = TestEnv::new("terminal-outputs");
    let s = env.server_with(&[YOLO_ON]).await;
    let conv = Conv::create(&s).await;
    ok(&call(
        &s,
        "send_to_partner",
        conv.args(
            "a",
            json!({
                "message": format!("line one\n{HOSTILE}\nfiles: notes.txt"),
                "files_involved": [HOSTILE]
            }),
        ),
    )
    .await);
    ok(&call(
        &s,
        "update_my_status",
        conv.args("b", json!({"status": "blocked", "note": HOSTILE})),
    )
    .await);
    // A refused command is audited by its digest only: no agent text.
    tool_error(
        &execute(&s, &conv, "a", &format!("ls {HOSTILE}"), json!({})).await,
        "yolo_not_active",
    );
    wait_audit(&env, &conv.id, 1, |r| r.0 == "execute_command").await;

    let shown = cli(&env, &["show", &conv.id, "--full"]).await.ok();
    assert_visible("show", &shown);
    assert!(shown.contains("  │ line one\n  │ pay "), "{shown}");
    // A line of the text cannot pass for the bridge's own `files:` line.
    assert!(
        shown.contains("  │ files: notes.txt") && !shown.contains("    files: notes.txt"),
        "{shown}"
    );
    let audit = cli(&env, &["audit", &conv.id]).await.ok();
    for c in RAW {
        assert!(
            !audit.contains(c),
            "audit: raw {c:?} reached the terminal:\n{audit:?}"
        );
    }
    assert!(
        audit.contains("command_digest=") && !audit.contains("hidden"),
        "the trail holds a digest, never the command's text:\n{audit}"
    );
    let list = cli(&env, &["list"]).await.ok();
    assert!(!list.contains(RAW), "list: {list:?}");

    // JSON stays the exact value, in bytes that are safe to print.
    for args in [
        &["show", conv.id.as_str(), "--json"][..],
        &["audit", conv.id.as_str(), "--json"][..],
        &["list", "--json"][..],
    ] {
        let raw = cli(&env, args).await.ok();
        for c in RAW {
            assert!(!raw.contains(c), "{args:?}: raw {c:?} in JSON");
        }
        let value: Value = serde_json::from_str(&raw).expect("JSON");
        if args[0] == "show" {
            assert_eq!(
                value["messages"][0]["content"],
                format!("line one\n{HOSTILE}\nfiles: notes.txt")
            );
            assert_eq!(value["conversation"]["participants"][1]["note"], HOSTILE);
        }
    }
    let exported = cli(&env, &["export", "--plaintext"]).await.ok();
    for c in RAW {
        assert!(!exported.contains(c), "export: raw {c:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_that_echo_a_file_show_it_visibly() {
    let env = TestEnv::new("terminal-errors");
    populate(&env).await;
    // An import whose conversation id carries escapes: the error names it, escaped.
    let file = env.dir.join("bad.jsonl");
    let lines = [
        json!({"format": "mcp-bridge-export", "version": 1, "layout": "jsonl"}),
        json!({"conversation": {"id": format!("conv_{HOSTILE}"), "created_at": "2026-01-31T12:00:00Z",
            "expires_at": "2999-01-01T00:00:00Z", "participants": []}}),
    ];
    std::fs::write(
        &file,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    let line = cli(&env, &["import", file.to_str().unwrap()])
        .await
        .fails(2, "cannot import");
    assert_visible("import error", &line);

    // A backup whose foreign trigger has a hostile name: the refusal names it, escaped.
    if env.sqlite_only("`backup` and `restore` copy the SQLite file") {
        return;
    }
    let backup = env.dir.join("trap.db");
    cli(&env, &["backup", backup.to_str().unwrap()]).await.ok();
    tamper(
        &backup,
        &format!(
            "CREATE TRIGGER \"{HOSTILE}\" AFTER INSERT ON messages BEGIN DELETE FROM messages WHERE id = new.id; END;"
        ),
    );
    let line = cli(&env, &["restore", backup.to_str().unwrap()])
        .await
        .fails(2, "was not created by mcp-bridge");
    assert_visible("restore error", &line);
}

/// Arguments the command line refuses are quoted in clap's error: a
/// conversation id pasted from an agent's message, an unknown flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_arguments_are_quoted_visibly() {
    let env = TestEnv::new("terminal-usage");
    let hostile = format!("conv_{HOSTILE}\r\nFAKE LINE");
    let flag = format!("--x{HOSTILE}");
    for args in [
        vec!["show", hostile.as_str()],
        vec!["tokens", hostile.as_str()],
        vec!["export", hostile.as_str()],
        vec!["audit", "--since", hostile.as_str()],
        vec!["list", flag.as_str()],
    ] {
        let out = cli(&env, &args).await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_visible(&format!("{args:?}"), &out.stderr);
        // The injected line break is shown, not obeyed.
        assert!(
            !out.stderr.lines().any(|l| l.starts_with("FAKE LINE")),
            "{}",
            out.stderr
        );
        assert!(out.stderr.starts_with("error:"), "{}", out.stderr);
    }
    // Help is still clap's own text.
    let help = cli(&env, &["show", "--help"]).await;
    assert_eq!(help.code, 0, "{}", help.stderr);
    assert!(
        help.stdout.contains("Usage: mcp-bridge show"),
        "{}",
        help.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_hostile_workspace_cannot_redraw_the_confirmation() {
    let env = TestEnv::new("terminal-confirm");
    let s = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let conv = Conv::create(&s).await;
    ok(&enable(&s, &conv, "yolo", &ws, json!({})).await);
    ensure_passphrase(&env).await;
    // As an older bridge (or a hand-edited database) might have stored it:
    // clear the screen, then draw the reassuring lines of a safe request.
    let fake = format!(
        "{}\x1b[2J\x1b[H\n  mode:       safe — read-only programs\n  sandbox:    on\u{202e}",
        ws.display()
    );
    tamper(
        &env.db,
        &format!(
            "UPDATE yolo_activations SET workspace = '{}' WHERE conversation_id = '{}'",
            fake.replace('\'', "''"),
            conv.id
        ),
    );
    // `confirm` holds the stored workspace to enable_yolo_mode's rules
    // again and refuses it before drawing anything of it.
    let cmd = yolo_cli(&env, &["confirm", &conv.id], &[]);
    let (status, transcript) = tokio::task::spawn_blocking(move || Pty::spawn(cmd).finish())
        .await
        .expect("pty task");
    assert_eq!(status.code(), Some(1), "{transcript}");
    assert!(transcript.contains("workspace-not-allowed"), "{transcript}");
    assert!(!transcript.contains("to continue"), "{transcript}");
    assert!(
        !transcript.contains('\x1b') && !transcript.contains('\u{202e}'),
        "{transcript:?}"
    );
    // `yolo status` still lists it, escaped on its one line: no fake
    // `mode:` or `sandbox:` line.
    let status = yolo_plain(&env, &["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        !text.contains('\x1b') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    assert!(text.contains("\\x1b[2J\\x1b[H\\x0a  mode:"), "{text}");
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("  mode:") || l.starts_with("  sandbox:")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enable_refuses_a_disguised_or_dangerous_workspace() {
    let env = TestEnv::new("terminal-workspace");
    let s = env
        .server_with(&[YOLO_ON, ("MCP_BRIDGE_YOLO__ALLOW_UNSANDBOXED", "true")])
        .await;
    let conv = Conv::create(&s).await;
    // The bridge's own directory: the SQLite file's, or the key file's on PostgreSQL.
    let data = data_dir(&env);
    let mut refused: Vec<(PathBuf, Value)> = Vec::new();
    for name in [
        "ws\x1b[2J",
        "ws\n  mode:       safe",
        "ws\u{202e}",
        "ws\u{200b}",
        "ws\u{9b}",
        // Look-alike blanks, a combining mark and a long blank run (disguised-text).
        "ws\u{3000}x",
        "ws\u{2800}",
        "w\u{336}s",
        "ws                    x",
        // Right-to-left names: `yolo confirm` showed the path reordered.
        "ws/\u{5d0}/\u{5d1}",
    ] {
        let dir = env.dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        refused.push((dir, json!({})));
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).expect("HOME");
    for dir in [
        PathBuf::from("/"),
        PathBuf::from("/etc"),
        PathBuf::from("/usr"),
        PathBuf::from("/usr/bin"),
        PathBuf::from("/tmp"),
        PathBuf::from("/proc/self"),
        // The operating system's state, not a project.
        PathBuf::from("/var/lib"),
        PathBuf::from("/var/cache"),
        PathBuf::from("/var/log"),
        home,
        data.clone(),
    ] {
        refused.push((dir, json!({})));
    }
    // Around the data directory: only the sandbox hides it.
    refused.push((env.dir.canonicalize().unwrap(), json!({"sandbox": false})));
    for (dir, extra) in &refused {
        let body = tool_error(
            &enable(&s, &conv, "yolo", dir, extra.clone()).await,
            "invalid_argument",
        );
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("workspace"), "{dir:?}: {message}");
        assert!(!message.contains('\x1b'), "{message:?}");
    }
    assert_eq!(rows(&env, "yolo_activations"), 0);
    // A project directory is fine.
    ok(&enable(&s, &conv, "yolo", &workspace(&env, "project"), json!({})).await);
}

/// The passphrase refusals the audit trail holds for `conv` (or for no conversation).
fn passphrase_refusals(env: &TestEnv, action: &str) -> Vec<String> {
    env.query(&format!(
        "SELECT detail FROM audit_log WHERE action = '{}' AND code = 'passphrase_refused' ORDER BY seq",
        plain(action)
    ))
    .into_iter()
    .map(|r| r[0].clone().expect("detail"))
    .collect()
}

/// Runs `yolo confirm` or `yolo approve` on a pty and expects a refusal
/// before any prompt (no passphrase set); returns the transcript.
async fn refused_on_pty(env: &TestEnv, args: &[&str]) -> String {
    let cmd = yolo_cli(env, args, &[]);
    let (status, transcript) = tokio::task::spawn_blocking(move || Pty::spawn(cmd).finish())
        .await
        .expect("pty task");
    assert_eq!(status.code(), Some(1), "{transcript}");
    transcript
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_and_approve_need_the_operator_passphrase() {
    if crate::yolo_util::bwrap_missing() {
        return;
    }
    let env = TestEnv::new("terminal-passphrase");
    let s = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let conv = Conv::create(&s).await;
    ok(&enable(&s, &conv, "safe", &ws, json!({})).await);

    // A pty alone is not enough: without a passphrase nothing can be confirmed.
    let transcript = refused_on_pty(&env, &["confirm", &conv.id]).await;
    assert!(
        transcript.contains("no operator passphrase is set"),
        "{transcript}"
    );
    assert!(
        transcript.contains("mcp-bridge yolo passphrase"),
        "{transcript}"
    );
    assert!(!transcript.contains("to continue"), "{transcript}");
    assert_eq!(activation_state(&env, &conv.id).as_deref(), Some("pending"));
    assert_eq!(passphrase_refusals(&env, "yolo confirm"), ["not set"]);

    // Setting it: the entries must match and be long enough; nothing is echoed.
    let (status, transcript) = passphrase_typing(&env, None, PASSPHRASE, "something else").await;
    assert_eq!(status.code(), Some(1), "{transcript}");
    assert!(
        transcript.contains("the two entries differ"),
        "{transcript}"
    );
    let (status, transcript) = passphrase_typing(&env, None, "short", "short").await;
    assert_eq!(status.code(), Some(1), "{transcript}");
    assert!(transcript.contains("12 to 1024 bytes"), "{transcript}");
    assert!(!passphrase_file(&env).exists());
    ensure_passphrase(&env).await;
    let file = passphrase_file(&env);
    assert_eq!(mode(&file), 0o600);
    let stored = std::fs::read_to_string(&file).unwrap();
    assert!(
        stored.contains("\"$argon2id$v=19$m=65536,t=3,p=1$"),
        "{stored}"
    );
    assert!(!stored.contains("horse"), "{stored}");

    // A wrong passphrase after the right phrase and code: nothing is enabled.
    let (status, transcript) =
        confirm_with_passphrase(&env, &conv.id, PHRASE, Code::Shown, "not the passphrase").await;
    assert_eq!(status.code(), Some(1), "{transcript}");
    assert!(
        transcript.contains("wrong operator passphrase"),
        "{transcript}"
    );
    assert!(
        !transcript.contains("not the passphrase"),
        "echoed:\n{transcript}"
    );
    assert_eq!(activation_state(&env, &conv.id).as_deref(), Some("pending"));
    let transcript = confirm(&env, &conv.id).await;
    assert!(!transcript.contains(PASSPHRASE), "echoed:\n{transcript}");

    // Approving: a wrong passphrase gives no token, the right one does.
    let proposal = propose(&s, &conv, "a", "ls").await;
    let (status, transcript, token) =
        approve_with_passphrase(&env, &proposal, &[], "not the passphrase").await;
    assert_eq!(status.code(), Some(1), "{transcript}");
    assert!(token.is_none(), "{transcript}");
    assert_eq!(proposal_state(&env, &proposal), "pending");
    approve(&env, &proposal, &[]).await;
    assert_eq!(proposal_state(&env, &proposal), "approved");
    assert_eq!(
        passphrase_refusals(&env, "yolo confirm"),
        ["not set", "wrong passphrase"]
    );
    assert_eq!(
        passphrase_refusals(&env, "yolo approve"),
        ["wrong passphrase"]
    );

    // Changing it needs the current one.
    let cmd = yolo_cli(&env, &["passphrase"], &[]);
    let (status, transcript) = tokio::task::spawn_blocking(move || {
        let mut pty = Pty::spawn(cmd);
        pty.expect(PASSPHRASE_PROMPT);
        pty.send_line("a wrong old one");
        pty.finish()
    })
    .await
    .expect("pty task");
    assert_eq!(status.code(), Some(1), "{transcript}");
    assert!(
        transcript.contains("wrong operator passphrase"),
        "{transcript}"
    );
    assert!(!transcript.contains("New passphrase"), "{transcript}");
    let (status, transcript) = passphrase_typing(
        &env,
        Some(PASSPHRASE),
        "a new passphrase here",
        "a new passphrase here",
    )
    .await;
    assert!(status.success(), "{transcript}");
    assert!(
        transcript.contains("Operator passphrase changed"),
        "{transcript}"
    );
    let second = propose(&s, &conv, "a", "pwd").await;
    let (status, _, token) = approve_with_passphrase(&env, &second, &[], PASSPHRASE).await;
    assert_eq!(
        (status.code(), token),
        (Some(1), None),
        "the old passphrase still works"
    );
    let (status, transcript, token) =
        approve_with_passphrase(&env, &second, &[], "a new passphrase here").await;
    assert!(status.success() && token.is_some(), "{transcript}");
    assert_audit_intact(&env, "after the passphrase stages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passphrases_in_a_row_make_attempts_wait() {
    let env = TestEnv::new("terminal-lockout");
    let s = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let conv = Conv::create(&s).await;
    ok(&enable(&s, &conv, "safe", &ws, json!({})).await);
    ensure_passphrase(&env).await;
    for n in 1..=5 {
        let (status, transcript) =
            confirm_with_passphrase(&env, &conv.id, PHRASE, Code::Shown, "guess number x").await;
        assert_eq!(status.code(), Some(1), "attempt {n}: {transcript}");
        assert!(
            transcript.contains("wrong operator passphrase"),
            "{transcript}"
        );
    }
    // Now even the right passphrase waits, and the refusal is audited.
    let (status, transcript) = confirm_typing(&env, &conv.id, PHRASE, Code::Shown).await;
    assert_eq!(status.code(), Some(1), "{transcript}");
    assert!(transcript.contains("try again in"), "{transcript}");
    assert_eq!(activation_state(&env, &conv.id).as_deref(), Some("pending"));
    let refusals = passphrase_refusals(&env, "yolo confirm");
    assert_eq!(refusals.len(), 6, "{refusals:?}");
    assert_eq!(refusals[5], "locked after wrong passphrases");
}

/// The server's log (stderr, often a terminal) shows what a client chose
/// (rmcp logs a refused request's id as it came) only made safe: escapes
/// visible, secrets redacted.
#[test]
fn the_server_log_shows_client_text_visibly_and_redacted() {
    use std::io::{Read, Write};
    let env = TestEnv::new("log_escapes");
    let mut server = env
        .serve_command(&[])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let token = "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";
    let id = format!("{HOSTILE} {token}");
    let mut stdin = server.stdin.take().expect("stdin");
    for line in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "hostile", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": id, "method": "no/such/method"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "resources/read", "params": {"uri": format!("bridge://x/{token}")}}),
    ] {
        writeln!(stdin, "{line}").expect("write");
    }
    drop(stdin);
    let mut log = String::new();
    server
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .expect("read stderr");
    server.wait().expect("exit");
    assert!(
        log.contains("response error"),
        "the refusal is logged: {log}"
    );
    assert_visible("the server log", &log);
    assert!(!log.contains(token), "a token in the log: {log}");
}
