//! `mcp-bridge doctor` on the real binary: a healthy setup, a group-readable
//! key, an invalid configuration, and which clients it finds configured for
//! this bridge (and what it says about each).

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::setup::{Homes, exe, file_mode, line};
use crate::util_cli::*;

/// Creates the test's database and key through a real server, then stops it.
async fn create_database(h: &Homes) {
    h.env.server().await.stop().await;
    assert!(h.env.pg_url().is_some() || h.env.db.is_file());
}

fn db_arg(h: &Homes) -> String {
    h.env.db.to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_on_a_healthy_setup() {
    // Its report counts the sandbox check's warning.
    if crate::yolo_util::bwrap_missing() {
        return;
    }
    let h = Homes::new("doctor-healthy");
    create_database(&h).await;
    let db = db_arg(&h);
    h.run(&["setup", "claude-code", "--db", &db]).await.ok();
    let report = h.run(&["doctor", "--db", &db]).await.ok();
    line(&report, "ok", "config", "no config file, defaults");
    if h.env.pg_url().is_some() {
        // No files of its own to check: the database opens with its key.
        line(
            &report,
            "ok",
            "database",
            &format!("{db} opens with the key {}", h.env.key_file().display()),
        );
    } else {
        line(&report, "ok", "files", "is private (mode 700)");
        line(&report, "ok", "database", &format!("{db}: schema"));
        line(&report, "ok", "database", "integrity ok");
        line(&report, "ok", "key", "bridge.key is private");
    }
    line(&report, "ok", "sandbox", "bwrap works");
    line(
        &report,
        "ok",
        "clients",
        &format!(
            "Claude Code (user scope, {}): `bridge` runs {} serve --db {db} (tool timeout 630 s)",
            h.home.join(".claude.json").display(),
            exe()
        ),
    );
    line(
        &report,
        "warn",
        "clients",
        "Codex is not configured for this bridge",
    );
    line(
        &report,
        "warn",
        "clients",
        "Gemini CLI is not configured for this bridge",
    );
    assert!(
        report.contains("fix: mcp-bridge setup codex (if you use it)"),
        "{report}"
    );
    assert!(report.ends_with("\n0 failures, 2 warnings\n"), "{report}");
    assert!(!report.contains("fail "), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_a_group_readable_key_with_the_fix() {
    // Its report counts the sandbox check's warning.
    if crate::yolo_util::bwrap_missing() {
        return;
    }
    let h = Homes::new("doctor-key");
    create_database(&h).await;
    let key = h.env.key_file();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let run = h.run(&["doctor", "--db", &db_arg(&h)]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.stdout;
    let fail = line(&report, "fail", "key", "has mode 640");
    assert!(fail.contains("other users could forge tokens"), "{fail}");
    let next = report.lines().skip_while(|l| *l != fail).nth(1).unwrap();
    assert_eq!(next.trim(), format!("fix: chmod 600 {}", key.display()));
    assert!(report.ends_with("\n1 failure, 3 warnings\n"), "{report}");
    // Doctor changes nothing: the key is still as it was.
    assert_eq!(file_mode(&key), 0o640);
    // A fresh machine, on the other hand, has nothing to fail.
    let fresh = Homes::new("doctor-fresh");
    let report = fresh.run(&["doctor"]).await.ok();
    line(
        &report,
        "warn",
        "database",
        "does not exist yet (nor its key)",
    );
    // A configuration the server would refuse is a failure that names the key.
    let config = fresh.env.dir.join("bad.toml");
    std::fs::write(&config, "conversation_ttl_minute = 5\n").unwrap();
    let run = fresh
        .run(&["doctor", "--config", config.to_str().unwrap()])
        .await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let fail = line(&run.stdout, "fail", "config", "conversation_ttl_minute");
    assert!(fail.contains(&config.display().to_string()), "{fail}");
    assert!(
        run.stdout.contains("fix: correct the setting named above"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_finds_the_clients_configured_for_this_bridge() {
    // Its report counts the sandbox check's warning.
    if crate::yolo_util::bwrap_missing() {
        return;
    }
    let h = Homes::new("doctor-clients");
    create_database(&h).await;
    let db = db_arg(&h);
    // Codex in the project, on this database, but the project is not trusted.
    h.run(&["setup", "codex", "--scope", "project", "--db", &db])
        .await
        .ok();
    // Gemini for the user, on another database, next to an unrelated server.
    let gemini = h.home.join(".gemini/settings.json");
    std::fs::create_dir_all(gemini.parent().unwrap()).unwrap();
    std::fs::write(
        &gemini,
        "{\"mcpServers\": {\"docs\": {\"command\": \"docs-server\"}}}",
    )
    .unwrap();
    h.run(&["setup", "gemini", "--db", "/srv/other.db"])
        .await
        .ok();
    // Claude Code's project file, written by hand, names a binary that is gone.
    std::fs::write(
        h.project.join(".mcp.json"),
        r#"{"mcpServers": {"agents": {"command": "/opt/gone/mcp-bridge", "args": ["serve"]}}}"#,
    )
    .unwrap();

    let run = h.run(&["doctor", "--db", &db]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.stdout;
    line(
        &report,
        "fail",
        "clients",
        "`agents` runs /opt/gone/mcp-bridge serve, which does not exist",
    );
    line(
        &report,
        "warn",
        "clients",
        "Codex ignores project files until the project is trusted",
    );
    line(&report, "warn", "clients", "on database /srv/other.db");
    assert!(
        !report.contains("docs"),
        "unrelated servers are not reported:\n{report}"
    );
    assert!(!report.contains("is not configured"), "{report}");

    // Trusting the project and fixing the others makes every client line ok.
    std::fs::create_dir_all(h.home.join(".codex")).unwrap();
    std::fs::write(
        h.home.join(".codex/config.toml"),
        format!(
            "[projects.\"{}\"]\ntrust_level = \"trusted\"\n",
            h.project.display()
        ),
    )
    .unwrap();
    h.run(&["setup", "gemini", "--db", &db]).await.ok();
    h.run(&[
        "setup",
        "claude-code",
        "--scope",
        "project",
        "--name",
        "agents",
        "--db",
        &db,
    ])
    .await
    .ok();
    let report = h.run(&["doctor", "--db", &db]).await.ok();
    for label in [
        "Claude Code (project scope",
        "Codex (project scope",
        "Gemini CLI (user scope",
    ] {
        line(&report, "ok", "clients", label);
    }
    assert!(report.ends_with("\n0 failures, 0 warnings\n"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_finds_claude_project_files_and_local_entries() {
    let h = Homes::new("doctor-parents");
    create_database(&h).await;
    let db = db_arg(&h);
    std::fs::create_dir(h.project.join(".git")).unwrap();
    let sub = h.project.join("crates/core");
    std::fs::create_dir_all(&sub).unwrap();
    // `.mcp.json` at the git root, doctor run two levels below.
    h.run(&["setup", "claude-code", "--scope", "project", "--db", &db])
        .await
        .ok();
    // What `claude mcp add bridge -- mcp-bridge serve` writes by default: a
    // "local" entry, in the user file under the project's directory.
    let claude_json = h.home.join(".claude.json");
    let local = json!({
        "numStartups": 1,
        "projects": {
            h.project.to_str().unwrap(): {
                "allowedTools": [],
                "mcpServers": {"old": {"type": "stdio", "command": "mcp-bridge", "args": ["serve"], "env": {}}}
            },
            "/elsewhere": {"mcpServers": {"far": {"command": "mcp-bridge", "args": ["serve"]}}}
        }
    });
    std::fs::write(&claude_json, local.to_string()).unwrap();
    let run = run_cmd(h.command_in(&sub, &["doctor", "--db", &db]), None).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.stdout;
    line(
        &report,
        "ok",
        "clients",
        &format!(
            "Claude Code (project scope, {}): `bridge` runs",
            h.project.join(".mcp.json").display()
        ),
    );
    let fail = line(
        &report,
        "fail",
        "clients",
        &format!(
            "Claude Code (local scope, {}): `old` runs mcp-bridge serve, which does not exist",
            claude_json.display()
        ),
    );
    let fix = report.lines().skip_while(|l| *l != fail).nth(1).unwrap();
    assert_eq!(
        fix.trim(),
        "fix: claude mcp remove old -s local && mcp-bridge setup claude-code"
    );
    assert!(
        !report.contains("`far`"),
        "other projects' entries are not this project's:\n{report}"
    );
}

/// A repository can hold anything in place of a client's file: a FIFO hung
/// `doctor` (and `setup`) for good, `/dev/zero` was read until memory ran
/// out, and a server name with escape sequences reached the terminal raw
/// (red team). Now such a file is reported and skipped, and what a file
/// holds is shown with its controls escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_survives_hostile_client_files_in_a_repository() {
    let h = Homes::new("doctor-hostile-files");
    create_database(&h).await;
    let db = db_arg(&h);
    std::fs::create_dir(h.project.join(".git")).unwrap();
    let fifo = h.project.join(".mcp.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let gemini = h.project.join(".gemini");
    std::fs::create_dir(&gemini).unwrap();
    std::os::unix::fs::symlink("/dev/zero", gemini.join("settings.json")).unwrap();
    let run = run_cmd(h.command_in(&h.project, &["doctor", "--db", &db]), None).await;
    assert!(run.stdout.contains("not a regular file"), "{}", run.stdout);
    let dry = [
        "setup",
        "claude-code",
        "--scope",
        "project",
        "--dry-run",
        "--db",
        &db,
    ];
    let out = run_cmd(h.command_in(&h.project, &dry), None).await;
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);

    std::fs::remove_file(&fifo).unwrap();
    let hostile = json!({"mcpServers": {"\u{1b}]0;owned\u{7}\u{1b}[2J": {"command": "mcp-bridge", "args": ["serve", "--db", "/x\u{1b}[1A"]}}});
    std::fs::write(&fifo, hostile.to_string()).unwrap();
    let run = run_cmd(h.command_in(&h.project, &["doctor", "--db", &db]), None).await;
    assert!(
        !run.stdout.contains('\u{1b}') && !run.stdout.contains('\u{7}'),
        "{:?}",
        run.stdout
    );
    assert!(run.stdout.contains("\\x1b]0;owned"), "{}", run.stdout);
}

/// The report quotes databases, from `--db` and from clients' entries: a
/// PostgreSQL password in either is shown as `***` (red team: doctor printed
/// it in clear, where setup and every error masked it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_never_prints_a_database_password() {
    let h = Homes::new("doctor-password");
    create_database(&h).await;
    let db = db_arg(&h);
    let claude_json = h.home.join(".claude.json");
    let entry = json!({"mcpServers": {"bridge": {
        "type": "stdio", "command": exe(), "args": ["serve"],
        "env": {"MCP_BRIDGE_DB": "postgres://u:EnvPw4512@127.0.0.1:1/d"}
    }}});
    std::fs::write(&claude_json, entry.to_string()).unwrap();
    let run = run_cmd(h.command_in(&h.project, &["doctor", "--db", &db]), None).await;
    assert!(
        run.stdout.contains("postgres://u:***@127.0.0.1:1/d"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("EnvPw4512"), "{}", run.stdout);
    assert!(!run.stderr.contains("EnvPw4512"), "{}", run.stderr);
}
