//! The audit of safe and restricted mode's programs (`src/runner/policy/audit.rs`),
//! end to end: for each class of option the audit found — command-line make code,
//! a program named to ripgrep, other programs run, code loaded, files written, files
//! read outside the workspace — a real `serve` process refuses the command with
//! `command_refused`, the rule, and a reason naming what the option does and the
//! manual that says so; stores no proposal; and audits the refusal. The everyday
//! spelling next to each stays allowed.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::util::*;
use crate::yolo_util::*;

/// A server with YOLO on and one confirmed conversation in `mode`.
struct Setup {
    env: TestEnv,
    server: Server,
    conv: Conv,
    ws: PathBuf,
}

async fn setup(name: &str, mode: &str) -> Setup {
    let env = TestEnv::new(name);
    let server = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    populate(&ws);
    let conv = Conv::create(&server).await;
    activate(&env, &server, &conv, mode, &ws, json!({})).await;
    Setup {
        env,
        server,
        conv,
        ws,
    }
}

fn populate(ws: &Path) {
    for dir in ["src", "tests"] {
        std::fs::create_dir_all(ws.join(dir)).expect("mkdir");
    }
    for (file, text) in [
        ("README.md", "# demo\n"),
        ("src/main.rs", "fn main() {}\n"),
        ("tests/test_app.py", "def test_ok():\n    pass\n"),
        ("build.sh", "touch pwned\n"),
        ("reporter.mjs", "export default async function* r() {}\n"),
        ("Makefile", "test:\n\techo ok\n"),
    ] {
        std::fs::write(ws.join(file), text).expect("write");
    }
}

impl Setup {
    /// Dry-runs `command`; asserts it is refused with `rule` and a reason that
    /// contains `says`; returns the reason.
    async fn refused(&self, command: &str, rule: &str, says: &str) -> String {
        let result = execute(
            &self.server,
            &self.conv,
            "a",
            command,
            json!({"dry_run": true}),
        )
        .await;
        let message = refusal(&result, "command_refused");
        let prefix = format!("command refused (rule {rule}): ");
        assert!(message.starts_with(&prefix), "{command}: {message}");
        assert!(message.contains(says), "{command}: {message}");
        message
    }

    /// Dry-runs `command` and asserts it would run, without a shell, as `argv`.
    async fn allowed(&self, command: &str, argv: &[&str]) {
        let result = execute(
            &self.server,
            &self.conv,
            "a",
            command,
            json!({"dry_run": true}),
        )
        .await;
        let body = ok(&result);
        assert_eq!(body["status"], "dry_run", "{command}: {body}");
        assert_eq!(body["via_shell"], false, "{command}: {body}");
        assert_eq!(body["argv"], json!(argv), "{command}: {body}");
    }

    /// Nothing was proposed, `build.sh` never ran, and `n` refusals were audited.
    async fn nothing_ran(&self, n: usize) {
        assert_eq!(rows(&self.env, "yolo_proposals"), 0);
        assert!(!self.ws.join("pwned").exists());
        let refused = wait_audit(&self.env, &self.conv.id, n, |r| {
            r.2.as_deref() == Some("command_refused")
        })
        .await;
        assert_eq!(refused.len(), n);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_make_runs_no_make_code_from_the_command_line() {
    if crate::yolo_util::bwrap_missing() {
        return;
    }
    let s = setup("audit-make", "restricted").await;
    let says = "runs another program (GNU make manual";
    s.refused(
        "make 'X:=$(shell sh build.sh)' all",
        "option-not-allowed",
        says,
    )
    .await;
    s.refused("make 'X!=sh build.sh'", "option-not-allowed", says)
        .await;
    s.refused(
        "make -j 'X:=$(shell sh build.sh)'",
        "option-not-allowed",
        says,
    )
    .await;
    s.refused("make SHELL=./build.sh test", "option-not-allowed", "SHELL")
        .await;
    s.refused("make --eval 'x:;@id' x", "option-not-allowed", says)
        .await;
    s.allowed("make -j2 test", &["make", "-j2", "test"]).await;
    s.nothing_ran(5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn safe_ripgrep_runs_no_program_it_is_given() {
    if crate::yolo_util::bwrap_missing() {
        return;
    }
    let s = setup("audit-rg", "safe").await;
    let says = "runs another program";
    let reason = s
        .refused(
            "rg --hostname-bin ./build.sh --hyperlink-format=default x src",
            "option-not-allowed",
            says,
        )
        .await;
    assert!(reason.contains("--hostname-bin"), "{reason}");
    s.refused("rg --hostname-b=./build.sh x", "option-not-allowed", says)
        .await;
    s.refused("rg -nz x src", "option-not-allowed", "decompression")
        .await;
    s.refused("rg --pre ./build.sh x src", "option-not-allowed", says)
        .await;
    s.allowed("rg -n main src", &["rg", "-n", "main", "src"])
        .await;
    s.nothing_ran(4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_that_run_another_program_are_refused() {
    if crate::yolo_util::bwrap_missing() {
        return;
    }
    let s = setup("audit-runs", "restricted").await;
    let says = "runs another program";
    s.refused("file -z README.md", "option-not-allowed", says)
        .await;
    s.refused("git log --show-signature", "option-not-allowed", says)
        .await;
    s.refused("git commit -S -m x", "option-not-allowed", says)
        .await;
    s.refused(
        "cargo clippy -- -C linker=./build.sh",
        "option-not-allowed",
        says,
    )
    .await;
    s.refused(
        "npm run build --script-shell=./build.sh",
        "option-not-allowed",
        says,
    )
    .await;
    s.allowed(
        "cargo clippy -- -D warnings",
        &["cargo", "clippy", "--", "-D", "warnings"],
    )
    .await;
    s.nothing_ran(5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_that_load_code_are_refused() {
    if crate::yolo_util::bwrap_missing() {
        return;
    }
    let s = setup("audit-loads", "restricted").await;
    let says = "loads code named on the command line";
    s.refused("pytest -p build tests", "option-not-allowed", says)
        .await;
    s.refused(
        "pytest -o addopts=-pbuild tests",
        "option-not-allowed",
        says,
    )
    .await;
    s.refused(
        "node --test --test-reporter=./reporter.mjs",
        "option-not-allowed",
        says,
    )
    .await;
    s.refused(
        "python3 -m unittest antigravity",
        "option-not-allowed",
        says,
    )
    .await;
    s.refused(
        "python3 -W ignore::evil.Warning tests/test_app.py",
        "option-not-allowed",
        says,
    )
    .await;
    s.allowed(
        "pytest -p no:cacheprovider tests",
        &["pytest", "-p", "no:cacheprovider", "tests"],
    )
    .await;
    s.nothing_ran(5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_that_write_files_are_refused() {
    if crate::yolo_util::bwrap_missing() {
        return;
    }
    let s = setup("audit-writes", "restricted").await;
    s.refused(
        "git diff --output=out.patch",
        "option-not-allowed",
        "writes files",
    )
    .await;
    s.refused(
        "python3 -X pycache_prefix=/tmp tests/test_app.py",
        "option-not-allowed",
        "writes files",
    )
    .await;
    s.refused("sort -o out.txt README.md", "not-read-only", "writes files")
        .await;
    s.allowed("git diff --stat", &["git", "diff", "--stat"])
        .await;
    s.nothing_ran(3).await;
    assert!(!s.ws.join("out.patch").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_that_read_outside_the_workspace_are_refused() {
    if crate::yolo_util::bwrap_missing() {
        return;
    }
    let s = setup("audit-reads", "safe").await;
    let says = "reads files the policy cannot check";
    s.refused("strings @/etc/passwd", "outside-workspace", says)
        .await;
    s.refused("strings -n 4 @README.md", "outside-workspace", says)
        .await;
    s.refused("file -f README.md", "outside-workspace", says)
        .await;
    s.allowed("strings README.md", &["strings", "README.md"])
        .await;
    s.nothing_ran(3).await;
}
