//! Interoperability with the MCP Inspector CLI (provisioned like the other
//! clients, see `clients`): `tools/list` with its schema portability report
//! in full, and a `tools/call` whose result is stored.

use std::process::Command;

use serde_json::{Value, json};

use crate::clients::{CLIENT_TIMEOUT, assert_conversation, assert_tool_listing};
use crate::provision::{inspector, run};
use crate::util::*;

/// Runs the Inspector CLI against `mcp-bridge serve --db <db>` with `args`.
fn inspect(env: &TestEnv, args: &[&str]) -> (Value, String) {
    let mut cmd = Command::new(inspector());
    cmd.arg("--cli")
        .arg("-e")
        .arg(format!(
            "XDG_CONFIG_HOME={}",
            env.dir.join("xdg-config").display()
        ))
        .arg("-e")
        .arg(format!(
            "XDG_DATA_HOME={}",
            env.dir.join("xdg-data").display()
        ))
        .arg(env!("CARGO_BIN_EXE_mcp-bridge"))
        .arg("serve")
        .arg("--db")
        .arg(&env.db)
        .args(args)
        .current_dir(&env.dir);
    let out = run(&mut cmd, CLIENT_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("inspector {args:?}: {:.1} s", out.elapsed.as_secs_f64());
    assert!(
        out.status.success(),
        "the Inspector failed ({}) on {args:?}.\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        out.stdout,
        out.stderr
    );
    let value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "Inspector output is not JSON ({e}):\n{}\n--- stderr\n{}",
            out.stdout, out.stderr
        )
    });
    (value, out.stderr)
}

/// Checks the Inspector's stderr for schema complaints. Allowed: the server's
/// own log lines and the Inspector's portability notes about nullable fields
/// spelled `"type": [T, "null"]` (legal JSON Schema; see the report). Anything
/// else — `unknown format`, any other warning, an error-severity issue — fails.
fn assert_no_schema_warnings(stderr: &str) {
    let lower = stderr.to_lowercase();
    assert!(
        !lower.contains("unknown format"),
        "the Inspector met an unknown format:\n{stderr}"
    );
    let summary =
        regex::Regex::new(r"(\d+) errors?, (\d+) warnings? across \d+ tools?").expect("regex");
    let mut warnings_reported = 0;
    if let Some(c) = summary.captures(stderr) {
        assert_eq!(&c[1], "0", "schema errors reported:\n{stderr}");
        warnings_reported = c[2].parse::<usize>().expect("count");
    }
    let issues: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("Issue: "))
        .collect();
    let nullable =
        regex::Regex::new(r#"^`type` is an array \(\["[a-z]+","null"\]\)"#).expect("regex");
    for issue in &issues {
        assert!(
            nullable.is_match(issue),
            "an unexpected schema portability issue: {issue}\n{stderr}"
        );
    }
    assert_eq!(
        issues.len(),
        warnings_reported,
        "schema warnings counted but not detailed (or the reverse):\n{stderr}"
    );
    for line in stderr.lines() {
        let l = line.to_lowercase();
        let detail = line.trim_start();
        let known = line.starts_with("Warning: tool \"")
            || summary.is_match(line)
            || ["Path: ", "Issue: ", "Suggestion: "]
                .iter()
                .any(|p| detail.starts_with(p));
        assert!(
            known || !(l.contains("warn") || l.contains("error")),
            "unexpected warning or error from the Inspector or the server: {line}\n{stderr}"
        );
    }
}

#[test]
fn inspector_cli() {
    let env = TestEnv::new("inspector");

    // tools/list, with the portability report in full (--strict: exit 6 on
    // any error-severity issue).
    let (listed, stderr) = inspect(&env, &["--method", "tools/list", "--strict"]);
    assert_tool_listing(
        listed["tools"]
            .as_array()
            .expect("tools in Inspector output"),
        "inputSchema",
        "outputSchema",
    );
    assert_no_schema_warnings(&stderr);

    let (called, stderr) = inspect(
        &env,
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
    assert_no_schema_warnings(&stderr);
    assert_eq!(called["isError"], json!(false), "{called}");
    let created = &called["structuredContent"];
    assert_conversation(created);
    let text: Value = serde_json::from_str(called["content"][0]["text"].as_str().expect("text"))
        .expect("text copy is JSON");
    assert_eq!(&text, created, "text copy differs from structured content");
    let id = created["conversation_id"].as_str().expect("id");
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM conversations WHERE id = '{id}'"
        )),
        1,
        "the conversation is stored"
    );
}
