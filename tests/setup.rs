//! `mcp-bridge setup` on the real binary, with `HOME` in a temporary
//! directory and the working directory in a temporary project: each client's
//! file at each scope, what survives a merge, idempotence, `--dry-run`,
//! refusals, `--print`, secrets kept off the terminal. Also the helpers the
//! `doctor` tests share.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::util::*;
use crate::util_cli::*;

/// The tool timeout setup writes, in seconds.
pub const TIMEOUT_S: u64 = 630;

/// A test's home directory and project directory.
pub struct Homes {
    pub env: TestEnv,
    pub home: PathBuf,
    pub project: PathBuf,
}

impl Homes {
    pub fn new(name: &str) -> Homes {
        let env = TestEnv::new(name);
        let home = env.dir.join("home");
        let project = env.dir.join("project");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&project).unwrap();
        Homes { env, home, project }
    }

    /// `mcp-bridge ARGS` run in the project, with this HOME and a PATH
    /// that does not hold `mcp-bridge`.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        self.command_in(&self.project, args)
    }

    /// [`Homes::command`] with the working directory `dir`.
    pub fn command_in(&self, dir: &Path, args: &[&str]) -> std::process::Command {
        let mut cmd = self.env.bridge();
        for var in [
            "CLAUDE_CONFIG_DIR",
            "CODEX_HOME",
            "GEMINI_CLI_HOME",
            "MCP_TOOL_TIMEOUT",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("HOME", &self.home)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .current_dir(dir)
            .args(args);
        cmd
    }

    pub async fn run(&self, args: &[&str]) -> Run {
        run_cmd(self.command(args), None).await
    }

    /// Every file under the test's directory with its bytes (to prove nothing changed).
    pub fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push((p.clone(), std::fs::read(&p).unwrap_or_default()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.env.dir, &mut out);
        out.sort();
        out
    }
}

/// The binary every entry should name when `mcp-bridge` is not on PATH.
pub fn exe() -> String {
    std::fs::canonicalize(env!("CARGO_BIN_EXE_mcp-bridge"))
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()))
}

pub fn read_toml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let table: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()));
    serde_json::to_value(table).unwrap()
}

pub fn file_mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The report line whose topic is `topic` and whose text contains `text`.
pub fn line<'a>(report: &'a str, level: &str, topic: &str, text: &str) -> &'a str {
    report
        .lines()
        .find(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.first() == Some(&level) && cells.get(1) == Some(&topic) && l.contains(text)
        })
        .unwrap_or_else(|| panic!("no `{level} {topic} …{text}…` line in:\n{report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_client_and_scope_writes_its_own_file() {
    let exe = exe();
    for (client, scope) in [
        ("claude-code", "user"),
        ("claude-code", "project"),
        ("codex", "user"),
        ("codex", "project"),
        ("gemini", "user"),
        ("gemini", "project"),
    ] {
        let h = Homes::new(&format!("setup-{client}-{scope}"));
        let out = h
            .run(&[
                "setup",
                client,
                "--scope",
                scope,
                "--db",
                "data/../shared/b.db",
            ])
            .await
            .ok();
        let db = h.project.join("shared/b.db");
        let args = json!(["serve", "--db", db.to_str().unwrap()]);
        let base = if scope == "user" { &h.home } else { &h.project };
        let (path, entry) = match client {
            "claude-code" => {
                let path = if scope == "user" {
                    base.join(".claude.json")
                } else {
                    base.join(".mcp.json")
                };
                let v = read_json(&path);
                assert_eq!(
                    v["mcpServers"]["bridge"],
                    json!({"type": "stdio", "command": exe, "args": args, "timeout": TIMEOUT_S * 1000})
                );
                (path, v)
            }
            "codex" => {
                let path = base.join(".codex/config.toml");
                let v = read_toml(&path);
                assert_eq!(
                    v["mcp_servers"]["bridge"],
                    json!({"command": exe, "args": args, "tool_timeout_sec": TIMEOUT_S})
                );
                (path, v)
            }
            _ => {
                let path = base.join(".gemini/settings.json");
                let v = read_json(&path);
                assert_eq!(
                    v["mcpServers"]["bridge"],
                    json!({"command": exe, "args": args, "timeout": TIMEOUT_S * 1000})
                );
                (path, v)
            }
        };
        assert_eq!(
            entry.as_object().unwrap().len(),
            1,
            "{client} {scope}: {entry}"
        );
        assert!(
            out.contains(&format!("in {}", path.display())),
            "{client} {scope}: {out}"
        );
        let expected_mode = if scope == "user" { 0o600 } else { 0o644 };
        assert_eq!(file_mode(&path), expected_mode, "{}", path.display());
        let files: Vec<PathBuf> = h
            .snapshot()
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| p.starts_with(&h.home) || p.starts_with(&h.project))
            .collect();
        assert_eq!(
            files,
            std::slice::from_ref(&path),
            "{client} {scope}: only its own file is written"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_is_the_bare_name_when_path_finds_this_binary() {
    let h = Homes::new("setup-path");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_mcp-bridge"))
        .parent()
        .unwrap();
    let mut cmd = h.command(&["setup", "codex"]);
    cmd.env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()));
    run_cmd(cmd, None).await.ok();
    let v = read_toml(&h.home.join(".codex/config.toml"));
    assert_eq!(
        v["mcp_servers"]["bridge"],
        json!({"command": "mcp-bridge", "args": ["serve"], "tool_timeout_sec": TIMEOUT_S})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_location_variables_are_honoured() {
    let h = Homes::new("setup-vars");
    for (client, var, dir, file) in [
        (
            "claude-code",
            "CLAUDE_CONFIG_DIR",
            "claude-dir",
            "claude-dir/.claude.json",
        ),
        (
            "codex",
            "CODEX_HOME",
            "codex-home",
            "codex-home/config.toml",
        ),
        (
            "gemini",
            "GEMINI_CLI_HOME",
            "gemini-home",
            "gemini-home/.gemini/settings.json",
        ),
    ] {
        let mut cmd = h.command(&["setup", client]);
        cmd.env(var, h.env.dir.join(dir));
        run_cmd(cmd, None).await.ok();
        assert!(h.env.dir.join(file).is_file(), "{client}: {file}");
    }
    assert!(
        std::fs::read_dir(&h.home).unwrap().next().is_none(),
        "nothing in HOME"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_servers_keys_and_comments_survive() {
    let h = Homes::new("setup-merge");
    let exe = exe();

    // Claude Code's user file: other state, another server, a private mode.
    let claude = h.home.join(".claude.json");
    let before = "{\n  \"numStartups\": 4,\n  \"mcpServers\": {\n    \"other\": {\n      \"type\": \"stdio\",\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"other-server\"],\n      \"env\": {}\n    }\n  },\n  \"userID\": \"abc\"\n}";
    std::fs::write(&claude, before).unwrap();
    std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o640)).unwrap();
    h.run(&["setup", "claude-code"]).await.ok();
    let after = std::fs::read_to_string(&claude).unwrap();
    let v: Value = serde_json::from_str(&after).unwrap();
    assert_eq!(
        v["mcpServers"]["other"],
        json!({"type": "stdio", "command": "npx", "args": ["-y", "other-server"], "env": {}})
    );
    assert_eq!(v["mcpServers"]["bridge"]["command"], exe);
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["mcpServers", "numStartups", "userID"],
        "serde sorts; check the text for order"
    );
    let (n, m, u) = (
        after.find("numStartups").unwrap(),
        after.find("mcpServers").unwrap(),
        after.find("userID").unwrap(),
    );
    assert!(n < m && m < u, "key order kept:\n{after}");
    let untouched_head = "{\n  \"numStartups\": 4,\n  \"mcpServers\": {\n    \"other\": {\n      \"type\": \"stdio\",\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"other-server\"],\n      \"env\": {}\n    },\n    \"bridge\": {\n";
    assert!(after.starts_with(untouched_head), "{after}");
    assert!(after.ends_with("  \"userID\": \"abc\"\n}"), "{after}");
    assert_eq!(file_mode(&claude), 0o640, "the file's mode is kept");

    // Codex: comments, another server, a project table.
    let codex = h.home.join(".codex/config.toml");
    std::fs::create_dir_all(codex.parent().unwrap()).unwrap();
    let before = "# my settings\nmodel = \"gpt-5\" # the default\n\n[mcp_servers.docs]\ncommand = \"docs-server\"\nargs = [\"--port\", \"0\"]\n\n[projects.\"/home/me/p\"]\ntrust_level = \"trusted\"\n";
    std::fs::write(&codex, before).unwrap();
    h.run(&["setup", "codex"]).await.ok();
    let after = std::fs::read_to_string(&codex).unwrap();
    let bridge = format!(
        "[mcp_servers.bridge]\ncommand = \"{exe}\"\nargs = [\"serve\"]\ntool_timeout_sec = {TIMEOUT_S}\n\n"
    );
    let expected = before.replace("[projects.", &format!("{bridge}[projects."));
    assert_eq!(
        after, expected,
        "everything else stays byte for byte; the entry joins its siblings"
    );

    // Codex again, with a hand-edited bridge entry: owned keys change, the rest stays.
    let edited = after.replace(
        &format!("tool_timeout_sec = {TIMEOUT_S}"),
        "# raised by hand\ntool_timeout_sec = 30\nenabled_tools = [\"check_messages\"]\nurl = \"http://stale\"",
    );
    std::fs::write(&codex, &edited).unwrap();
    h.run(&["setup", "codex"]).await.ok();
    let after = std::fs::read_to_string(&codex).unwrap();
    assert!(
        after.contains("# raised by hand\ntool_timeout_sec = 630\n"),
        "{after}"
    );
    assert!(
        after.contains("enabled_tools = [\"check_messages\"]"),
        "{after}"
    );
    assert!(
        !after.contains("stale"),
        "another transport's key goes:\n{after}"
    );

    // Gemini: JSON with comments.
    let gemini = h.home.join(".gemini/settings.json");
    std::fs::create_dir_all(gemini.parent().unwrap()).unwrap();
    let before = "{\n  // theme chosen in the UI\n  \"ui\": { \"theme\": \"GitHub\" },\n  \"mcpServers\": {\n    /* the docs server */\n    \"docs\": { \"command\": \"docs-server\" }\n  }\n}\n";
    std::fs::write(&gemini, before).unwrap();
    h.run(&["setup", "gemini"]).await.ok();
    let after = std::fs::read_to_string(&gemini).unwrap();
    assert!(
        after.starts_with("{\n  // theme chosen in the UI\n  \"ui\": { \"theme\": \"GitHub\" },\n  \"mcpServers\": {\n    /* the docs server */\n    \"docs\": { \"command\": \"docs-server\" },\n    \"bridge\": {"),
        "{after}"
    );
    assert!(
        after.contains(&format!("\"timeout\": {}", TIMEOUT_S * 1000)),
        "{after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_run_reports_already_configured_and_rewrites_nothing() {
    let h = Homes::new("setup-idempotent");
    for (client, path) in [
        ("claude-code", h.project.join(".mcp.json")),
        ("codex", h.project.join(".codex/config.toml")),
        ("gemini", h.project.join(".gemini/settings.json")),
    ] {
        let first = h.run(&["setup", client, "--scope", "project"]).await.ok();
        assert!(first.starts_with("Configured"), "{first}");
        let before = std::fs::metadata(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let second = h.run(&["setup", client, "--scope", "project"]).await.ok();
        assert!(
            second.contains("(project scope) is already configured for this bridge in"),
            "{second}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        assert_eq!(
            std::fs::metadata(&path).unwrap().ino(),
            before.ino(),
            "{client}: the file was not replaced"
        );
        // A different database is a change, not "already configured".
        let third = h
            .run(&["setup", client, "--scope", "project", "--db", "/srv/b.db"])
            .await
            .ok();
        assert!(third.starts_with("Configured"), "{third}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_shows_the_change_and_writes_nothing() {
    let h = Homes::new("setup-dry-run");
    let exe = exe();
    // A new file.
    let before = h.snapshot();
    let out = h.run(&["setup", "claude-code", "--dry-run"]).await.ok();
    let path = h.home.join(".claude.json");
    let expected = format!(
        "--- /dev/null\n+++ b{p}\n@@ -0,0 +1,10 @@\n+{{\n+  \"mcpServers\": {{\n+    \"bridge\": {{\n+      \"type\": \"stdio\",\n+      \"command\": \"{exe}\",\n+      \"args\": [\"serve\"],\n+      \"timeout\": 630000\n+    }}\n+  }}\n+}}\nDry run: {p} was not written.\n",
        p = path.display()
    );
    assert_eq!(out, expected);
    assert_eq!(h.snapshot(), before, "nothing written");

    // An existing file with another server.
    let codex = h.home.join(".codex/config.toml");
    std::fs::create_dir_all(codex.parent().unwrap()).unwrap();
    std::fs::write(&codex, "[mcp_servers.docs]\ncommand = \"docs\"\n").unwrap();
    let before = h.snapshot();
    let out = h
        .run(&["setup", "codex", "--dry-run", "--db", "/srv/b.db"])
        .await
        .ok();
    let p = codex.display();
    let expected = format!(
        "--- a{p}\n+++ b{p}\n@@ -1,2 +1,7 @@\n [mcp_servers.docs]\n command = \"docs\"\n+\n+[mcp_servers.bridge]\n+command = \"{exe}\"\n+args = [\"serve\", \"--db\", \"/srv/b.db\"]\n+tool_timeout_sec = 630\nDry run: {p} was not written.\n"
    );
    assert_eq!(out, expected);
    assert_eq!(h.snapshot(), before, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_file_is_refused_and_left_byte_identical() {
    let h = Homes::new("setup-malformed");
    for (client, rel, text) in [
        (
            "claude-code",
            ".claude.json",
            "{\"mcpServers\": {\"x\": 1,}}",
        ),
        (
            "claude-code",
            ".claude.json",
            "{\n  // Claude Code's file is plain JSON\n  \"a\": 1\n}",
        ),
        (
            "codex",
            ".codex/config.toml",
            "[mcp_servers.bridge\ncommand = \"x\"\n",
        ),
        ("codex", ".codex/config.toml", "mcp_servers = \"none\"\n"),
        ("gemini", ".gemini/settings.json", "{ \"mcpServers\": [] }"),
        ("gemini", ".gemini/settings.json", "[1, 2]"),
        // A server named twice: the client reads the last, setup edited the first.
        (
            "claude-code",
            ".claude.json",
            "{\"mcpServers\": {\"bridge\": {\"command\": \"mcp-bridge\", \"args\": [\"serve\"]}, \"bridge\": {\"command\": \"sh\"}}}",
        ),
        (
            "gemini",
            ".gemini/settings.json",
            "{\"mcpServers\": {}, \"mcpServers\": {\"x\": {}}}",
        ),
    ] {
        let path = h.home.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        let before = h.snapshot();
        for extra in [&[][..], &["--dry-run"][..]] {
            let mut args = vec!["setup", client];
            args.extend_from_slice(extra);
            let line = h.run(&args).await.fails(2, "was left unchanged");
            assert!(line.contains(&path.display().to_string()), "{line}");
            assert!(line.contains("mcp-bridge setup --print"), "{line}");
            assert_eq!(
                h.snapshot(),
                before,
                "{client} {text:?}: nothing written, no temp file"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn print_gives_the_snippet_only() {
    let h = Homes::new("setup-print");
    let exe = exe();
    let before = h.snapshot();
    let out = h
        .run(&["setup", "--print", "codex", "--db", "/srv/b.db"])
        .await
        .ok();
    assert_eq!(
        out,
        format!(
            "[mcp_servers.bridge]\ncommand = \"{exe}\"\nargs = [\"serve\", \"--db\", \"/srv/b.db\"]\ntool_timeout_sec = 630\n"
        )
    );
    let out = h
        .run(&["setup", "gemini", "--print", "--name", "team"])
        .await
        .ok();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        json!({"mcpServers": {"team": {"command": exe, "args": ["serve"], "timeout": 630000}}})
    );
    let out = h.run(&["setup", "claude-code", "--print"]).await.ok();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["mcpServers"]["bridge"]["type"], "stdio");
    assert_eq!(h.snapshot(), before, "--print writes nothing");
    let bad = h.run(&["setup", "codex", "--name", "bad name"]).await;
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("use 1–64 letters, digits"),
        "{}",
        bad.stderr
    );
    assert_eq!(h.snapshot(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_client_files_never_reach_the_terminal() {
    let h = Homes::new("setup-secrets");
    // Claude Code keeps an API key in its user file; a dry run's context shows it.
    let api_key = format!(
        "sk-ant-api03-{}AA",
        "Zq7x9Kp2Lm4Nw8Rt".repeat(6).get(..93).unwrap()
    );
    let claude = h.home.join(".claude.json");
    std::fs::write(
        &claude,
        format!("{{\n  \"numStartups\": 2,\n  \"primaryApiKey\": \"{api_key}\"\n}}"),
    )
    .unwrap();
    let out = h.run(&["setup", "claude-code", "--dry-run"]).await.ok();
    assert!(
        out.contains("\"primaryApiKey\""),
        "the context line is shown:\n{out}"
    );
    assert!(!out.contains(&api_key), "{out}");
    assert!(!out.contains("Zq7x9Kp2Lm4Nw8Rt"), "{out}");
    // A parser's error excerpt quotes the broken line.
    let token = format!(
        "ghp_{}",
        "a1B2c3D4e5F6g7H8i9J0".repeat(2).get(..36).unwrap()
    );
    let codex = h.home.join(".codex/config.toml");
    std::fs::create_dir_all(codex.parent().unwrap()).unwrap();
    std::fs::write(
        &codex,
        format!("[mcp_servers.gh.env]\nGITHUB_TOKEN = \"{token}\n"),
    )
    .unwrap();
    let run = h.run(&["setup", "codex"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("was left unchanged"), "{}", run.stderr);
    assert!(!run.stderr.contains(&token), "{}", run.stderr);
    let report = h.run(&["doctor"]).await.stdout;
    line(&report, "fail", "clients", "cannot be read");
    assert!(!report.contains(&token), "{report}");
}

/// Found by an acceptance run: `setup` run as root on a user's file (as with
/// `sudo -E`) gave the file to root, so the client, running as the user,
/// could no longer read it; and a file the user had made read-only was
/// replaced all the same (a rename ignores the file's own write bit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_file_keeps_its_owner_and_a_read_only_one_is_left_alone() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let h = Homes::new("setup-owner");
    let path = h.home.join(".claude.json");
    std::fs::write(&path, "{}").unwrap();
    // Only root may give a file away: elsewhere the first half has nothing to show.
    if std::os::unix::fs::chown(&path, Some(4242), Some(4343)).is_ok() {
        h.run(&["setup", "claude-code"]).await.ok();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (4242, 4343), "owner kept");
        assert!(read_json(&path)["mcpServers"]["bridge"].is_object());
    }
    let gemini = h.home.join(".gemini/settings.json");
    std::fs::create_dir_all(gemini.parent().unwrap()).unwrap();
    std::fs::write(&gemini, "{}").unwrap();
    std::fs::set_permissions(&gemini, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = h.snapshot();
    let run = h.run(&["setup", "gemini"]).await;
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("read-only"), "{}", run.stderr);
    assert_eq!(h.snapshot(), before, "nothing written, no temp file");
}

/// Found by an acceptance run: the success lines printed the client file's
/// path and the binary's as they were, so a project directory named with an
/// escape sequence wrote it to the terminal (`--dry-run` escaped it already).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_prints_hostile_paths_escaped() {
    let h = Homes::new("setup-escapes");
    let dir = h.project.join("repo\u{1b}]0;PWNED\u{7}\u{1b}[2J");
    std::fs::create_dir_all(&dir).unwrap();
    for _ in 0..2 {
        // Configured, then already configured: both lines name the file.
        let args = ["setup", "claude-code", "--scope", "project"];
        let run = run_cmd(h.command_in(&dir, &args), None).await;
        let out = run.ok();
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
        assert!(out.contains("\\x1b]0;PWNED"), "{out}");
    }
}

/// A database password in `--db` is written where the client reads it (a
/// user's file, mode 0600) but never printed, and never into a project's
/// file, which is meant to be committed: it used to be printed by every
/// form and written into world-readable project files (acceptance run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_password_is_never_printed_nor_written_into_a_project() {
    let h = Homes::new("setup-db-password");
    let url = "postgres://bridge:Pw7-SuperSecretZq@db.internal:5432/bridge";
    let before = h.snapshot();
    let refused = h
        .run(&["setup", "codex", "--scope", "project", "--db", url])
        .await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("--scope user"),
        "{}",
        refused.stderr
    );
    assert_eq!(h.snapshot(), before, "nothing was written");
    for args in [
        vec!["setup", "codex", "--db", url, "--dry-run"],
        vec!["setup", "gemini", "--db", url, "--print"],
        vec!["setup", "codex", "--db", url],
    ] {
        let run = h.run(&args).await;
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        let said = format!("{}{}", run.stdout, run.stderr);
        assert!(!said.contains("SuperSecret"), "{args:?}: {said}");
        assert!(said.contains("bridge:***@db.internal"), "{args:?}: {said}");
    }
    // The user's file holds the URL whole: the client must connect.
    let written = std::fs::read_to_string(h.home.join(".codex/config.toml")).unwrap();
    assert!(written.contains(url), "{written}");
}
