//! `mcp-bridge inbox` as a client's hook runs it, in the situations an
//! acceptance run found it wrong: an agent started by another agent (the
//! walk up the process tree must stop at the inner agent, whose own server
//! is bound to nothing yet), and a database another process keeps locked
//! (a reminder it cannot audit is not shown, and the hook does not stall).

use std::time::Instant;

use serde_json::json;

use crate::teams::{invite, join, say};
use crate::teams_cli::{inbox, under_shell};
use crate::util::*;
use crate::util_cli::*;

/// What Claude Code sends a `UserPromptSubmit` hook.
const PROMPT: &[u8] = br#"{"hook_event_name":"UserPromptSubmit","session_id":"x"}"#;

/// Audit records of reminders that revealed messages.
fn reminders(env: &TestEnv) -> i64 {
    let of =
        |table: &str| format!("SELECT 1 FROM {table} WHERE actor = 'cli' AND action = 'inbox'");
    // PostgreSQL stages records before linking them into the chain.
    let rows = match env.pg_url() {
        None => of("audit_log"),
        Some(_) => format!("{} UNION ALL {}", of("audit_log"), of("audit_pending")),
    };
    env.count(&format!("SELECT count(*) FROM ({rows}) AS r"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nested_agent_sees_its_own_seats_never_those_of_the_agent_that_started_it() {
    let env = TestEnv::new("inbox_nested");
    // The test process plays the outer agent: its server holds the owner's
    // seat, and a partner elsewhere (under a shell of its own) writes to it.
    let outer = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&outer).await;
    let partner = Server::spawn(under_shell(&env.serve_command(NO_LIMITS))).await;
    join(&partner, &invite(&outer, "qa", "member").await).await;
    say(
        &partner,
        "outer eyes only: the plan",
        json!({"to": "backend"}),
    )
    .await;
    let outer_text = run_cmd(inbox(&env, &[]), None).await.ok();
    assert!(
        outer_text.contains(&format!(
            "- {} (you are backend, session a): 1 unread",
            conv.id
        )) && outer_text.contains("outer eyes only"),
        "{outer_text}"
    );

    // The inner agent: a process the outer one started (a shell here), with
    // its own bridge server, connected but bound to no conversation yet. Its
    // hooks start the walk at it (`--pid`, as a hook it ran would from its
    // parent): that is the client they belong to, so there is nothing to say.
    let inner = Server::spawn(under_shell(&env.serve_command(NO_LIMITS))).await;
    let inner_agent = inner.pid().to_string();
    let quiet = |extra: &'static [&'static str]| {
        let mut args = vec!["--pid", inner_agent.as_str()];
        args.extend_from_slice(extra);
        inbox(&env, &args)
    };
    assert_eq!(
        run_cmd(quiet(&[]), None).await.ok(),
        "",
        "the inner agent was shown the outer agent's inbox"
    );
    assert_eq!(
        run_cmd(quiet(&["--hook", "claude"]), Some(PROMPT))
            .await
            .ok(),
        ""
    );
    assert_eq!(
        run_cmd(quiet(&["--json"]), None).await.json(),
        json!({"unread": 0, "conversations": []})
    );

    // Once bound, the inner agent sees its own seat, and only that.
    join(&inner, &invite(&outer, "reviewer", "member").await).await;
    say(&partner, "for the reviewer", json!({"to": "reviewer"})).await;
    let inner_text = run_cmd(quiet(&[]), None).await.ok();
    assert!(
        inner_text.contains(&format!(
            "- {} (you are reviewer, session d): 1 unread",
            conv.id
        )) && inner_text.contains("for the reviewer"),
        "{inner_text}"
    );
    assert!(
        !inner_text.contains("outer eyes only") && !inner_text.contains("backend"),
        "{inner_text}"
    );
    // The outer agent's own hooks are unchanged.
    assert_eq!(run_cmd(inbox(&env, &[]), None).await.ok(), outer_text);

    inner.stop().await;
    partner.stop().await;
    outer.stop().await;
}

/// Another connection holding what a reminder's audit record needs: SQLite's
/// write lock, or PostgreSQL's staging table (a long import, a stuck writer).
enum Held {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

impl Held {
    async fn take(env: &TestEnv) -> Self {
        let Some(url) = env.pg_url() else {
            let lock = rusqlite::Connection::open(&env.db).expect("open the database");
            lock.busy_timeout(EVENT_TIMEOUT).expect("busy timeout");
            lock.execute_batch("BEGIN IMMEDIATE")
                .expect("take the write lock");
            return Self::Sqlite(lock);
        };
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        client
            .batch_execute("BEGIN; LOCK TABLE audit_pending, audit_log IN ACCESS EXCLUSIVE MODE")
            .await
            .expect("lock the audit tables");
        Self::Postgres(client)
    }

    async fn release(self) {
        match self {
            Self::Sqlite(lock) => lock.execute_batch("ROLLBACK").expect("release the lock"),
            Self::Postgres(client) => client.batch_execute("ROLLBACK").await.expect("release"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_that_cannot_be_audited_is_not_shown_and_does_not_stall_the_hook() {
    let env = TestEnv::new("inbox_locked");
    let mine = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&mine).await;
    let partner = Server::spawn(under_shell(&env.serve_command(NO_LIMITS))).await;
    join(&partner, &invite(&mine, "qa", "member").await).await;
    say(&partner, "a line worth auditing", json!({"to": "backend"})).await;

    // The reminder's audit record cannot be written. On PostgreSQL the hook
    // used to wait for the lock for as long as it was held.
    let lock = Held::take(&env).await;
    let started = Instant::now();
    let hook = run_cmd(inbox(&env, &["--hook", "claude"]), Some(PROMPT)).await;
    let took = started.elapsed();
    assert_eq!(hook.stdout, "", "shown without an audit record");
    // On PostgreSQL opening the database may be what gives up (it links the
    // audit records other processes staged): "cannot open database …: the
    // database is busy".
    let note = hook.fails(1, "busy");
    assert!(
        note.contains("unread messages not shown: the bridge database is busy")
            || (env.pg_url().is_some() && note.contains("cannot open database")),
        "{note}"
    );
    assert!(!note.contains("a line worth"), "{note}");
    // How long it waits is the unit test `a_brief_patience_waits_half_a_second_and_a_server_ten`
    // (no timing assertion here: these machines are slow at random); it took
    // ~0.7 s here against the old ~12 s (SQLite) and forever (PostgreSQL).
    eprintln!("the hook gave up after {took:?}");
    let plain = run_cmd(inbox(&env, &[]), None).await;
    assert_eq!(plain.stdout, "", "shown without an audit record");
    plain.fails(2, "busy");
    lock.release().await;
    assert_eq!(reminders(&env), 0, "an unshown reminder was audited");

    // With the lock gone the reminder is shown, and audited.
    let text = run_cmd(inbox(&env, &[]), None).await.ok();
    assert!(
        text.contains(&format!(
            "- {} (you are backend, session a): 1 unread",
            conv.id
        )) && text.contains("a line worth auditing"),
        "{text}"
    );
    assert_eq!(reminders(&env), 1);

    partner.stop().await;
    mine.stop().await;
}

/// `cmd` started through a launcher that stays its parent, as `uvx
/// mcp-multiagent-bridge serve` does: a shell script named `uvx` that runs
/// the bridge as its child.
fn via_uvx(env: &TestEnv, cmd: &std::process::Command) -> std::process::Command {
    let script = env.dir.join("uvx");
    std::fs::write(
        &script,
        "#!/bin/sh\nshift\n\"$BRIDGE_BIN\" \"$@\"\nexit $?\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut uvx = std::process::Command::new(&script);
    uvx.arg("mcp-multiagent-bridge")
        .args(cmd.get_args())
        .env("BRIDGE_BIN", cmd.get_program());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => uvx.env(key, v),
            None => uvx.env_remove(key),
        };
    }
    uvx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_started_through_uvx_is_found_through_its_client() {
    let env = TestEnv::new("inbox_uvx");
    // The test process is the client; `uvx` stays between it and the server.
    let mine = Server::spawn(via_uvx(&env, &env.serve_command(NO_LIMITS))).await;
    let conv = Conv::create(&mine).await;
    let partner = env.server_with(NO_LIMITS).await;
    send(&partner, &conv, "b", "through the launcher").await;
    let text = run_cmd(inbox(&env, &[]), None).await.ok();
    assert!(
        text.contains(&format!(
            "- {} (you are backend, session a): 1 unread",
            conv.id
        )) && text.contains("through the launcher"),
        "the hook of a client that starts the bridge through uvx found nothing: {text:?}"
    );
    // An inner agent started by this one, its own server behind `uvx` and
    // bound to nothing yet: the launcher marks it as a client of the
    // bridge, so its hooks never reach the outer agent's messages.
    let inner = Server::spawn(under_shell(&via_uvx(&env, &env.serve_command(NO_LIMITS)))).await;
    let inner_agent = inner.pid().to_string();
    assert_eq!(
        run_cmd(inbox(&env, &["--pid", &inner_agent]), None)
            .await
            .ok(),
        "",
        "the inner agent was shown the outer agent's inbox"
    );
    inner.stop().await;
    partner.stop().await;
    mine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hook_input_that_is_not_a_json_object_is_an_error_with_nothing_on_stdout() {
    let env = TestEnv::new("inbox_malformed");
    let mine = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&mine).await;
    let partner = Server::spawn(under_shell(&env.serve_command(NO_LIMITS))).await;
    join(&partner, &invite(&mine, "qa", "member").await).await;
    say(&partner, "a message waits", json!({"to": "backend"})).await;

    // Plain text on stdout would be taken as the hook's answer; an error
    // exits 1 (non-blocking) with one line on stderr, and reveals nothing.
    let inputs: [(&[u8], &str); 4] = [
        (b"not json at all", "the hook input on stdin is not JSON"),
        (b"", "the hook input on stdin is not JSON"),
        (b"[\"UserPromptSubmit\"]", "is not a JSON object"),
        (b"\"UserPromptSubmit\"", "is not a JSON object"),
    ];
    for client in ["claude", "gemini"] {
        for (input, why) in inputs {
            let run = run_cmd(inbox(&env, &["--hook", client]), Some(input)).await;
            assert_eq!(run.stdout, "", "{client} {input:?}: {run:?}");
            let line = run.fails(1, why);
            assert!(line.starts_with("mcp-bridge inbox: "), "{line}");
        }
    }
    assert_eq!(reminders(&env), 0, "a reminder was revealed");

    // Well-formed input still gets the reminder, in the client's format.
    let answer = run_cmd(inbox(&env, &["--hook", "claude"]), Some(PROMPT))
        .await
        .json();
    let context = answer["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap_or_default();
    assert!(context.contains(&conv.id), "{answer}");
    partner.stop().await;
    mine.stop().await;
}
