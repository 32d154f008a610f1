//! Every tool, refused and successful, through clients nobody on this project
//! wrote (issue 10): the official TypeScript SDK, the Python SDK 2.x and 1.x,
//! and the MCP Inspector CLI each run the plan of `sweep.rs`, and every
//! result they hand over is held to the tool-error contract there.
//!
//! The SDK runners speak a line protocol on stdio (`tests/support/ts_sweep.mjs`,
//! `tests/support/py_sweep.py`): the plan file is their argument; a line
//! `{"pause": …}` asks the test to act as the human (confirm the YOLO mode,
//! approve a command) and is answered with one JSON line; the last line is
//! `{"results": [...]}`. The Inspector CLI makes one call per process, so its
//! plan runs here.
//!
//! The TypeScript SDK is the one that matters most: editors, agent frameworks,
//! the Inspector and Gemini CLI embed it, and before issue 10 it threw
//! `-32602 Structured content does not match the tool's output schema` for
//! every refused call instead of showing it. The YOLO steps need bubblewrap,
//! like the YOLO sandbox tests.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::provision::{PY1_SPEC, PY2_SPEC, inspector, python_env, run, ts_sdk};
use crate::sweep::{self, Step};
use crate::util::*;
use crate::yolo_util::{approve, bwrap_missing, confirm, workspace};

/// How long a runner may take for the whole plan.
const RUN_TIMEOUT: Duration = Duration::from_secs(240);

/// How long one Inspector run (one call) may take.
const INSPECTOR_TIMEOUT: Duration = Duration::from_secs(60);

/// A support script under `tests/support`.
fn support(name: &str) -> String {
    format!("{}/tests/support/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Acts as the human for a pause line; returns the answer line's object.
async fn answer_pause(env: &TestEnv, pause: &Value) -> Value {
    match pause["pause"].as_str() {
        Some("confirm") => {
            let conv = pause["conversation"].as_str().expect("conversation id");
            confirm(env, conv).await;
            json!({"confirmed": conv})
        }
        Some("approve") => {
            let proposal = pause["proposal"].as_str().expect("proposal id");
            let token = approve(env, proposal, &[]).await;
            json!({"approval_token": token})
        }
        other => panic!("unknown pause {other:?} in {pause}"),
    }
}

/// Runs a line-protocol runner `cmd` to the end, answering its pauses;
/// returns its first line (which names the client's version) and its results.
async fn run_runner(
    env: &TestEnv,
    client: &str,
    mut cmd: tokio::process::Command,
) -> (Value, Vec<Value>) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("{client}: could not start the runner: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut err = child.stderr.take().expect("piped stderr");
    let stderr = tokio::spawn(async move {
        let mut buf = String::new();
        let _ = err.read_to_string(&mut buf).await;
        buf
    });
    let mut header = Value::Null;
    let drive = async {
        while let Some(line) = lines.next_line().await.expect("runner stdout") {
            let value: Value = match serde_json::from_str(&line) {
                Ok(v) => v,
                Err(_) => {
                    eprintln!("{client} runner: {line}");
                    continue;
                }
            };
            if value.get("pause").is_some() {
                let answer = answer_pause(env, &value).await;
                let mut text = answer.to_string();
                text.push('\n');
                stdin
                    .write_all(text.as_bytes())
                    .await
                    .expect("answer a pause");
                stdin.flush().await.expect("flush");
            } else if let Some(results) = value.get("results") {
                return Some(results.as_array().expect("results list").clone());
            } else if header.is_null() {
                header = value;
            }
        }
        None
    };
    let results = tokio::time::timeout(RUN_TIMEOUT, drive).await;
    let status = tokio::time::timeout(EVENT_TIMEOUT, child.wait()).await;
    let stderr = tokio::time::timeout(EVENT_TIMEOUT, stderr)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    match results {
        Ok(Some(results)) => {
            assert!(
                matches!(status, Ok(Ok(s)) if s.success()),
                "{client}: the runner failed after its results ({status:?}):\n{stderr}"
            );
            (header, results)
        }
        Ok(None) => panic!("{client}: the runner ended without results ({status:?}):\n{stderr}"),
        Err(_) => panic!("{client}: the runner did not finish within {RUN_TIMEOUT:?}:\n{stderr}"),
    }
}

/// The test's environment, plan steps and plan file (none without
/// bubblewrap: the plan runs commands).
fn setup(name: &str) -> Option<(TestEnv, Vec<Step>, std::path::PathBuf)> {
    if bwrap_missing() {
        return None;
    }
    let env = TestEnv::new(name);
    let steps = sweep::steps(&workspace(&env, "ws"));
    let plan = env.dir.join("plan.json");
    std::fs::write(&plan, sweep::plan_json(&env, &steps).to_string()).expect("write plan");
    Some((env, steps, plan))
}

#[tokio::test(flavor = "multi_thread")]
async fn typescript_sdk_every_tool() {
    let prefix = ts_sdk();
    let Some((env, steps, plan)) = setup("ts-sweep") else {
        return;
    };
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(support("ts_sweep.mjs"))
        .arg(&prefix)
        .arg(&plan)
        .current_dir(&env.dir);
    let (header, results) = run_runner(&env, "TypeScript SDK", cmd).await;
    let version = header["sdk_version"].as_str().unwrap_or_default();
    assert!(version.starts_with("1."), "SDK version {header}");
    eprintln!("TypeScript SDK {version}");
    sweep::assert_results(&format!("TypeScript SDK {version}"), &steps, &results, true);
}

async fn python_sweep(name: &str, spec: &str, major: &str) {
    let python = python_env(name, spec);
    let Some((env, steps, plan)) = setup(&format!("{name}-sweep")) else {
        return;
    };
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(support("py_sweep.py"))
        .arg(&plan)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(&env.dir);
    let (header, results) = run_runner(&env, name, cmd).await;
    let version = header["sdk_version"].as_str().unwrap_or_default();
    assert!(
        version.split('.').next() == Some(major),
        "{name}: installed mcp {header}"
    );
    sweep::assert_results(&format!("Python SDK {version}"), &steps, &results, true);
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_2x_every_tool() {
    python_sweep("py2", PY2_SPEC, "2").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_1x_every_tool() {
    python_sweep("py1", PY1_SPEC, "1").await;
}

// ---------------------------------------------------------------------------
// The Inspector CLI: one process per call, so the plan runs here
// ---------------------------------------------------------------------------

/// `value` with every `${N.field}` replaced from `values[N]`.
fn resolve(value: &Value, values: &[Value]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), resolve(v, values)))
                .collect(),
        ),
        Value::String(s) if s.starts_with("${") && s.ends_with('}') => {
            let (n, field) = s[2..s.len() - 1]
                .split_once('.')
                .unwrap_or_else(|| panic!("bad placeholder {s}"));
            let n: usize = n.parse().expect("step number");
            let found = &values[n][field];
            assert!(!found.is_null(), "{s}: step {n} gave {}", values[n]);
            found.clone()
        }
        other => other.clone(),
    }
}

/// The Inspector command for a call on the plan's server `server`.
fn inspector_call(env: &TestEnv, plan: &Value, server: &str, tool: &str, args: &Value) -> Command {
    let mut cmd = Command::new(inspector());
    cmd.arg("--cli");
    let vars = plan["env"].as_object().expect("env").iter().chain(
        plan["servers"][server]
            .as_object()
            .expect("server env")
            .iter(),
    );
    for (k, v) in vars {
        cmd.arg("-e")
            .arg(format!("{k}={}", v.as_str().expect("string value")));
    }
    cmd.arg(plan["command"].as_str().expect("command"));
    for a in plan["args"].as_array().expect("args") {
        cmd.arg(a.as_str().expect("arg"));
    }
    cmd.args(["--method", "tools/call", "--tool-name", tool]);
    for (k, v) in args.as_object().expect("arguments") {
        let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
        cmd.arg("--tool-arg").arg(format!("{k}={v}"));
    }
    cmd.current_dir(&env.dir);
    cmd
}

/// One call through the Inspector, recorded like the other runners do. The
/// CLI prints the result on stdout (exit 0, or 5 for a tool error) and a
/// JSON-RPC error as `{"error": {"message": …}}` on stderr (without the
/// numeric code).
fn inspect_step(n: usize, tool: &str, mut cmd: Command) -> Value {
    let out = run(&mut cmd, INSPECTOR_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    match out.status.code() {
        Some(0 | 5) => {
            let result: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "step {n}: Inspector output is not JSON ({e}):\n{}",
                    out.output()
                )
            });
            let texts: Vec<&Value> = result["content"]
                .as_array()
                .expect("content")
                .iter()
                .filter(|c| c["type"] == "text")
                .map(|c| &c["text"])
                .collect();
            json!({
                "step": n, "tool": tool, "raised": null,
                "is_error": result["isError"] == true,
                "structured": result.get("structuredContent"),
                "texts": texts,
                "meta": result.get("_meta"),
            })
        }
        _ => {
            let message = out
                .stderr
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find_map(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| out.output());
            json!({"step": n, "tool": tool, "raised": {"code": null, "message": message}})
        }
    }
}

/// The output schemas the server lists, by tool.
fn output_schemas(env: &TestEnv, plan: &Value) -> Value {
    let mut cmd = Command::new(inspector());
    cmd.arg("--cli")
        .arg(plan["command"].as_str().expect("command"))
        .args(["serve", "--db"])
        .arg(&env.db)
        .args(["--method", "tools/list"])
        .current_dir(&env.dir);
    let out = run(&mut cmd, INSPECTOR_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "tools/list:\n{}", out.output());
    let listed: Value = serde_json::from_str(&out.stdout).expect("tools/list JSON");
    listed["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().expect("name").to_owned(),
                t["outputSchema"].clone(),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Validates each successful result with the Inspector's own JSON Schema validator.
fn add_schema_errors(env: &TestEnv, prefix: &Path, schemas: &Value, records: &mut [Value]) {
    let pairs: Vec<Value> = records
        .iter()
        .map(|r| {
            let instance = if r["is_error"] == false {
                &r["structured"]
            } else {
                &Value::Null
            };
            json!({"schema": schemas[r["tool"].as_str().expect("tool")], "instance": instance})
        })
        .collect();
    let input = env.dir.join("validate.json");
    std::fs::write(&input, Value::from(pairs).to_string()).expect("write pairs");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("exec node \"$0\" \"$1\" < \"$2\"")
        .arg(support("validate.mjs"))
        .arg(prefix)
        .arg(&input);
    let out = run(&mut cmd, INSPECTOR_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "validate.mjs:\n{}", out.output());
    let errors: Vec<Value> = serde_json::from_str(&out.stdout).expect("validation JSON");
    for (record, errors) in records.iter_mut().zip(errors) {
        record["schema_errors"] = if record["is_error"] == false {
            errors
        } else {
            json!([])
        };
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn inspector_every_tool() {
    let bin = inspector();
    let prefix = bin.ancestors().nth(3).expect("npm prefix").to_owned();
    let Some((env, steps, plan)) = setup("inspector-sweep") else {
        return;
    };
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(plan).expect("plan")).expect("plan JSON");
    let mut values = vec![Value::Null; steps.len()];
    let mut records = Vec::new();
    for (n, step) in plan["steps"].as_array().expect("steps").iter().enumerate() {
        if step.get("pause").is_some() {
            values[n] = answer_pause(&env, &resolve(step, &values)).await;
            continue;
        }
        let tool = step["tool"].as_str().expect("tool");
        let args = resolve(&step["args"], &values);
        let cmd = inspector_call(
            &env,
            &plan,
            step["server"].as_str().expect("server"),
            tool,
            &args,
        );
        let record = inspect_step(n, tool, cmd);
        values[n] = record["structured"].clone();
        records.push(record);
    }
    let schemas = output_schemas(&env, &plan);
    add_schema_errors(&env, &prefix, &schemas, &mut records);
    sweep::assert_results("MCP Inspector", &steps, &records, false);
}

/// A long-poll longer than the client's request timeout: the TypeScript SDK
/// gives up on a quiet request after its timeout (60 s by default, the same
/// as Codex's tool timeout) unless progress notifications reset it. The call
/// waits 14 s under a 9 s timeout that progress resets, so it succeeds only
/// if the bridge sent progress while it waited (every 5 s).
#[tokio::test(flavor = "multi_thread")]
async fn typescript_sdk_long_poll_outlives_its_timeout() {
    let prefix = ts_sdk();
    let env = TestEnv::new("ts-progress");
    let creds = |side: &str| {
        json!({"conversation_id": "${0.conversation_id}", "session_id": side,
               "token": format!("${{0.session_{side}_token}}")})
    };
    let mut wait = creds("b");
    wait["wait_seconds"] = json!(14);
    let mut plan = sweep::plan_json(&env, &[]);
    plan["steps"] = json!([
        {"server": "main", "tool": "create_conversation",
         "args": {"my_role": "backend", "partner_role": "frontend"}},
        {"server": "main", "tool": "check_messages", "args": wait,
         "options": {"timeout_ms": 9000, "reset_on_progress": true}},
    ]);
    let file = env.dir.join("plan.json");
    std::fs::write(&file, plan.to_string()).expect("write plan");
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(support("ts_sweep.mjs"))
        .arg(&prefix)
        .arg(&file)
        .current_dir(&env.dir);
    let (_, results) = run_runner(&env, "TypeScript SDK", cmd).await;
    let waited = &results[1];
    assert!(
        waited["raised"].is_null(),
        "the SDK gave up on the long-poll: {waited}"
    );
    assert_eq!(
        waited["structured"],
        json!({"messages": [], "more": false}),
        "{waited}"
    );
    assert!(
        waited["progress"].as_u64().is_some_and(|n| n >= 2),
        "progress every 5 s while waiting 14 s: {waited}"
    );
}
