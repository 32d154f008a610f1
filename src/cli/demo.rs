//! `mcp-bridge demo`: two agents talking through two real `mcp-bridge serve`
//! processes on one temporary database, driven through the MCP SDK's client —
//! exactly how two agent sessions use the bridge.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the temporary database afterwards and print its path.
    #[arg(long)]
    keep: bool,
}

type Client = RunningService<RoleClient, ()>;

/// A temporary directory removed on drop unless kept.
struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Runs the demo.
///
/// # Errors
/// When a server cannot be started or a call fails.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix)
        .map_err(|e| anyhow::anyhow!("cannot create a temporary name: {e}"))?;
    let dir = TempDir {
        path: std::env::temp_dir().join(format!("mcp-bridge-demo-{}", hex::encode(suffix))),
        keep: args.keep,
    };
    let db = dir.path.join("bridge.db");
    super::runtime()?.block_on(play(&db))?;
    if dir.keep {
        println!(
            "\nDatabase kept at {} (try: mcp-bridge serve --db {})",
            db.display(),
            db.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn spawn_server(db: &Path) -> anyhow::Result<Client> {
    let exe = std::env::current_exe().context("cannot find the mcp-bridge executable")?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("serve")
        .arg("--db")
        .arg(db)
        .env("MCP_BRIDGE_LOG", "warn");
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start mcp-bridge serve")?;
    ().serve(transport)
        .await
        .context("the server did not complete the MCP handshake")
}

async fn call(client: &Client, tool: &'static str, args: Value) -> anyhow::Result<Value> {
    let Value::Object(map) = args else {
        bail!("arguments must be an object")
    };
    let result = client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(map))
        .await
        .with_context(|| format!("{tool} failed"))?;
    let body = result.structured_content.clone().unwrap_or(Value::Null);
    if result.is_error == Some(true) {
        bail!("{tool} answered an error: {body}");
    }
    Ok(body)
}

fn say(who: &str, text: impl AsRef<str>) {
    println!("[{who:<8}] {}", text.as_ref());
}

fn quote(text: &str) -> String {
    let first = text.lines().next().unwrap_or("");
    let cut: String = first.chars().take(120).collect();
    if cut.len() < text.len() {
        format!("\"{cut}…\"")
    } else {
        format!("\"{cut}\"")
    }
}

async fn play(db: &Path) -> anyhow::Result<()> {
    println!(
        "Two agents, each with its own `mcp-bridge serve` process, sharing {}\n",
        db.display()
    );
    let started = Instant::now();
    let backend = spawn_server(db).await?;
    let frontend = spawn_server(db).await?;
    let tools = backend.list_all_tools().await?;
    let names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    say(
        "bridge",
        format!(
            "two servers up in {:.0?}; tools: {}",
            started.elapsed(),
            names.join(", ")
        ),
    );

    let created = call(
        &backend,
        "create_conversation",
        json!({"my_role": "backend_developer", "partner_role": "frontend_developer"}),
    )
    .await?;
    let conv = created["conversation_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let token_a = created["session_a_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let token_b = created["session_b_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    say(
        "backend",
        format!(
            "create_conversation → {conv}, expires {}",
            created["expires_at"].as_str().unwrap_or("?")
        ),
    );
    say(
        "backend",
        "hands conversation_id and session_b_token to the frontend agent",
    );
    let a = json!({"conversation_id": conv, "session_id": "a", "token": token_a});
    let b = json!({"conversation_id": conv, "session_id": "b", "token": token_b});
    let with = |base: &Value, extra: Value| {
        let mut v = base.clone();
        if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
            m.extend(e);
        }
        v
    };

    say(
        "frontend",
        "check_messages(wait_seconds = 10) … long-polling",
    );
    let waiting = {
        let args = with(&b, json!({"wait_seconds": 10}));
        let frontend = frontend.peer().clone();
        tokio::spawn(async move {
            let Value::Object(map) = args else {
                unreachable!("built as an object")
            };
            let r = frontend
                .call_tool(CallToolRequestParams::new("check_messages").with_arguments(map))
                .await;
            (Instant::now(), r)
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let proposal = "API: POST /todos → 201, GET /todos → 200. Staging key AKIAZ7QWERTY2XCVB5NM";
    say(
        "backend",
        format!("send_to_partner(proposal): {}", quote(proposal)),
    );
    let sent_at = Instant::now();
    let sent = call(&backend, "send_to_partner", with(&a, json!({"message": proposal, "action_type": "proposal", "files_involved": ["api/routes.rs"]}))).await?;
    say(
        "backend",
        format!(
            "  → message {} stored; redactions {}",
            sent["message_id"], sent["redactions"]
        ),
    );

    let (woke_at, result) = waiting.await?;
    let inbox = result?.structured_content.unwrap_or(Value::Null);
    for m in inbox["messages"].as_array().into_iter().flatten() {
        say(
            "frontend",
            format!(
                "← {} from {} ({:.1?} after the send): {}",
                m["action_type"].as_str().unwrap_or("?"),
                m["from_role"].as_str().unwrap_or("?"),
                woke_at.duration_since(sent_at),
                quote(m["content"].as_str().unwrap_or(""))
            ),
        );
    }

    let reply =
        "Looks good. Can GET /todos take ?done=true|false? I'll build the list view against it.";
    say(
        "frontend",
        format!("send_to_partner(question): {}", quote(reply)),
    );
    call(
        &frontend,
        "send_to_partner",
        with(&b, json!({"message": reply, "action_type": "question"})),
    )
    .await?;
    let inbox = call(
        &backend,
        "check_messages",
        with(&a, json!({"wait_seconds": 5})),
    )
    .await?;
    for m in inbox["messages"].as_array().into_iter().flatten() {
        say(
            "backend",
            format!(
                "← {} from {}: {}",
                m["action_type"].as_str().unwrap_or("?"),
                m["from_role"].as_str().unwrap_or("?"),
                quote(m["content"].as_str().unwrap_or(""))
            ),
        );
    }

    call(
        &backend,
        "update_my_status",
        with(
            &a,
            json!({"status": "working", "note": "adding the ?done filter"}),
        ),
    )
    .await?;
    say(
        "backend",
        "update_my_status(working, \"adding the ?done filter\")",
    );
    let status = call(&frontend, "check_partner_status", b.clone()).await?;
    say(
        "frontend",
        format!(
            "check_partner_status → {} is {} ({}), alive: {}",
            status["partner_role"].as_str().unwrap_or("?"),
            status["status"].as_str().unwrap_or("?"),
            status["note"].as_str().unwrap_or(""),
            status["alive"]
        ),
    );

    let intruder = call(
        &frontend,
        "check_messages",
        with(&a, json!({"session_id": "b"})),
    )
    .await;
    say(
        "frontend",
        format!(
            "check_messages with side a's token as side b → {}",
            if intruder.is_err() {
                "refused (auth_failed)"
            } else {
                "ACCEPTED (bug!)"
            }
        ),
    );

    backend.cancel().await?;
    frontend.cancel().await?;
    println!("\nEvery call above is in the hash-chained audit trail; no message text or token is.");
    Ok(())
}
