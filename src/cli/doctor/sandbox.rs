//! `doctor`'s sandbox check: runs `true` in bubblewrap as YOLO's
//! `execute_command` would, and says how to fix what stops it.

use std::path::PathBuf;
use std::time::Duration;

use super::Report;
use crate::config::Config;
use crate::runner::{self, RunSpec, SandboxSettings};

/// Runs `true` in the sandbox exactly as `execute_command` would.
pub(super) fn check_sandbox(config: Option<&Config>, r: &mut Report) {
    let yolo = config.map(|c| &c.bridge.yolo);
    let needed = yolo.is_some_and(|y| y.enabled && !y.allow_unsandboxed);
    let why = if needed {
        "YOLO is enabled and needs it"
    } else {
        "needed only for YOLO command execution, which is off"
    };
    let mut problem = |message: String, fix: String| {
        if needed {
            r.fail("sandbox", message, fix);
        } else {
            r.warn("sandbox", message, fix);
        }
    };
    let Some(bwrap) = runner::find_bwrap() else {
        problem(
            format!("bubblewrap (`bwrap`) is not installed ({why})"),
            "apt-get install bubblewrap (Debian/Ubuntu), dnf install bubblewrap (Fedora)"
                .to_owned(),
        );
        return;
    };
    let outcome = (|| -> anyhow::Result<runner::RunOutput> {
        let dir = EmptyDir::new()?;
        let spec = RunSpec {
            argv: vec!["true".to_owned()],
            workspace: std::fs::canonicalize(&dir.0)?,
            sandbox: Some(SandboxSettings {
                bwrap: bwrap.clone(),
                writable_workspace: false,
                hide: Vec::new(),
                extra_ro_binds: Vec::new(),
            }),
            timeout: Duration::from_secs(10),
            limits: runner::Limits::default(),
            max_output_bytes: 4096,
        };
        Ok(crate::cli::runtime()?.block_on(runner::run(&spec, std::future::pending()))?)
    })();
    match outcome {
        Ok(out) if out.exit_code == Some(0) => {
            r.ok("sandbox", format!("{} works", bwrap.display()));
        }
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr.bytes);
            let first = stderr
                .lines()
                .next()
                .unwrap_or("no message")
                .trim()
                .to_owned();
            problem(
                format!("{} cannot start a sandbox: {first} ({why})", bwrap.display()),
                "allow unprivileged user namespaces: sysctl -w kernel.unprivileged_userns_clone=1 (Debian), or kernel.apparmor_restrict_unprivileged_userns=0 (Ubuntu 24.04+)".to_owned(),
            );
        }
        Err(e) => problem(
            format!("{} cannot be run: {e:#} ({why})", bwrap.display()),
            "reinstall bubblewrap".to_owned(),
        ),
    }
}

/// A fresh private directory under the temporary directory, removed on drop:
/// the probe's workspace.
struct EmptyDir(PathBuf);

impl EmptyDir {
    fn new() -> std::io::Result<EmptyDir> {
        use std::os::unix::fs::DirBuilderExt;
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(std::io::Error::other)?;
        let path = std::env::temp_dir().join(format!("mcp-bridge-doctor-{}", hex::encode(random)));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(EmptyDir(path))
    }
}

impl Drop for EmptyDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}
