//! `serve --http` and its file descriptors: the soft limit on open files is
//! raised to the hard one at start (red team: under the usual 1 024 one
//! token's sessions and streams could hold every descriptor), and when every
//! descriptor is in use anyway, the server says so on stderr and serves
//! again as soon as connections close.

use std::os::unix::process::CommandExt;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::util::*;
use crate::util_http::*;

/// Runs the command with `soft` and `hard` limits on open files.
fn open_files(cmd: &mut std::process::Command, soft: u64, hard: u64) {
    // SAFETY: only `setrlimit`, async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raw const limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

/// The `Max open files` soft and hard limits of process `pid`.
fn limits_of(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("open files line");
    let mut numbers = line
        .split_whitespace()
        .filter_map(|w| w.parse::<u64>().ok());
    (numbers.next().unwrap(), numbers.next().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_file_limit_is_raised_and_running_out_is_said() {
    let env = TestEnv::new("http_descriptors");
    let agent = make_token(&env, "agent-1", "agent");

    // A soft limit below the hard one is raised to it.
    let raised = HttpServer::try_start_with(&env, "127.0.0.1:0", &[], &[], |cmd| {
        open_files(cmd, 200, 400);
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(limits_of(raised.pid() as u32), (400, 400));
    drop(raised);

    // With every descriptor held by idle connections, accepting fails: said
    // once on stderr, and the server serves again once they close.
    let tight = HttpServer::try_start_with(&env, "127.0.0.1:0", &[], &[], |cmd| {
        open_files(cmd, 64, 64);
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let mut idle = Vec::new();
    for _ in 0..80 {
        idle.push(TcpStream::connect(&tight.authority).await.expect("connect"));
    }
    let said = "every file descriptor is in use";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !tight.stderr().contains(said) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing said:\n{}",
            tight.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        tight.stderr().matches(said).count(),
        1,
        "{}",
        tight.stderr()
    );
    drop(idle);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let answer = stateless(
            &tight.url,
            Some(&agent),
            1,
            "create_conversation",
            serde_json::json!({"my_role": "left", "partner_role": "right"}),
        )
        .await;
        if answer.status == 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}", answer.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
