//! Runs an approved command: inside bubblewrap unless configured otherwise,
//! with a fixed environment, resource limits, a timeout that kills the whole
//! process group, and capped output. What may run is decided by [`policy`];
//! how the sandbox is built by [`sandbox`]; this module only executes.

pub mod policy;
pub mod sandbox;
pub mod snapshot;
mod workspace;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};

pub use sandbox::Limits;

/// How long output readers may go on after the command ended (a stray
/// descendant could hold the pipe open forever).
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// How to run one command.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Program and arguments (for yolo mode: `sh -c COMMAND`).
    pub argv: Vec<String>,
    /// Working directory (canonical).
    pub workspace: PathBuf,
    /// The sandbox, or `None` to run directly on the host.
    pub sandbox: Option<SandboxSettings>,
    /// Wall-clock limit.
    pub timeout: Duration,
    /// `setrlimit` limits for the command.
    pub limits: Limits,
    /// Bytes kept of stdout and of stderr each.
    pub max_output_bytes: usize,
}

/// Sandbox settings for [`RunSpec`].
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    /// The `bwrap` executable.
    pub bwrap: PathBuf,
    /// Mount the workspace read-write.
    pub writable_workspace: bool,
    /// Paths made invisible inside (the bridge's data directory, configuration file).
    pub hide: Vec<PathBuf>,
    /// Extra host paths bound read-only (toolchains).
    pub extra_ro_binds: Vec<PathBuf>,
}

/// One output stream, capped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The first bytes of the stream.
    pub bytes: Vec<u8>,
    /// How many bytes the command wrote in all.
    pub total: u64,
    /// Whether `bytes` is shorter than what was written.
    pub truncated: bool,
}

/// What happened when the command ran.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The exit code, if it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// Whether the timeout ended it.
    pub timed_out: bool,
    /// Whether it was stopped from outside before it ended (see [`run`]).
    pub interrupted: bool,
    /// Wall-clock duration.
    pub duration: Duration,
    /// Standard output.
    pub stdout: Captured,
    /// Standard error.
    pub stderr: Captured,
}

/// Why a command could not be started.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Sandboxing was required but `bwrap` is missing.
    #[error(
        "the sandbox needs bubblewrap (`bwrap`), which is not installed (Debian/Ubuntu: apt-get install bubblewrap); the command was not run"
    )]
    NoSandbox,
    /// Nothing to run.
    #[error("empty command")]
    Empty,
    /// The OS refused to start it.
    #[error("cannot start the command: {0}")]
    Spawn(#[source] std::io::Error),
    /// The workspace is not the directory that was confirmed any more.
    #[error("{0}; the command was not run")]
    Workspace(String),
    /// The workspace holds or lies in a path kept from commands (one added
    /// since it was confirmed, e.g. a configuration file a newer server hides).
    #[error("{0}; the command was not run")]
    HoldsHidden(String),
}

/// Checks that `workspace` (canonical, as confirmed) is still that directory
/// and clear of every `hide` directory, as [`run`] does before it starts
/// anything (see `workspace`).
///
/// # Errors
/// [`RunError::Workspace`] saying what changed, or
/// [`RunError::HoldsHidden`].
pub fn check_workspace(workspace: &Path, hide: &[PathBuf]) -> Result<(), RunError> {
    workspace::pin(workspace, hide).map(drop)
}

/// Every path of `hide` as given and as it resolves now: what a workspace
/// must neither hold nor lie in (a symlinked TLS key re-pointed since the
/// server started is kept away at its new target too).
pub fn hidden_now(hide: &[PathBuf]) -> Vec<PathBuf> {
    let mut all = hide.to_vec();
    for path in hide {
        if let Ok(target) = std::fs::canonicalize(path)
            && !all.contains(&target)
        {
            all.push(target);
        }
    }
    all
}

/// The `bwrap` executable on `PATH`, if any.
pub fn find_bwrap() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("bwrap"))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs `spec` to completion, its timeout, or until `stop` resolves — then
/// its whole process group is killed and the output says it was
/// interrupted.
///
/// # Errors
/// [`RunError`] when the command cannot be started; a failing command is a
/// normal [`RunOutput`] with its exit code.
pub async fn run(
    spec: &RunSpec,
    stop: impl std::future::Future<Output = ()>,
) -> Result<RunOutput, RunError> {
    let (program, args) = spec.argv.split_first().ok_or(RunError::Empty)?;
    let hide = spec.sandbox.as_ref().map_or(&[][..], |s| &s.hide[..]);
    // Held open until the command has started: bwrap binds this very
    // directory, whatever its path has become since.
    let pinned = workspace::pin(&spec.workspace, hide)?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&pinned);
    let mut cmd = match &spec.sandbox {
        Some(sb) => {
            let mut c = tokio::process::Command::new(&sb.bwrap);
            c.args(sandbox::bwrap_args(&sandbox::SandboxSpec {
                workspace: &spec.workspace,
                writable_workspace: sb.writable_workspace,
                hide: &sb.hide,
                extra_ro_binds: &sb.extra_ro_binds,
                workspace_fd: Some(fd),
                tmp_bytes: spec.limits.memory_bytes,
            }));
            c.arg("--").arg(program).args(args);
            c
        }
        None => {
            let mut c = tokio::process::Command::new(program);
            c.args(args);
            c
        }
    };
    cmd.env_clear()
        .envs(sandbox::sandbox_env())
        .current_dir(&spec.workspace)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so the timeout can kill every descendant at once.
        .process_group(0);
    let limits = spec.limits;
    let inherit = spec.sandbox.is_some();
    // SAFETY: the closure runs in the forked child before exec and only makes
    // plain syscalls (fcntl, keyctl, setrlimit); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if inherit && libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            own_session_keyring()?;
            apply_limits(&limits)
        });
    }
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(RunError::Spawn)?;
    drop(pinned);
    let pgid = child.id().and_then(|id| i32::try_from(id).ok());
    let cap = spec.max_output_bytes;
    let stdout = child.stdout.take().map(|s| reader(s, cap));
    let stderr = child.stderr.take().map(|s| reader(s, cap));

    let (status, timed_out, interrupted) = tokio::select! {
        waited = tokio::time::timeout(spec.timeout, child.wait()) => match waited {
            Ok(status) => (status.ok(), false, false),
            Err(_) => {
                kill_group(pgid);
                (child.wait().await.ok(), true, false)
            }
        },
        () = stop => {
            kill_group(pgid);
            (child.wait().await.ok(), false, true)
        }
    };
    // Whatever the command left running in its group goes too.
    kill_group(pgid);
    let duration = started.elapsed();
    let stdout = finish(stdout).await;
    let stderr = finish(stderr).await;
    use std::os::unix::process::ExitStatusExt;
    Ok(RunOutput {
        exit_code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        timed_out,
        interrupted,
        duration,
        stdout,
        stderr,
    })
}

/// Gives the command a new, empty session keyring. bubblewrap's
/// `--new-session` only calls `setsid`: the command held the server's session
/// keyring and could read and overwrite its keys (Kerberos caches, kAFS
/// tokens, ecryptfs keys; red team). Where the kernel refuses `keyctl`
/// altogether (a seccomp profile, a kernel without keys), the command cannot
/// reach a keyring either, so that is not an error.
fn own_session_keyring() -> std::io::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl with a null name joins a new anonymous keyring; no pointer is read.
    let joined = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if joined >= 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENOSYS | libc::EPERM) => Ok(()),
        _ => Err(e),
    }
}

fn apply_limits(limits: &Limits) -> std::io::Result<()> {
    let set = |resource, value: u64| {
        let limit = libc::rlimit {
            rlim_cur: value as libc::rlim_t,
            rlim_max: value as libc::rlim_t,
        };
        // SAFETY: plain syscall with a valid pointer to a local struct.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    set(libc::RLIMIT_CPU, limits.cpu_seconds)?;
    set(libc::RLIMIT_AS, limits.memory_bytes)?;
    set(libc::RLIMIT_NPROC, limits.max_processes)?;
    set(libc::RLIMIT_FSIZE, limits.max_file_bytes)?;
    set(libc::RLIMIT_CORE, 0)
}

fn kill_group(pgid: Option<i32>) {
    if let Some(pgid) = pgid.filter(|p| *p > 1) {
        // SAFETY: signalling a process group we created; errors (already gone) are harmless.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

type Shared = std::sync::Arc<std::sync::Mutex<Captured>>;

fn reader(
    stream: impl AsyncRead + Unpin + Send + 'static,
    cap: usize,
) -> (Shared, tokio::task::JoinHandle<()>) {
    let shared = Shared::default();
    let sink = std::sync::Arc::clone(&shared);
    let task = tokio::spawn(async move {
        let mut stream = stream;
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut out = sink.lock().unwrap_or_else(|p| p.into_inner());
                    out.total += n as u64;
                    let room = cap.saturating_sub(out.bytes.len());
                    out.bytes.extend_from_slice(&buf[..n.min(room)]);
                    if n > room {
                        out.truncated = true;
                    }
                }
            }
        }
    });
    (shared, task)
}

/// Waits briefly for a reader to reach end of file, then takes what it has.
async fn finish(reader: Option<(Shared, tokio::task::JoinHandle<()>)>) -> Captured {
    let Some((shared, mut task)) = reader else {
        return Captured::default();
    };
    let complete = tokio::time::timeout(DRAIN_GRACE, &mut task).await.is_ok();
    task.abort();
    let mut captured = std::mem::take(&mut *shared.lock().unwrap_or_else(|p| p.into_inner()));
    // A descendant outside the group still held the pipe: more may have followed.
    captured.truncated |= !complete;
    captured
}
