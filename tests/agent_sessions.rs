//! Scripted sessions of the real agent CLIs (issue 10): each CLI, pointed at
//! a stand-in for its model (`stand_in.rs`), runs a session in which the
//! model calls create_conversation, then send_to_partner with a wrong token,
//! then check_partner_status; the test reads what the CLI handed back to the
//! model: the refusal as `auth_failed: <advice>` text, the successful results
//! as JSON, and the session going on to the model's final answer.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::agent_clis::{Cli, Place, Scope};
use crate::provision::Finished;
use crate::stand_in::StandIn;
use crate::sweep::WRONG_TOKEN;
use crate::util::*;

/// What the stand-in model says last.
const FINAL_TEXT: &str = "Done: the partner has not reported a status yet.";

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

/// What the bridge itself says, for comparison with what a CLI handed its
/// model: its tool descriptions and the text of a wrong-token refusal.
struct Reference {
    /// Tool name → description, from `tools/list`.
    descriptions: BTreeMap<String, String>,
    /// `auth_failed: <message>`.
    refusal: String,
}

/// Asks the bridge through rmcp's client. The refusal is read from the
/// result's `_meta` (falling back to the structured content of servers from
/// before issue 10, so that the CLI checks, not this reference, fail on them).
async fn reference(env: &TestEnv) -> Reference {
    let server = env.server().await;
    let descriptions = server
        .client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| {
            let description = t.description.as_deref().unwrap_or_default().to_owned();
            (t.name.to_string(), description)
        })
        .collect();
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
    Reference {
        descriptions,
        refusal: format!(
            "{}: {}",
            error["code"].as_str().expect("code"),
            error["message"].as_str().expect("message")
        ),
    }
}

/// Asserts that every bridge tool `declared` to the model carries the
/// bridge's whole description: in a non-interactive run, descriptions are
/// all a model learns of the bridge (Claude Code's `-p` does not pass the
/// server's instructions on). Returns how many bridge tools were declared.
fn assert_descriptions(cli: Cli, declared: &Value, reference: &Reference) -> usize {
    let mut seen = 0;
    for tool in declared.as_array().expect("declared tools") {
        let name = tool["name"].as_str().unwrap_or_default();
        let Some((bare, description)) = reference
            .descriptions
            .iter()
            .find(|(bare, _)| name.ends_with(bare.as_str()) && name.contains("bridge"))
        else {
            continue;
        };
        seen += 1;
        let given = tool["description"].as_str().unwrap_or_default();
        assert!(
            given.contains(description.as_str()),
            "{cli:?}: the model was given {given:?} for {bare}, not the bridge's {description:?}"
        );
    }
    seen
}

/// The first JSON object inside a tool result as a CLI hands it over (bare,
/// or wrapped in the CLI's own JSON or markup).
pub(crate) fn json_in(text: &str) -> Value {
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
    let reference = reference(&place.env).await;
    let expected_refusal = &reference.refusal;
    let turns = session_turns(flag, &extra_turns);
    let model = StandIn::start(&place.env.dir, cli.api(), &turns);
    place.register(cli, Scope::User);
    place.use_model(cli, &model);
    let mut cmd = place.command(cli, &model);
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
        refusal.contains(expected_refusal.as_str()),
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
    let declared = assert_descriptions(cli, &model.turn(0)["declared"], &reference);
    assert!(
        declared >= 3,
        "{cli:?}: the scripted tools were offered to the model"
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
