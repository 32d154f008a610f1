//! Merging into real-looking client files: what must change, what must not.

use serde_json::json;

use super::*;

fn desired<'a>(servers_key: &'a str, fields: Vec<(&'a str, Value)>) -> Desired<'a> {
    Desired {
        servers_key,
        name: "bridge",
        fields,
        conflicting: &["url", "headers"],
    }
}

fn claude_fields() -> Vec<(&'static str, Value)> {
    vec![
        ("type", json!("stdio")),
        ("command", json!("/opt/mcp-bridge")),
        ("args", json!(["serve"])),
        ("timeout", json!(630000)),
    ]
}

const JSON: Format = Format::Json { comments: false };
const JSONC: Format = Format::Json { comments: true };

#[test]
fn json_new_file() {
    let out = merge(JSON, "", &desired("mcpServers", claude_fields())).unwrap();
    assert_eq!(
        out,
        r#"{
  "mcpServers": {
    "bridge": {
      "type": "stdio",
      "command": "/opt/mcp-bridge",
      "args": ["serve"],
      "timeout": 630000
    }
  }
}
"#
    );
    assert_eq!(
        merge(JSON, &out, &desired("mcpServers", claude_fields())).unwrap(),
        out,
        "a second merge changes nothing"
    );
}

#[test]
fn json_keeps_other_servers_keys_order_and_indentation() {
    let before = r#"{
    "numStartups": 3,
    "mcpServers": {
        "other": {"command": "npx", "args": ["-y", "x"]}
    },
    "theme": "dark"
}"#;
    let out = merge(JSON, before, &desired("mcpServers", claude_fields())).unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["mcpServers"]["other"],
        json!({"command": "npx", "args": ["-y", "x"]})
    );
    assert_eq!(v["mcpServers"]["bridge"]["command"], "/opt/mcp-bridge");
    assert_eq!(v["theme"], "dark");
    assert!(out.starts_with("{\n    \"numStartups\": 3,\n    \"mcpServers\": {\n        \"other\": {\"command\": \"npx\", \"args\": [\"-y\", \"x\"]},\n        \"bridge\": {\n            \"type\""), "{out}");
    assert!(out.ends_with("    \"theme\": \"dark\"\n}"), "{out}");
}

#[test]
fn json_updates_only_owned_keys_of_an_existing_entry() {
    let before = r#"{
  "mcpServers": {
    "bridge": {
      "command": "/old/mcp-bridge",
      "args": ["serve"],
      "url": "http://stale",
      "alwaysLoad": true
    }
  }
}"#;
    let out = merge(JSON, before, &desired("mcpServers", claude_fields())).unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["mcpServers"]["bridge"],
        json!({"command": "/opt/mcp-bridge", "args": ["serve"], "alwaysLoad": true, "type": "stdio", "timeout": 630000})
    );
}

#[test]
fn jsonc_keeps_comments() {
    let before =
        "{\n  // my settings\n  \"ui\": {\"theme\": \"x\"}, /* keep */\n  \"mcpServers\": {}\n}\n";
    let out = merge(JSONC, before, &desired("mcpServers", claude_fields())).unwrap();
    assert!(
        out.contains("// my settings") && out.contains("/* keep */"),
        "{out}"
    );
    assert_eq!(servers(JSONC, &out, &["mcpServers"]).unwrap().len(), 1);
    assert!(matches!(
        merge(JSON, before, &desired("mcpServers", claude_fields())),
        Err(MergeError::Syntax(_))
    ));
}

#[test]
fn json_refuses_what_the_client_would_refuse() {
    for bad in [
        "{",
        "{\"a\": 1,}",
        "[1]",
        "{\"mcpServers\": []}",
        "nonsense",
    ] {
        assert!(
            merge(JSON, bad, &desired("mcpServers", claude_fields())).is_err(),
            "{bad}"
        );
    }
}

fn codex_fields() -> Vec<(&'static str, Value)> {
    vec![
        ("command", json!("mcp-bridge")),
        ("args", json!(["serve", "--db", "/d/b.db"])),
        ("tool_timeout_sec", json!(630)),
    ]
}

#[test]
fn toml_new_file_and_idempotence() {
    let out = merge(Format::Toml, "", &desired("mcp_servers", codex_fields())).unwrap();
    assert_eq!(
        out,
        "[mcp_servers.bridge]\ncommand = \"mcp-bridge\"\nargs = [\"serve\", \"--db\", \"/d/b.db\"]\ntool_timeout_sec = 630\n"
    );
    assert_eq!(
        merge(Format::Toml, &out, &desired("mcp_servers", codex_fields())).unwrap(),
        out
    );
}

#[test]
fn toml_keeps_comments_and_other_tables() {
    let before = r#"# my codex config
model = "o4" # inline comment

[mcp_servers.other]
command = "npx"
args = ["-y", "x"]

[mcp_servers.bridge]
# pinned by hand
command = "/old/mcp-bridge"
args = ["serve"]
enabled_tools = ["send_to_partner"]
url = "http://stale"

[projects."/home/me/p"]
trust_level = "trusted"
"#;
    let out = merge(
        Format::Toml,
        before,
        &desired("mcp_servers", codex_fields()),
    )
    .unwrap();
    assert!(
        out.starts_with("# my codex config\nmodel = \"o4\" # inline comment\n"),
        "{out}"
    );
    assert!(out.contains("# pinned by hand"), "{out}");
    assert!(
        out.contains("enabled_tools = [\"send_to_partner\"]"),
        "{out}"
    );
    assert!(!out.contains("stale"), "{out}");
    assert!(
        out.contains("[projects.\"/home/me/p\"]\ntrust_level = \"trusted\"\n"),
        "{out}"
    );
    let found = servers(Format::Toml, &out, &["mcp_servers"]).unwrap();
    let bridge = &found.iter().find(|(n, _)| n == "bridge").unwrap().1;
    assert_eq!(bridge["tool_timeout_sec"], 630);
    assert_eq!(bridge["args"], json!(["serve", "--db", "/d/b.db"]));
    assert_eq!(found.len(), 2);
    assert_eq!(
        lookup(
            Format::Toml,
            &out,
            &["projects", "/home/me/p", "trust_level"]
        )
        .unwrap(),
        Some(json!("trusted"))
    );
}

#[test]
fn toml_inline_servers_table() {
    let before = "mcp_servers = { other = { command = \"x\" } }\n";
    let out = merge(
        Format::Toml,
        before,
        &desired("mcp_servers", codex_fields()),
    )
    .unwrap();
    let found = servers(Format::Toml, &out, &["mcp_servers"]).unwrap();
    assert_eq!(found.len(), 2, "{out}");
}

#[test]
fn toml_refuses_broken_files() {
    for bad in ["[mcp_servers", "mcp_servers = 3\n", "a = \n"] {
        assert!(
            merge(Format::Toml, bad, &desired("mcp_servers", codex_fields())).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn a_key_named_twice_is_refused_at_any_depth() {
    let d = desired("mcpServers", claude_fields());
    for (format, text) in [
        (
            JSON,
            r#"{"mcpServers": {"bridge": {"command": "mcp-bridge"}, "bridge": {"command": "sh"}}}"#,
        ),
        (JSON, r#"{"mcpServers": {}, "mcpServers": {"x": {}}}"#),
        (
            JSONC,
            "{\n // c\n \"a\": [{\"k\": 1, \"k\": 2}], \"mcpServers\": {}}",
        ),
        (
            JSON,
            r#"{"mcpServers": {"o": {"env": {"A": "1", "\u0041": "2"}}}}"#,
        ),
    ] {
        match merge(format, text, &d) {
            Err(MergeError::Shape(why)) => assert!(why.contains("twice"), "{why}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    // Deep nesting is walked without recursion; deeper still, the parser refuses it.
    let deep = format!(
        "{{\"mcpServers\": {{}}, \"x\": {}1{}}}",
        "[".repeat(300),
        "]".repeat(300)
    );
    let deep = merge(JSONC, &deep, &d);
    assert!(deep.is_ok(), "{deep:?}");
}

#[test]
fn nesting_past_the_parsers_limit_is_a_syntax_error() {
    let d = desired("mcpServers", claude_fields());
    let deep = format!("{{\"x\": {}1{}}}", "[".repeat(5000), "]".repeat(5000));
    assert!(matches!(
        merge(JSONC, &deep, &d),
        Err(MergeError::Syntax(_))
    ));
}

/// Found by an acceptance run: a Codex config.toml saved with CRLF came back
/// with LF, and a JSON file with CRLF got LF lines in the middle.
#[test]
fn crlf_files_keep_crlf_and_mixed_ones_are_left_as_they_are() {
    let toml_fields = vec![
        ("command", json!("/opt/mcp-bridge")),
        ("args", json!(["serve"])),
    ];
    for (format, text, d) in [
        (
            Format::Toml,
            "# mine\r\n[mcp_servers.docs]\r\ncommand = \"docs\"\r\n",
            desired("mcp_servers", toml_fields.clone()),
        ),
        (
            JSON,
            "{\r\n  \"mcpServers\": {\r\n    \"docs\": {\"command\": \"docs\"}\r\n  }\r\n}\r\n",
            desired("mcpServers", claude_fields()),
        ),
        (
            JSONC,
            "{\r\n  // mine\r\n  \"a\": 1\r\n}",
            desired("mcpServers", claude_fields()),
        ),
    ] {
        let out = merge(format, text, &d).unwrap();
        assert!(out.contains("/opt/mcp-bridge"), "{out:?}");
        assert_eq!(
            out.matches('\n').count(),
            out.matches("\r\n").count(),
            "{out:?}"
        );
        let again = merge(format, &out, &d).unwrap();
        assert_eq!(again, out, "a second run changes nothing");
    }
    // A lone LF in a file with CRLF may be a value's own: it is not converted.
    let mixed = "a = \"\"\"x\ny\"\"\"\r\n";
    let out = merge(Format::Toml, mixed, &desired("mcp_servers", toml_fields)).unwrap();
    assert!(out.starts_with("a = \"\"\"x\ny\"\"\""), "{out:?}");
    assert!(!out.contains("x\r\ny"), "{out:?}");
}
