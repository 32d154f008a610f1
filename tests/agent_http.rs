//! The real agent CLIs — Claude Code, Codex, Gemini CLI — reach a bridge
//! served over HTTP (`serve --http`) with the configuration the README gives
//! under "Connecting agents": the URL, and the bearer token taken from
//! `MCP_BRIDGE_TOKEN` in the CLI's environment (never written into its
//! configuration). A scripted session (stand-in model) creates a
//! conversation and then checks the partner's status with no credentials at
//! all: the CLI's MCP session over HTTP is bound to the seat it created.

use serde_json::{Value, json};

use crate::agent_clis::{Cli, Place};
use crate::agent_sessions::json_in;
use crate::stand_in::StandIn;
use crate::util_http::*;

/// What the stand-in model says last.
const FINAL_TEXT: &str = "Done over HTTP.";

/// The `mcpServers` entry Claude Code and Gemini CLI share: the bridge at
/// `url`, its bearer token written as the CLI's own reference to `token_var`.
fn http_servers(url: &str, token_var: &str) -> String {
    json!({"mcpServers": {"bridge": {
        "type": "http",
        "url": url,
        "headers": {"Authorization": format!("Bearer {token_var}")},
        "timeout": 630_000}}})
    .to_string()
}

/// Writes `cli`'s configuration for the bridge at `url`, as the README shows it.
fn configure(place: &Place, cli: Cli, url: &str) {
    let write = |path: std::path::PathBuf, text: String| {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create dir");
        std::fs::write(&path, text).expect("write the configuration");
    };
    match cli {
        Cli::ClaudeCode => {
            write(
                place.project.join(".mcp.json"),
                http_servers(url, "${MCP_BRIDGE_TOKEN}"),
            );
            // What answering "use this project's servers" stores.
            let mut state = json!({"projects": {}});
            state["projects"][place.project.to_string_lossy().as_ref()] = json!({
                "enabledMcpjsonServers": ["bridge"], "hasTrustDialogAccepted": true,
            });
            write(place.home.join(".claude.json"), state.to_string());
        }
        Cli::Codex => write(
            place.home.join(".codex/config.toml"),
            format!(
                "[mcp_servers.bridge]\nurl = {}\nbearer_token_env_var = \"MCP_BRIDGE_TOKEN\"\ntool_timeout_sec = 630\n",
                serde_json::to_string(url).expect("string")
            ),
        ),
        Cli::Gemini => write(
            place.home.join(".gemini/settings.json"),
            http_servers(url, "$MCP_BRIDGE_TOKEN"),
        ),
    }
}

/// Runs a session of `cli` against a bridge over HTTP; checks what the model
/// was handed and what the bridge stored.
async fn http_session(cli: Cli, flag: Option<(&str, Value)>, args: &[&str]) {
    let place = Place::new(&format!("http-{cli:?}"));
    let token = make_token(&place.env, "agent-cli", "agent");
    let server = HttpServer::start(&place.env, &[], &[]).await;
    configure(&place, cli, &server.url);
    let with_flag = |mut args: Value| {
        if let Some((key, value)) = &flag {
            args[*key] = value.clone();
        }
        args
    };
    let turns = json!([
        {"tool": "create_conversation",
         "args": with_flag(json!({"my_role": "backend", "partner_role": "frontend"}))},
        {"tool": "check_partner_status", "args": with_flag(json!({}))},
        {"text": FINAL_TEXT},
    ]);
    let model = StandIn::start(&place.env.dir, cli.api(), &turns);
    place.use_model(cli, &model);
    let mut cmd = place.command(cli, &model);
    cmd.env("MCP_BRIDGE_TOKEN", &token).args(args);
    let out = tokio::task::block_in_place(|| place.run_ok(&format!("{cli:?} over HTTP"), cmd));
    assert!(
        out.stdout.contains(FINAL_TEXT),
        "{cli:?}: the session should end with the model's answer:\n{}",
        out.output()
    );

    let results = model.turn(2)["tool_results"]
        .as_array()
        .expect("tool results")
        .clone();
    assert_eq!(results.len(), 2, "{cli:?}: {results:?}");
    let created = results[0]["text"].as_str().expect("text");
    let conversations = place.env.query("SELECT id FROM conversations");
    assert_eq!(conversations.len(), 1, "{cli:?}: {created}");
    let conv = conversations[0][0].clone().expect("id");
    assert!(created.contains(&conv), "{cli:?}: the model saw {created}");
    let status = json_in(results[1]["text"].as_str().expect("text"));
    assert_eq!(
        status["partner_role"], "frontend",
        "{cli:?}: check_partner_status through the session's own seat: {status}"
    );
    let (code, stderr) = server.terminate().await;
    assert!(code.success(), "{stderr}");
    assert!(!stderr.contains(&token), "the token was logged");
    for file in [
        ".claude.json",
        ".codex/config.toml",
        ".gemini/settings.json",
    ] {
        let text = std::fs::read_to_string(place.home.join(file)).unwrap_or_default();
        assert!(
            !text.contains(&token),
            "{cli:?} wrote the token into {file}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_works_over_http() {
    let tools = "mcp__bridge__create_conversation,mcp__bridge__check_partner_status";
    http_session(
        Cli::ClaudeCode,
        None,
        &[
            "-p",
            "Coordinate.",
            "--allowedTools",
            tools,
            "--output-format",
            "json",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gemini_cli_works_over_http() {
    let tools = "mcp_bridge_create_conversation,mcp_bridge_check_partner_status";
    http_session(
        Cli::Gemini,
        Some(("wait_for_previous", json!(true))),
        &[
            "-p",
            "Coordinate.",
            "--allowed-tools",
            tools,
            "--output-format",
            "json",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_works_over_http() {
    http_session(
        Cli::Codex,
        None,
        &["exec", "--skip-git-repo-check", "Coordinate."],
    )
    .await;
}
