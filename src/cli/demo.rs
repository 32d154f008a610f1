//! `mcp-bridge demo`: a team of agents talking through real `mcp-bridge serve`
//! processes (one each) on one temporary database, driven through the MCP
//! SDK's client — exactly how agent sessions use the bridge: an owner, its
//! partner, a member and an observer who joined with invite codes.

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
    if result.is_error == Some(true) {
        // A refusal is one text block, `<code>: <advice>`.
        let text: Vec<&str> = result
            .content
            .iter()
            .filter_map(|c| c.as_text())
            .map(|t| t.text.as_str())
            .collect();
        bail!("{tool} answered an error: {}", text.join(" "));
    }
    let body = result.structured_content.clone().unwrap_or(Value::Null);
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

/// The error code of a refused call, or `ACCEPTED (bug!)`.
fn refusal(result: anyhow::Result<Value>) -> String {
    match result {
        Ok(_) => "ACCEPTED (bug!)".to_owned(),
        Err(e) => {
            let text = format!("{e:#}");
            ["auth_failed", "forbidden", "invite_invalid"]
                .into_iter()
                .find(|code| text.contains(code))
                .map_or_else(|| "refused".to_owned(), |code| format!("refused ({code})"))
        }
    }
}

fn field(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

fn with(base: &Value, extra: Value) -> Value {
    let mut v = base.clone();
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}

fn show_inbox(who: &str, inbox: &Value, since: Option<Instant>) {
    let messages = inbox["messages"].as_array().cloned().unwrap_or_default();
    if messages.is_empty() {
        say(who, "← nothing for me");
    }
    for m in messages {
        let after = since
            .map(|t| format!(" ({:.1?} after the send)", t.elapsed()))
            .unwrap_or_default();
        say(
            who,
            format!(
                "← {} from {} to [{}]{after}: {}",
                m["action_type"].as_str().unwrap_or("?"),
                m["from_role"].as_str().unwrap_or("?"),
                m["to"]
                    .as_array()
                    .map(|to| to
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default(),
                quote(m["content"].as_str().unwrap_or(""))
            ),
        );
    }
}

async fn play(db: &Path) -> anyhow::Result<()> {
    println!(
        "A team of four agents, each with its own `mcp-bridge serve` process, sharing {}\n",
        db.display()
    );
    let started = Instant::now();
    let backend = spawn_server(db).await?;
    let frontend = spawn_server(db).await?;
    let qa = spawn_server(db).await?;
    let reviewer = spawn_server(db).await?;
    let tools = backend.list_all_tools().await?;
    say(
        "bridge",
        format!(
            "four servers up in {:.0?}; {} tools",
            started.elapsed(),
            tools.len()
        ),
    );

    let created = call(
        &backend,
        "create_conversation",
        json!({"my_role": "backend", "partner_role": "frontend"}),
    )
    .await?;
    let conv = field(&created, "conversation_id");
    say(
        "backend",
        format!("create_conversation → {conv} (I am session a, the owner)"),
    );
    say(
        "backend",
        "hands session_b_token to the frontend agent (the two-party way)",
    );
    let b = json!({"conversation_id": conv, "session_id": "b", "token": field(&created, "session_b_token")});

    let invite_qa = call(&backend, "create_invite", json!({"role": "qa"})).await?;
    let invite_reviewer = call(
        &backend,
        "create_invite",
        json!({"role": "reviewer", "as": "observer"}),
    )
    .await?;
    let (code_qa, code_reviewer) = (
        field(&invite_qa, "invite_code"),
        field(&invite_reviewer, "invite_code"),
    );
    say(
        "backend",
        format!(
            "create_invite(qa) → {code_qa}; create_invite(reviewer, as observer) → {code_reviewer}"
        ),
    );
    say("human", "types each code into its agent");
    let joined = call(
        &qa,
        "join_conversation",
        json!({"invite_code": code_qa.to_lowercase()}),
    )
    .await?;
    say(
        "qa",
        format!(
            "join_conversation(\"{}\") → session {}, {}; my server now remembers my credentials",
            code_qa.to_lowercase(),
            field(&joined, "session_id"),
            field(&joined, "kind")
        ),
    );
    let joined = call(
        &reviewer,
        "join_conversation",
        json!({"invite_code": code_reviewer}),
    )
    .await?;
    let team: Vec<String> = joined["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "{} {} ({})",
                field(p, "session_id"),
                field(p, "role"),
                field(p, "kind")
            )
        })
        .collect();
    say(
        "reviewer",
        format!(
            "join_conversation → session {}; team: {}",
            field(&joined, "session_id"),
            team.join(", ")
        ),
    );
    let again = call(
        &frontend,
        "join_conversation",
        json!({"invite_code": code_qa}),
    )
    .await;
    say(
        "frontend",
        format!("join_conversation with qa's used code → {}", refusal(again)),
    );

    say(
        "reviewer",
        "check_messages(wait_seconds = 10) … long-polling, no credentials passed",
    );
    let waiting = {
        let reviewer = reviewer.peer().clone();
        tokio::spawn(async move {
            let args = json!({"wait_seconds": 10});
            let Value::Object(map) = args else {
                unreachable!("built as an object")
            };
            reviewer
                .call_tool(CallToolRequestParams::new("check_messages").with_arguments(map))
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let proposal = "API: POST /todos → 201, GET /todos → 200. Staging key AKIAZ7QWERTY2XCVB5NM";
    say(
        "backend",
        format!("send_message(to: frontend, proposal): {}", quote(proposal)),
    );
    let sent_at = Instant::now();
    let sent = call(
        &backend,
        "send_message",
        json!({"to": "frontend", "message": proposal, "action_type": "proposal", "files_involved": ["api/routes.rs"]}),
    )
    .await?;
    say(
        "backend",
        format!(
            "  → message {} stored, to {}; redactions {}",
            sent["message_id"], sent["to"], sent["redactions"]
        ),
    );
    let seen = waiting.await??.structured_content.unwrap_or(Value::Null);
    show_inbox("reviewer", &seen, Some(sent_at));
    let inbox = call(&frontend, "check_messages", b.clone()).await?;
    show_inbox("frontend", &inbox, None);
    let inbox = call(&qa, "check_messages", json!({})).await?;
    show_inbox("qa", &inbox, None);

    let question = "Can GET /todos take ?done=true|false? qa: please cover both in the tests.";
    say(
        "frontend",
        format!(
            "send_message(to: [backend, qa], question): {}",
            quote(question)
        ),
    );
    call(
        &frontend,
        "send_message",
        with(
            &b,
            json!({"to": ["backend", "qa"], "message": question, "action_type": "question"}),
        ),
    )
    .await?;
    for (who, client) in [("backend", &backend), ("qa", &qa), ("reviewer", &reviewer)] {
        let inbox = call(client, "check_messages", json!({"wait_seconds": 5})).await?;
        show_inbox(who, &inbox, None);
    }
    let attempt = call(&reviewer, "send_message", json!({"message": "LGTM"})).await;
    say(
        "reviewer",
        format!("send_message as an observer → {}", refusal(attempt)),
    );

    call(
        &backend,
        "update_my_status",
        json!({"status": "working", "note": "adding the ?done filter"}),
    )
    .await?;
    say(
        "backend",
        "update_my_status(working, \"adding the ?done filter\")",
    );
    let status = call(&qa, "check_partner_status", json!({})).await?;
    let everyone: Vec<String> = status["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| format!("{} {}", field(p, "role"), field(p, "status")))
        .collect();
    say(
        "qa",
        format!("check_partner_status → {}", everyone.join(", ")),
    );

    let removed = call(&backend, "remove_participant", json!({"participant": "qa"})).await?;
    say(
        "backend",
        format!(
            "remove_participant(qa) → session {} removed",
            field(&removed, "removed_session_id")
        ),
    );
    let after = call(&qa, "check_messages", json!({})).await;
    say(
        "qa",
        format!("check_messages after removal → {}", refusal(after)),
    );
    let intruder = call(
        &frontend,
        "check_messages",
        with(&b, json!({"session_id": "a"})),
    )
    .await;
    say(
        "frontend",
        format!(
            "check_messages with side b's token as side a → {}",
            refusal(intruder)
        ),
    );

    for client in [backend, frontend, qa, reviewer] {
        client.cancel().await?;
    }
    println!(
        "\nEvery call above is in the hash-chained audit trail; no message text, token or invite code is."
    );
    Ok(())
}
