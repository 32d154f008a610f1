//! What an approved command can and cannot do once it runs: inside bubblewrap
//! it has no network (not even the host's loopback), cannot write outside its
//! workspace or into the bridge's data directory, does not see the server's
//! environment, and dies with all its descendants at the timeout. Without the
//! sandbox (only where the operator allows it) the same loopback connection
//! works, which shows the sandboxed refusal is the sandbox's doing.

use std::net::TcpListener;
use std::path::Path;

use serde_json::{Value, json};

use crate::util::*;
use crate::yolo_util::*;

/// A variable the servers get that commands must never see.
const MARKER_VAR: &str = "MCP_BRIDGE_TEST_SECRET_MARKER";

/// A listener on the host's loopback that nothing has connected to yet.
fn loopback_listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.set_nonblocking(true).expect("non-blocking");
    let port = listener.local_addr().expect("address").port();
    (listener, port)
}

/// A command that connects to `port` on 127.0.0.1 and exits 0 only if it could
/// (bash's `/dev/tcp`: bash is on every Debian-like machine, python3 may not be).
fn connect_command(port: u16) -> String {
    format!("bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected'")
}

/// Whether anything connected to `listener` (it never waits).
fn was_contacted(listener: &TcpListener) -> bool {
    match listener.accept() {
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(e) => panic!("accept: {e}"),
    }
}

fn exit_code(body: &Value) -> i64 {
    body["exit_code"]
        .as_i64()
        .unwrap_or_else(|| panic!("no exit code in {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_sandboxed_commands_reach_no_loopback_no_outside_path_and_no_server_env() {
    if bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo-sandbox");
    let marker = format!("marker-{}", random_hex(12));
    let vars = [YOLO_ON, (MARKER_VAR, marker.as_str())];
    let s = env.server_with(&vars).await;
    // A workspace beside the bridge's data directory (database and key); one
    // holding it is refused, sandbox or not: a command could rename a
    // directory above it out from under the sandbox's mask.
    let ws = workspace(&env, "ws");
    // (For PostgreSQL: the key file's directory, the bridge's files there.)
    let data = data_dir(&env);
    let outside = tempfile::Builder::new()
        .prefix("mcp-bridge-e2e-outside-")
        .tempdir()
        .expect("outside dir");
    let outside = outside.path().canonicalize().expect("canonical");
    let conv = Conv::create(&s).await;
    let around = env.dir.canonicalize().expect("canonical");
    assert!(data.starts_with(&around));
    let refused = enable(&s, &conv, "yolo", &around, json!({})).await;
    let why = tool_error(&refused, "invalid_argument")["message"].to_string();
    assert!(
        why.contains("must not contain the bridge's data directory"),
        "{why}"
    );
    activate(&env, &s, &conv, "yolo", &ws, json!({})).await;

    // Writing inside the workspace works: yolo mode, and the control for what follows.
    let body = run(&env, &s, &conv, "touch inside.txt").await;
    assert_eq!(exit_code(&body), 0, "{body}");
    assert!(ws.join("inside.txt").exists());
    assert_eq!(body["sandboxed"], true);

    // No connection to the host's loopback.
    let (listener, port) = loopback_listener();
    let body = run(&env, &s, &conv, &connect_command(port)).await;
    assert_ne!(exit_code(&body), 0, "{body}");
    assert!(
        !body["stdout"].as_str().unwrap().contains("connected"),
        "{body}"
    );
    assert!(
        !was_contacted(&listener),
        "the sandbox reached the host's loopback"
    );

    // No writes outside the workspace, nor into the data directory.
    for (target, name) in [(outside.as_path(), "escaped"), (data.as_path(), "planted")] {
        let path = target.join(name);
        let body = run(&env, &s, &conv, &format!("touch {}", path.display())).await;
        assert_ne!(exit_code(&body), 0, "{body}");
        assert!(
            !path.exists(),
            "{} was written from the sandbox",
            path.display()
        );
    }
    let body = run(
        &env,
        &s,
        &conv,
        &format!("ls -A {0}; cat {0}/bridge.key", data.display()),
    )
    .await;
    assert_eq!(body["stdout"], "", "the data directory is visible: {body}");
    assert_ne!(exit_code(&body), 0, "{body}");
    assert_dir_has_no(&data, "planted");

    // The server's environment (which does hold the marker) stays outside.
    let environ = std::fs::read(format!("/proc/{}/environ", s.pid())).expect("server environ");
    assert!(String::from_utf8_lossy(&environ).contains(&marker));
    let body = run(&env, &s, &conv, "env").await;
    let printed = body["stdout"].as_str().expect("stdout");
    assert!(
        printed.contains("HOME=/tmp"),
        "env printed nothing useful: {printed}"
    );
    assert!(
        !printed.contains(&marker),
        "the server's environment leaked: {printed}"
    );
    assert!(!printed.contains("MCP_BRIDGE"), "{printed}");
}

fn assert_dir_has_no(dir: &Path, name: &str) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n == name), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_the_timeout_kills_sleeping_grandchildren() {
    if bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo-timeout");
    let s = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let conv = Conv::create(&s).await;
    activate(&env, &s, &conv, "yolo", &ws, json!({"timeout_s": 2})).await;
    // Unique durations mark this test's processes in /proc.
    let digits = random_from("123456789", 8);
    let (bg, detached) = (format!("301.{digits}"), format!("302.{digits}"));
    let command = format!("sh -c 'sleep {bg} & setsid sleep {detached} & wait'");
    let token = approved(&env, &s, &conv, &command).await;

    // Watch /proc while it runs, to know the sleeps really started.
    let watcher = {
        let (bg, detached) = (bg.clone(), detached.clone());
        tokio::spawn(async move {
            // Exactly these command lines: the sleeps themselves, not the
            // shells and bwrap whose arguments merely mention them.
            wait_until("the sleeping grandchildren", || {
                let lines = command_lines();
                [&bg, &detached]
                    .iter()
                    .all(|t| lines.iter().any(|l| *l == format!("sleep {t}")))
            })
            .await;
        })
    };
    let body = ok(&execute(&s, &conv, "a", &command, json!({"approval_token": token})).await);
    watcher
        .await
        .expect("both sleeps were running during the command");
    assert_eq!(body["status"], "completed", "{body}");
    assert_eq!(body["timed_out"], true, "{body}");
    assert_eq!(body["exit_code"], json!(null), "{body}");
    let ms = body["duration_ms"].as_u64().expect("duration");
    assert!(
        (2000..10_000).contains(&ms),
        "ran {ms} ms with a 2 s timeout"
    );
    all_gone(&digits, "its timeout").await;
    let report = messages(&check(&s, &conv, "b", json!({})).await);
    assert!(
        report[0]["content"]
            .as_str()
            .unwrap()
            .contains("timed out (killed)"),
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_runs_unsandboxed_only_where_the_operator_allows_it() {
    let env = TestEnv::new("yolo-nosandbox");
    let strict = env.server_with(&[YOLO_ON]).await;
    let allow = ("MCP_BRIDGE_YOLO__ALLOW_UNSANDBOXED", "true");
    let lax = env.server_with(&[YOLO_ON, allow]).await;
    let ws = workspace(&env, "ws");
    let conv = Conv::create(&strict).await;
    let off = json!({"sandbox": false});
    let m = refusal(
        &enable(&strict, &conv, "yolo", &ws, off.clone()).await,
        "sandbox_unavailable",
    );
    assert!(m.contains("allow_unsandboxed"), "{m}");
    assert_eq!(rows(&env, "yolo_activations"), 0);

    let body = ok(&enable(&lax, &conv, "yolo", &ws, off).await);
    assert_eq!(body["sandbox"], false);
    let transcript = confirm(&env, &conv.id).await;
    assert!(transcript.contains("sandbox:    OFF"), "{transcript}");
    // A server that does not allow it will not run such an activation's commands.
    let m = refusal(
        &execute(&strict, &conv, "a", "true", json!({})).await,
        "sandbox_unavailable",
    );
    assert!(m.contains("allow_unsandboxed"), "{m}");

    // Outside the sandbox the loopback is reachable: the sandboxed refusal is real.
    let (listener, port) = loopback_listener();
    let body = run(&env, &lax, &conv, &connect_command(port)).await;
    assert_eq!(exit_code(&body), 0, "{body}");
    assert_eq!(body["stdout"], "connected\n");
    assert_eq!(body["sandboxed"], false);
    assert!(was_contacted(&listener));
    let report = messages(&check(&lax, &conv, "b", json!({})).await);
    assert!(
        report[0]["content"]
            .as_str()
            .unwrap()
            .contains("NOT sandboxed")
    );
    let ran = wait_audit(&env, &conv.id, 1, |r| {
        r.3.as_deref().is_some_and(|d| d.starts_with("ran "))
    })
    .await;
    assert!(
        ran[0].3.as_deref().unwrap().contains("sandbox=false"),
        "{ran:?}"
    );
    // (The refusal changed nothing, so it may be appended after the success.)
    let asked = wait_audit(&env, &conv.id, 2, |r| r.0 == "enable_yolo_mode").await;
    let outcome = |code: Option<&str>| {
        asked
            .iter()
            .filter(|r| r.2.as_deref() == code)
            .map(|r| r.3.as_deref().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    let detail = "mode=yolo sandbox=false timeout_s=30";
    assert_eq!(outcome(Some("sandbox_unavailable")), [detail]);
    assert_eq!(outcome(None), [detail]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_failures_and_long_output_are_normal_results() {
    if bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo-output");
    let s = env
        .server_with(&[YOLO_ON, ("MCP_BRIDGE_YOLO__MAX_OUTPUT_BYTES", "1024")])
        .await;
    let ws = workspace(&env, "ws");
    let big: String = (0..500).map(|i| format!("line {i:04}\n")).collect();
    std::fs::write(ws.join("big.txt"), &big).expect("write");
    let conv = Conv::create(&s).await;
    activate(&env, &s, &conv, "safe", &ws, json!({})).await;

    let body = run(&env, &s, &conv, "ls no-such-file").await;
    assert_eq!(exit_code(&body), 2, "{body}");
    assert_eq!(body["stdout"], "");
    assert!(
        body["stderr"].as_str().unwrap().contains("No such file"),
        "{body}"
    );
    assert_eq!(body["timed_out"], false);

    let body = run(&env, &s, &conv, "cat big.txt").await;
    assert_eq!(exit_code(&body), 0, "{body}");
    assert_eq!(body["stdout"], big[..1024]);
    assert_eq!(body["stdout_truncated"], true);
    assert_eq!(body["stderr_truncated"], false);

    let reports = messages(&check(&s, &conv, "b", json!({})).await);
    assert_eq!(reports.len(), 2, "{reports:?}");
    let first = reports[0]["content"].as_str().unwrap();
    assert!(
        first.contains("exit 2") && first.contains("No such file"),
        "{first}"
    );
    let second = reports[1]["content"].as_str().unwrap();
    assert!(second.contains("--- stdout (truncated) [out-"), "{second}");
    assert!(!second.contains("line 0499"), "{second}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_snapshot_and_restore_bring_back_an_uncommitted_edit() {
    if bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo-snapshot");
    let s = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "repo");
    git(&ws, &["init", "-q"]);
    std::fs::write(ws.join("notes.txt"), "committed\n").expect("write");
    git(&ws, &["add", "notes.txt"]);
    git(&ws, &["commit", "-q", "-m", "first"]);
    let head = git(&ws, &["rev-parse", "HEAD"]);
    // Work nobody committed yet: an edit and a new file.
    std::fs::write(ws.join("notes.txt"), "edited, not committed\n").expect("write");
    std::fs::write(ws.join("draft.txt"), "untracked draft\n").expect("write");
    let status_before = git(&ws, &["status", "--porcelain"]);
    let conv = Conv::create(&s).await;
    activate(&env, &s, &conv, "yolo", &ws, json!({})).await;

    let body = run(
        &env,
        &s,
        &conv,
        "echo clobbered > notes.txt && rm draft.txt",
    )
    .await;
    assert_eq!(exit_code(&body), 0, "{body}");
    assert_eq!(
        std::fs::read_to_string(ws.join("notes.txt")).unwrap(),
        "clobbered\n"
    );
    assert!(!ws.join("draft.txt").exists());
    let snapshot = &body["snapshot"];
    let id = snapshot["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no snapshot in {body}"));
    assert_eq!(
        snapshot["git_ref"],
        format!("refs/mcp-bridge/snapshots/{id}")
    );
    let git_ref = snapshot["git_ref"].as_str().unwrap();
    assert_eq!(
        git(&ws, &["rev-parse", git_ref]),
        snapshot["commit"].as_str().unwrap()
    );
    // The snapshot left the user's HEAD alone.
    assert_eq!(git(&ws, &["rev-parse", "HEAD"]), head);
    let report = messages(&check(&s, &conv, "b", json!({})).await);
    let report = report[0]["content"].as_str().unwrap();
    assert!(
        report.contains(&format!("mcp-bridge yolo restore {id}")),
        "{report}"
    );

    // Without bubblewrap a restore is refused: it would run the repository's
    // filters (an agent's code, perhaps) on the host.
    let empty = tempfile::tempdir().expect("an empty PATH");
    let path = empty.path().to_str().expect("utf-8").to_owned();
    let out = yolo_cli(&env, &["restore", id], &[("PATH", &path)])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run mcp-bridge yolo restore");
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bubblewrap"),
        "{out:?}"
    );
    assert_ne!(
        std::fs::read_to_string(ws.join("notes.txt")).unwrap(),
        "edited, not committed\n"
    );
    let out = yolo_plain(&env, &["restore", id]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("Restored {id}")));
    assert_eq!(
        std::fs::read_to_string(ws.join("notes.txt")).unwrap(),
        "edited, not committed\n"
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("draft.txt")).unwrap(),
        "untracked draft\n"
    );
    assert_eq!(git(&ws, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&ws, &["status", "--porcelain"]), status_before);
    let restored = wait_audit(&env, &conv.id, 2, |r| r.0 == "yolo restore").await;
    let outcomes: Vec<&str> = restored.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        outcomes,
        ["denied", "ok"],
        "the refusal without bubblewrap, then the restore"
    );
    assert_eq!(
        restored[1].3.as_deref(),
        Some(format!("snapshot={id}").as_str())
    );
    // A restore that fails says so, not that a command was not run (red team).
    std::fs::rename(ws.join(".git"), ws.join("git-moved")).unwrap();
    let out = yolo_plain(&env, &["restore", id]);
    std::fs::rename(ws.join("git-moved"), ws.join(".git")).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(err.contains("could not restore the git workspace"), "{err}");
    assert!(!err.contains("command was not run"), "{err}");
    // An unknown snapshot is refused.
    let out = yolo_plain(&env, &["restore", "snap_0000000000000000"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

/// An approved command gets a session keyring of its own: bubblewrap's
/// `--new-session` is only `setsid`, and the command could read and overwrite
/// the keys of the server's session keyring (red team). The server inherits
/// this test's session keyring, so a command still holding it would name the
/// same one.
#[cfg(target_arch = "x86_64")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_commands_get_a_session_keyring_of_their_own() {
    if bwrap_missing() {
        return;
    }
    // KEYCTL_GET_KEYRING_ID (0) of KEY_SPEC_SESSION_KEYRING (-3), not creating one.
    // SAFETY: plain syscall, no pointers.
    let ours = unsafe { libc::syscall(libc::SYS_keyctl, 0, -3_i64, 0) };
    if ours < 0 {
        println!(
            "SKIPPED yolo_commands_get_a_session_keyring_of_their_own: keyctl is not allowed here"
        );
        return;
    }
    let env = TestEnv::new("yolo-keyring");
    let s = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let conv = Conv::create(&s).await;
    activate(&env, &s, &conv, "yolo", &ws, json!({})).await;
    let body = run(
        &env,
        &s,
        &conv,
        "python3 -c 'import ctypes; print(ctypes.CDLL(None).syscall(250, 0, -3, 0))'",
    )
    .await;
    assert_eq!(exit_code(&body), 0, "{body}");
    let theirs: i64 = body["stdout"]
        .as_str()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no keyring id in {body}"));
    assert!(theirs > 0, "{body}");
    assert_ne!(
        theirs, ours,
        "the command holds the server's session keyring"
    );
    s.stop().await;
}
