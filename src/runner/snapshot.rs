//! Working-tree snapshots of a git workspace, taken before a command runs and
//! restorable afterwards.
//!
//! A snapshot is a commit of the whole working tree — tracked changes and
//! untracked files alike (ignored files excepted) — built with a private
//! temporary index, so neither the user's index nor the working tree is
//! touched, and kept alive by a ref under [`REF_PREFIX`]. Restoring writes the
//! snapshot's files back (files created later are left in place). The git
//! commands run inside the same sandbox as commands do, since a repository's
//! own configuration (filters, fsmonitor) can make git run programs.

use std::path::Path;
use std::time::Duration;

use super::{Limits, RunError, RunSpec, SandboxSettings, run};

/// Where snapshot refs live.
pub const REF_PREFIX: &str = "refs/mcp-bridge/snapshots/";

/// How long a snapshot or restore may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(60);

/// Shared prologue: a git that runs no hooks or monitors, a fixed identity.
const PROLOGUE: &str = r#"set -eu
g() { git -c core.fsmonitor=false -c core.hooksPath=/dev/null -c gc.auto=0 "$@"; }
export GIT_AUTHOR_NAME=mcp-bridge GIT_AUTHOR_EMAIL=mcp-bridge@localhost
export GIT_COMMITTER_NAME=mcp-bridge GIT_COMMITTER_EMAIL=mcp-bridge@localhost
export GIT_CONFIG_NOSYSTEM=1
g rev-parse --is-inside-work-tree >/dev/null 2>&1 || exit 3
cd "$(g rev-parse --show-toplevel)"
export GIT_INDEX_FILE="${TMPDIR:-/tmp}/mcp-bridge-index.$$"
trap 'rm -f "$GIT_INDEX_FILE"' EXIT
"#;

const TAKE: &str = r#"
if parent=$(g rev-parse -q --verify 'HEAD^{commit}'); then g read-tree "$parent"; else g read-tree --empty; parent=; fi
g add -A
tree=$(g write-tree)
if [ -n "$parent" ]; then
  commit=$(g commit-tree "$tree" -p "$parent" -m "mcp-bridge snapshot $1")
else
  commit=$(g commit-tree "$tree" -m "mcp-bridge snapshot $1")
fi
g update-ref "refs/mcp-bridge/snapshots/$1" "$commit"
printf '%s\n' "$commit"
"#;

const RESTORE: &str = r#"
g read-tree "$1"
g checkout-index -a -f
"#;

/// What taking a snapshot found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// The workspace is not inside a git working tree (visible from the workspace).
    NotARepository,
    /// The snapshot commit and its ref.
    Snapshot {
        /// The ref, `refs/mcp-bridge/snapshots/<id>`.
        git_ref: String,
        /// The commit id.
        commit: String,
    },
}

/// Why git failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The git commands could not start.
    #[error(transparent)]
    Run(#[from] RunError),
    /// git failed; its (capped) error output says why.
    #[error("git failed: {0}")]
    Git(String),
}

/// What git may use: the limits configured for commands, and at most
/// [`GIT_TIMEOUT`] or the command's own timeout, whichever is shorter (git
/// runs the repository's filters and hooks, which an agent may have written).
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Resource limits, as for the command.
    pub limits: Limits,
    /// The command's timeout.
    pub timeout: Duration,
}

fn spec(
    workspace: &Path,
    script: &str,
    arg: &str,
    sandbox: Option<&SandboxSettings>,
    budget: Budget,
) -> RunSpec {
    RunSpec {
        argv: vec![
            "sh".into(),
            "-c".into(),
            format!("{PROLOGUE}{script}"),
            "sh".into(),
            arg.into(),
        ],
        workspace: workspace.to_owned(),
        // git writes objects and refs under .git, so the workspace must be writable.
        sandbox: sandbox.map(|s| SandboxSettings {
            writable_workspace: true,
            ..s.clone()
        }),
        timeout: budget.timeout.min(GIT_TIMEOUT),
        limits: budget.limits,
        max_output_bytes: 4096,
    }
}

/// Snapshots the working tree of the repository containing `workspace` under
/// the ref `refs/mcp-bridge/snapshots/<id>`. `id` must be a plain token (`snap_…`).
///
/// # Errors
/// When git cannot run or fails in a repository.
pub async fn take(
    workspace: &Path,
    id: &str,
    sandbox: Option<&SandboxSettings>,
    budget: Budget,
    stop: impl Future<Output = ()>,
) -> Result<Taken, SnapshotError> {
    let out = run(&spec(workspace, TAKE, id, sandbox, budget), stop).await?;
    if out.interrupted {
        return Err(SnapshotError::Git(
            "stopped: the YOLO mode was withdrawn while the snapshot was taken".into(),
        ));
    }
    match out.exit_code {
        Some(0) => {
            let commit = String::from_utf8_lossy(&out.stdout.bytes).trim().to_owned();
            if commit.len() < 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(SnapshotError::Git(format!("unexpected output {commit:?}")));
            }
            Ok(Taken::Snapshot {
                git_ref: format!("{REF_PREFIX}{id}"),
                commit,
            })
        }
        Some(3) => Ok(Taken::NotARepository),
        _ => Err(SnapshotError::Git(
            String::from_utf8_lossy(&out.stderr.bytes).trim().to_owned(),
        )),
    }
}

/// Writes the files of snapshot `commit` back into the working tree.
///
/// # Errors
/// When git cannot run or fails (e.g. the commit is gone).
pub async fn restore(
    workspace: &Path,
    commit: &str,
    sandbox: Option<&SandboxSettings>,
    budget: Budget,
) -> Result<(), SnapshotError> {
    let out = run(
        &spec(workspace, RESTORE, commit, sandbox, budget),
        std::future::pending(),
    )
    .await?;
    match out.exit_code {
        Some(0) => Ok(()),
        Some(3) => Err(SnapshotError::Git(
            "the workspace is no longer a git working tree".into(),
        )),
        _ => Err(SnapshotError::Git(
            String::from_utf8_lossy(&out.stderr.bytes).trim().to_owned(),
        )),
    }
}
