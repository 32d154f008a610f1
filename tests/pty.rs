//! A minimal pseudo-terminal driver for the human stages of YOLO mode
//! (`mcp-bridge yolo confirm|approve` insist on a terminal on stdin): spawns a
//! command with stdin, stdout and stderr on the slave side of a fresh pty,
//! collects what it prints from the master side, and types answers.
//!
//! Every wait is bounded, so a prompt that never comes fails the test instead
//! of hanging it. Synchronous on purpose: async tests call it through
//! `tokio::task::spawn_blocking`.
//!
//! The pty is opened with `posix_openpt(O_CLOEXEC)` and the slave with
//! `O_CLOEXEC`, so processes that other tests spawn at the same moment cannot
//! inherit either end (an inherited slave would keep the master from ever
//! seeing the end of the output).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// How long one prompt or the exit may take before the test fails.
pub const PTY_TIMEOUT: Duration = Duration::from_secs(10);

/// A child process whose stdin, stdout and stderr are a terminal.
pub struct Pty {
    master: File,
    child: Child,
    chunks: Receiver<Vec<u8>>,
    /// Output received but not yet consumed by [`Pty::expect`].
    pending: String,
    /// Everything the child printed so far (carriage returns removed).
    transcript: String,
}

/// Opens a pty pair: (master, slave), both close-on-exec.
fn open_pair() -> (File, File) {
    // SAFETY: plain libc calls on a descriptor we own; the buffer passed to
    // ptsname_r is valid for its stated length.
    unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(fd >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        let master = File::from_raw_fd(fd);
        assert_eq!(libc::grantpt(fd), 0, "grantpt");
        assert_eq!(libc::unlockpt(fd), 0, "unlockpt");
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(
            libc::ptsname_r(fd, name.as_mut_ptr(), name.len()),
            0,
            "ptsname_r"
        );
        let path = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_string_lossy()
            .into_owned();
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(&path)
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
        (master, slave)
    }
}

impl Pty {
    /// Starts `cmd` on a new terminal (its own session, the pty as controlling terminal).
    pub fn spawn(mut cmd: Command) -> Pty {
        let (master, slave) = open_pair();
        let clone = |f: &File| Stdio::from(f.try_clone().expect("dup slave"));
        cmd.stdin(clone(&slave))
            .stdout(clone(&slave))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and ioctl are async-signal-safe; nothing is allocated.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn on the pty");
        // The parent's copies of the slave go with `cmd`: once the child has
        // exited, reading the master ends (EIO) instead of blocking.
        drop(cmd);
        let mut reader = master.try_clone().expect("dup master");
        let (tx, chunks) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    // EIO: every copy of the slave is closed and all it
                    // wrote has been read.
                    Err(_) => break,
                }
            }
        });
        Pty {
            master,
            child,
            chunks,
            pending: String::new(),
            transcript: String::new(),
        }
    }

    /// Moves whatever arrives within `wait` into `pending`; false once the output ended.
    fn receive(&mut self, wait: Duration) -> bool {
        match self.chunks.recv_timeout(wait) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).replace('\r', "");
                self.pending.push_str(&text);
                self.transcript.push_str(&text);
                true
            }
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => false,
        }
    }

    /// Waits for `needle` and returns what came before it (consuming both).
    ///
    /// # Panics
    /// When it does not appear within [`PTY_TIMEOUT`] or the output ends first.
    pub fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + PTY_TIMEOUT;
        loop {
            if let Some(at) = self.pending.find(needle) {
                let before = self.pending[..at].to_owned();
                self.pending.drain(..at + needle.len());
                return before;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {needle:?}; transcript so far:\n{}",
                self.transcript
            );
            if !self.receive(left.min(Duration::from_millis(200))) {
                panic!(
                    "output ended before {needle:?}; transcript:\n{}",
                    self.transcript
                );
            }
        }
    }

    /// Types `line` and Enter.
    pub fn send_line(&mut self, line: &str) {
        self.master
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| self.master.flush())
            .expect("write to the pty");
    }

    /// Waits for the child to exit and returns its status and full transcript.
    ///
    /// # Panics
    /// When it is still running after [`PTY_TIMEOUT`].
    pub fn finish(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + PTY_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the pty child") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "process on the pty did not exit; transcript:\n{}",
                    self.transcript
                );
            }
            self.receive(Duration::from_millis(20));
        };
        // Collect the rest of the output: the reader stops at EIO once every
        // copy of the slave is closed, which is right after the exit. The
        // bound is as long as any other wait: with 2 s, a loaded CI run once
        // lost the last lines of an approval (its token) though the command
        // exited 0 — a reader thread left unscheduled that long is the one
        // explanation the kernel's pty code leaves.
        let drain_until = Instant::now() + PTY_TIMEOUT;
        while Instant::now() < drain_until && self.receive(Duration::from_millis(50)) {}
        (status, std::mem::take(&mut self.transcript))
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
