//! The real agent CLIs — Claude Code, Codex, Gemini CLI — with the bridge
//! registered the way a user does it, each pointed at a scripted stand-in for
//! its model (`stand_in.rs`) so a test plays the model's part (issue 10):
//!
//! - `<cli> mcp list` loads the registration (user and project scope) and,
//!   for the CLIs whose listing connects, shows the bridge connected;
//! - a scripted session calls create_conversation, then send_to_partner with
//!   a wrong token, then check_partner_status, and the test reads what the
//!   CLI handed back to the model: the refusal as `auth_failed: <advice>`
//!   text, the successful results as JSON.
//!
//! Every CLI runs with a private HOME and project directory inside the test's
//! temporary directory, a clean environment and only loopback traffic. The
//! CLIs are npm packages, provisioned like the other clients (`provision.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::provision::{CLAUDE_CODE_SPEC, CODEX_SPEC, Finished, GEMINI_CLI_SPEC, agent_cli, run};
use crate::stand_in::{Api, StandIn};
use crate::sweep::WRONG_TOKEN;
use crate::util::*;

/// How long one CLI run may take (they take seconds; provisioning is separate).
const CLI_TIMEOUT: Duration = Duration::from_secs(180);

/// What the stand-in model says last.
const FINAL_TEXT: &str = "Done: the partner has not reported a status yet.";

/// The three CLIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cli {
    ClaudeCode,
    Codex,
    Gemini,
}

/// Where a registration goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    User,
    Project,
}

impl Cli {
    /// The CLI's command, installed on first use.
    fn bin(self) -> PathBuf {
        match self {
            Cli::ClaudeCode => agent_cli("claude-code", CLAUDE_CODE_SPEC, "claude"),
            Cli::Codex => agent_cli("codex", CODEX_SPEC, "codex"),
            Cli::Gemini => agent_cli("gemini-cli", GEMINI_CLI_SPEC, "gemini"),
        }
    }

    /// The API of its model.
    fn api(self) -> Api {
        match self {
            Cli::ClaudeCode => Api::Anthropic,
            Cli::Codex => Api::OpenAi,
            Cli::Gemini => Api::Gemini,
        }
    }
}

/// A test's private HOME and project directory, and its bridge database.
struct Place {
    env: TestEnv,
    home: PathBuf,
    project: PathBuf,
}

impl Place {
    fn new(name: &str) -> Place {
        let env = TestEnv::new(name);
        let home = env.dir.join("home");
        let project = env.dir.join("project");
        for dir in [&home, &project] {
            std::fs::create_dir_all(dir).expect("create dir");
        }
        // Canonical, since CLIs key per-project settings by the real path.
        let project = project.canonicalize().expect("canonical project");
        Place { env, home, project }
    }

    /// `args` of the server entry: `serve --db <the test's database>`.
    fn serve_args(&self) -> Value {
        json!(["serve", "--db", self.env.db])
    }

    /// `cli` with only the variables it needs: PATH (for `node`), a private
    /// HOME and TMPDIR, and its model's address when `model` is given.
    fn command(&self, cli: Cli, model: Option<&StandIn>) -> Command {
        let mut cmd = Command::new(cli.bin());
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("TMPDIR", &self.env.dir)
            .env("LANG", "C.UTF-8")
            .env("NO_COLOR", "1")
            .current_dir(&self.project);
        match cli {
            Cli::ClaudeCode => {
                cmd.env("ANTHROPIC_API_KEY", "stand-in")
                    .env("DISABLE_TELEMETRY", "1")
                    .env("DISABLE_ERROR_REPORTING", "1")
                    .env("DISABLE_AUTOUPDATER", "1")
                    .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
                if let Some(model) = model {
                    cmd.env("ANTHROPIC_BASE_URL", model.url());
                }
            }
            // Codex reads its provider's key from the variable the provider
            // names (see `codex_provider`).
            Cli::Codex => {
                cmd.env("STAND_IN_API_KEY", "stand-in");
            }
            Cli::Gemini => {
                cmd.env("GEMINI_API_KEY", "stand-in")
                    .env("GEMINI_CLI_TRUST_WORKSPACE", "true");
                if let Some(model) = model {
                    cmd.env("GOOGLE_GEMINI_BASE_URL", model.url());
                }
            }
        }
        cmd
    }

    /// Runs `cmd`, failing the test unless it exits successfully.
    fn run_ok(&self, what: &str, mut cmd: Command) -> Finished {
        let out = run(&mut cmd, CLI_TIMEOUT).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            out.status.success(),
            "{what} failed ({}):\n{}",
            out.status,
            out.output()
        );
        eprintln!("{what}: {:.1} s", out.elapsed.as_secs_f64());
        out
    }

    fn write(&self, path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create dir");
        std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Registers the bridge with `cli` in `scope`, as README.md documents it
    /// (the files a user writes or `claude mcp add` writes), plus what the
    /// CLI itself records when the user approves a project's servers.
    fn register(&self, cli: Cli, scope: Scope) {
        let bin = env!("CARGO_BIN_EXE_mcp-bridge");
        let servers = json!({"bridge": {"command": bin, "args": self.serve_args()}});
        match (cli, scope) {
            (Cli::ClaudeCode, Scope::User) => {
                self.write(
                    &self.home.join(".claude.json"),
                    &json!({"mcpServers": servers}).to_string(),
                );
            }
            (Cli::ClaudeCode, Scope::Project) => {
                self.write(
                    &self.project.join(".mcp.json"),
                    &json!({"mcpServers": servers}).to_string(),
                );
                // What answering "use this project's servers" stores.
                let approved = json!({"projects": {self.project.to_string_lossy(): {
                    "enabledMcpjsonServers": ["bridge"], "hasTrustDialogAccepted": true,
                }}});
                self.write(&self.home.join(".claude.json"), &approved.to_string());
            }
            (Cli::Codex, scope) => {
                let entry = format!(
                    "[mcp_servers.bridge]\ncommand = {}\nargs = {}\n",
                    toml_string(bin),
                    self.serve_args()
                );
                let user = self.home.join(".codex/config.toml");
                match scope {
                    Scope::User => self.write(&user, &entry),
                    Scope::Project => {
                        self.write(&self.project.join(".codex/config.toml"), &entry);
                        // Codex reads a project's file only once it is trusted.
                        let trust = format!(
                            "[projects.{}]\ntrust_level = \"trusted\"\n",
                            toml_string(&self.project.to_string_lossy())
                        );
                        self.write(&user, &trust);
                    }
                }
            }
            (Cli::Gemini, scope) => {
                let file = match scope {
                    Scope::User => self.home.join(".gemini/settings.json"),
                    Scope::Project => self.project.join(".gemini/settings.json"),
                };
                let mut settings = read_json(&file);
                settings["mcpServers"] = servers;
                self.write(&file, &settings.to_string());
            }
        }
    }

    /// Points `cli` at `model` in its own user configuration (Claude Code
    /// and Gemini CLI take the address from the environment instead).
    fn use_model(&self, cli: Cli, model: &StandIn) {
        match cli {
            Cli::ClaudeCode => {}
            Cli::Codex => {
                let file = self.home.join(".codex/config.toml");
                let existing = std::fs::read_to_string(&file).unwrap_or_default();
                // Top-level keys go before any table.
                let provider = format!(
                    "model = \"stand-in\"\nmodel_provider = \"stand-in\"\n{existing}\n\
                     [model_providers.stand-in]\nname = \"stand-in\"\nbase_url = \"{}/v1\"\n\
                     env_key = \"STAND_IN_API_KEY\"\nwire_api = \"responses\"\n",
                    model.url()
                );
                self.write(&file, &provider);
            }
            Cli::Gemini => {
                let file = self.home.join(".gemini/settings.json");
                let mut settings = read_json(&file);
                settings["security"] = json!({"auth": {"selectedType": "gemini-api-key"}});
                settings["privacy"] = json!({"usageStatisticsEnabled": false});
                self.write(&file, &settings.to_string());
            }
        }
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    serde_json::to_string(s).expect("string")
}

/// A JSON file's object, or an empty object when there is no file.
fn read_json(path: &Path) -> Value {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| json!({}))
}

// ---------------------------------------------------------------------------
// `mcp list`: the CLI loads the registration and connects
// ---------------------------------------------------------------------------

/// Runs `<cli> mcp list` in `place` and returns its output.
fn mcp_list(place: &Place, cli: Cli) -> String {
    let mut cmd = place.command(cli, None);
    cmd.args(["mcp", "list"]);
    let out = place.run_ok(&format!("{cli:?} mcp list"), cmd);
    format!("{}{}", out.stdout, out.stderr)
}

/// The line of `listing` about the bridge.
fn bridge_line(listing: &str) -> &str {
    listing
        .lines()
        .find(|l| {
            l.trim_start()
                .trim_start_matches('✓')
                .trim_start()
                .starts_with("bridge")
        })
        .unwrap_or_else(|| panic!("the bridge is not listed:\n{listing}"))
}

#[test]
fn claude_code_mcp_list_connects() {
    for scope in [Scope::User, Scope::Project] {
        let place = Place::new(&format!("claude-list-{scope:?}"));
        place.register(Cli::ClaudeCode, scope);
        let listing = mcp_list(&place, Cli::ClaudeCode);
        let line = bridge_line(&listing);
        assert!(
            line.contains(env!("CARGO_BIN_EXE_mcp-bridge")) && line.ends_with("✔ Connected"),
            "{scope:?}: Claude Code should connect to the bridge:\n{listing}"
        );
    }
}

#[test]
fn gemini_cli_mcp_list_connects() {
    for scope in [Scope::User, Scope::Project] {
        let place = Place::new(&format!("gemini-list-{scope:?}"));
        place.register(Cli::Gemini, scope);
        let listing = mcp_list(&place, Cli::Gemini);
        let line = bridge_line(&listing);
        assert!(
            line.contains(env!("CARGO_BIN_EXE_mcp-bridge")) && line.ends_with("- Connected"),
            "{scope:?}: Gemini CLI should connect to the bridge:\n{listing}"
        );
    }
}

/// Codex's listing shows the configuration without starting servers; the
/// scripted session below proves it connects with the same registration.
#[test]
fn codex_mcp_list_loads() {
    for scope in [Scope::User, Scope::Project] {
        let place = Place::new(&format!("codex-list-{scope:?}"));
        place.register(Cli::Codex, scope);
        let mut cmd = place.command(Cli::Codex, None);
        cmd.args(["mcp", "list", "--json"]);
        let out = place.run_ok("codex mcp list --json", cmd);
        let listed: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{scope:?}: not JSON ({e}):\n{}", out.output()));
        let bridge = listed
            .as_array()
            .and_then(|all| all.iter().find(|s| s["name"] == "bridge"))
            .unwrap_or_else(|| panic!("{scope:?}: the bridge is not listed: {listed}"));
        assert_eq!(bridge["enabled"], true, "{scope:?}: {bridge}");
        assert_eq!(
            bridge["transport"]["command"],
            env!("CARGO_BIN_EXE_mcp-bridge"),
            "{scope:?}: {bridge}"
        );
        assert_eq!(
            bridge["transport"]["args"],
            place.serve_args(),
            "{scope:?}: {bridge}"
        );
    }
}

// ---------------------------------------------------------------------------
// Scripted sessions: the CLI calls the tools and hands the results back
// ---------------------------------------------------------------------------

/// The model's part: open a conversation, send with a wrong token (refused),
/// check the partner's status, make the `extra` calls, finish. `flag` is added
/// to every call's arguments (Gemini CLI's `wait_for_previous`, which it tells
/// its model to set on dependent calls).
fn session_turns(flag: Option<(&str, Value)>, extra: &[Value]) -> Value {
    let with_flag = |mut args: Value| {
        if let Some((key, value)) = &flag {
            args[*key] = value.clone();
        }
        args
    };
    let mut turns = vec![
        json!({"tool": "create_conversation",
               "args": with_flag(json!({"my_role": "backend", "partner_role": "frontend"}))}),
        json!({"tool": "send_to_partner",
               "args": with_flag(json!({"conversation_id": "${0.conversation_id}", "session_id": "a",
                                        "token": WRONG_TOKEN, "message": "hello"}))}),
        json!({"tool": "check_partner_status",
               "args": with_flag(json!({"conversation_id": "${0.conversation_id}", "session_id": "a",
                                        "token": "${0.session_a_token}"}))}),
    ];
    turns.extend(extra.iter().cloned());
    turns.push(json!({"text": FINAL_TEXT}));
    Value::from(turns)
}

/// The text the bridge gives for a wrong token, from the bridge itself: the
/// same refused call through rmcp's client, read from the result's `_meta`
/// (falling back to the structured content of servers from before issue 10,
/// so that the CLI checks, not this reference, fail on them).
async fn auth_failed_text(env: &TestEnv) -> String {
    let server = env.server().await;
    let conv = Conv::create(&server).await;
    let mut args = conv.args("a", json!({"message": "hello"}));
    args["token"] = json!(WRONG_TOKEN);
    let refused = call(&server, "send_to_partner", args).await;
    assert_eq!(refused.is_error, Some(true), "{refused:?}");
    let error = refused
        .meta
        .as_ref()
        .and_then(|m| m.0.get("mcp-bridge/error").cloned())
        .or_else(|| refused.structured_content.clone())
        .unwrap_or_else(|| panic!("no error body in {refused:?}"));
    server.stop().await;
    format!(
        "{}: {}",
        error["code"].as_str().expect("code"),
        error["message"].as_str().expect("message")
    )
}

/// The first JSON object inside a tool result as a CLI hands it over (bare,
/// or wrapped in the CLI's own JSON or markup).
fn json_in(text: &str) -> Value {
    let mut from = 0;
    while let Some(start) = text[from..].find('{').map(|i| i + from) {
        let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        if let Some(Ok(value)) = stream.next() {
            if let Some(inner) = value
                .as_object()
                .filter(|o| o.len() == 1)
                .and_then(|o| o.get("output"))
                .and_then(Value::as_str)
            {
                return json_in(inner);
            }
            return value;
        }
        from = start + 1;
    }
    panic!("no JSON object in the tool result {text:?}")
}

/// A scripted session: the CLI, the flag its model adds to every call, extra
/// calls after the standard three, and the CLI's arguments.
struct Session<'a> {
    name: &'a str,
    cli: Cli,
    flag: Option<(&'a str, Value)>,
    extra_turns: Vec<Value>,
    args: Vec<&'a str>,
}

/// Runs a scripted session against the bridge registered in user scope and
/// checks what the CLI handed the model for the standard three calls.
/// Returns the place, the stand-in, the tool results the model finally saw
/// and the CLI's output.
async fn scripted_session(session: Session<'_>) -> (Place, StandIn, Vec<Value>, Finished) {
    let Session {
        name,
        cli,
        flag,
        extra_turns,
        args,
    } = session;
    let place = Place::new(name);
    let expected_refusal = auth_failed_text(&place.env).await;
    let turns = session_turns(flag, &extra_turns);
    let model = StandIn::start(&place.env.dir, cli.api(), &turns);
    place.register(cli, Scope::User);
    place.use_model(cli, &model);
    let mut cmd = place.command(cli, Some(&model));
    cmd.args(args);
    let out = tokio::task::block_in_place(|| place.run_ok(&format!("{cli:?} session"), cmd));

    // The model was asked once more after each call, and finally saw every result.
    let calls = 3 + extra_turns.len();
    let last = model.turn(calls);
    let results = last["tool_results"]
        .as_array()
        .expect("tool results")
        .clone();
    assert_eq!(
        results.len(),
        calls,
        "{cli:?}: every result handed back: {last}"
    );

    let created = json_in(results[0]["text"].as_str().expect("text"));
    let conv = created["conversation_id"].as_str().unwrap_or_else(|| {
        panic!("{cli:?}: create_conversation's result as handed back: {created}")
    });
    assert_eq!(
        place.env.count(&format!(
            "SELECT count(*) FROM conversations WHERE id = '{conv}'"
        )),
        1,
        "{cli:?}: the conversation the model saw is stored"
    );

    // The refusal reached the model as text that names the code and the advice.
    let refusal = results[1]["text"].as_str().expect("text");
    assert!(
        refusal.contains(&expected_refusal),
        "{cli:?}: the model should read `{expected_refusal}` after the refused send; it got:\n{refusal}"
    );
    assert_eq!(
        place.env.count(&format!(
            "SELECT count(*) FROM messages WHERE conversation_id = '{conv}'"
        )),
        0,
        "{cli:?}: the refused send stored nothing"
    );

    // The session went on: the next call succeeded and its JSON came through.
    let status = json_in(results[2]["text"].as_str().expect("text"));
    assert_eq!(
        (&status["partner_role"], &status["status"], &status["alive"]),
        (&json!("frontend"), &json!("unknown"), &json!(false)),
        "{cli:?}: check_partner_status as handed back: {}",
        results[2]
    );
    assert!(
        out.stdout.contains(FINAL_TEXT),
        "{cli:?}: the model's final answer should be the CLI's output:\n{}",
        out.output()
    );
    (place, model, results, out)
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_session_reads_a_refusal() {
    let tools = [
        "mcp__bridge__create_conversation",
        "mcp__bridge__send_to_partner",
        "mcp__bridge__check_partner_status",
    ]
    .join(",");
    let (_place, _model, results, _) = scripted_session(Session {
        name: "claude-session",
        cli: Cli::ClaudeCode,
        flag: None,
        extra_turns: vec![],
        args: vec![
            "-p",
            "Coordinate with your partner.",
            "--allowedTools",
            &tools,
            "--output-format",
            "json",
        ],
    })
    .await;
    // Claude Code also marks the refused call as an error for the model.
    let flags: Vec<&Value> = results.iter().map(|r| &r["is_error"]).collect();
    assert_eq!(
        flags,
        [&json!(false), &json!(true), &json!(false)],
        "{results:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gemini_cli_session_reads_a_refusal() {
    let mut tools = [
        "mcp_bridge_check_partner_status",
        "mcp_bridge_create_conversation",
        "mcp_bridge_send_to_partner",
    ];
    let allowed = tools.join(",");
    let (_place, model, _, _) = scripted_session(Session {
        name: "gemini-session",
        cli: Cli::Gemini,
        // Set on every call, as Gemini CLI tells its model to for dependent calls.
        flag: Some(("wait_for_previous", json!(true))),
        extra_turns: vec![],
        args: vec![
            "-p",
            "Coordinate with your partner.",
            "--allowed-tools",
            &allowed,
            "--output-format",
            "json",
        ],
    })
    .await;
    // Gemini CLI declares the flag on every bridge tool it offers (in a
    // non-interactive run, the allowed ones); the calls that carried it
    // succeeded (checked above), so the bridge accepted it.
    let declared = model.turn(0)["declared"].clone();
    let bridge: Vec<&Value> = declared
        .as_array()
        .expect("declared")
        .iter()
        .filter(|t| {
            t["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("mcp_bridge_"))
        })
        .collect();
    let mut names: Vec<&str> = bridge.iter().filter_map(|t| t["name"].as_str()).collect();
    names.sort_unstable();
    tools.sort_unstable();
    assert_eq!(names, tools, "declared: {declared}");
    for tool in bridge {
        assert_eq!(
            tool["parameters"]["properties"]["wait_for_previous"]["type"], "boolean",
            "{tool}"
        );
    }
}

/// Codex runs MCP tools without asking only when their annotations say they
/// are safe (`codex exec` never asks: a tool that needs approval is refused).
/// With the registration as written — no approval settings — the bridge's
/// coordination tools run unattended, and `execute_command`, annotated
/// destructive and open-world, is held back before it reaches the bridge.
#[tokio::test(flavor = "multi_thread")]
async fn codex_session_reads_a_refusal() {
    let execute = json!({"tool": "execute_command", "args": {
        "conversation_id": "${0.conversation_id}", "session_id": "a",
        "token": "${0.session_a_token}", "command": "ls"}});
    let (place, _model, results, _) = scripted_session(Session {
        name: "codex-session",
        cli: Cli::Codex,
        flag: None,
        extra_turns: vec![execute],
        args: vec![
            "exec",
            "--skip-git-repo-check",
            "Coordinate with your partner.",
        ],
    })
    .await;
    let held = results[3]["text"].as_str().expect("text");
    assert!(
        held.contains("requires approval"),
        "Codex should hold execute_command back for approval; the model got:\n{held}"
    );
    assert_eq!(
        place
            .env
            .count("SELECT count(*) FROM audit_log WHERE action = 'execute_command'"),
        0,
        "execute_command must not have reached the bridge"
    );
}
