//! The real agent CLIs — Claude Code, Codex, Gemini CLI — with the bridge
//! registered the way a user does it (issue 10): `<cli> mcp list` loads the
//! registration, in user and in project scope, and for the CLIs whose listing
//! connects shows the bridge connected. The shared [`Place`] (a private HOME
//! and project, the CLI's command and environment, the registration) also
//! serves the scripted sessions in `agent_sessions.rs`.
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
use crate::util::*;

/// How long one CLI run may take (they take seconds; provisioning is separate).
const CLI_TIMEOUT: Duration = Duration::from_secs(180);

/// The three CLIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cli {
    /// `@anthropic-ai/claude-code`.
    ClaudeCode,
    /// `@openai/codex`.
    Codex,
    /// `@google/gemini-cli`.
    Gemini,
}

/// Where a registration goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The user's own configuration under HOME.
    User,
    /// The project's configuration.
    Project,
}

impl Scope {
    fn arg(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Project => "project",
        }
    }
}

impl Cli {
    /// The CLI's command, installed on first use.
    pub fn bin(self) -> PathBuf {
        match self {
            Cli::ClaudeCode => agent_cli("claude-code", CLAUDE_CODE_SPEC, "claude"),
            Cli::Codex => agent_cli("codex", CODEX_SPEC, "codex"),
            Cli::Gemini => agent_cli("gemini-cli", GEMINI_CLI_SPEC, "gemini"),
        }
    }

    /// Its name on `mcp-bridge setup`'s command line.
    fn setup_arg(self) -> &'static str {
        match self {
            Cli::ClaudeCode => "claude-code",
            Cli::Codex => "codex",
            Cli::Gemini => "gemini",
        }
    }

    /// Its name in setup's report.
    fn label(self) -> &'static str {
        match self {
            Cli::ClaudeCode => "Claude Code",
            Cli::Codex => "Codex",
            Cli::Gemini => "Gemini CLI",
        }
    }

    /// The API of its model.
    pub fn api(self) -> Api {
        match self {
            Cli::ClaudeCode => Api::Anthropic,
            Cli::Codex => Api::OpenAi,
            Cli::Gemini => Api::Gemini,
        }
    }
}

/// A test's private HOME and project directory, and its bridge database.
pub struct Place {
    /// The test's directory and database.
    pub env: TestEnv,
    /// The CLI's HOME.
    pub home: PathBuf,
    /// The directory the CLI runs in.
    pub project: PathBuf,
}

impl Place {
    pub fn new(name: &str) -> Place {
        let env = TestEnv::new(name);
        let home = env.dir.join("home");
        let project = env.dir.join("project");
        for dir in [&home, &project] {
            std::fs::create_dir_all(dir).expect("create dir");
        }
        // Canonical, since CLIs key per-project settings by the real path.
        let project = project.canonicalize().expect("canonical project");
        if env.pg_url().is_some() {
            // The CLIs start the bridge with a cleared environment, so on
            // PostgreSQL it reads the key from its default place under HOME:
            // a copy of the one key, as on every host serving the database.
            use std::os::unix::fs::DirBuilderExt;
            let key = env.pg_key_file();
            let default = home.join(".local/share/mcp-bridge/bridge.key");
            for dir in [key.parent(), default.parent()].into_iter().flatten() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .expect("create key directory");
            }
            mcp_bridge::auth::ServerKey::load_or_create(&key).expect("create the key");
            std::fs::copy(&key, &default).expect("copy the key");
        }
        Place { env, home, project }
    }

    /// `args` of the server entry: `serve --db <the test's database>`.
    pub fn serve_args(&self) -> Value {
        json!(["serve", "--db", self.env.db])
    }

    /// `cli` with only the variables it needs: PATH (for `node`), a private
    /// HOME and TMPDIR, and the address of its (stand-in) model.
    pub fn command(&self, cli: Cli, model: &StandIn) -> Command {
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
                cmd.env("ANTHROPIC_BASE_URL", model.url());
            }
            // Codex reads its provider's key from the variable the provider
            // names (see `codex_provider`).
            Cli::Codex => {
                cmd.env("STAND_IN_API_KEY", "stand-in");
            }
            Cli::Gemini => {
                cmd.env("GEMINI_API_KEY", "stand-in")
                    .env("GEMINI_CLI_TRUST_WORKSPACE", "true");
                cmd.env("GOOGLE_GEMINI_BASE_URL", model.url());
            }
        }
        cmd
    }

    /// Runs `cmd`, failing the test unless it exits successfully.
    pub fn run_ok(&self, what: &str, mut cmd: Command) -> Finished {
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

    /// Registers the bridge with `cli` in `scope` the way a user does:
    /// `mcp-bridge setup <cli> --scope <scope> --db <the test's database>`
    /// run in the project with the private HOME, then, for a project scope,
    /// what the CLI records once the user agrees to use the project's servers.
    pub fn register(&self, cli: Cli, scope: Scope) {
        let (client, scope_arg) = (cli.setup_arg(), scope.arg());
        let mut setup = self.env.bridge();
        setup
            .env("HOME", &self.home)
            .env_remove("CODEX_HOME")
            .env_remove("GEMINI_CLI_HOME")
            .env_remove("CLAUDE_CONFIG_DIR")
            .current_dir(&self.project)
            .args(["setup", client, "--scope", scope_arg, "--db"])
            .arg(&self.env.db);
        let out = self.run_ok(
            &format!("mcp-bridge setup {client} --scope {scope_arg}"),
            setup,
        );
        assert!(
            out.stdout.contains(&format!("Configured {}", cli.label())),
            "setup's report:\n{}",
            out.output()
        );
        match (cli, scope) {
            (Cli::ClaudeCode, Scope::Project) => {
                // What answering "use this project's servers" stores.
                let file = self.home.join(".claude.json");
                let mut state = read_json(&file);
                state["projects"][self.project.to_string_lossy().as_ref()] = json!({
                    "enabledMcpjsonServers": ["bridge"], "hasTrustDialogAccepted": true,
                });
                self.write(&file, &state.to_string());
            }
            (Cli::Codex, Scope::Project) => {
                // What trusting the project stores; Codex reads a project's
                // file only then.
                let file = self.home.join(".codex/config.toml");
                let mut text = std::fs::read_to_string(&file).unwrap_or_default();
                text.push_str(&format!(
                    "\n[projects.{}]\ntrust_level = \"trusted\"\n",
                    toml_string(&self.project.to_string_lossy())
                ));
                self.write(&file, &text);
            }
            // Gemini CLI trusts the folder through GEMINI_CLI_TRUST_WORKSPACE.
            _ => {}
        }
    }

    /// Points `cli` at `model` in its own user configuration (Claude Code
    /// and Gemini CLI take the address from the environment instead).
    pub fn use_model(&self, cli: Cli, model: &StandIn) {
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
    let model = idle_model(place, cli);
    let mut cmd = place.command(cli, &model);
    cmd.args(["mcp", "list"]);
    let out = place.run_ok(&format!("{cli:?} mcp list"), cmd);
    format!("{}{}", out.stdout, out.stderr)
}

/// A stand-in model with nothing to say, for runs that need no model: a CLI
/// left at its default endpoint would try the internet (Claude Code then
/// waits 20 s for a connection that never comes), and traffic stays on loopback.
fn idle_model(place: &Place, cli: Cli) -> StandIn {
    let model = StandIn::start(&place.env.dir, cli.api(), &json!([]));
    place.use_model(cli, &model);
    model
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
        let model = idle_model(&place, Cli::Codex);
        let mut cmd = place.command(Cli::Codex, &model);
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
