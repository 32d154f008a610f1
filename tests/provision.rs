//! Installing and running third-party clients for the interoperability
//! tests: Python virtualenvs with the MCP SDK, npm packages (the TypeScript
//! SDK, the Inspector, the agent CLIs), and running their commands under a
//! timeout in their own process group.
//!
//! Each client is installed once into `<target dir>/mcp-clients/<name>`,
//! under a file lock per client so parallel tests and parallel `cargo test`
//! runs install it at most once; later runs reuse the install. Provisioning
//! needs PyPI and the npm registry: without them the tests that need a client
//! fail, naming the command that failed. Delete `<target dir>/mcp-clients` (or
//! one client's directory) to reinstall.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long an install command may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(900);

/// `<target dir>/mcp-clients`, beside the build outputs of this very test binary.
pub fn cache_root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR has a parent (the target dir)")
        .join("mcp-clients")
}

/// What a finished command left behind.
pub struct Finished {
    /// Its exit status.
    pub status: std::process::ExitStatus,
    /// Everything it wrote on stdout.
    pub stdout: String,
    /// Everything it wrote on stderr.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Finished {
    /// Both streams, labelled, for failure messages.
    pub fn output(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }
}

/// Runs `cmd` (stdin closed) in its own process group, killing the whole group
/// after `timeout`. `Err` says what went wrong, naming the command.
pub fn run(cmd: &mut Command, timeout: Duration) -> Result<Finished, String> {
    use std::os::unix::process::CommandExt;
    let shown = format!("{cmd:?}");
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if start.elapsed() > timeout {
            kill_group(&child);
            let _ = child.wait();
            return Err(format!(
                "`{shown}` did not finish within {timeout:?}.\n--- stdout so far\n{}\n--- stderr so far\n{}",
                stdout.join().unwrap_or_default(),
                stderr.join().unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // A client may leave a grandchild behind (a server it spawned) holding
    // the pipes open; end the group so the readers see end of file.
    kill_group(&child);
    Ok(Finished {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        elapsed: start.elapsed(),
    })
}

/// Sends SIGKILL to the process group `child` leads (made by [`run`] or a
/// caller that spawned it with `process_group(0)`).
pub fn kill_group(child: &std::process::Child) {
    let group = i32::try_from(child.id()).expect("pid fits i32");
    // SAFETY: signals the process group this module's caller created for the child.
    unsafe { libc::kill(-group, libc::SIGKILL) };
}

/// Runs an install step, turning any failure into a message naming the command.
pub fn install_step(cmd: &mut Command, why: &str) -> Result<(), String> {
    let out = run(cmd, INSTALL_TIMEOUT)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{cmd:?}` failed ({}) while {why}.\n{}",
            out.status,
            out.output()
        ))
    }
}

/// `<cache>/<name>/<entry>`, provisioned by `install` unless an earlier run
/// already did so for the same `spec` (and `entry` still exists). Holds an exclusive lock on
/// `<cache>/<name>.lock` meanwhile, so concurrent tests (threads or processes)
/// wait for one install instead of racing. A marker written last tells a
/// complete install from an interrupted one, which is removed and redone.
pub fn provision(
    name: &str,
    spec: &str,
    entry: &str,
    install: impl FnOnce(&Path) -> Result<(), String>,
) -> PathBuf {
    let root = cache_root();
    std::fs::create_dir_all(&root)
        .unwrap_or_else(|e| panic!("create client cache {}: {e}", root.display()));
    let lock_path = root.join(format!("{name}.lock"));
    let lock = std::fs::File::create(&lock_path)
        .unwrap_or_else(|e| panic!("open {}: {e}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("lock {}: {e}", lock_path.display()));

    let dir = root.join(name);
    let marker = dir.join(".mcp-bridge-provisioned");
    if std::fs::read_to_string(&marker).is_ok_and(|s| s == spec) && dir.join(entry).exists() {
        return dir.join(entry);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .unwrap_or_else(|e| panic!("remove stale {}: {e}", dir.display()));
    }
    let start = Instant::now();
    if let Err(problem) = install(&dir) {
        panic!(
            "provisioning the client `{spec}` into {} failed. The interoperability tests \
             install their clients from PyPI / the npm registry on first use and need access \
             to them.\n{problem}",
            dir.display()
        );
    }
    std::fs::write(&marker, spec).unwrap_or_else(|e| panic!("write {}: {e}", marker.display()));
    eprintln!(
        "provisioned {spec} into {} in {:.1} s",
        dir.display(),
        start.elapsed().as_secs_f64()
    );
    let entry = dir.join(entry);
    assert!(entry.exists(), "{} missing after install", entry.display());
    entry
}

/// A virtualenv with `spec` installed; returns its interpreter.
pub fn python_env(name: &str, spec: &str) -> PathBuf {
    provision(name, spec, "bin/python", |dir| {
        install_step(
            Command::new("python3").arg("-m").arg("venv").arg(dir),
            "creating a virtualenv (Debian needs the python3-venv package)",
        )?;
        install_step(
            Command::new(dir.join("bin/python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .arg(spec),
            "installing the MCP Python SDK from PyPI",
        )
    })
}

/// The npm package `spec` (`name@version`) installed into its own prefix
/// `<cache>/<name>`; returns the prefix directory (its `node_modules` holds
/// the package and its dependencies; commands are in `node_modules/.bin`).
/// `entry` is a path inside the prefix that a complete install has.
pub fn npm_package(name: &str, spec: &str, entry: &str) -> PathBuf {
    provision(name, spec, entry, |dir| {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        install_step(
            Command::new("npm")
                .arg("install")
                .arg("--prefix")
                .arg(dir)
                .args(["--no-audit", "--no-fund", "--loglevel=error"])
                .arg(spec),
            "installing from the npm registry",
        )
    });
    cache_root().join(name)
}

// ---------------------------------------------------------------------------
// The clients and their pinned versions
// ---------------------------------------------------------------------------
//
// npm packages are pinned exactly, to releases checked on this project's
// machines (Node.js 20) within the minor versions the project's notes name: the agent
// CLIs change what they send their model between patch releases, and the
// stand-in models (tests/support/stand_in_model.py) speak what these releases
// need. To move to a newer release, change the pin and run the tests.

/// The official Python SDK, current major version.
pub const PY2_SPEC: &str = "mcp>=2,<3";
/// The official Python SDK, previous major version (still widely deployed).
pub const PY1_SPEC: &str = "mcp>=1,<2";
/// The MCP Inspector. Since 0.16 its package declares `engines.node >= 22`,
/// though this release runs on the Node.js 20 of the project's machines.
pub const INSPECTOR_SPEC: &str = "@modelcontextprotocol/inspector@2.12.0";
/// The official TypeScript SDK, which most editors and agent frameworks embed.
pub const TS_SDK_SPEC: &str = "@modelcontextprotocol/sdk@1.32.2";
/// Claude Code.
pub const CLAUDE_CODE_SPEC: &str = "@anthropic-ai/claude-code@2.1.197";
/// Codex CLI.
pub const CODEX_SPEC: &str = "@openai/codex@0.171.0";
/// Gemini CLI.
pub const GEMINI_CLI_SPEC: &str = "@google/gemini-cli@0.61.0";

/// The Inspector CLI's entry point.
pub fn inspector() -> PathBuf {
    let bin = "node_modules/.bin/mcp-inspector";
    npm_package("inspector", INSPECTOR_SPEC, bin).join(bin)
}

/// The npm prefix holding the TypeScript SDK.
pub fn ts_sdk() -> PathBuf {
    npm_package(
        "ts-sdk",
        TS_SDK_SPEC,
        "node_modules/@modelcontextprotocol/sdk/package.json",
    )
}

/// An agent CLI's command: `name` is its cache directory, `bin` its command.
pub fn agent_cli(name: &str, spec: &str, bin: &str) -> PathBuf {
    let bin = format!("node_modules/.bin/{bin}");
    npm_package(name, spec, &bin).join(bin)
}
