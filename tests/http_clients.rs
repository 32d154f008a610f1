//! Clients no one here wrote, against `mcp-bridge serve --http`: the official
//! Python SDK (1.x and 2.x, sessions and the 2.x stateless `Client`), the MCP
//! Inspector CLI with a bearer header, and the official conformance suite
//! (`@modelcontextprotocol/conformance`), every scenario that applies to this
//! server. Clients are installed on first use under `<target>/mcp-clients/`
//! (see `provision.rs`).

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::provision::{PY1_SPEC, PY2_SPEC, inspector, npm_package, python_env, run};
use crate::util::*;
use crate::util_http::*;

/// The conformance suite's release that runs on Node.js 20.
const CONFORMANCE_SPEC: &str = "@modelcontextprotocol/conformance@0.1.9";

const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);

fn python_over_http(name: &str, spec: &str, major: u64) {
    let python = python_env(name, spec);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let env = TestEnv::new(name);
    let token = make_token(&env, "python", "agent");
    let server = runtime.block_on(HttpServer::start(&env, &[], &[]));
    let mut cmd = Command::new(&python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/py_http.py"
    ))
    .args(["--url", &server.url, "--token", &token])
    .env("PYTHONDONTWRITEBYTECODE", "1")
    .current_dir(&env.dir);
    let out = run(&mut cmd, CLIENT_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{name}: the Python client failed.\n{}\n--- server\n{}",
        out.output(),
        server.stderr()
    );
    assert!(
        !out.output().contains(&token),
        "{name}: the token was printed"
    );
    assert!(
        !out.stderr.contains("Session termination failed"),
        "{name}: closing the session was not accepted:\n{}",
        out.stderr
    );
    let line = out.stdout.lines().last().unwrap_or_default();
    let rec: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    let version = rec["sdk_version"].as_str().expect("version");
    assert!(
        version.starts_with(&format!("{major}.")),
        "{name}: mcp {version}"
    );
    assert!(
        ["2025-06-18", "2025-11-25"]
            .contains(&rec["protocol_version"].as_str().unwrap_or_default()),
        "{rec}"
    );
    let tools: Vec<&str> = rec["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for tool in [
        "create_conversation",
        "send_to_partner",
        "check_messages",
        "update_my_status",
        "check_partner_status",
    ] {
        assert!(tools.contains(&tool), "{tool} missing: {tools:?}");
    }
    for step in ["create", "send", "check", "status", "partner"] {
        assert_eq!(rec[step]["is_error"], false, "{step}: {}", rec[step]);
    }
    let delivered = rec["check"]["structured"]["messages"]
        .as_array()
        .expect("messages");
    assert_eq!(delivered.len(), 1, "{}", rec["check"]);
    assert_eq!(delivered[0]["content"], "hello from python over http");
    assert_eq!(rec["partner"]["structured"]["status"], "working");
    assert_eq!(
        rec["wrong"]["is_error"], true,
        "a wrong token must be refused"
    );
    if major >= 2 {
        assert_eq!(
            rec["auto_client"]["protocol_version"], "2026-07-28",
            "{rec}"
        );
        assert_eq!(rec["auto_client"]["create"]["is_error"], false);
    }
    // Acknowledged once the response was written, by a task of its own.
    runtime.block_on(wait_until("the delivered page to be acknowledged", || {
        rows(&env, "pending_deliveries") == 0
    }));
    let (status, stderr) = runtime.block_on(server.terminate());
    assert!(status.success(), "{stderr}");
}

#[test]
fn python_sdk_2x_over_http() {
    python_over_http("http_py2", PY2_SPEC, 2);
}

#[test]
fn python_sdk_1x_over_http() {
    python_over_http("http_py1", PY1_SPEC, 1);
}

/// The Inspector CLI against `url` with `token`; its JSON output.
fn inspect(url: &str, token: &str, args: &[&str]) -> Value {
    let mut cmd = Command::new(inspector());
    cmd.arg("--cli")
        .arg(url)
        .args(["--transport", "http", "--header"])
        .arg(format!("Authorization: Bearer {token}"))
        .args(args);
    let out = run(&mut cmd, CLIENT_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "inspector {args:?} failed:\n{}",
        out.output()
    );
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

#[test]
fn inspector_cli_calls_every_tool_over_http() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let env = TestEnv::new("http_inspector");
    let token = make_token(&env, "inspector", "operator");
    let server = runtime.block_on(HttpServer::start(&env, &[], &[]));
    let listed = inspect(&server.url, &token, &["--method", "tools/list"]);
    assert!(
        listed["tools"].as_array().is_some_and(|t| t.len() >= 5),
        "{listed}"
    );
    let created = inspect(
        &server.url,
        &token,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "create_conversation",
            "--tool-arg",
            "my_role=writer",
            "--tool-arg",
            "partner_role=reader",
        ],
    );
    let conv = &created["structuredContent"];
    let id = conv["conversation_id"].as_str().expect("id").to_owned();
    let (ta, tb) = (
        conv["session_a_token"].as_str().expect("a").to_owned(),
        conv["session_b_token"].as_str().expect("b").to_owned(),
    );
    let creds = |side: &str, token: &str| {
        vec![
            "--tool-arg".to_owned(),
            format!("conversation_id={id}"),
            "--tool-arg".to_owned(),
            format!("session_id={side}"),
            "--tool-arg".to_owned(),
            format!("token={token}"),
        ]
    };
    let call = |tool: &str, side: &str, t: &str, extra: &[&str]| {
        let mut args: Vec<String> = ["--method", "tools/call", "--tool-name", tool]
            .map(str::to_owned)
            .to_vec();
        args.extend(creds(side, t));
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        inspect(&server.url, &token, &args)
    };
    let sent = call(
        "send_to_partner",
        "a",
        &ta,
        &["--tool-arg", "message=via the inspector"],
    );
    assert_eq!(sent["isError"], Value::Bool(false), "{sent}");
    let got = call("check_messages", "b", &tb, &[]);
    assert_eq!(
        got["structuredContent"]["messages"][0]["content"], "via the inspector",
        "{got}"
    );
    let status = call(
        "update_my_status",
        "b",
        &tb,
        &["--tool-arg", "status=complete"],
    );
    assert_eq!(
        status["structuredContent"]["status"], "complete",
        "{status}"
    );
    let partner = call("check_partner_status", "a", &ta, &[]);
    assert_eq!(
        partner["structuredContent"]["status"], "complete",
        "{partner}"
    );
    assert_eq!(rows(&env, "pending_deliveries"), 0);
    let (status, stderr) = runtime.block_on(server.terminate());
    assert!(status.success(), "{stderr}");
}

/// Server scenarios of the suite that apply to this server.
const APPLICABLE: &[&str] = &[
    "server-initialize",
    "ping",
    "tools-list",
    "server-sse-polling",
    "server-sse-multiple-streams",
    "resources-list",
    "prompts-list",
];

/// Server scenarios that do not apply, and why: they call the suite's own
/// fixture tools, resources and prompts (`test_simple_text`,
/// `test://watched-resource`, …), or features this server does not declare
/// (logging, completions), which it refuses as "method not found" exactly
/// as the protocol asks.
const NOT_APPLICABLE: &[(&str, &str)] = &[
    ("logging-set-level", "no logging capability declared"),
    ("completion-complete", "no completions capability declared"),
    (
        "json-schema-2020-12",
        "fixture tool json_schema_2020_12_tool",
    ),
    (
        "elicitation-sep1034-defaults",
        "fixture tool asking for elicitation",
    ),
    (
        "elicitation-sep1330-enums",
        "fixture tool asking for elicitation",
    ),
    ("resources-read-text", "fixture resource"),
    ("resources-read-binary", "fixture resource"),
    ("resources-templates-read", "fixture resource template"),
    (
        "resources-subscribe",
        "fixture resource test://watched-resource",
    ),
    (
        "resources-unsubscribe",
        "fixture resource test://watched-resource",
    ),
    ("prompts-get-simple", "fixture prompt"),
    ("prompts-get-with-args", "fixture prompt"),
    ("prompts-get-embedded-resource", "fixture prompt"),
    ("prompts-get-with-image", "fixture prompt"),
];

/// The server scenarios `conformance list` names.
fn server_scenarios(listing: &str) -> Vec<String> {
    listing
        .split("Client scenarios")
        .next()
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn official_conformance_suite_passes_every_applicable_scenario() {
    let prefix = npm_package(
        "conformance",
        CONFORMANCE_SPEC,
        "node_modules/.bin/conformance",
    );
    let bin = prefix.join("node_modules/.bin/conformance");
    let listed =
        run(Command::new(&bin).arg("list"), CLIENT_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert!(listed.status.success(), "{}", listed.output());
    let scenarios = server_scenarios(&listed.stdout);
    // Every scenario is classified, so a new release's scenarios are looked at.
    for scenario in &scenarios {
        let known = APPLICABLE.contains(&scenario.as_str())
            || scenario.starts_with("tools-call-")
            || NOT_APPLICABLE.iter().any(|(s, _)| s == scenario);
        assert!(known, "unclassified conformance scenario {scenario}");
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let env = TestEnv::new("http_conformance");
    let server = runtime.block_on(HttpServer::start(&env, &["--no-auth"], &[]));
    let mut failed = Vec::new();
    let mut passed = 0;
    for scenario in scenarios
        .iter()
        .filter(|s| APPLICABLE.contains(&s.as_str()))
    {
        let out = run(
            Command::new(&bin)
                .args(["server", "--url", &server.url, "--scenario", scenario])
                .current_dir(&env.dir),
            CLIENT_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let ok = out.status.success() && out.stdout.contains(", 0 failed");
        eprintln!("{scenario}: {}", if ok { "pass" } else { "FAIL" });
        if ok {
            passed += 1;
        } else {
            failed.push(format!("{scenario}:\n{}", out.output()));
        }
    }
    let (status, stderr) = runtime.block_on(server.terminate());
    assert!(
        failed.is_empty(),
        "conformance failures:\n{}\n--- server\n{stderr}",
        failed.join("\n")
    );
    assert_eq!(
        passed,
        APPLICABLE.len(),
        "a listed scenario is missing from the suite"
    );
    assert!(status.success(), "{stderr}");
}
