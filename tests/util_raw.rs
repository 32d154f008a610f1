//! A real `mcp-bridge serve` on pipes, for tests that bring their own client
//! (a custom rmcp handler) or speak raw JSON lines to it.

use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::util::{EVENT_TIMEOUT, TestEnv};

/// `mcp-bridge serve` on `env`'s database with stdin and stdout piped
/// (stderr dropped), killed when dropped.
pub fn piped_serve(env: &TestEnv) -> Child {
    let mut cmd = tokio::process::Command::from(env.serve_command(&[]));
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    cmd.spawn().expect("spawn serve")
}

/// A `serve` process spoken to in raw JSON lines.
pub struct RawServe {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
}

impl RawServe {
    /// Starts one on `env`'s database.
    pub fn spawn(env: &TestEnv) -> RawServe {
        let mut child = piped_serve(env);
        let stdin = child.stdin.take();
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        RawServe {
            child,
            stdin,
            lines,
        }
    }

    /// Writes `line` (one JSON-RPC message and its newline).
    pub async fn send(&mut self, line: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(line).await.expect("write to serve");
    }

    /// The next line the server writes, as JSON; fails the test after
    /// [`EVENT_TIMEOUT`].
    pub async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(EVENT_TIMEOUT, self.lines.next_line())
            .await
            .expect("a line in time")
            .expect("read")
            .expect("the server is still there");
        serde_json::from_str(&line).expect("JSON")
    }

    /// The next answer to request `id`, skipping notifications and other answers.
    pub async fn answer(&mut self, id: i64) -> Value {
        loop {
            let v = self.next().await;
            if v["id"] == id {
                return v;
            }
        }
    }

    /// Closes stdin and waits (boundedly) for the server to end.
    pub async fn close(mut self) {
        drop(self.stdin.take());
        let _ = tokio::time::timeout(EVENT_TIMEOUT, self.child.wait()).await;
    }
}
