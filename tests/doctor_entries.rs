//! `mcp-bridge doctor` on client entries that look right in their own file
//! but will not start, each found by an acceptance run (doctor said ok):
//! settings in the entry's `env` the server refuses, an argument `serve`
//! does not know, and the clients' own lists that skip a server (Gemini
//! CLI's `mcp.excluded` / `mcp.allowed`, Claude Code's `disabledMcpServers`).

use serde_json::json;

use crate::setup::{Homes, exe, line};

/// A database path of the test's own: the checks here are about the entries.
fn db_of(h: &Homes) -> String {
    h.env.dir.join("entries.db").to_str().unwrap().to_owned()
}

fn write(path: &std::path::Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_entries_whose_server_would_refuse_to_start() {
    let h = Homes::new("doctor-entry-start");
    let db = db_of(&h);
    let secret = "sk-live-0123456789abcdef0123456789abcdef";
    // Claude Code: a value the server rejects, and one it accepts.
    let claude = json!({"mcpServers": {
        "bad-env": {"type": "stdio", "command": exe(), "args": ["serve", "--db", db],
                    "env": {"MCP_BRIDGE_CONVERSATION_TTL_MINUTES": "soon", "OTHER_TOKEN": secret}},
        "unknown-key": {"command": exe(), "args": ["serve", "--db", db],
                        "env": {"MCP_BRIDGE_NO_SUCH_SETTING": "1"}},
        "good-env": {"type": "stdio", "command": exe(), "args": ["serve", "--db", db],
                     "env": {"MCP_BRIDGE_LOG": "debug"}, "timeout": 630000}
    }});
    write(&h.home.join(".claude.json"), &claude.to_string());
    // Codex: a flag `serve` does not have; an HTTP flag without --http.
    write(
        &h.home.join(".codex/config.toml"),
        &format!(
            "[mcp_servers.bridge]\ncommand = \"{exe}\"\nargs = [\"serve\", \"--db\", \"{db}\", \"--bogus\"]\ntool_timeout_sec = 630\n\n[mcp_servers.http-only]\ncommand = \"{exe}\"\nargs = [\"serve\", \"--db\", \"{db}\", \"--no-auth\"]\ntool_timeout_sec = 630\n",
            exe = exe()
        ),
    );
    let run = h.run(&["doctor", "--db", &db]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.stdout;
    let fail = line(&report, "fail", "clients", "`bad-env` runs");
    assert!(fail.contains("which will not start"), "{fail}");
    assert!(
        fail.contains("MCP_BRIDGE_CONVERSATION_TTL_MINUTES"),
        "{fail}"
    );
    let fail = line(&report, "fail", "clients", "`unknown-key` runs");
    assert!(fail.contains("MCP_BRIDGE_NO_SUCH_SETTING"), "{fail}");
    line(&report, "ok", "clients", "`good-env` runs");
    let fail = line(&report, "fail", "clients", "`bridge` runs");
    assert!(fail.contains("'--bogus'"), "{fail}");
    let fix = report.lines().skip_while(|l| *l != fail).nth(1).unwrap();
    assert!(fix.contains("fix: mcp-bridge setup codex"), "{fix}");
    let fail = line(&report, "fail", "clients", "`http-only` runs");
    assert!(fail.contains("need --http"), "{fail}");
    assert!(!report.contains(secret), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_entries_the_clients_own_lists_skip() {
    let h = Homes::new("doctor-entry-lists");
    let db = db_of(&h);
    let entry = json!({"command": exe(), "args": ["serve", "--db", db], "timeout": 630000});
    // Gemini CLI: excluded in the user file, and the project file (whose
    // lists replace the user's) allows only another server.
    write(
        &h.home.join(".gemini/settings.json"),
        &json!({"mcp": {"excluded": ["bridge"]}, "mcpServers": {"bridge": entry}}).to_string(),
    );
    write(
        &h.project.join(".gemini/settings.json"),
        &json!({"mcp": {"allowed": ["docs", "bridge"]}, "mcpServers": {"team": entry}}).to_string(),
    );
    // Claude Code: switched off in /mcp for this project.
    let mut claude_entry = entry.clone();
    claude_entry["type"] = json!("stdio");
    write(
        &h.home.join(".claude.json"),
        &json!({
            "mcpServers": {"bridge": claude_entry},
            "projects": {h.project.to_str().unwrap(): {"disabledMcpServers": ["bridge"]}}
        })
        .to_string(),
    );
    let run = h.run(&["doctor", "--db", &db]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.stdout;
    let fail = line(&report, "fail", "clients", "Gemini CLI (user scope");
    assert!(fail.contains("`mcp.excluded`"), "{fail}");
    let fix = report.lines().skip_while(|l| *l != fail).nth(1).unwrap();
    assert!(fix.contains("remove \"bridge\" from that list"), "{fix}");
    let fail = line(&report, "fail", "clients", "Gemini CLI (project scope");
    assert!(fail.contains("`mcp.allowed`"), "{fail}");
    assert!(fail.contains("leaves it out"), "{fail}");
    let fail = line(&report, "fail", "clients", "Claude Code (user scope");
    assert!(fail.contains("`disabledMcpServers`"), "{fail}");

    // Lists that do not name it change nothing; the project's allow-list
    // replaces the user's.
    write(
        &h.project.join(".gemini/settings.json"),
        &json!({"mcp": {"allowed": ["team", "bridge"], "excluded": []}, "mcpServers": {"team": entry}}).to_string(),
    );
    write(
        &h.home.join(".gemini/settings.json"),
        &json!({"mcp": {"excluded": ["docs"], "allowed": ["docs"]}, "mcpServers": {"bridge": entry}}).to_string(),
    );
    let report = h.run(&["doctor", "--db", &db]).await.stdout;
    line(&report, "ok", "clients", "Gemini CLI (user scope");
    line(&report, "ok", "clients", "Gemini CLI (project scope");
}

/// A project's `.mcp.json` can point an entry's server at any file, by
/// `--config` or `MCP_BRIDGE_CONFIG` in its `env`; doctor loads it to check
/// the entry, and printed toml's error, which quotes the offending line: a
/// file holding a bare secret was printed whole. Now only the place is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_where_a_config_file_is_wrong_without_quoting_it() {
    let h = Homes::new("doctor-entry-config-secret");
    let db = db_of(&h);
    let secret = "xq7Kd92mZLpw0Rtv";
    let planted = h.env.dir.join("elsewhere/token");
    write(&planted, &format!("{secret}\n"));
    let planted = planted.to_str().unwrap();
    let mcp = json!({"mcpServers": {
        "by-flag": {"type": "stdio", "command": exe(),
                    "args": ["serve", "--db", db, "--config", planted]},
        "by-env": {"type": "stdio", "command": exe(), "args": ["serve", "--db", db],
                   "env": {"MCP_BRIDGE_CONFIG": planted}}
    }});
    write(&h.project.join(".mcp.json"), &mcp.to_string());
    let run = h.run(&["doctor", "--db", &db]).await;
    let report = run.stdout;
    assert!(!report.contains(secret), "{report}");
    assert!(!run.stderr.contains(secret), "{}", run.stderr);
    for name in ["by-flag", "by-env"] {
        let fail = line(&report, "fail", "clients", &format!("`{name}` runs"));
        assert!(fail.contains("which will not start"), "{fail}");
        assert!(
            fail.contains("not valid TOML (line 1, column 17)"),
            "{fail}"
        );
    }
}
